"""`cocbot check-config [--connect]`: is the configuration (and are the rules) usable?"""

from __future__ import annotations

import sys

import click

from bot.cli.common import CliState, fail, pass_state


def roster_or_exit(state: CliState) -> None:
    """Exit 2 with one line per problem when the roster, [auth] or [status] are unusable."""
    from bot.core.checks import config_problems

    problems = config_problems(state.config)
    for line in problems:
        click.echo(f"cocbot: error: {line}", err=True)
    if problems:
        sys.exit(2)


@click.command("check-config")
@click.option("--connect", is_flag=True,
              help="Also log in to the database, the IMAP and the SMTP server.")
@pass_state
def check_config(state: CliState, connect: bool) -> None:
    """Validate the configuration and the rules, then say what would run.

    With --connect, also log in to the database, the inbox (IMAP or the Maildir)
    and the SMTP server; each gets one line, OK or FAILED with the server's words.
    """
    from bot.core.config import ConfigError
    from bot.rules.loader import validate_rules

    cfg = state.config
    roster_or_exit(state)
    try:
        rules = validate_rules(cfg)
    except ConfigError as exc:
        fail(str(exc), code=2)
    click.echo(f"configuration OK: intake from {cfg.intake.source}, "
               f"{len(cfg.members)} member(s), {len(rules)} rule(s) enabled")
    if not connect:
        return
    from bot.service.probes import probe_all

    results = probe_all(cfg)
    for result in results:
        click.echo(result.line(), err=not result.ok)
    if not all(r.ok for r in results):
        sys.exit(1)
