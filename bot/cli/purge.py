"""`cocbot purge --resolved-before DATE [--dry-run]`: retention, gone from disk."""

from __future__ import annotations

from datetime import date

import click

from bot.cli.common import CliState, fail, pass_state


@click.command("purge")
@click.option("--resolved-before", "before", required=True, metavar="DATE",
              help="Purge cases resolved before this day (YYYY-MM-DD).")
@click.option("--dry-run", is_flag=True, help="Only say what would be purged.")
@pass_state
def purge_cmd(state: CliState, before: str, dry_run: bool) -> None:
    """Delete the details of cases resolved before DATE; keep the anonymised records.

    Deletes raw mail, message texts, the bot's mail, participants, history and
    identities (of people with no other case); keeps the record rows, person
    code names, outcomes and statistics. Then compacts the database so the
    deleted data is gone from disk. There is no undo: take a backup first if
    the group wants one, and keep that backup under the same retention rule.
    """
    from bot.records.retention import purge

    try:
        day = date.fromisoformat(before)
    except ValueError:
        fail(f"--resolved-before: not a date (YYYY-MM-DD): {before!r}", code=2)
    result = purge(state.app(), day, dry_run=dry_run)
    if not result.cases:
        click.echo(f"no case resolved before {day.isoformat()} is left to purge")
        return
    verb = "would purge" if dry_run else "purged"
    click.echo(f"{verb} {len(result.cases)} case(s): {', '.join(result.cases)}")
    click.echo(f"  {result.messages} message(s), {result.outbox} mail(s) sent by the bot"
               + ("" if dry_run else f", {result.identities} identity(ies)"))
    if result.compacted:
        click.echo(f"  {result.compacted}")
