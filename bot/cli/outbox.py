"""`cocbot outbox`: what the bot has queued, sent, or failed to send; and retry.

Failed mail never disappears silently: it stays in the outbox with the reason
(and, for refused recipients, which ones) until someone retries it.
"""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from typing import Any

import click
from sqlmodel import Session, col, select
from tabulate import tabulate

from bot.core.app import App
from bot.core.events import EventKind
from bot.store.db import session_scope
from bot.store.models import Case, Outbox
from bot.store.records import add_event


def outbox_rows(app: App, *, include_sent: bool = False) -> list[dict[str, Any]]:
    """Outbox rows as plain dicts, oldest first (sent rows only with `include_sent`)."""
    with Session(app.engine) as session:
        query = select(Outbox, Case.code).join(Case, isouter=True).order_by(col(Outbox.id))
        if not include_sent:
            query = query.where(Outbox.status != "sent")
        rows = session.exec(query).all()
        return [
            {
                "id": row.id,
                "message_id": row.message_id,
                "case": code,
                "kind": row.kind,
                "status": row.status,
                "attempts": row.attempts,
                "recipients": list(row.recipients),
                "refused": list(row.refused),
                "created_at": row.created_at.isoformat(),
                "next_attempt_at": row.next_attempt_at.isoformat(),
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "last_error": row.last_error,
            }
            for row, code in rows
        ]


def retry_rows(app: App, ids: list[int] | None) -> list[tuple[int, str]]:
    """Put failed rows (`ids`, or every failed row when None) back in the queue."""
    results: list[tuple[int, str]] = []
    now = app.now_utc()
    with session_scope(app.engine) as session:
        if ids is None:
            rows = list(session.exec(select(Outbox).where(Outbox.status == "failed")
                                     .order_by(col(Outbox.id))).all())
        else:
            rows = []
            for oid in ids:
                row = session.get(Outbox, oid)
                if row is None:
                    results.append((oid, "no such outbox entry"))
                else:
                    rows.append(row)
        for row in rows:
            assert row.id is not None
            if row.status != "failed":
                results.append((row.id, f"not failed (status {row.status}); left alone"))
                continue
            row.status = "queued"
            row.next_attempt_at = now
            session.add(row)
            case = session.get(Case, row.case_id) if row.case_id else None
            add_event(session, case, EventKind.OUTBOX_RETRY, message_id=row.message_id, at=now,
                      mail_kind=row.kind, previous_error=row.last_error)
            results.append((row.id, "queued again"))
    app.outbox_wakeup.set()
    return results


def outbox_headers(app: App, oid: int) -> str | None:
    """The header block of outbox row `oid` (decoded), or None when there is none."""
    with Session(app.engine) as session:
        row = session.get(Outbox, oid)
        if row is None:
            return None
        msg = message_from_bytes(row.raw, policy=policy.default)
        lines = [f"{name}: {value}" for name, value in msg.items()]
        lines.append("")
        lines.append(f"(outbox {row.id}: {row.kind}, {row.status}, {row.attempts} attempt(s))")
        if row.last_error:
            lines.append(f"last error: {row.last_error}")
        lines.extend(f"refused: {entry}" for entry in row.refused)
        return "\n".join(lines)


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else ""


def register(main: click.Group) -> None:
    """Attach the `outbox` command group to the `cocbot` command line."""
    from bot.cli.main import CliState, fail, pass_state

    @main.group("outbox", invoke_without_command=True)
    @click.option("--all", "show_all", is_flag=True, help="Include mail already sent.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def outbox_group(ctx: click.Context, show_all: bool, as_json: bool) -> None:
        """Outgoing mail: list (default), show, retry."""
        if ctx.invoked_subcommand is None:
            ctx.invoke(outbox_list, show_all=show_all, as_json=as_json)

    @outbox_group.command("list")
    @click.option("--all", "show_all", is_flag=True, help="Include mail already sent.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @pass_state
    def outbox_list(state: CliState, show_all: bool = False, as_json: bool = False) -> None:
        """List queued and failed mail (with --all: sent mail too)."""
        rows = outbox_rows(state.app(), include_sent=show_all)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            click.echo("outbox is empty" if show_all else "nothing queued or failed")
            return
        table = []
        for r in rows:
            problem = r["last_error"] or ""
            if r["refused"]:
                problem = "refused: " + "; ".join(r["refused"])
            table.append([r["id"], _when(r["created_at"]), r["case"] or "", r["kind"],
                          r["status"], r["attempts"],
                          _when(r["sent_at"] if r["status"] == "sent" else r["next_attempt_at"]),
                          problem])
        click.echo(tabulate(table, headers=["id", "queued (UTC)", "case", "kind", "status",
                                            "attempts", "next/sent", "problem"]))

    @outbox_group.command("show")
    @click.argument("oid", type=int)
    @pass_state
    def outbox_show(state: CliState, oid: int) -> None:
        """Print the headers of one outgoing mail (never its body)."""
        text = outbox_headers(state.app(), oid)
        if text is None:
            fail(f"no outbox entry {oid}")
        click.echo(text)

    @outbox_group.command("retry")
    @click.argument("oids", type=int, nargs=-1)
    @click.option("--all", "retry_all", is_flag=True, help="Retry every failed mail.")
    @pass_state
    def outbox_retry(state: CliState, oids: tuple[int, ...], retry_all: bool) -> None:
        """Queue failed mail again (only refused recipients, if others got it)."""
        if not oids and not retry_all:
            fail("name outbox ids or pass --all", code=2)
        results = retry_rows(state.app(), None if retry_all else list(oids))
        if not results:
            click.echo("no failed mail")
        for oid, status in results:
            click.echo(f"{oid}: {status}")
