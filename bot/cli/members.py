"""`cocbot members`: the roster on file, current and past, with dates.

The roster is loaded from the configuration whenever the bot starts
(`bot.store.roster.sync_roster`); a member who leaves keeps their row with an end
date, so the records can always say who was a member when.
"""

from __future__ import annotations

import click

from bot.cli.common import CliState, fail, json_rows, pass_state


@click.command("members")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--at", metavar="DATE", help="Only who was a member on DATE (YYYY-MM-DD, UTC) "
              "or at an ISO-8601 moment.")
@pass_state
def members_cmd(state: CliState, as_json: bool, at: str | None) -> None:
    """List current and past working group members with their dates."""
    from bot.store.roster import roster_rows

    try:
        rows = roster_rows(state.app(), at)
    except ValueError:
        fail(f"--at: not a date or ISO-8601 moment: {at!r}", code=2)
    on_file = {r["email"] for r in rows if r["current"]}
    configured = {m.email for m in state.config.members}
    if at is None and on_file != configured:
        click.echo("note: the configuration differs from the roster on file; the roster "
                   "is updated when the bot starts (cocbot run)", err=True)
    if as_json:
        click.echo(json_rows(rows))
        return
    if not rows:
        click.echo("no members on file")
        return
    from tabulate import tabulate

    click.echo(tabulate(
        [[r["name"], r["email"], r["role"], r["active_from"][:16].replace("T", " "),
          (r["active_until"] or "")[:16].replace("T", " ") or "current"] for r in rows],
        headers=["name", "email", "role", "from (UTC)", "until (UTC)"]))
