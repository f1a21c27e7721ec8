"""The record layout: the one Arrow schema every stage, the writer and the detectors share.

A record is one news item, real or manipulated::

    id            str    stable id ("news-0001" for a real item, "news-0001:entity_swap" for its child)
    parent_id     str    id of the real item the record derives from (equals id for real items),
                         so splits can group a story with all its manipulations
    dataset       str    name of the source corpus
    title, text, caption   str (nullable)
    image         struct{bytes: binary, path: str} (nullable); the layout of datasets.Image
    falsified     bool   False for real items, True once any manipulation was applied
    source_label  str    the source dataset's own label, as text (nullable)
    metadata      str    JSON object of input columns kept with input.keep_columns (nullable)
    manipulations list<str>  stage names applied, in order
    spans         list<struct>  every replaced span (see SPAN_TYPE)
    scores        struct of nullable doubles (see SCORES_TYPE)
    provenance    list<struct>  one entry per manipulation: stage, version, model, params, seed, stats

Example::

    >>> import pandas as pd
    >>> df = pd.read_parquet("out/quickstart")          # doctest: +SKIP
    >>> df[df.falsified].spans.iloc[0][0]["replacement"]  # doctest: +SKIP
    'India'
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import pyarrow as pa

SCHEMA_VERSION = "6"

#: One replaced span. ``start``/``end`` are character offsets of the replacement in the
#: record's field; ``orig_start``/``orig_end`` locate the original in the parent's field;
#: ``label`` is its NER label and ``kind`` the finer type original and replacement share
#: (country, city, party, company...; null when the stage does not type its spans);
#: ``similarity`` how close the replacement's context words are to the original's (cosine,
#: null when the stage did not score it); ``stage`` the stage that made the edit (several may
#: edit one field: an entity swap, then a number). Offsets of earlier stages' spans follow the
#: later edits of their field (``datafactory.spans``).
SPAN_TYPE = pa.struct(
    [
        pa.field("field", pa.string(), nullable=False),
        pa.field("start", pa.int32(), nullable=False),
        pa.field("end", pa.int32(), nullable=False),
        pa.field("orig_start", pa.int32(), nullable=False),
        pa.field("orig_end", pa.int32(), nullable=False),
        pa.field("original", pa.string(), nullable=False),
        pa.field("replacement", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("kind", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("stage", pa.string()),
    ]
)

#: Scores every record carries, null where no stage set them. Named fields (rather than a
#: map) so that pandas, pyarrow and datasets all read them as plain columns. A stage declares
#: the scores it sets (``Stage.scores``); one outside these adds a field after them, in the
#: datasets of the pipelines that use it (see :func:`record_schema`).
CORE_SCORES = ("discriminator", "retrieval_similarity", "generator_logprob")


def scores_type(extra: Iterable[str] = ()) -> pa.StructType:
    """The scores struct: the core scores, then ``extra`` names not among them, in order."""
    names = list(CORE_SCORES)
    for name in extra:
        if not name.isidentifier():
            raise ValueError(f"score name {name!r} must be an identifier (letters, digits, underscores)")
        if name not in names:
            names.append(name)
    return pa.struct([pa.field(name, pa.float64()) for name in names])


SCORES_TYPE = scores_type()

#: How one manipulation was made. ``params`` is the stage's full config as canonical JSON,
#: so any stage's options fit one column type; ``stats`` (JSON, nullable) is what the stage
#: measured making this row (e.g. search statistics of guided decoding): deterministic
#: counts only, never timings, so rebuilt shards stay byte-identical.
PROVENANCE_TYPE = pa.struct(
    [
        pa.field("stage", pa.string(), nullable=False),
        pa.field("version", pa.string(), nullable=False),
        pa.field("model", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("params", pa.string(), nullable=False),
        pa.field("seed", pa.uint64(), nullable=False),
        pa.field("stats", pa.string()),
    ]
)

IMAGE_TYPE = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])


def record_schema(extra_scores: Iterable[str] = ()) -> pa.Schema:
    """The record layout; ``extra_scores`` (declared by a pipeline's stages) extend ``scores``."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("parent_id", pa.string(), nullable=False),
            pa.field("dataset", pa.string(), nullable=False),
            pa.field("title", pa.string()),
            pa.field("text", pa.string()),
            pa.field("caption", pa.string()),
            pa.field("image", IMAGE_TYPE),
            pa.field("falsified", pa.bool_(), nullable=False),
            pa.field("source_label", pa.string()),
            pa.field("metadata", pa.string()),
            pa.field("manipulations", pa.list_(pa.string()), nullable=False),
            pa.field("spans", pa.list_(SPAN_TYPE), nullable=False),
            pa.field("scores", scores_type(extra_scores)),
            pa.field("provenance", pa.list_(PROVENANCE_TYPE), nullable=False),
        ],
        metadata={b"datafactory.schema_version": SCHEMA_VERSION.encode()},
    )


#: The layout of a pipeline whose stages set only core scores.
RECORD_SCHEMA = record_schema()

#: Text fields a stage may read or rewrite.
TEXT_FIELDS = ("title", "text", "caption")

#: What a stage returns: records, plus a reason on the rows it could not manipulate
#: (those rows carry their unchanged input record). The runner splits them off.
REJECT_REASON = "reject_reason"


def stage_output_schema(records: pa.Schema) -> pa.Schema:
    """What a stage returns for records of layout ``records``."""
    return records.append(pa.field(REJECT_REASON, pa.string()))


STAGE_OUTPUT_SCHEMA = stage_output_schema(RECORD_SCHEMA)

#: rejects.parquet: every input row that produced no output, or that a stage skipped.
#: ``parent_id`` is the input item's id (null when the row had no usable id), so incremental
#: builds know which input items a dataset has already seen.
REJECT_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("parent_id", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string()),
    ]
)

#: Reject kinds: the input row was unusable and nothing was written for it...
INVALID = "invalid"
#: ...or a stage could not manipulate it (the real item is still written when emit_real).
SKIPPED = "skipped"
#: ...or a stage raised on it (the batch was retried row by row to isolate it).
ERROR = "error"


def empty_scores() -> dict[str, float | None]:
    """Every core score, null (a pipeline's extra scores are null where absent too)."""
    return {name: None for name in SCORES_TYPE.names}


def real_record(
    *,
    id: str,
    dataset: str,
    title: str | None,
    text: str | None,
    caption: str | None = None,
    image: Mapping[str, Any] | None = None,
    source_label: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A real (unmanipulated) record as a Python dict in RECORD_SCHEMA layout."""
    return {
        "id": id,
        "parent_id": id,
        "dataset": dataset,
        "title": title,
        "text": text,
        "caption": caption,
        "image": dict(image) if image is not None else None,
        "falsified": False,
        "source_label": source_label,
        "metadata": canonical_json(metadata) if metadata else None,
        "manipulations": [],
        "spans": [],
        "scores": empty_scores(),
        "provenance": [],
    }


def to_table(rows: Iterable[Mapping[str, Any]], schema: pa.Schema = RECORD_SCHEMA) -> pa.Table:
    """Build a table of ``schema`` from dict rows (missing keys become null)."""
    rows = list(rows)
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)




def layout_of(table: pa.Table) -> pa.Schema:
    """The record layout ``table`` should have, given the score names it carries."""
    scores = table.schema.field("scores").type if "scores" in table.schema.names else SCORES_TYPE
    names = [scores.field(i).name for i in range(scores.num_fields)] if pa.types.is_struct(scores) else []
    return record_schema(name for name in names if name not in CORE_SCORES)


def check_table(table: pa.Table, schema: pa.Schema, what: str) -> None:
    """Raise if ``table`` does not have exactly ``schema``'s fields and types."""
    if table.schema.equals(schema, check_metadata=False):
        return
    expected = {f.name: f.type for f in schema}
    got = {f.name: f.type for f in table.schema}
    problems = [f"missing column {n!r}" for n in expected if n not in got]
    problems += [f"unexpected column {n!r}" for n in got if n not in expected]
    problems += [
        f"column {n!r} is {got[n]}, expected {t}" for n, t in expected.items() if n in got and got[n] != t
    ]
    problems += [
        f"column {f.name!r} nullable={f.nullable}, expected nullable={schema.field(f.name).nullable}"
        for f in table.schema
        if f.name in expected and schema.field(f.name).nullable != f.nullable
    ]
    raise ValueError(f"{what} does not match the record schema: " + "; ".join(problems or ["field order differs"]))


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
