"""The scheduler: reminders and the daily digest, run from the database's state.

Jobs keep no state of their own.  Each run asks the database what is due at
`app.now()` (open clocks past due, digests not yet claimed today) and records
what it sent in the same transaction as the outbox row, so a restart, a missed
run or a second instance neither loses nor repeats anything.  That makes a
plain "every minute" trigger enough; a cron trigger at `schedule.digest_time`
sends the digest on the minute.

`cocbot run` drives the jobs with APScheduler's BackgroundScheduler;
`cocbot run --once [--now T]` calls `run_due` once.
"""

from __future__ import annotations

import threading
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clocks.digest import run_digests
from bot.clocks.reminders import run_reminders
from bot.core.app import App
from bot.core.log import get_logger
from bot.governance.danger import send_urgent_summaries
from bot.records.onboarding import run_onboarding
from bot.records.readmission import run_readmission
from bot.records.retention import run_retention
from bot.store.faults import database_outage, describe_db_error

log = get_logger("scheduler")

TICK_SECONDS = 60
# The tick and the digest-time job may fire together; runs in one process take turns.
_RUN_LOCK = threading.Lock()


def run_due(app: App) -> int:
    """Run every job that is due at app.now(); returns how many mails they queued."""
    # Onboarding first: a newcomer is shut out of every case before any digest is
    # built; then urgent notices merged under the hourly cap.
    queued = run_onboarding(app)
    queued += send_urgent_summaries(app)
    queued += run_reminders(app)
    queued += run_digests(app)
    queued += run_readmission(app)
    queued += run_retention(app)
    if queued:
        app.outbox_wakeup.set()
    return queued


def _job(app: App) -> None:
    # A failing run is logged and retried on the next tick; the thread lives on.
    try:
        with _RUN_LOCK:
            run_due(app)
    except Exception as exc:
        if not database_outage(exc):
            log.exception("scheduled run failed")
            return
        log.warning("scheduled run postponed: database unavailable", error=type(exc).__name__,
                    problem=describe_db_error(exc))


def build_scheduler(app: App) -> BackgroundScheduler:
    """A BackgroundScheduler with the tick job and the digest-time job (not started)."""
    sched = app.config.schedule
    scheduler = BackgroundScheduler(timezone=UTC)
    # One run at a time: a slow run is never overlapped, missed ticks coalesce.
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None,
              "replace_existing": True}
    scheduler.add_job(_job, IntervalTrigger(seconds=TICK_SECONDS, timezone=UTC), args=[app],
                      id="tick", name="reminders and digest", **common)
    scheduler.add_job(_job, CronTrigger(hour=sched.digest_time.hour,
                                        minute=sched.digest_time.minute,
                                        timezone=sched.zone),
                      args=[app], id="digest", name="digest at digest_time", **common)
    return scheduler


def scheduler_loop(app: App, stop: threading.Event) -> None:
    """Run due jobs at start, then on the scheduler's triggers, until `stop` is set."""
    _job(app)
    scheduler = build_scheduler(app)
    scheduler.start()
    log.info("scheduler started", tick_seconds=TICK_SECONDS)
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        log.info("scheduler stopped")
