"""`cocbot run`: intake, outbox sender and scheduler, once or forever."""

from __future__ import annotations

import os
import signal
import ssl
import sys
import threading
from pathlib import Path
from types import FrameType

from imapclient.exceptions import IMAPClientError

from bot.clocks.scheduler import run_due, scheduler_loop
from bot.core.app import App
from bot.core.log import get_logger
from bot.core.watch import fatal_reasons
from bot.intake.imap import ImapIntake, LoginRefused
from bot.intake.imap import run_once as imap_run_once
from bot.intake.maildir import run_maildir, sync_maildir
from bot.outbound.sender import deliver_pass, sender_loop
from bot.service.leader import Leadership
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


class SendFailed(Exception):
    """The SMTP server could not be used (the rest of `run --once` still ran)."""


def run_once(app: App) -> dict[str, int]:
    """Process all waiting mail, run what the scheduler has due, send, and return counts.

    Holds the intake lease while it works (AnotherInstance when a daemon holds it).
    When the mail source cannot be read, the scheduler and the sender still run
    (reminders and queued mail do not wait for the inbox); then IntakeFailed is
    raised so the caller can report it and exit non-zero.  When the SMTP server
    cannot be reached or refuses the login, SendFailed is raised likewise.
    """
    leadership = Leadership(app)
    leadership.acquire(threading.Event(), wait=False)
    try:
        prepare(app)
        failure: Exception | None = None
        try:
            filed = intake_once(app)
        except (OSError, IMAPClientError, ssl.SSLError, EOFError, LoginRefused) as exc:
            failure, filed = exc, 0
            log.error("intake failed", error=type(exc).__name__)
        due = run_due(app)
        delivery = deliver_pass(app)
        log.info("run once finished", handled=filed, scheduled=due, sent=delivery.sent)
    finally:
        leadership.release()
    if failure is not None:
        raise IntakeFailed(f"{type(failure).__name__}: {failure}") from failure
    if delivery.unreachable is not None:
        raise SendFailed(delivery.unreachable)
    return {"handled": filed, "scheduled": due, "sent": delivery.sent}


def _log_worker_crash(args: threading.ExceptHookArgs) -> None:
    name = args.thread.name if args.thread is not None else "?"
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
    log.error("worker crashed", worker=name, error=args.exc_type.__name__, exc_info=exc_info)


class _Signals:
    """What the signal handlers asked for: stop, or reload (SIGHUP)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.hup = threading.Event()

    def install(self, app: App) -> None:
        def _stop(_sig: int, _frame: FrameType | None) -> None:
            self.stop.set()
            app.outbox_wakeup.set()

        def _hup(_sig: int, _frame: FrameType | None) -> None:
            self.hup.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        if app.config.service.sighup == "reload":
            signal.signal(signal.SIGHUP, _hup)
        else:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _workers(app: App, term: threading.Event) -> list[threading.Thread]:
    intake = app.config.intake
    if intake.source == "maildir":
        assert intake.maildir is not None
        path = Path(app.config.resolve_path(intake.maildir))
        intake_thread = threading.Thread(target=run_maildir, args=(app, path, term),
                                         name="intake", daemon=True)
    else:
        intake_thread = threading.Thread(target=ImapIntake(app).run, args=(term,),
                                         name="intake", daemon=True)
    return [
        intake_thread,
        threading.Thread(target=sender_loop, args=(app, term), name="sender", daemon=True),
        threading.Thread(target=scheduler_loop, args=(app, term), name="scheduler",
                         daemon=True),
    ]


def _reload_ok(config_path: str | None) -> bool:
    """True when the configuration and rules on disk can be used (else say why)."""
    from bot.core.config import ConfigError, load_config
    from bot.rules.loader import load_rules

    try:
        load_rules(load_config(config_path))
    except ConfigError as exc:
        log.error("SIGHUP: new configuration refused; keeping the running one",
                  problem=str(exc)[:300])
        return False
    return True


def run_forever(app: App, stop: threading.Event | None = None,
                config_path: str | None = None) -> None:
    """Run intake, sender and scheduler until SIGTERM/SIGINT or `stop`.

    Only while this instance holds the intake lease (see `bot.service.leader`):
    a standby waits, and a holder that loses the lease stands by again.
    SIGHUP checks the configuration and rules on disk and, when they are valid,
    restarts the process in place with them (keeping its lease); invalid ones
    are refused with one error line and the daemon runs on unchanged.
    """
    stop = stop or threading.Event()
    signals = _Signals(stop)
    if threading.current_thread() is threading.main_thread():
        signals.install(app)
        # Through the logger (which drops exception messages above debug), not
        # Python's default hook, which prints the message with any data it holds.
        threading.excepthook = _log_worker_crash
    leadership = Leadership(app)
    dead: list[str] = []
    reload = False
    clean = True
    try:
        while not stop.is_set() and not dead and not reload:
            if not leadership.acquire(stop):
                break
            prepare(app)
            dead, reload = _work(app, leadership, stop, signals, config_path)
    except BaseException:
        clean = False
        raise
    finally:
        app.outbox_wakeup.set()
        if clean and not reload:
            leadership.release()
    log.info("cocbot stopped")
    if reload:
        log.info("SIGHUP: restarting with the new configuration")
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    if dead:
        reasons = fatal_reasons()
        # A non-zero exit, so a supervisor (systemd Restart=on-failure) starts us again.
        raise SystemExit("cocbot stopped: " + ("; ".join(reasons) if reasons else
                         f"the {', '.join(dead)} worker stopped unexpectedly"))


def _work(app: App, leadership: Leadership, stop: threading.Event, signals: _Signals,
          config_path: str | None) -> tuple[list[str], bool]:
    """Run the workers while we hold the lease; (dead workers, reload requested)."""
    term = threading.Event()
    threads = _workers(app, term)
    beat = threading.Thread(target=leadership.heartbeat, args=(term,), name="lease",
                            daemon=True)
    for t in [*threads, beat]:
        t.start()
    log.info("cocbot running", source=app.config.intake.source)
    heartbeat.mark_running(app.engine, app.now_utc())  # `db restore` refuses while set
    dead: list[str] = []
    reload = False
    while not term.is_set():
        if stop.wait(0.5):
            break
        if signals.hup.is_set():
            signals.hup.clear()
            if _reload_ok(config_path):
                reload = True
                break
        if leadership.lost.is_set():
            break
        dead = [t.name for t in threads if not t.is_alive()]
        for name in dead:
            log.error("worker stopped unexpectedly; shutting down", worker=name)
        if dead:
            break
    term.set()
    app.outbox_wakeup.set()
    for t in [*threads, beat]:
        t.join(timeout=10)
    heartbeat.mark_running(app.engine, None)
    return dead, reload
