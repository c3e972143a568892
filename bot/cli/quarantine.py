"""`cocbot quarantine`: mail that could not be filed (list, show, retry)."""

from __future__ import annotations

import click

from bot.cli.common import CliState, fail, json_rows, pass_state


@click.group("quarantine", invoke_without_command=True)
@click.pass_context
def quarantine_group(ctx: click.Context) -> None:
    """Mail that could not be filed: list (default), show, retry."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(quarantine_list)


@quarantine_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include released entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def quarantine_list(state: CliState, show_all: bool = False, as_json: bool = False) -> None:
    """List quarantined mail with the reason."""
    from bot.intake.retry import list_quarantine

    app = state.app()
    rows = list_quarantine(app, include_released=show_all)
    if as_json:
        click.echo(json_rows(rows))
    elif not rows:
        click.echo("quarantine is empty")
    else:
        from tabulate import tabulate

        click.echo(tabulate([[r["id"], r["created_at"][:16], r["kind"], r["size"], r["reason"]]
                             for r in rows], headers=["id", "when", "kind", "bytes", "reason"]))


@quarantine_group.command("show")
@click.argument("qid", type=int)
@pass_state
def quarantine_show(state: CliState, qid: int) -> None:
    """Print a quarantined message's reason and header block."""
    from bot.intake.retry import show_quarantine

    app = state.app()
    text = show_quarantine(app, qid)
    if text is None:
        fail(f"no quarantine entry {qid}")
    click.echo(text)


@quarantine_group.command("retry")
@click.argument("qids", type=int, nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every entry.")
@pass_state
def quarantine_retry(state: CliState, qids: tuple[int, ...], retry_all: bool) -> None:
    """Run quarantined mail through the pipeline again (e.g. after an upgrade)."""
    from bot.intake.retry import iter_retry

    if not qids and not retry_all:
        fail("name entry ids or pass --all", code=2)
    app = state.app()
    # One line per entry as soon as it is done: each is committed on its own.
    for qid, status in iter_retry(app, list(qids) or None):
        click.echo(f"{qid}: {status}")
