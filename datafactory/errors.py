"""Every error a user can meet, in one place, each with a code and a message that says what to fix.

The CLI prints ``error[CODE]: message`` on one line and exits non-zero; ``--debug`` adds the
traceback. Library callers catch :class:`DatafactoryError`.
"""

from __future__ import annotations


class DatafactoryError(Exception):
    """Base class: ``code`` identifies the error, ``exit_code`` is what the CLI returns."""

    code = "E000"
    exit_code = 1

    def __str__(self) -> str:  # the message alone; the CLI adds the code
        return self.args[0] if self.args else self.__class__.__name__


class ConfigError(DatafactoryError):
    """The pipeline config is invalid: names the file and the field."""

    code = "E100"
    exit_code = 2

    def __init__(self, source: str, field: str | None, problem: str, fix: str | None = None):
        self.source, self.field, self.problem, self.fix = source, field, problem, fix
        where = f"{source}: {field}" if field else source
        message = f"{where}: {problem}"
        if fix:
            message += f". {fix}"
        super().__init__(message)


class UnknownStageError(ConfigError):
    code = "E101"

    def __init__(self, source: str, field: str, name: str, known: list[str]):
        super().__init__(
            source,
            field,
            f"unknown stage {name!r}",
            f"Known stages: {', '.join(sorted(known))}",
        )


class InputNotFoundError(ConfigError):
    code = "E102"


class ModelNotFoundError(ConfigError):
    code = "E103"


class UnknownClassError(ConfigError):
    """A classifier's target class is not one of its classes: lists the known ones."""

    code = "E104"

    def __init__(self, source: str, field: str | None, target: object, known: list[str]):
        super().__init__(source, field, f"unknown target class {target!r}",
                         f"Known classes, by index: {', '.join(f'{i}={c}' for i, c in enumerate(known))}")


class ModelRefusedError(ConfigError):
    """A model file exists but is not loaded: its hash does not match its card, its card is of
    an unknown format or kind, or it holds types outside the allow-list (no arbitrary unpickling)."""

    code = "E105"


class OutputError(DatafactoryError):
    """The output folder is in a state that does not allow this build."""

    code = "E200"


class OutputLockedError(OutputError):
    """Another build holds the output folder. Exit 75 (EX_TEMPFAIL): a scheduler should try
    again later rather than report a broken job."""

    code = "E201"
    exit_code = 75


class UnfinishedBuildError(OutputError):
    code = "E202"


class ResumeMismatchError(OutputError):
    code = "E203"


class NotADatasetError(DatafactoryError):
    code = "E300"


class NoGeneratedRowsError(DatafactoryError):
    """The dataset holds no rows made by the stage being evaluated."""

    code = "E301"


class NotEnoughDataError(DatafactoryError):
    """Too few usable rows, or a single class, to train or evaluate a detector."""

    code = "E302"


class InputReadError(DatafactoryError):
    """The input file as a whole cannot be read (single bad rows go to rejects instead)."""

    code = "E400"


class ExecutorError(DatafactoryError):
    """The chosen executor cannot run here: Ray is not installed, its cluster cannot be
    reached or lacks the resources the stages ask for."""

    code = "E600"
    exit_code = 2


class StageError(DatafactoryError):
    """A stage broke its contract (wrong output schema) or failed to set up."""

    code = "E500"
