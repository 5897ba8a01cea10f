"""The ``proximadb`` command-line tool: collections, import and export, search, stats, health,
backups and API keys, against a server over REST or gRPC (docs/cli.md of the server).

    proximadb collections create docs --dimension 768 --metric cosine
    proximadb import docs data.jsonl
    proximadb search docs --id doc_1 -k 5
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import click

from ..client import ProximaDBClient
from ..errors import ProximaDBError


class Session:
    """The connection settings of one invocation; the client is made on first use."""

    def __init__(self, url: Optional[str], api_key: Optional[str], ca_file: Optional[str],
                 timeout: float) -> None:
        self.url, self.api_key, self.ca_file, self.timeout = url, api_key, ca_file, timeout
        self._client: Optional[ProximaDBClient] = None

    def client(self, retries: int = 3) -> ProximaDBClient:
        if self._client is None:
            try:
                self._client = ProximaDBClient(self.url, api_key=self.api_key,
                                               ca_file=self.ca_file, timeout=self.timeout,
                                               retries=retries)
            except ValueError as e:  # a TLS option with a plaintext URL, an unknown scheme
                raise click.UsageError(str(e)) from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def parse_filter(text: Optional[str]) -> Optional[Dict[str, Any]]:
    """The JSON of ``--filter`` (the server checks the rest)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as e:
        raise click.BadParameter(f"not JSON: {e}", param_hint="--filter") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--filter")
    return value


class _Group(click.Group):
    """Shows the server's errors as ``Error: CODE: message`` with exit status 1, not a
    traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProximaDBError as e:
            raise click.ClickException(f"{e.code}: {e.message}") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="PROXIMADB_URL", show_envvar=True,
              help="http(s)://host:port for REST, grpc(s)://host:port for gRPC "
                   "[default: http://localhost:8080]")
@click.option("--api-key", envvar="PROXIMADB_API_KEY", show_envvar=True,
              help="The API key, when the server has [auth] enabled.")
@click.option("--ca-file", envvar="PROXIMADB_CA_FILE", show_envvar=True,
              type=click.Path(exists=True, dir_okay=False),
              help="PEM CAs to trust for https:// and grpcs:// (default: the system's).")
@click.option("--timeout", default=300.0, show_default=True,
              help="Seconds per request (flush and compact can take minutes).")
@click.version_option(package_name="proximadb")
@click.pass_context
def cli(ctx: click.Context, url: Optional[str], api_key: Optional[str],
        ca_file: Optional[str], timeout: float) -> None:
    """ProximaDB from the command line."""
    session = Session(url, api_key, ca_file, timeout)
    ctx.obj = session
    ctx.call_on_close(session.close)


def _register() -> None:
    from . import admin, collections, search, transfer

    for module in (collections, admin, transfer, search):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: Optional[List[str]] = None) -> None:
    """The console script's entry point."""
    cli.main(args=argv, prog_name="proximadb")
