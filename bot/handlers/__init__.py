"""The handler chain run on every filed message, in order.

A handler takes a `MessageContext` and may add events, change the case and
queue outbox rows, all inside the message's transaction.  Replay handlers run
when a Message-ID arrives again with different content (never filed twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.filing.pipeline import MessageContext

HANDLERS: list[Callable[[MessageContext], None]] = []
REPLAY_HANDLERS: list[Callable[..., Any]] = []

# Importing a handler module appends its handler (order: the order of these lines).
from bot.handlers import acknowledge  # noqa: E402,F401
from bot.handlers import commands as _commands  # noqa: E402,F401
from bot.handlers import hygiene as _hygiene  # noqa: E402,F401
