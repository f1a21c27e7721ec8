"""Read a corpus as a stream of raw rows, whatever its format, in constant memory.

A row that cannot be parsed (broken JSON, undecodable bytes, a CSV line with extra fields)
is yielded with an ``error`` instead of stopping the read: it becomes a reject. Only a file
that cannot be opened at all raises :class:`InputReadError`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq

from datafactory.config import InputConfig
from datafactory.errors import InputReadError

_ARROW_BATCH = 1024
_RAW_PREVIEW = 2_000  # characters of a bad row kept in rejects.parquet


@dataclass
class RawRow:
    index: int
    """Ordinal of the row in the whole input, bad rows included."""
    data: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None
    """The row as text, truncated, for rows that could not be parsed."""


def detect_format(input_cfg: InputConfig) -> str:
    if input_cfg.format != "auto":
        return input_cfg.format
    path = input_cfg.path
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return "datasets"
        if any(path.glob("*.parquet")):
            return "parquet"
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*")):
            return "images"
        raise InputReadError(f"{path}: folder holds no .parquet files, saved datasets folder or images; "
                             "set input.format or point input.path at a file")
    suffix = path.suffix.lower()
    for fmt, suffixes in {"jsonl": (".jsonl", ".json", ".ndjson"), "csv": (".csv", ".tsv"),
                          "parquet": (".parquet", ".pq")}.items():
        if suffix in suffixes:
            return fmt
    raise InputReadError(f"{path}: cannot tell the format from the extension {suffix!r}; "
                         "set input.format to jsonl, csv, parquet or datasets")


def iter_rows(input_cfg: InputConfig) -> Iterator[RawRow]:
    """Yield every row of the input in order."""
    reader = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows,
              "datasets": _datasets_rows, "images": _image_rows}[detect_format(input_cfg)]
    try:
        yield from reader(input_cfg)
    except OSError as exc:
        raise InputReadError(f"{input_cfg.path}: cannot read ({exc.strerror or exc})") from exc


def count_rows(input_cfg: InputConfig) -> int | None:
    """Number of rows, when it is cheap to know (for the progress bar); None otherwise."""
    fmt = detect_format(input_cfg)
    if fmt == "parquet":
        return sum(pq.ParquetFile(p).metadata.num_rows for p in _parquet_files(input_cfg.path))
    if fmt == "datasets":
        return len(_load_dataset(input_cfg))
    if fmt == "jsonl":
        with open(input_cfg.path, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    return None


def fingerprint(input_cfg: InputConfig) -> str:
    """sha256 over the input's files (names relative to the input path, then bytes)."""
    path = input_cfg.path
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _jsonl_rows(input_cfg: InputConfig) -> Iterator[RawRow]:
    index = 0
    with open(input_cfg.path, "rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            preview = line[:_RAW_PREVIEW].decode("utf-8", errors="replace").rstrip("\n")
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RawRow(index, None, f"line {line_no}: not valid UTF-8 (byte {exc.start})", preview)
            else:
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield RawRow(index, None, f"line {line_no}: not valid JSON ({exc.msg})", preview)
                else:
                    if isinstance(data, dict):
                        yield RawRow(index, data)
                    else:
                        yield RawRow(index, None, f"line {line_no}: not a JSON object", preview)
            index += 1


def _csv_rows(input_cfg: InputConfig) -> Iterator[RawRow]:
    # Oversize fields must reach the intake checks (and become rejects), not crash csv.
    csv.field_size_limit(sys.maxsize)
    delimiter = "\t" if input_cfg.path.suffix.lower() == ".tsv" else ","
    # surrogateescape keeps undecodable bytes as lone surrogates, which the intake rejects
    # row by row instead of failing the whole file.
    with open(input_cfg.path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        for index, row in enumerate(reader):
            extra = row.pop(None, None)
            if extra:
                preview = json.dumps(row, ensure_ascii=False, default=str)[:_RAW_PREVIEW]
                yield RawRow(index, None, f"line {reader.line_num}: {len(extra)} more field(s) than the header",
                             preview.encode("utf-8", "replace").decode("utf-8"))
            else:
                yield RawRow(index, row)


def _parquet_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")


def _image_rows(input_cfg: InputConfig) -> Iterator[RawRow]:
    """A folder of image files, in name order: one row per file, its id the path relative to the
    folder, its image the absolute path (checked and decoded by whoever reads it)."""
    files = sorted(p for p in input_cfg.path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    for index, file in enumerate(files):
        yield RawRow(index, {"id": file.relative_to(input_cfg.path).as_posix(), "image": str(file.resolve())})


def _parquet_rows(input_cfg: InputConfig) -> Iterator[RawRow]:
    index = 0
    for file in _parquet_files(input_cfg.path):
        try:
            parquet = pq.ParquetFile(file)
        except Exception as exc:  # pyarrow raises ArrowInvalid and friends
            raise InputReadError(f"{file}: not a readable Parquet file ({exc})") from exc
        for batch in parquet.iter_batches(batch_size=_ARROW_BATCH):
            for row in batch.to_pylist():
                yield RawRow(index, row)
                index += 1


def _load_dataset(input_cfg: InputConfig):
    import datasets

    loaded = datasets.load_from_disk(str(input_cfg.path))
    if isinstance(loaded, datasets.DatasetDict):
        if input_cfg.split is None:
            raise InputReadError(f"{input_cfg.path}: a DatasetDict with splits {list(loaded)}; "
                                 "set input.split to one of them")
        if input_cfg.split not in loaded:
            raise InputReadError(f"{input_cfg.path}: no split {input_cfg.split!r}; splits: {list(loaded)}")
        loaded = loaded[input_cfg.split]
    return loaded


def _datasets_rows(input_cfg: InputConfig) -> Iterator[RawRow]:
    # Arrow format keeps images as {bytes, path} structs instead of decoding them to PIL.
    dataset = _load_dataset(input_cfg).with_format("arrow")
    index = 0
    for table in dataset.iter(batch_size=_ARROW_BATCH):
        for row in table.to_pylist():
            yield RawRow(index, row)
            index += 1
