"""The running application's shared handles: config, engine, secret, clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from bot.core.config import Config


def utcnow() -> datetime:
    """Aware UTC now from the system clock."""
    return datetime.now(UTC)


@dataclass
class App:
    """What every stage needs: configuration, database, the bot's secret, time."""

    config: Config
    engine: Engine
    secret: str
    clock: Callable[[], datetime] = utcnow
    # Set by intake after a commit that queued mail, so the sender wakes at once.
    outbox_wakeup: threading.Event = field(default_factory=threading.Event)

    def now(self) -> datetime:
        """Aware UTC now (or the frozen `--now` moment)."""
        return self.clock()

    def now_utc(self) -> datetime:
        """Aware UTC now (or the frozen moment), normalised to UTC."""
        return self.clock().astimezone(UTC)
