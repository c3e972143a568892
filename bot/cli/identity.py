"""`cocbot identity ...`: the Person Identity Key (needs the key), and its key's life cycle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.common import CliState, fail, json_rows, pass_state

if TYPE_CHECKING:
    from bot.records.identitykey import IdentityKey


def required_key(state: CliState) -> IdentityKey:
    """The identity key, or exit with one line saying what is wrong."""
    from bot.records.identitykey import IdentityKeyError, load_key

    try:
        key = load_key(state.config)
    except IdentityKeyError as exc:
        fail(str(exc))
    if key is None:
        fail("the identity key is not configured (identity.key_file, COCBOT_IDENTITY_KEY "
             "or COCBOT_IDENTITY_KEY_FILE)")
    return key


def _print_rows(rows: list[dict[str, object]]) -> None:
    from tabulate import tabulate

    click.echo(tabulate(
        [[r["person_code"], "; ".join(r["names"]), "; ".join(r["addresses"]),  # type: ignore[arg-type]
          r["reports"], r["highest_consequence"],
          "yes" if r["flagged"] else "", "yes" if r["banned"] else ""] for r in rows],
        headers=["person code", "names", "addresses", "reports", "highest consequence",
                 "flagged", "banned"]))


@click.group("identity")
def identity_group() -> None:
    """The Person Identity Key: real names to person code names (restricted)."""


@identity_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_state
def identity_list(state: CliState, as_json: bool) -> None:
    """Print the whole identity key (needs the key)."""
    from bot.records.identitykey import IdentityKeyError
    from bot.records.keyring import identity_key_rows
    from bot.store.db import session_scope

    key = required_key(state)
    try:
        with session_scope(state.app().engine) as session:
            rows = identity_key_rows(session, key)
    except IdentityKeyError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json_rows(rows))
    elif rows:
        _print_rows(rows)
    else:
        click.echo("no people on record")


@identity_group.command("show")
@click.argument("code", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def identity_show(state: CliState, code: tuple[str, ...], as_json: bool) -> None:
    """Print one person's identity-key entry (CODE: their person code name)."""
    from bot.records.identitykey import IdentityKeyError
    from bot.records.keyring import identity_entry
    from bot.store.db import session_scope

    key = required_key(state)
    try:
        with session_scope(state.app().engine) as session:
            row = identity_entry(session, key, " ".join(code))
    except IdentityKeyError as exc:
        fail(str(exc))
    if row is None:
        fail(f"no person called {' '.join(code)!r}")
    if as_json:
        click.echo(json.dumps(row, indent=2))
    else:
        _print_rows([row])


@identity_group.command("new-key")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the new key to this file (created with mode 0600; never overwritten).")
def identity_new_key(out: Path) -> None:
    """Generate a new identity key into a file (keep it outside the database and backups)."""
    from bot.records.identitykey import generate_key, write_key_file

    try:
        write_key_file(out, generate_key())
    except FileExistsError:
        fail(f"{out.name} exists; not overwritten")
    except OSError as exc:
        fail(f"cannot write {out.name}: {exc.strerror}")
    click.echo(f"new identity key written to {out}")


@identity_group.command("rotate")
@click.option("--new-key-file", "new_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The new key (generated into this file when it does not exist).")
@pass_state
def identity_rotate(state: CliState, new_file: Path) -> None:
    """Re-encrypt every identity with a new key, in one transaction.

    Afterwards point identity.key_file (or COCBOT_IDENTITY_KEY) at the new key;
    the old key no longer reads anything.
    """
    from bot.records.identitykey import (
        IdentityKey,
        IdentityKeyError,
        generate_key,
        write_key_file,
    )
    from bot.records.keyring import rotate_key
    from bot.store.db import session_scope

    old = required_key(state)
    if not new_file.exists():
        write_key_file(new_file, generate_key())
    try:
        new = IdentityKey(new_file.read_text(encoding="ascii").strip())
        with session_scope(state.app().engine) as session:
            count = rotate_key(session, old, new)
    except IdentityKeyError as exc:
        fail(str(exc))
    click.echo(f"re-encrypted {count} identities with the key in {new_file}; now configure "
               "that key (identity.key_file or COCBOT_IDENTITY_KEY) and destroy the old one")
