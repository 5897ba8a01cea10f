"""``proximadb import`` and ``proximadb export``.

An import upserts in batches, each all-or-nothing on the server, and records after each
acknowledged batch how many records of the file are in, in ``<file>.proximadb-import``. Run
the same command again after an interruption and it goes on from there (the file must be
unchanged: same size and modification time); a batch sent again is harmless, since an upsert
of the same record changes nothing. The state file goes once the import has finished.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Optional, Sequence

import click
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)

from . import Session, parse_filter
from ._output import err
from .formats import (FORMATS, FormatError, count_records, format_of, load_pyarrow, read,
                      sidecars)
from .writers import WRITERS

pass_session = click.make_pass_decorator(Session)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TaskProgressColumn(),
                    TextColumn("{task.fields[rate]:>9,.0f} vectors/s"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err)


class ImportState:
    """How far an import of one file into one collection got."""

    def __init__(self, path: str, collection: str, server: str, created_at_us: int,
                 files: Sequence[str]) -> None:
        """The state of importing ``files`` (the data file and its sidecars) into the
        collection of that creation time on ``server``: resumed only if all are the same."""
        self.file = path + ".proximadb-import"
        stats = {f: os.stat(f) for f in files if os.path.exists(f)}
        self.identity = {"server": server, "collection": collection,
                         "created_at_us": created_at_us,
                         "files": {f: [st.st_size, st.st_mtime_ns] for f, st in stats.items()}}

    def done(self) -> int:
        """Records already imported: 0 unless the state is of this file and collection."""
        try:
            with open(self.file, encoding="utf-8") as f:
                state: Dict[str, Any] = json.load(f)
        except (OSError, ValueError):
            return 0
        same = all(state.get(k) == v for k, v in self.identity.items())
        return int(state.get("records_done", 0)) if same else 0

    def save(self, records_done: int) -> None:
        part = self.file + ".part"
        with open(part, "w", encoding="utf-8") as f:
            json.dump({**self.identity, "records_done": records_done}, f)
        os.replace(part, self.file)

    def clear(self) -> None:
        if os.path.exists(self.file):
            os.remove(self.file)


@click.command("import")
@click.argument("collection")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="The file's format [default: from its suffix].")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=1000, show_default=True)
@click.option("--restart", is_flag=True,
              help="Ignore the progress of an earlier, interrupted import of this file and "
                   "start from its first record.")
@pass_session
def import_(session: Session, collection: str, path: str, fmt: Optional[str], batch_size: int,
            restart: bool) -> None:
    """Upserts the records of PATH (JSONL, CSV, Parquet or .npy) into COLLECTION; resumable."""
    client = session.client()
    target = client.get_collection(collection)
    dimension = target.dimension
    try:
        fmt = format_of(path, fmt)
        total = count_records(path, fmt)
    except (FormatError, OSError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    files = [path] + (list(sidecars(path).values()) if fmt == "npy" else [])
    state = ImportState(path, collection, session.url or "default", target.created_at_us, files)
    done = 0 if restart else state.done()
    if done:
        err.print(f"resuming after record {done:,} (--restart to start over)")
    rate = _Rate(done)
    with _progress() as progress:
        task = progress.add_task(f"import {os.path.basename(path)}", total=total, rate=0.0,
                                 completed=done)
        try:
            for batch in read(path, fmt, dimension, batch_size, done):
                client.batch_insert(collection, batch.vectors, ids=batch.ids,
                                    metadata=batch.metadata, batch_size=batch_size, upsert=True)
                done += len(batch.ids)
                state.save(done)
                progress.update(task, completed=done, rate=rate(done))
        except FormatError as e:
            raise click.ClickException(f"{e} (the {done:,} records before its batch were "
                                       "imported)") from None
    state.clear()
    err.print(f"imported {done:,} records into '{collection}'")


class _Rate:
    """Records per second since the start of this run (a resumed import's earlier records
    not counted)."""

    def __init__(self, first: int) -> None:
        self.first, self.t0 = first, time.monotonic()

    def __call__(self, done: int) -> float:
        return (done - self.first) / max(time.monotonic() - self.t0, 1e-9)


@click.command("export")
@click.argument("collection")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet", "npy"]),
              help="The file's format [default: from its suffix].")
@click.option("--filter", "filter_text", help="Only the records matching this JSON filter.")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=1000, show_default=True)
@pass_session
def export(session: Session, collection: str, path: str, fmt: Optional[str],
           filter_text: Optional[str], batch_size: int) -> None:
    """Writes the records of COLLECTION (id order) to PATH: JSONL, Parquet or .npy (with
    <stem>.ids.txt and <stem>.metadata.jsonl)."""
    try:
        fmt = format_of(path, fmt)
    except FormatError as e:
        raise click.ClickException(str(e)) from None
    if fmt not in WRITERS:
        raise click.UsageError(f"export writes {', '.join(WRITERS)}, not {fmt}")
    try:
        writer_type = WRITERS[fmt]
        if fmt == "parquet":
            load_pyarrow()  # before anything is read
    except FormatError as e:
        raise click.ClickException(str(e)) from None
    filter_ = parse_filter(filter_text)
    client = session.client()
    dimension = client.get_collection(collection).dimension
    total = client.count(collection, filter_)
    writer = writer_type(path, dimension)
    written, ok, rate = 0, False, _Rate(0)
    try:
        with _progress() as progress:
            task = progress.add_task(f"export {collection}", total=total, rate=0.0)
            page = []
            for record in client.scroll(collection, filter_, batch_size, include_vectors=True,
                                        as_numpy=True):
                page.append(record)
                if len(page) == batch_size:
                    writer.write(page)
                    written, page = written + len(page), []
                    progress.update(task, completed=written, rate=rate(written))
            if page:
                writer.write(page)
                written += len(page)
            progress.update(task, completed=written, total=written)
        ok = True
    except FormatError as e:
        raise click.ClickException(f"{e} (nothing written)") from None
    finally:
        writer.close(ok)
    err.print(f"exported {written:,} records of '{collection}' to {path}")


COMMANDS = (import_, export)
