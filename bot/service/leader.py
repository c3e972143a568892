"""One working instance per database: take, keep and give up the intake lease.

See `bot.store.lease` for the lease itself.  The active instance renews it
every quarter of `service.takeover_seconds`; when it cannot renew for half of
that (the database is gone) it stops working and stands by, so that by the
time the lease expires and a standby may take it, nothing of ours still runs.
A standby polls a few times per `takeover_seconds` and takes over at once
when the holder is a dead process on the same host.  On SQLite a second
instance refuses to start: SQLite is for one instance only.
"""

from __future__ import annotations

import threading
import time

from bot.core.app import App
from bot.core.log import get_logger
from bot.outbound.sender import take_over_claims
from bot.store.faults import database_outage, describe_db_error
from bot.store.lease import Holder, release, renew, try_acquire

log = get_logger("lease")


class AnotherInstance(Exception):
    """Another live instance holds the intake and this one cannot wait (SQLite, --once)."""


class Leadership:
    """This process's claim on the intake lease."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.me = Holder.me()
        self.ttl = app.config.service.takeover_seconds
        self.single = app.engine.dialect.name == "sqlite"
        self.lost = threading.Event()
        self._renewed = 0.0

    @property
    def poll_seconds(self) -> float:
        """How often a standby looks at the lease."""
        return max(0.2, min(2.0, self.ttl / 4))

    def acquire(self, stop: threading.Event, *, wait: bool = True) -> bool:
        """Block until this instance holds the lease (True) or `stop` is set (False).

        Raises AnotherInstance when a live instance holds it and this one may not
        wait for it (SQLite, or `wait=False`).
        """
        announced = False
        trouble = False
        while not stop.is_set():
            try:
                state = try_acquire(self.app.engine, self.me, self.ttl)
            except Exception as exc:
                if not database_outage(exc):
                    raise
                if not trouble:
                    log.warning("database unavailable; waiting for it", error=type(exc).__name__,
                                problem=describe_db_error(exc))
                trouble = True
                stop.wait(self.poll_seconds)
                continue
            if state.held:
                self._renewed = time.monotonic()
                self.lost.clear()
                log.info("holding the intake", instance=self.me.text,
                         took_over_from=state.took_over)
                take_over_claims(self.app)
                return True
            if self.single or not wait:
                why = ("SQLite allows one instance; use PostgreSQL to run a standby"
                       if self.single else "stop it first, or let it do the work")
                raise AnotherInstance(
                    f"another cocbot instance ({state.holder}) is running on this database: "
                    f"{why}")
            if not announced:
                log.info("standing by: another instance holds the intake",
                         holder=state.holder, takeover_seconds=self.ttl)
                announced = True
            stop.wait(self.poll_seconds)
        return False

    def heartbeat(self, term: threading.Event) -> None:
        """Renew the lease until `term` is set; set `lost` when it is no longer safe to work."""
        interval = self.ttl / 4
        while not term.wait(interval):
            try:
                ours = renew(self.app.engine, self.me, self.ttl)
            except Exception as exc:
                if not database_outage(exc):
                    log.exception("intake lease renewal failed")
                elif time.monotonic() - self._renewed < self.ttl / 2:
                    continue  # a short outage: keep working, the lease has time left
                log.warning("cannot renew the intake lease; standing by until the database "
                            "answers", error=type(exc).__name__)
                self.lost.set()
                return
            if ours:
                self._renewed = time.monotonic()
                continue
            log.warning("another instance took the intake over; standing by")
            self.lost.set()
            return

    def release(self) -> None:
        """Give the lease up on a clean stop, so a standby takes over at once."""
        try:
            release(self.app.engine, self.me)
        except Exception as exc:
            if not database_outage(exc):
                raise
            log.warning("could not release the intake lease; it expires by itself",
                        takeover_seconds=self.ttl)
