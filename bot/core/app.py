"""The running application's shared context: config, engine, secret, clock."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core.config import Config
from bot.store.models import Setting, set_clock


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    """What every stage needs: configuration, database, the bot's secret, time."""

    config: Config
    engine: Engine
    secret: str
    clock: Callable[[], datetime] = _utcnow
    # Set by intake after a commit that queued mail, so the sender wakes at once.
    outbox_wakeup: threading.Event = field(default_factory=threading.Event)

    def now(self) -> datetime:
        """Aware UTC now (or the frozen `--now` moment)."""
        return self.clock()

    def now_utc(self) -> datetime:
        """Aware UTC now (or the frozen moment), normalised to UTC."""
        return self.clock().astimezone(UTC)


def load_secret(config: Config, engine: Engine) -> str:
    """The key for the bot's Message-ID MACs: from config, else generated once and stored."""
    if config.bot.secret_key:
        return config.bot.secret_key
    with Session(engine) as session:
        row = session.get(Setting, "secret_key")
        if row is not None:
            return row.value
        session.add(Setting(key="secret_key", value=secrets.token_hex(32)))
        try:
            session.commit()
        except IntegrityError:
            # Another instance generated it first; use theirs.
            session.rollback()
        row = session.get(Setting, "secret_key")
        assert row is not None
        return row.value


def build_app(config: Config, engine: Engine, clock: Callable[[], datetime] | None = None) -> App:
    """An App for `config` on `engine`; record timestamps follow its clock."""
    app = App(config=config, engine=engine, secret=load_secret(config, engine),
              clock=clock or _utcnow)
    # Through the app, so a test (or --now) that swaps app.clock moves the records too.
    set_clock(lambda: app.clock())
    return app
