"""`cocbot members`: the roster on file, current and past, with dates.

The roster is loaded from the configuration whenever the bot starts
(`bot.store.roster.sync_roster`); a member who leaves keeps their row with an end
date, so the records can always say who was a member when.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import click
from sqlmodel import Session
from tabulate import tabulate

from bot.core.app import App
from bot.store.models import Member
from bot.store.roster import member_history


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive values; everything is stored as UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _window(at: str) -> tuple[datetime, datetime]:
    """The moment (or whole UTC day) that `at` names, as [start, end)."""
    if len(at) == 10:
        day = date.fromisoformat(at)
        start = datetime.combine(day, time(0, 0), tzinfo=UTC)
        return start, start + timedelta(days=1)
    moment = datetime.fromisoformat(at)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment, moment + timedelta(microseconds=1)


def was_member(row: Member, start: datetime, end: datetime) -> bool:
    """True when `row` was active at some point in [start, end)."""
    until = _aware(row.active_until) if row.active_until else None
    return _aware(row.active_from) < end and (until is None or until > start)


def roster_rows(app: App, at: str | None = None) -> list[dict[str, Any]]:
    """Every roster row (oldest first) as a dict; with `at`, only those active then."""
    with Session(app.engine) as session:
        rows = member_history(session)
    if at is not None:
        start, end = _window(at)
        rows = [r for r in rows if was_member(r, start, end)]
    return [
        {"name": r.name, "email": r.email, "aliases": list(r.aliases), "role": r.role,
         "active_from": _aware(r.active_from).isoformat(),
         "active_until": _aware(r.active_until).isoformat() if r.active_until else None,
         "current": r.active_until is None}
        for r in rows
    ]


def register(main: click.Group) -> None:
    """Attach the `members` command to the `cocbot` command line."""
    from bot.cli.main import CliState, fail, pass_state

    @main.command("members")
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
    @click.option("--at", metavar="DATE", help="Only who was a member on DATE (YYYY-MM-DD, UTC) "
                  "or at an ISO-8601 moment.")
    @pass_state
    def members_cmd(state: CliState, as_json: bool, at: str | None) -> None:
        """List current and past working group members with their dates."""
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
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            click.echo("no members on file")
            return
        click.echo(tabulate(
            [[r["name"], r["email"], r["role"], r["active_from"][:16].replace("T", " "),
              (r["active_until"] or "")[:16].replace("T", " ") or "current"] for r in rows],
            headers=["name", "email", "role", "from (UTC)", "until (UTC)"]))
