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

from sqlalchemy.exc import OperationalError

from bot.app import App
from bot.intake.filing import backfill_cutoff, file_raw
from bot.log import get_logger
from bot.pipeline import Origin

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
    for entry in sorted(new_dir.iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
        if entry.name.startswith("."):
            continue
        raw = entry.read_bytes()
        received = datetime.fromtimestamp(entry.stat().st_mtime, UTC)
        outcome = file_raw(app, raw, Origin(source=f"maildir:{entry.name}",
                                            received_at=received, backfill=received < cutoff))
        cur = path / "cur" / f"{entry.name}:2,"
        entry.rename(cur)
        handled += 1
        log.info("maildir message handled", status=outcome.status, case=outcome.case_code,
                 message_id=outcome.message_id)
    box.close()
    return handled


def run_maildir(app: App, path: Path, stop: threading.Event, interval: float = 1.0) -> None:
    """Poll the Maildir until `stop` is set."""
    while not stop.is_set():
        try:
            sync_maildir(app, path)
        except (OSError, OperationalError) as exc:
            log.warning("maildir intake interrupted; retrying", error=type(exc).__name__)
        stop.wait(interval)
