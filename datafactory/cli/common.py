"""What every command shares: one-line errors with a code and a non-zero exit."""

from __future__ import annotations

import functools
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import typer

from datafactory.errors import DatafactoryError


@dataclass
class _State:
    debug: bool = False


state = _State()


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn exceptions into ``error[CODE]: message`` on stderr and the error's exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except DatafactoryError as exc:
            _report(f"error[{exc.code}]: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _report("interrupted; finished work is kept: run the same command with --resume to continue")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: still one line, the traceback on request
            _report(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            raise typer.Exit(1) from None

    return wrapper


def _report(line: str) -> None:
    if state.debug:
        typer.echo(traceback.format_exc().rstrip(), err=True)
    typer.echo(line, err=True)
