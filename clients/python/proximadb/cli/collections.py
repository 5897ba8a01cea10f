"""``proximadb collections list|create|describe|drop|patch|flush|compact``, ``stats`` and
``health``."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Sequence, Tuple

import click
from rich.text import Text

from ..errors import CollectionNotFoundError, ProximaDBError
from . import Session, parse_filter
from ._output import (OUTPUT, confirm, err, fields_of, out, plain, print_json, print_result,
                      print_rows)

pass_session = click.make_pass_decorator(Session)

SET = click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
                   help="Any other setting (docs/api.md); VALUE is JSON where it parses as "
                        "JSON, else a string: --set quantization=sq8 "
                        "--set 'tiering={\"warm_after_hours\": 24}'.")


def settings_of(assignments: Sequence[str], **options: Any) -> Dict[str, Any]:
    """The settings of the named options that were given, and of ``--set KEY=VALUE``."""
    settings = {k: v for k, v in options.items() if v is not None}
    for a in assignments:
        key, sep, text = a.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{a}' is not KEY=VALUE", param_hint="--set")
        try:
            settings[key] = json.loads(text)
        except ValueError:
            settings[key] = text
    return settings


@click.group("collections")
def collections() -> None:
    """List, create, describe, change and drop collections."""


@collections.command("list")
@OUTPUT
@pass_session
def list_(session: Session, output: str) -> None:
    """The collections, with their sizes."""
    client = session.client()
    found = []
    for c in client.list_collections():
        if c.vector_count is None:  # a cluster's list: a count is a fan-out to every shard
            try:
                c = client.get_collection(c.name)
            except CollectionNotFoundError:
                continue  # dropped since it was listed
        found.append(c)
    if output == "json":
        print_json(found)
        return
    names = ("name", "dimension", "distance_metric", "indexing_algorithm", "quantization",
             "storage_strategy", "vector_count")
    print_rows(f"{len(found)} collections", ("name", "dimension", "metric", "index",
                                             "quantization", "strategy", "vectors"),
               fields_of(found, names))


@collections.command()
@click.argument("name")
@click.option("--dimension", "-d", type=click.IntRange(min=1), required=True)
@click.option("--metric", type=click.Choice(["cosine", "l2", "dot"]), default="cosine",
              show_default=True)
@click.option("--index", type=click.Choice(["hnsw", "flat"]), default="hnsw", show_default=True)
@click.option("--m", type=int, help="HNSW links per node.")
@click.option("--ef-construction", type=int)
@click.option("--ef-search", type=int)
@click.option("--quantization", type=click.Choice(["none", "sq8", "pq", "binary", "pq4"]))
@click.option("--storage-strategy", type=click.Choice(["standard", "viper"]))
@SET
@OUTPUT
@pass_session
def create(session: Session, name: str, dimension: int, metric: str, index: str,
           assignments: Tuple[str, ...], output: str, **options: Any) -> None:
    """Creates collection NAME."""
    settings = settings_of(assignments, **options)
    made = session.client().create_collection(name, dimension, metric, index, **settings)
    print_result(made, output, f"created '{name}'")


@collections.command()
@click.argument("name")
@OUTPUT
@pass_session
def describe(session: Session, name: str, output: str) -> None:
    """A collection's settings and counters."""
    client = session.client()
    found, stats = client.get_collection(name), client.collection_stats(name)
    if output == "json":
        print_json({"collection": plain(found), "stats": plain(stats)})
        return
    print_result(found, output, f"collection '{name}'")
    print_result(stats, output, "stats")


@collections.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_session
def drop(session: Session, name: str, yes: bool) -> None:
    """Drops collection NAME and all its data."""
    confirm(yes, f"Drop collection '{name}' and all its records?")
    session.client().delete_collection(name)
    err.print(f"dropped '{name}'")


@collections.command()
@click.argument("name")
@click.option("--ef-search", type=int)
@click.option("--quantization", type=click.Choice(["none", "sq8", "pq", "binary", "pq4"]),
              help="A layout change: migrates the segments live.")
@click.option("--storage-strategy", type=click.Choice(["standard", "viper"]))
@SET
@OUTPUT
@pass_session
def patch(session: Session, name: str, assignments: Tuple[str, ...], output: str,
          **options: Any) -> None:
    """Changes settings of collection NAME."""
    settings = settings_of(assignments, **options)
    if not settings:
        raise click.UsageError("nothing to change: give an option or --set KEY=VALUE")
    print_result(session.client().update_collection(name, **settings), output,
                 f"updated '{name}'")


@collections.command()
@click.argument("name")
@OUTPUT
@pass_session
def flush(session: Session, name: str, output: str) -> None:
    """Writes the memtable of NAME into a segment now."""
    print_result(session.client().flush(name), output, f"flushed '{name}'")


@collections.command()
@click.argument("name")
@OUTPUT
@pass_session
def compact(session: Session, name: str, output: str) -> None:
    """Merges the segments of NAME, dropping deleted rows."""
    print_result(session.client().compact(name), output, f"compacted '{name}'")


@collections.command()
@click.argument("name")
@OUTPUT
@pass_session
def history(session: Session, name: str, output: str) -> None:
    """The last flushes, compactions and migrations of NAME, newest first."""
    events = session.client().collection_history(name)
    if output == "json":
        print_json(events)
        return
    names = ("started_at", "kind", "seconds", "segments_in", "segments_out", "rows", "bytes",
             "error")
    print_rows(f"{len(events)} events of '{name}'",
               ("started", "kind", "seconds", "in", "out", "rows", "bytes", "error"),
               fields_of(events, names))


@click.command()
@click.argument("name")
@OUTPUT
@pass_session
def stats(session: Session, name: str, output: str) -> None:
    """Counters of collection NAME: records, segments, tiers, flushes, memory and disk."""
    print_result(session.client().collection_stats(name), output, f"stats of '{name}'")


@click.command()
@click.argument("name")
@click.option("--filter", "filter_text", help="Only the records matching this JSON filter.")
@pass_session
def count(session: Session, name: str, filter_text: Optional[str]) -> None:
    """How many records collection NAME holds (matching --filter)."""
    click.echo(session.client().count(name, parse_filter(filter_text)))


@click.command()
@OUTPUT
@pass_session
def health(session: Session, output: str) -> None:
    """Whether the server is up and ready; exit status 1 if not."""
    client = session.client(retries=0)
    problem: Optional[str] = None
    try:
        client.health()
    except ProximaDBError as e:
        problem = f"{e.code}: {e.message}"
    report: Dict[str, Any] = {"url": session.url or "http://localhost:8080",
                              "protocol": client.protocol, "ready": problem is None}
    if problem is None:
        try:  # with [auth] on, listing needs a key; readiness does not
            report["collections"] = len(client.list_collections())
        except ProximaDBError:
            pass
    else:
        report["error"] = problem
    if output == "json":
        print_json(report)
    else:
        line = Text("ready" if problem is None else "not ready",
                    style="green" if problem is None else "red")
        line.append(f" {report['url']} ({report['protocol']})")
        if problem is not None:
            line.append(f": {problem}")
        elif "collections" in report:
            line.append(f": {report['collections']} collections")
        out.print(line, highlight=False)
    if problem is not None:
        raise SystemExit(1)


COMMANDS = (collections, stats, count, health)
