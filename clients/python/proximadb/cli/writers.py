"""Writing records for ``proximadb export``, in the formats ``import`` reads (formats.py).

Each writer writes to a temporary file beside the target and renames it into place when
closed whole, so an interrupted export never leaves a file that looks complete.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Dict, List

import numpy as np
import orjson

from ..types import Record
from .formats import FormatError, load_pyarrow, sidecars


class _Staged:
    """Files written under ``.part`` names, renamed into place by commit()."""

    def __init__(self, *paths: str) -> None:
        self.paths = paths
        self.parts = [p + ".part" for p in paths]

    def commit(self) -> None:
        for part, path in zip(self.parts, self.paths):
            os.replace(part, path)

    def finish(self, ok: bool) -> None:
        if ok:
            self.commit()
        else:
            self.abort()

    def abort(self) -> None:
        for part in self.parts:
            if os.path.exists(part):
                os.remove(part)


class JsonlWriter(_Staged):
    def __init__(self, path: str, dimension: int) -> None:
        super().__init__(path)
        self.f = open(self.parts[0], "wb")

    def write(self, records: List[Record]) -> None:
        for r in records:
            line = {"id": r.id, "vector": r.vector, "metadata": r.metadata}
            self.f.write(orjson.dumps(line, option=orjson.OPT_SERIALIZE_NUMPY |
                                      orjson.OPT_APPEND_NEWLINE))

    def close(self, ok: bool) -> None:
        self.f.close()
        self.finish(ok)


class ParquetWriter(_Staged):
    """Columns ``id`` (string), ``vector`` (fixed-size list of float32) and ``metadata`` (a
    JSON string: records' fields differ, which a struct column cannot hold)."""

    def __init__(self, path: str, dimension: int) -> None:
        super().__init__(path)
        self.pa = load_pyarrow()
        self.schema = self.pa.schema([("id", self.pa.string()),
                                      ("vector", self.pa.list_(self.pa.float32(), dimension)),
                                      ("metadata", self.pa.string())])
        self.writer = self.pa.parquet.ParquetWriter(self.parts[0], self.schema)

    def write(self, records: List[Record]) -> None:
        pa = self.pa
        flat = np.concatenate([np.asarray(r.vector, dtype=np.float32) for r in records])
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat),
                                                    self.schema.field("vector").type.list_size)
        table = pa.Table.from_arrays(
            [pa.array([r.id for r in records], pa.string()), vectors,
             pa.array([orjson.dumps(r.metadata).decode() for r in records], pa.string())],
            schema=self.schema)
        self.writer.write_table(table)

    def close(self, ok: bool) -> None:
        self.writer.close()
        self.finish(ok)


class NpyWriter(_Staged):
    """The vectors as a float32 ``.npy``, with ``<stem>.ids.txt`` and
    ``<stem>.metadata.jsonl`` beside it. The rows go to a raw file first (the count is known
    only at the end), then behind the ``.npy`` header."""

    def __init__(self, path: str, dimension: int) -> None:
        side = sidecars(path)
        super().__init__(path, side["ids"], side["metadata"])
        self.dimension, self.rows = dimension, 0
        self.raw = open(self.parts[0] + ".raw", "wb")
        self.ids = open(self.parts[1], "w", encoding="utf-8")
        self.metadata = open(self.parts[2], "wb")

    def write(self, records: List[Record]) -> None:
        for r in records:
            if "\n" in r.id or "\r" in r.id:
                raise FormatError(f"id {r.id!r} has a line break: export to JSONL or Parquet")
            self.raw.write(np.asarray(r.vector, dtype="<f4").tobytes())
            self.ids.write(r.id + "\n")
            self.metadata.write(orjson.dumps(r.metadata, option=orjson.OPT_APPEND_NEWLINE))
        self.rows += len(records)

    def close(self, ok: bool) -> None:
        for f in (self.raw, self.ids, self.metadata):
            f.close()
        raw = self.parts[0] + ".raw"
        if ok:
            header: Dict[str, Any] = {"descr": "<f4", "fortran_order": False,
                                      "shape": (self.rows, self.dimension)}
            with open(self.parts[0], "wb") as out, open(raw, "rb") as data:
                np.lib.format.write_array_header_1_0(out, header)
                shutil.copyfileobj(data, out, 1 << 20)
            self.commit()
        else:
            self.abort()
        os.remove(raw)


WRITERS = {"jsonl": JsonlWriter, "parquet": ParquetWriter, "npy": NpyWriter}
