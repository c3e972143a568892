"""Local Maildir intake: files new mail from a folder (local use, the demo).

Messages are read from ``new/`` and moved to ``cur/`` after their transaction
commits; a crash in between re-reads the file and the pipeline's dedupe files
nothing twice.
"""

from __future__ import annotations

import mailbox
import threading
from datetime import UTC, datetime
from pathlib import Path

from bot.core.app import App
from bot.core.log import get_logger
from bot.filing.context import Origin, Outcome
from bot.filing.quarantine import quarantine
from bot.intake.filer import backfill_cutoff, file_raw, oversize_key
from bot.store import heartbeat
from bot.store.db import session_scope
from bot.store.faults import database_outage, describe_db_error

log = get_logger("maildir")


def ensure_maildir(path: Path) -> mailbox.Maildir:
    """Open (creating when missing) the Maildir at `path`."""
    return mailbox.Maildir(str(path), factory=None, create=True)


def sync_maildir(app: App, path: Path) -> int:
    """File every message in ``new/``; returns how many were handled.

    Files older than the backfill cut-off (see `backfill_cutoff`) are filed silently.
    """
    box = ensure_maildir(path)
    cutoff = backfill_cutoff(app, f"maildir:{path.resolve()}")
    new_dir = path / "new"
    handled = 0
    limit = app.config.intake.max_message_bytes
    for entry in sorted(new_dir.iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
        if entry.name.startswith(".") or not entry.is_file():
            # Not a message (a dot file, or a folder someone made): never retried forever.
            continue
        stat = entry.stat()
        received = datetime.fromtimestamp(stat.st_mtime, UTC)
        source = f"maildir:{entry.name}"
        if stat.st_size > limit:
            outcome = _quarantine_oversize(app, entry, stat.st_size, limit, source)
        else:
            outcome = file_raw(app, entry.read_bytes(), Origin(
                source=source, received_at=received, backfill=received < cutoff))
        entry.rename(path / "cur" / f"{entry.name}:2,")
        handled += 1
        log.info("maildir message handled", status=outcome.status, case=outcome.case_code,
                 message_id=outcome.message_id)
    box.close()
    heartbeat.beat(app.engine, heartbeat.INTAKE, app.now_utc())
    return handled


def _quarantine_oversize(app: App, entry: Path, size: int, limit: int, source: str) -> Outcome:
    """Keep only the header block of a message over the size limit, as IMAP intake does."""
    with entry.open("rb") as fh:
        head = fh.read(256 * 1024)
    for sep in (b"\r\n\r\n", b"\n\n"):
        if sep in head:
            head = head.split(sep, 1)[0] + sep
            break
    with session_scope(app.engine) as session:
        return quarantine(session, head, kind="oversize", source=source, headers_only=True,
                          size=size, key=oversize_key(head, size),
                          reason=f"message too large ({size} bytes; limit {limit}); "
                                 "headers kept")


def run_maildir(app: App, path: Path, stop: threading.Event, interval: float = 1.0) -> None:
    """Poll the Maildir until `stop` is set."""
    while not stop.is_set():
        try:
            sync_maildir(app, path)
        except Exception as exc:
            if not isinstance(exc, OSError) and not database_outage(exc):
                raise
            log.warning("maildir intake interrupted; retrying", error=type(exc).__name__,
                        problem=describe_db_error(exc) if database_outage(exc) else None)
        stop.wait(interval)
