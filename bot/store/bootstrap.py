"""Building an `App` on a database: the bot's secret and the records' clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.core.app import App, utcnow
from bot.core.config import Config
from bot.store.models import Setting, set_clock


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
              clock=clock or utcnow)
    # Through the app, so a test (or --now) that swaps app.clock moves the records too.
    set_clock(lambda: app.clock())
    return app
