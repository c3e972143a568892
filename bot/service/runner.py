"""`cocbot run`: intake, outbox sender and scheduler, once or forever."""

from __future__ import annotations

import signal
import ssl
import threading
from pathlib import Path
from types import FrameType

from imapclient.exceptions import IMAPClientError

from bot.clocks.scheduler import run_due, scheduler_loop
from bot.core.app import App
from bot.core.log import get_logger
from bot.intake.imap import ImapIntake
from bot.intake.imap import run_once as imap_run_once
from bot.intake.maildir import run_maildir, sync_maildir
from bot.outbound.sender import deliver_due, sender_loop
from bot.store import heartbeat
from bot.store.db import session_scope
from bot.store.roster import sync_roster

log = get_logger("run")


def prepare(app: App) -> None:
    """Start-up work shared by every mode: bring the roster up to date."""
    with session_scope(app.engine) as session:
        sync_roster(session, app.config)


def intake_once(app: App) -> int:
    """File all waiting mail from the configured source."""
    intake = app.config.intake
    if intake.source == "maildir":
        assert intake.maildir is not None
        return sync_maildir(app, app.config.resolve_path(intake.maildir))
    return imap_run_once(app)


class IntakeFailed(Exception):
    """The mail source could not be read (the rest of `run --once` still ran)."""


def run_once(app: App) -> dict[str, int]:
    """Process all waiting mail, run what the scheduler has due, send, and return counts.

    When the mail source cannot be read, the scheduler and the sender still run
    (reminders and queued mail do not wait for the inbox); then IntakeFailed is
    raised so the caller can report it and exit non-zero.
    """
    prepare(app)
    failure: Exception | None = None
    try:
        filed = intake_once(app)
    except (OSError, IMAPClientError, ssl.SSLError, EOFError) as exc:
        failure, filed = exc, 0
        log.error("intake failed", error=type(exc).__name__)
    due = run_due(app)
    sent = deliver_due(app)
    log.info("run once finished", handled=filed, scheduled=due, sent=sent)
    if failure is not None:
        raise IntakeFailed(f"{type(failure).__name__}: {failure}") from failure
    return {"handled": filed, "scheduled": due, "sent": sent}


def _log_worker_crash(args: threading.ExceptHookArgs) -> None:
    name = args.thread.name if args.thread is not None else "?"
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
    log.error("worker crashed", worker=name, error=args.exc_type.__name__, exc_info=exc_info)


def run_forever(app: App, stop: threading.Event | None = None) -> None:
    """Run intake, sender and scheduler in threads until SIGTERM/SIGINT or `stop`."""
    prepare(app)
    heartbeat.mark_running(app.engine, app.now_utc())  # `db restore` refuses while set
    stop = stop or threading.Event()

    def _signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()
        app.outbox_wakeup.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _signal)
        signal.signal(signal.SIGINT, _signal)
        # Through the logger (which drops exception messages above debug), not
        # Python's default hook, which prints the message with any data it holds.
        threading.excepthook = _log_worker_crash

    intake = app.config.intake
    if intake.source == "maildir":
        assert intake.maildir is not None
        path = Path(app.config.resolve_path(intake.maildir))
        intake_thread = threading.Thread(target=run_maildir, args=(app, path, stop),
                                         name="intake", daemon=True)
    else:
        intake_thread = threading.Thread(target=ImapIntake(app).run, args=(stop,),
                                         name="intake", daemon=True)
    threads = [
        intake_thread,
        threading.Thread(target=sender_loop, args=(app, stop), name="sender", daemon=True),
        threading.Thread(target=scheduler_loop, args=(app, stop), name="scheduler",
                         daemon=True),
    ]
    for t in threads:
        t.start()
    log.info("cocbot running", source=intake.source)
    dead: list[str] = []
    while not stop.wait(0.5):
        dead = [t.name for t in threads if not t.is_alive()]
        for name in dead:
            log.error("worker stopped unexpectedly; shutting down", worker=name)
        if dead:
            stop.set()
    app.outbox_wakeup.set()
    for t in threads:
        t.join(timeout=10)
    log.info("cocbot stopped")
    heartbeat.mark_running(app.engine, None)
    if dead:
        # A non-zero exit, so a supervisor (systemd Restart=on-failure) starts us again.
        raise SystemExit(f"cocbot stopped: the {', '.join(dead)} worker stopped unexpectedly")
