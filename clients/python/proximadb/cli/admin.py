"""``proximadb backups create|list|delete|restore|restore-time`` and ``proximadb keys
create|list|delete``."""

from __future__ import annotations

from typing import Optional

import click

from . import Session
from ._output import OUTPUT, confirm, err, fields_of, print_json, print_result, print_rows

pass_session = click.make_pass_decorator(Session)


@click.group("backups")
def backups() -> None:
    """Backups to the server's object store, and restores from them (docs/backups.md)."""


@backups.command("create")
@click.argument("collection")
@OUTPUT
@pass_session
def backup_create(session: Session, collection: str, output: str) -> None:
    """Backs COLLECTION up: every write acknowledged before the call is in it."""
    print_result(session.client().create_backup(collection), output, "backup")


@backups.command("list")
@click.option("--collection", help="Only the backups of this collection.")
@OUTPUT
@pass_session
def backup_list(session: Session, collection: Optional[str], output: str) -> None:
    """The backups, oldest first."""
    found = session.client().list_backups(collection)
    if output == "json":
        print_json(found)
        return
    names = ("backup_id", "collection", "created_at", "vector_count", "segments", "bytes")
    print_rows(f"{len(found)} backups", names, fields_of(found, names))


@backups.command("delete")
@click.argument("backup_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_session
def backup_delete(session: Session, backup_id: str, yes: bool) -> None:
    """Removes backup BACKUP_ID (and the stored segments no other backup shares)."""
    confirm(yes, f"Delete backup '{backup_id}'?")
    session.client().delete_backup(backup_id)
    err.print(f"deleted backup '{backup_id}'")


@backups.command("restore")
@click.argument("backup_id")
@click.argument("target")
@OUTPUT
@pass_session
def backup_restore(session: Session, backup_id: str, target: str, output: str) -> None:
    """Creates collection TARGET (a free name) from backup BACKUP_ID."""
    print_result(session.client().restore_backup(backup_id, target), output,
                 f"restored into '{target}'")


@backups.command("restore-time")
@click.argument("source")
@click.argument("point_in_time")
@click.argument("target")
@OUTPUT
@pass_session
def backup_restore_time(session: Session, source: str, point_in_time: str, target: str,
                        output: str) -> None:
    """Creates TARGET as SOURCE was at POINT_IN_TIME (RFC 3339, e.g. 2026-12-01T10:00:00Z);
    needs the server's [object_store] wal_archive."""
    print_result(session.client().restore_point_in_time(source, point_in_time, target), output,
                 f"restored into '{target}'")


@click.group("keys")
def keys() -> None:
    """API keys (admin; docs/security.md)."""


@keys.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["read", "write", "admin"]), required=True)
@click.option("--collections", help="Comma-separated names and prefix_* patterns "
                                    "(default: every collection).")
@OUTPUT
@pass_session
def key_create(session: Session, name: str, role: str, collections: Optional[str],
               output: str) -> None:
    """Makes API key NAME; its secret is printed this once."""
    scope = [c.strip() for c in collections.split(",") if c.strip()] if collections else None
    print_result(session.client().create_key(name, role, scope), output,
                 f"key '{name}' (keep the secret: it is not shown again)")


@keys.command("list")
@OUTPUT
@pass_session
def key_list(session: Session, output: str) -> None:
    """The API keys, without their secrets."""
    found = session.client().list_keys()
    if output == "json":
        print_json(found)
        return
    rows = [[k.name, k.role, ", ".join(k.collections) if k.collections is not None
             else "(all)", k.created_at_ms] for k in found]
    print_rows(f"{len(found)} keys", ("name", "role", "collections", "created_at_ms"), rows)


@keys.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_session
def key_delete(session: Session, name: str, yes: bool) -> None:
    """Revokes API key NAME; it stops working at once."""
    confirm(yes, f"Revoke key '{name}'?")
    session.client().delete_key(name)
    err.print(f"revoked key '{name}'")


COMMANDS = (backups, keys)
