"""Reviewed drafts: their state, derived from a case's history (nothing else is stored).

The manual ("Communications"): "When drafting communications, have a second
working group member review for potentially identifying information before
sending."  A `#draft` is a `draft_filed` event (message_id = the draft's
Message-ID, actor = its author); `#revise`, or a newer draft by the same
author, closes it with `draft_revised`; `#approve` closes it with
`draft_sent`.  The commands (`bot.commands._drafts`) and the review reminder
(`bot.clocks.reminders`) read the same states from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.core.events import EventKind
from bot.store.models import Event

PENDING = "pending"
REVISED = "revised"
SENT = "sent"
# The event kinds a draft's state is read from.
DRAFT_KINDS = (EventKind.DRAFT_FILED, EventKind.DRAFT_REVISED, EventKind.DRAFT_SENT)


@dataclass(frozen=True)
class DraftState:
    """A draft of the case as its history tells it."""

    message_id: str
    author: str
    status: str  # pending | revised | sent
    filed_at: datetime
    event_id: int
    backfill: bool = False  # filed from imported mail: no review clock


def draft_states(events: Iterable[Event]) -> list[DraftState]:
    """Every draft in `events` (a case's history, oldest first), with its current status.

    Events of other kinds are ignored, so a case's whole history may be passed.
    """
    order: list[str] = []
    filed: dict[str, Event] = {}
    status: dict[str, str] = {}
    for ev in events:
        if ev.kind == EventKind.DRAFT_FILED and ev.message_id:
            if ev.message_id not in filed:
                order.append(ev.message_id)
            filed[ev.message_id] = ev
            status.setdefault(ev.message_id, PENDING)
        elif ev.kind in (EventKind.DRAFT_REVISED, EventKind.DRAFT_SENT):
            target = str(ev.data.get("draft") or "")
            if target in status:
                status[target] = SENT if ev.kind == EventKind.DRAFT_SENT else REVISED
    return [DraftState(m, filed[m].actor or "", status[m], filed[m].at, filed[m].id or 0,
                       bool(filed[m].data.get("backfill"))) for m in order]


def awaiting_review(events: Iterable[Event]) -> list[DraftState]:
    """The drafts filed live and still waiting for a second member's review, oldest first."""
    return [d for d in draft_states(events) if d.status == PENDING and not d.backfill]
