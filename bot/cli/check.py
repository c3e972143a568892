"""`cocbot check-config`: is the configuration (and are the rules) usable?"""

from __future__ import annotations

import click

from bot.cli.common import CliState, fail, pass_state


@click.command("check-config")
@pass_state
def check_config(state: CliState) -> None:
    """Validate the configuration and the rules, then say what would run."""
    from bot.core.config import ConfigError
    from bot.rules.loader import validate_rules

    cfg = state.config

    try:
        rules = validate_rules(cfg)
    except ConfigError as exc:
        fail(str(exc), code=2)
    click.echo(f"configuration OK: intake from {cfg.intake.source}, "
               f"{len(cfg.members)} member(s), {len(rules)} rule(s) enabled")
