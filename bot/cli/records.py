"""`cocbot export records|identity-key` and `cocbot import-records FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import CliState, fail, pass_state


def _write(out: Path | None, data: bytes) -> None:
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {out.name}: {exc.strerror}")
    click.echo(f"written to {out}", err=True)


@click.group("export")
def export_group() -> None:
    """Export the records in the group's spreadsheet format."""


@export_group.command("records")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True, help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (default: standard output; xlsx needs --out).")
@pass_state
def export_records(state: CliState, fmt: str, out: Path | None) -> None:
    """The records: the manual's ten columns, one row per reported person, no identities."""
    from bot.records.export import record_rows, to_csv, to_xlsx
    from bot.store.db import session_scope

    if fmt == "xlsx" and out is None:
        fail("--format xlsx needs --out FILE", code=2)
    app = state.app()
    with session_scope(app.engine) as session:
        rows = record_rows(session, app.config.schedule.zone)
    _write(out, to_xlsx(rows) if fmt == "xlsx" else to_csv(rows).encode("utf-8"))


@export_group.command("identity-key")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (default: standard output).")
@pass_state
def export_identity_key(state: CliState, out: Path | None) -> None:
    """The Person Identity Key as CSV (needs the key; keep the output restricted)."""
    import csv
    import io

    from bot.cli.identity import required_key
    from bot.records.export import neutralise
    from bot.records.identitykey import IdentityKeyError
    from bot.records.keyring import identity_key_rows
    from bot.store.db import session_scope

    key = required_key(state)
    try:
        with session_scope(state.app().engine) as session:
            rows = identity_key_rows(session, key)
    except IdentityKeyError as exc:
        fail(str(exc))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["Real Names", "Addresses", "Person Code Name", "Reports",
                     "Highest Recorded Consequence", "Flagged", "Banned"])
    for r in rows:
        writer.writerow([neutralise(v) for v in (
            "; ".join(r["names"]), "; ".join(r["addresses"]), r["person_code"],
            str(r["reports"]), r["highest_consequence"], "Yes" if r["flagged"] else "No",
            "Yes" if r["banned"] else "No")])
    _write(out, buf.getvalue().encode("utf-8"))


@click.command("import-records")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def import_records_cmd(state: CliState, path: Path) -> None:
    """Seed cases, person code names and outcomes from the group's spreadsheet (CSV).

    The file has the export's ten columns with their header. Every line is
    checked first; with any problem nothing is imported and each problem is
    listed with its line number.
    """
    from bot.records.importer import import_records
    from bot.store.db import session_scope

    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        fail(f"cannot read {path.name}: {exc.strerror}")
    except UnicodeDecodeError as exc:
        fail(f"{path.name} is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8")
    app = state.app()
    with session_scope(app.engine) as session:
        result = import_records(session, app.config.schedule.zone, text)
        if result.errors:
            session.rollback()
    if result.errors:
        for error in result.errors:
            click.echo(f"{path.name}: {error}", err=True)
        fail(f"{len(result.errors)} problem(s); nothing was imported")
    click.echo(f"imported {result.lines} line(s): {result.cases} new case(s), "
               f"{result.people} new person code name(s), {result.links} person record(s)")
