"""Reading and writing records in the formats of ``proximadb import`` and ``export``.

- JSONL: one ``{"id", "vector", "metadata"?}`` object per line.
- CSV: a header row; an ``id`` and a ``vector`` column (a JSON array, ``[0.1, 0.2]``), and
  either a ``metadata`` column (a JSON object) or any other columns, which become metadata
  fields (numbers where the text is one, empty cells left out).
- Parquet (pyarrow): ``id``, ``vector`` (a list of floats) and either ``metadata`` (a JSON
  string or a struct) or other columns as metadata fields.
- NumPy: a 2-D ``.npy`` array of the vectors; the ids one per line in ``<stem>.ids.txt`` (else
  the row numbers), the metadata one JSON object per line in ``<stem>.metadata.jsonl`` (if
  present), as ``export`` writes them.

A reader yields ``Batch``es after skipping the first ``skip`` records (a resumed import); a bad
record raises ``FormatError`` naming the file, the line or row, and the field.
"""

from __future__ import annotations

import csv
import json
import os
import re
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

import numpy as np
import orjson

FORMATS = ("jsonl", "csv", "parquet", "npy")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
             ".parquet": "parquet", ".pq": "parquet", ".npy": "npy"}


class FormatError(ValueError):
    """A file that is not what its format says."""


class Batch(NamedTuple):
    ids: List[str]
    vectors: np.ndarray  # float32, one row per record
    metadata: List[Dict[str, Any]]


def format_of(path: str, given: Optional[str]) -> str:
    """The format named by ``--format``, else by the file's suffix."""
    if given:
        return given
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in _SUFFIXES:
        raise FormatError(f"{path}: cannot tell the format from the suffix '{suffix}'; give "
                          f"--format ({', '.join(FORMATS)})")
    return _SUFFIXES[suffix]


def sidecars(path: str) -> Dict[str, str]:
    """The files that go with a ``.npy`` of vectors: its ids and its metadata."""
    stem = os.path.splitext(path)[0]
    return {"ids": stem + ".ids.txt", "metadata": stem + ".metadata.jsonl"}


def load_pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401 - the submodule is used through pyarrow
    except ImportError:
        raise FormatError("Parquet needs pyarrow: pip install 'proximadb[parquet]'") from None
    return pyarrow


def _vector(value: Any, where: str, dimension: int) -> np.ndarray:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise FormatError(f"{where}: field 'vector' is not a JSON array") from None
    array = np.asarray(value) if isinstance(value, (list, tuple)) else None
    if array is None or array.ndim != 1 or array.dtype.kind not in "fiu":
        raise FormatError(f"{where}: field 'vector' must be an array of numbers")
    if len(array) != dimension:
        raise FormatError(f"{where}: field 'vector' has {len(array)} numbers; the collection's "
                          f"dimension is {dimension}")
    return array


def _id(value: Any, where: str) -> str:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise FormatError(f"{where}: field 'id' is required (a non-empty string)")
    return value


def _metadata(value: Any, where: str) -> Dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise FormatError(f"{where}: field 'metadata' is not JSON") from None
    if not isinstance(value, dict):
        raise FormatError(f"{where}: field 'metadata' must be an object")
    return value


_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def _scalar(text: str) -> Any:
    """A CSV cell as a number where it is one as JSON writes numbers ("7", "-1.5e3"; not
    "007", "nan", "1_000" or " 7"), else the text."""
    if not _JSON_NUMBER.fullmatch(text):
        return text
    number = float(text)
    return int(text) if re.fullmatch(r"-?(0|[1-9][0-9]*)", text) else number


class _Builder:
    """Collects records into batches."""

    def __init__(self, dimension: int, batch_size: int) -> None:
        self.dimension, self.batch_size = dimension, batch_size
        self.ids: List[str] = []
        self.vectors: List[Any] = []
        self.metadata: List[Dict[str, Any]] = []

    def add(self, where: str, id: Any, vector: Any, metadata: Any) -> Optional[Batch]:
        self.ids.append(_id(id, where))
        self.vectors.append(_vector(vector, where, self.dimension))
        self.metadata.append(_metadata(metadata, where))
        return self.take() if len(self.ids) >= self.batch_size else None

    def take(self) -> Optional[Batch]:
        if not self.ids:
            return None
        batch = Batch(self.ids, np.asarray(self.vectors, dtype=np.float32), self.metadata)
        self.ids, self.vectors, self.metadata = [], [], []
        return batch


def count_records(path: str, fmt: str) -> Optional[int]:
    """How many records the file holds (for the progress bar), where cheap to tell."""
    if fmt == "jsonl":
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            return max(sum(1 for row in csv.reader(f) if row) - 1, 0)
    if fmt == "parquet":
        return load_pyarrow().parquet.ParquetFile(path).metadata.num_rows
    return int(np.load(path, mmap_mode="r").shape[0])


def read(path: str, fmt: str, dimension: int, batch_size: int, skip: int) -> Iterator[Batch]:
    """The file's records after the first ``skip``, in batches."""
    readers = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet,
               "npy": _read_npy}
    builder = _Builder(dimension, batch_size)
    yield from readers[fmt](path, builder, skip)
    last = builder.take()  # what the reader added after its last full batch
    if last:
        yield last


def _read_jsonl(path: str, b: _Builder, skip: int) -> Iterator[Batch]:
    seen = 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            seen += 1
            if seen <= skip:
                continue
            where = f"{path}:{number}"
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise FormatError(f"{where}: not JSON ({e})") from None
            if not isinstance(record, dict):
                raise FormatError(f"{where}: not a JSON object")
            unknown = set(record) - {"id", "vector", "metadata"}
            if unknown:
                raise FormatError(f"{where}: unknown field '{sorted(unknown)[0]}' (a record is "
                                  "{\"id\", \"vector\", \"metadata\"})")
            batch = b.add(where, record.get("id"), record.get("vector"), record.get("metadata"))
            if batch:
                yield batch


def _read_csv(path: str, b: _Builder, skip: int) -> Iterator[Batch]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        for column in ("id", "vector"):
            if column not in (reader.fieldnames or ()):
                raise FormatError(f"{path}: no '{column}' column in the header")
        extra = [c for c in reader.fieldnames or () if c not in ("id", "vector", "metadata")]
        for row_number, row in enumerate(reader, 1):
            if row_number <= skip:
                continue
            where = f"{path}:{reader.line_num}"
            if "metadata" in row:
                metadata: Any = row["metadata"]
            else:
                metadata = {c: _scalar(row[c]) for c in extra if row.get(c) not in (None, "")}
            batch = b.add(where, row["id"], row["vector"], metadata)
            if batch:
                yield batch


def _read_parquet(path: str, b: _Builder, skip: int) -> Iterator[Batch]:
    pa = load_pyarrow()
    file = pa.parquet.ParquetFile(path)
    names = file.schema_arrow.names
    for column in ("id", "vector"):
        if column not in names:
            raise FormatError(f"{path}: no '{column}' column")
    extra = [c for c in names if c not in ("id", "vector", "metadata")]
    row = 0
    for table in file.iter_batches(batch_size=b.batch_size):
        if row + table.num_rows <= skip:
            row += table.num_rows
            continue
        columns = table.to_pydict()
        for i in range(table.num_rows):
            row += 1
            if row <= skip:
                continue
            if "metadata" in columns:
                metadata: Any = columns["metadata"][i]
            else:
                metadata = {c: columns[c][i] for c in extra if columns[c][i] is not None}
            batch = b.add(f"{path}: row {row}", columns["id"][i], columns["vector"][i],
                          metadata)
            if batch:
                yield batch


def _read_lines(path: str) -> List[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def _read_npy(path: str, b: _Builder, skip: int) -> Iterator[Batch]:
    matrix = np.load(path, mmap_mode="r")
    if matrix.ndim != 2 or matrix.shape[1] != b.dimension:
        raise FormatError(f"{path}: an array of shape {matrix.shape}; the collection needs "
                          f"(n, {b.dimension})")
    side = sidecars(path)
    ids = _read_lines(side["ids"]) if os.path.exists(side["ids"]) else None
    metadata = ([_metadata(line, f"{side['metadata']}:{n}") for n, line in
                 enumerate(_read_lines(side["metadata"]), 1)]
                if os.path.exists(side["metadata"]) else None)
    for name, values in (("ids", ids), ("metadata", metadata)):
        if values is not None and len(values) != matrix.shape[0]:
            raise FormatError(f"{side[name]}: {len(values)} lines for {matrix.shape[0]} vectors")
    for start in range(skip, matrix.shape[0], b.batch_size):
        stop = min(start + b.batch_size, matrix.shape[0])
        batch_ids = ids[start:stop] if ids else [str(i) for i in range(start, stop)]
        for i, id in enumerate(batch_ids):
            _id(id, f"{side['ids']}:{start + i + 1}")
        yield Batch(batch_ids, np.asarray(matrix[start:stop], dtype=np.float32),
                    metadata[start:stop] if metadata else [{} for _ in batch_ids])
