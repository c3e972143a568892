"""The types every stage of filing shares: where a message came from, what
happened to it, and what a handler sees.

They sit below the pipeline, the handlers, the rules and the commands, so all
of those can import them without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

# Annotations only: rule kinds import this module, and `cocbot check-config` loads
# them without needing the database layer.
if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.core.app import App
    from bot.core.config import Member
    from bot.filing.threads import ThreadMatch
    from bot.mail.message import ParsedMessage
    from bot.store.models import Case, InboundMessage


@dataclass
class Origin:
    """Where a message came from and how to treat it."""

    source: str
    received_at: datetime | None = None
    # Backfill (import, or old mail on a first run) files silently: no mail goes out.
    backfill: bool = False


class Status(StrEnum):
    """What became of one message."""

    FILED = "filed"  # stored in a case (or, for replies to the digest, without one)
    DUPLICATE = "duplicate"  # the same message was filed before
    REPLAY = "replay"  # a known Message-ID with other bytes: noted, never acted on twice
    QUARANTINED = "quarantined"  # kept aside with a reason, not filed


@dataclass
class Outcome:
    """What happened to one message."""

    status: Status
    message_id: str | None = None
    case_code: str | None = None
    reason: str | None = None
    new_case: bool = False


@dataclass
class MessageContext:
    """Everything a handler may look at or act on for one filed message."""

    app: App
    session: Session
    pm: ParsedMessage
    inbound: InboundMessage
    case: Case
    is_new_case: bool
    origin: Origin
    match: ThreadMatch
    sender_member: Member | None
    forwarded: ParsedMessage | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def quiet(self) -> bool:
        """True when no mail may be sent about this message (backfill/import)."""
        return self.origin.backfill


Handler = Callable[[MessageContext], None]
ReplayHandler = Callable[["App", "Session", "ParsedMessage", "Case | None", Origin], None]
