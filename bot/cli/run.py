"""`cocbot run` and `cocbot import`: file mail (and, for run, act on it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import CliState, fail, parse_now, pass_state


@click.command("run")
@click.option("--once", is_flag=True, help="Process waiting mail, run due jobs, send, exit.")
@click.option("--now", "now_text", metavar="ISO-8601",
              help="With --once: act as if it were this moment.")
@pass_state
def run_cmd(state: CliState, once: bool, now_text: str | None) -> None:
    """Run the bot (forever, or once with --once)."""
    from bot.service.leader import AnotherInstance
    from bot.service.runner import IntakeFailed, SendFailed, run_forever, run_once

    now = parse_now(now_text)
    if now is not None and not once:
        fail("--now only makes sense with --once", code=2)
    from bot.core.config import ConfigError
    from bot.rules.loader import load_rules

    try:
        load_rules(state.config)
    except ConfigError as exc:
        fail(str(exc), code=2)
    from bot.cli.check import roster_or_exit

    roster_or_exit(state)
    app = state.app(now)
    try:
        if not once:
            run_forever(app, config_path=state.config_path)
            return
        counts = run_once(app)
    except AnotherInstance as exc:
        fail(str(exc), code=7)
    except IntakeFailed as exc:
        fail(f"could not read the {state.config.intake.source} inbox "
             f"(scheduled jobs and queued mail were still handled): {exc}", code=4)
    except SendFailed as exc:
        fail(f"could not send mail (it stays queued; the inbox and scheduled jobs were "
             f"handled): {exc}", code=6)
    click.echo(f"handled {counts['handled']} message(s), ran {counts['scheduled']} "
               f"job(s), sent {counts['sent']} mail(s)")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@pass_state
def import_cmd(state: CliState, path: Path) -> None:
    """File an mbox file or Maildir folder into cases, sending nothing."""
    from bot.intake.importer import import_path, iter_raw

    app = state.app()
    count, _ = iter_raw(path)
    with click.progressbar(length=count, label="importing", file=sys.stderr,
                           show_pos=True) as bar:
        counts = import_path(app, path, progress=bar.update)
    click.echo(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to import")
