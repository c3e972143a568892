"""What every `cocbot` command shares: the chosen config, errors, `--now`.

Kept light (click only at import time) so `cocbot --help` starts fast; the
database and the mail machinery are imported by the commands that use them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.core.config import Config


@dataclass
class CliState:
    """Lazily loaded config for the chosen --config."""

    config_path: str | None
    _config: Config | None = None

    @property
    def config(self) -> Config:
        """The validated config, or exit with the error naming the key."""
        from bot.core import log as logmod
        from bot.core.config import ConfigError, load_config

        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                fail(str(exc), code=2)
            logmod.configure(self._config.log.level, self._config.log.format)
        return self._config

    def app(self, now: datetime | None = None, *, check_schema: bool = True) -> App:
        """An App on the configured database (schema checked)."""
        from bot.store.bootstrap import build_app
        from bot.store.db import SchemaOutOfDate, make_engine, require_current_schema

        engine = make_engine(self.config.database.url)
        if check_schema:
            try:
                require_current_schema(engine)
            except SchemaOutOfDate as exc:
                fail(str(exc), code=3)
        clock = (lambda: now) if now is not None else None
        return build_app(self.config, engine, clock=clock)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` as an error and exit with `code`."""
    click.echo(f"cocbot: error: {message}", err=True)
    sys.exit(code)


def parse_now(value: str | None) -> datetime | None:
    """An ISO-8601 moment (naive means UTC) as an aware datetime."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now: not an ISO-8601 date and time: {value!r}", code=2)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


pass_state = click.make_pass_decorator(CliState)


def json_rows(rows: Sequence[object]) -> str:
    """A JSON array with one row per line.

    Indenting every field goes through the json module's pure-Python encoder:
    over 10,000 cases that alone took a third of a second.
    """
    import json

    if not rows:
        return "[]"
    return "[\n" + ",\n".join("  " + json.dumps(row) for row in rows) + "\n]"
