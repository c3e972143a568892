"""Keeping a message aside, with a reason, instead of filing it."""

from __future__ import annotations

import hashlib

from sqlmodel import Session, select

from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.filing.context import Outcome, Status
from bot.store.models import Quarantine
from bot.store.records import add_event

log = get_logger("pipeline")


def dedupe_key(pm_message_id: str | None, sha: str) -> str:
    """Message-ID when there is one, else a hash of the raw bytes."""
    return f"mid:{pm_message_id}" if pm_message_id else f"sha:{sha}"


def quarantine(
    session: Session,
    raw: bytes,
    *,
    reason: str,
    kind: str,
    source: str,
    key: str | None = None,
    headers_only: bool = False,
    size: int | None = None,
) -> Outcome:
    """Keep `raw` aside with `reason` (once per key) instead of filing it."""
    key = key or f"sha:{hashlib.sha256(raw).hexdigest()}"
    exists = session.exec(select(Quarantine.id).where(Quarantine.dedupe_key == key)).first()
    if exists is None:
        row = Quarantine(dedupe_key=key, raw=raw, reason=reason, kind=kind, source=source,
                         headers_only=headers_only, size=size if size is not None else len(raw))
        session.add(row)
        add_event(session, None, EventKind.QUARANTINED, category=kind, reason=reason,
                  source=source)
        session.flush()
        # The reason can quote the mail (the bytes a parse failed on, an error's message):
        # it is for `cocbot quarantine show`, and for the log at debug level only.
        log.warning("message quarantined", kind=kind, quarantine_id=row.id)
        log.debug("quarantine reason", quarantine_id=row.id, reason=reason)
    return Outcome(status=Status.QUARANTINED, reason=reason)
