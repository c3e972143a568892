"""`cocbot db`: the database schema."""

from __future__ import annotations

import sys

import click

from bot.cli.common import CliState, pass_state


@click.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@pass_state
def db_upgrade(state: CliState) -> None:
    """Apply all migrations (creates the database when new)."""
    from bot.store.db import make_engine, schema_status, upgrade

    upgrade(state.config.database.url)
    engine = make_engine(state.config.database.url)
    current, _head = schema_status(engine)
    click.echo(f"database schema at revision {current}")


@db_group.command("status")
@pass_state
def db_status(state: CliState) -> None:
    """Show the schema revision and whether it is current."""
    from bot.store.db import make_engine, schema_status

    engine = make_engine(state.config.database.url)
    current, head = schema_status(engine)
    click.echo(f"current: {current or '(empty)'}; newest: {head}")
    if current != head:
        sys.exit(3)
