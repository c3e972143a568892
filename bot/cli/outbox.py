"""`cocbot outbox`: what the bot has queued, sent, or failed to send; and retry.

Failed mail never disappears silently: it stays in the outbox with the reason
(and, for refused recipients, which ones) until someone retries it.
"""

from __future__ import annotations

import click

from bot.cli.common import CliState, fail, json_rows, pass_state


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else ""


@click.group("outbox", invoke_without_command=True)
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
    from bot.outbound.listing import outbox_rows

    rows = outbox_rows(state.app(), include_sent=show_all)
    if as_json:
        click.echo(json_rows(rows))
        return
    if not rows:
        click.echo("outbox is empty" if show_all else "nothing queued or failed")
        return
    from tabulate import tabulate

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
    from bot.outbound.listing import outbox_headers

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
    from bot.outbound.listing import retry_rows

    results = retry_rows(state.app(), None if retry_all else list(oids))
    if not results:
        click.echo("no failed mail")
    for oid, status in results:
        click.echo(f"{oid}: {status}")
