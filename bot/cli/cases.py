"""`cocbot cases` and `cocbot case CODE`: the records, and one case in full."""

from __future__ import annotations

import json
from typing import Any

import click

from bot.cli.common import CliState, fail, json_rows, pass_state


def _record_rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["code"], r["status"], r["date_reported"][:16].replace("T", " "),
             r["resolution_source"] or "", r["resolution_date"] or "",
             len(r["message_ids"]), ", ".join(r["recused"])] for r in records]


@click.command("cases")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--status", type=click.Choice(["Ongoing", "Resolved"]), help="Only this status.")
@pass_state
def cases_cmd(state: CliState, as_json: bool, status: str | None) -> None:
    """List the cases (the record spreadsheet)."""
    from bot.core.gcpause import collector_paused
    from bot.store.db import session_scope
    from bot.store.records import case_records, list_cases

    app = state.app()
    with session_scope(app.engine) as session, collector_paused():
        records = case_records(session, [c for c in list_cases(session)
                                         if status is None or c.status == status])
    if as_json:
        click.echo(json_rows(records))
        return
    if not records:
        click.echo("no cases")
        return
    from tabulate import tabulate

    click.echo(tabulate(_record_rows(records), headers=[
        "case", "status", "reported (UTC)", "resolved by", "resolved on", "messages",
        "recused"]))


@click.command("case")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def case_cmd(state: CliState, code: str, as_json: bool) -> None:
    """Show one case: its record, messages and history."""
    from bot.store.casefile import case_detail
    from bot.store.db import session_scope

    app = state.app()
    with session_scope(app.engine) as session:
        detail = case_detail(session, code)
    if detail is None:
        fail(f"no case called {code!r}")
    if as_json:
        click.echo(json.dumps(detail, indent=2))
        return
    rec = {k: v for k, v in detail.items() if k not in ("messages", "events", "message_ids")}
    from tabulate import tabulate

    click.echo(tabulate([[k, v if v is not None else ""] for k, v in rec.items()]))
    click.echo("\nmessages:")
    click.echo(tabulate([[m["received_at"][:16], m["kind"], m["from"] or "", m["subject"]]
                         for m in detail["messages"]], headers=["received", "kind", "from",
                                                                "subject"]))
    copies = [(m, c) for m in detail["messages"] for c in m.get("alternate_copies", [])]
    if copies:
        click.echo("\nalternate copies (same Message-ID, other bytes; kept, never acted on):")
        click.echo(tabulate([[c["received_at"][:16], m["message_id"], c["size"], c["source"]]
                             for m, c in copies],
                            headers=["received", "copy of", "bytes", "source"]))
    click.echo("\nhistory:")
    click.echo(tabulate([[e["at"][:16], e["kind"], e["actor"] or "", e["summary"]]
                         for e in detail["events"]], headers=["at", "event", "by", "details"]))
