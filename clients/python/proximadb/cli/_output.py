"""What the commands print: Rich tables for people, JSON (``--output json``) for scripts."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, Iterable, List, Sequence

import click
import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Tables and JSON go to stdout; progress bars and notes to stderr, so `> file` keeps only data.
# No console markup: "[...]" in a record's metadata or a name is text, not a style.
out = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, markup=False)

OUTPUT = click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table",
                      show_default=True, help="A table, or JSON for scripts.")


def confirm(yes: bool, question: str) -> None:
    """Asks `question` unless --yes was given; stops the command (exit status 1) on no."""
    if not yes:
        click.confirm(question, abort=True)


def plain(value: Any) -> Any:
    """A dataclass (or a list of them) as JSON-ready dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def print_json(value: Any) -> None:
    click.echo(orjson.dumps(plain(value), option=orjson.OPT_INDENT_2 |
                            orjson.OPT_SERIALIZE_NUMPY).decode())


def compact(value: Any, limit: int = 80) -> str:
    """A short one-line JSON text of a value (metadata in a table cell)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def print_rows(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):  # names and ids whole; the last column wraps
        last = i == len(columns) - 1
        table.add_column(c, overflow="fold", no_wrap=not last)
    for row in rows:
        table.add_row(*[Text(compact(v) if not isinstance(v, str) else v) for v in row])
    out.print(table)


def print_fields(title: str, fields: Dict[str, Any]) -> None:
    """A two-column table of a record's fields."""
    print_rows(title, ("field", "value"), ((k, compact(v, 200)) for k, v in fields.items()))


def print_result(value: Any, output: str, title: str) -> None:
    """A dataclass as a field table or as JSON."""
    if output == "json":
        print_json(value)
    else:
        print_fields(title, plain(value))


def fields_of(items: List[Any], names: Sequence[str]) -> List[List[Any]]:
    return [[getattr(item, n) for n in names] for item in items]
