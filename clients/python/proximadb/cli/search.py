"""``proximadb search``: the nearest records to a vector given inline, in a file, on stdin or
as an existing record's id."""

from __future__ import annotations

import json
import sys
from typing import Any, List, Optional

import click
import numpy as np

from . import Session, parse_filter
from ._output import OUTPUT, print_json, print_rows

pass_session = click.make_pass_decorator(Session)


def _parse_vector(text: str, source: str) -> List[float]:
    try:
        value = json.loads(text)
    except ValueError:
        value = text.replace(",", " ").split()  # also "0.1 0.2 0.3"
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.ndim != 1 or array.size == 0:
        raise click.BadParameter(f"{source}: not a vector (a JSON array of numbers, or numbers "
                                 "separated by spaces or commas)")
    return array.tolist()


def _query_vector(session: Session, collection: str, vector: Optional[str],
                  vector_file: Optional[str], record_id: Optional[str]) -> List[float]:
    given = [v for v in (vector, vector_file, record_id) if v is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --vector, --vector-file and --id")
    if record_id is not None:
        return list(session.client().get(collection, record_id).vector or [])
    if vector is not None:
        return _parse_vector(vector, "--vector")
    assert vector_file is not None
    if vector_file == "-":
        return _parse_vector(sys.stdin.read(), "stdin")
    if vector_file.endswith(".npy"):
        array = np.load(vector_file)
        if array.ndim == 2 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 1:
            raise click.BadParameter(f"{vector_file}: an array of shape {array.shape}, not one "
                                     "vector", param_hint="--vector-file")
        return array.astype(np.float32).tolist()
    with open(vector_file, encoding="utf-8") as f:
        return _parse_vector(f.read(), vector_file)


@click.command()
@click.argument("collection")
@click.option("--vector", help="The query: a JSON array, e.g. '[0.1, 0.2]'.")
@click.option("--vector-file", type=click.Path(allow_dash=True, dir_okay=False),
              help="A file holding the query (JSON, numbers, or a .npy); - for stdin.")
@click.option("--id", "record_id", help="Search with the vector of this record.")
@click.option("-k", type=click.IntRange(1, 10000), default=10, show_default=True)
@click.option("--filter", "filter_text", help="A JSON filter on the metadata (docs/filters.md).")
@click.option("--ef", type=click.IntRange(1), help="Search breadth (default: the collection's).")
@click.option("--exact", is_flag=True, help="An exact scan instead of the index.")
@click.option("--with-vectors", is_flag=True, help="Return the hits' vectors too.")
@OUTPUT
@pass_session
def search(session: Session, collection: str, vector: Optional[str],
           vector_file: Optional[str], record_id: Optional[str], k: int,
           filter_text: Optional[str], ef: Optional[int], exact: bool, with_vectors: bool,
           output: str) -> None:
    """The K nearest records of COLLECTION, best first."""
    query = _query_vector(session, collection, vector, vector_file, record_id)
    hits = session.client().search(collection, query, k=k, filter=parse_filter(filter_text),
                                   ef=ef, exact=exact, include_vectors=with_vectors)
    if output == "json":
        print_json(hits)
        return
    rows: List[List[Any]] = [[str(i), h.id, f"{h.score:.6g}", h.metadata or {}]
                             for i, h in enumerate(hits, 1)]
    print_rows(f"{len(hits)} hits in '{collection}'", ("#", "id", "score", "metadata"), rows)


COMMANDS = (search,)
