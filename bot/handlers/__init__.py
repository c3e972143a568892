"""The handler chain run on every filed message, in order.

A handler takes a `MessageContext` and may add events, change the case and
queue outbox rows, all inside the message's transaction.  Replay handlers run
when a Message-ID arrives again with different content (never filed twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.pipeline import MessageContext

HANDLERS: list[Callable[[MessageContext], None]] = []
REPLAY_HANDLERS: list[Callable[..., Any]] = []
