"""`cocbot status [--json]`: is the bot healthy?  Non-zero exit when not (for monitoring)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from bot.cli.common import CliState, pass_state

if TYPE_CHECKING:
    from bot.store.health import Health

# Exit code when a figure is out of bounds.
EXIT_UNHEALTHY = 1


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@pass_state
def status_cmd(state: CliState, as_json: bool) -> None:
    """Health: last inbox contact, last send, queue, quarantine, schema.

    Exits 1 when any figure is outside its bound in [status] (5 when the
    database cannot be reached), so a monitor can run it as it is.
    """
    from bot.store.db import make_engine
    from bot.store.health import measure

    engine = make_engine(state.config.database.url)
    health = measure(state.config, engine, datetime.now(UTC))
    if as_json:
        click.echo(json.dumps(health.as_json(), indent=2))
    else:
        _print_text(health)
    if not health.healthy:
        sys.exit(EXIT_UNHEALTHY)


def _print_text(health: Health) -> None:
    def when(value: datetime | None) -> str:
        if value is None:
            return "never"
        minutes = (health.now - value).total_seconds() / 60
        return f"{value.strftime('%Y-%m-%d %H:%M:%S')} UTC ({minutes:.0f} min ago)"

    rows = [
        ("cocbot run", f"running since {when(health.running_since)}" if health.running_since
         else "not running (or stopped cleanly)"),
        (f"last {'IMAP' if health.intake_source == 'imap' else 'Maildir'} contact",
         when(health.last_intake_contact)),
        ("last successful send", when(health.last_successful_send)),
        ("outbox queue", f"{health.queue_length} waiting"
         + (f", oldest queued {when(health.oldest_unsent)}" if health.oldest_unsent else "")),
        ("failed mail", str(health.failed_mail)),
        ("quarantine", f"{health.quarantined} (+ {health.quarantined_spam} spam)"),
        ("schema", f"{health.schema_current or '(empty)'} (newest {health.schema_newest})"),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<22} {value}")
    if health.healthy:
        click.echo("healthy")
    else:
        for problem in health.problems:
            click.echo(f"UNHEALTHY: {problem}")
