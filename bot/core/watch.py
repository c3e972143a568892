"""How long a login has been failing: the daemon gives up after a configured time.

A wrong password is not an outage that fixes itself.  Retrying forever at
warning level hides it; exiting non-zero after a while lets a service manager
(systemd, a container runtime) show the failure and alert someone.
"""

from __future__ import annotations

import threading
import time


class LoginWatch:
    """Counts the time since logins began failing; `failed()` says when to give up."""

    def __init__(self, give_up_seconds: float) -> None:
        self.give_up_seconds = give_up_seconds
        self._since: float | None = None

    @property
    def minutes(self) -> float:
        """The configured limit in minutes (for messages)."""
        return round(self.give_up_seconds / 60, 2)

    def ok(self) -> None:
        """A login succeeded: forget earlier failures."""
        self._since = None

    def failed(self) -> bool:
        """Note a failed login; True when logins have failed for longer than the limit."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        return now - self._since >= self.give_up_seconds


_fatal: list[str] = []
_fatal_lock = threading.Lock()


def report_fatal(reason: str) -> None:
    """A worker gives up for `reason` (the daemon exits non-zero, saying it)."""
    with _fatal_lock:
        _fatal.append(reason)


def fatal_reasons() -> list[str]:
    """Every reason a worker gave up, in order."""
    with _fatal_lock:
        return list(_fatal)
