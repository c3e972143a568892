"""What every intake does once raw bytes have arrived: one transaction each.

A failure inside the pipeline (a bug, a database hiccup on one message) never
stops intake and never loses the message: it is quarantined with the error's
type as the reason, in a fresh transaction that also advances the cursor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from bot.core.app import App
from bot.core.log import get_logger
from bot.filing.context import Origin, Outcome
from bot.filing.pipeline import process_message
from bot.filing.quarantine import dedupe_key, quarantine
from bot.mail.parse import ParseError, parse_message
from bot.store.backup import silent_before
from bot.store.db import session_scope
from bot.store.faults import caused_by_message, database_outage, describe_db_error

__all__ = ["backfill_cutoff", "caused_by_message", "database_outage", "describe_db_error",
           "file_raw", "oversize_key"]
from bot.store.models import Setting

log = get_logger("intake")

InTxn = Callable[[Session], None]


def file_raw(app: App, raw: bytes, origin: Origin, *, in_txn: InTxn | None = None) -> Outcome:
    """File `raw` in its own transaction; `in_txn` (e.g. advance a cursor) joins it."""
    try:
        with session_scope(app.engine) as session:
            outcome = process_message(app, session, raw, origin)
            if in_txn is not None:
                in_txn(session)
    except Exception as exc:
        if database_outage(exc):
            # The database itself is unwell (gone, restarting, locked, full): the
            # transaction rolled back whole, so the caller retries the message later
            # rather than quarantining good mail because of an outage.
            raise
        outcome = _quarantine_error(app, raw, origin, exc, in_txn)
    app.outbox_wakeup.set()
    return outcome


def _quarantine_error(app: App, raw: bytes, origin: Origin, exc: Exception,
                      in_txn: InTxn | None) -> Outcome:
    """Quarantine `raw` after the pipeline failed on it, in a fresh transaction."""
    log.exception("pipeline error; message quarantined", source=origin.source)
    with session_scope(app.engine) as session:
        outcome = quarantine(
            session, raw, reason=f"internal error while filing: {type(exc).__name__}: "
            f"{str(exc)[:200]}", kind="error", source=origin.source,
        )
        if in_txn is not None:
            in_txn(session)
    return outcome


def backfill_cutoff(app: App, source_key: str) -> datetime:
    """Mail that arrived before this is old: filed silently, never acknowledged.

    The configured `intake.backfill_before`, else the moment the bot first read
    this source less `intake.backfill_grace_minutes`, recorded once so that later
    runs agree.  Whole seconds, because IMAP arrival times have no finer precision.
    After a restore (`cocbot db restore`), never earlier than the moment up to which
    the bot whose records were replaced had handled the inbox.
    """
    configured = app.config.intake.backfill_before
    if configured is not None:
        return _after_restore(app, datetime(configured.year, configured.month,
                                            configured.day, tzinfo=UTC))
    with session_scope(app.engine) as session:
        key = f"first_run:{source_key}"[:100]
        row = session.get(Setting, key)
        if row is None:
            grace = timedelta(minutes=app.config.intake.backfill_grace_minutes)
            first = (app.now_utc() - grace).replace(microsecond=0)
            row = Setting(key=key, value=first.isoformat())
            session.add(row)
        first_run = datetime.fromisoformat(row.value)
    return _after_restore(app, first_run)


def _after_restore(app: App, cutoff: datetime) -> datetime:
    """After `cocbot db restore`, mail that arrived before this was handled already."""
    handled = silent_before(app.engine)
    return max(cutoff, handled) if handled is not None else cutoff


def oversize_key(header: bytes, size: int) -> str:
    """The quarantine key of an oversize message: the message's identity, not its UID.

    A UID is only unique within one UIDVALIDITY (and a re-delivered copy gets a new one),
    so keying on it quarantined the same message again on every rescan.  Its Message-ID
    (else its header block and size) is what stays the same; hashed to bound the length.
    """
    try:
        message_id = parse_message(header).message_id
    except ParseError:
        message_id = None
    identity = dedupe_key(message_id, f"{hashlib.sha256(header).hexdigest()}:{size}")
    return f"oversize:{hashlib.sha256(identity.encode()).hexdigest()}"
