"""Delivery-to-acknowledgement timing against real servers (shared by tests and bench/).

Plain Python, no pytest import: `bench/ack_latency.py` uses it too.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

from tests.servers import Dovecot, SmtpSink


class AckClock:
    """Watches an SmtpSink and notes when the acknowledgement of each report arrived.

    Acknowledgements answer their report (In-Reply-To), so each is matched to the
    Message-ID of the report it acknowledges.
    """

    def __init__(self, sink: SmtpSink, interval: float = 0.005) -> None:
        self.sink = sink
        self.interval = interval
        self.arrived: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self._seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ack-clock", daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._collect()
            self._stop.wait(self.interval)
        self._collect()

    def _collect(self) -> None:
        messages = self.sink.messages
        now = time.monotonic()
        for captured in messages[self._seen:]:
            replied = str(captured.message.get("In-Reply-To", "")).strip().strip("<>")
            if replied:
                self.arrived.setdefault(replied, now)
                self.counts[replied] = self.counts.get(replied, 0) + 1
        self._seen = len(messages)

    def wait_for(self, ids: list[str], timeout: float) -> bool:
        """True once every id in `ids` has been acknowledged (False at the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(i in self.arrived for i in ids):
                return True
            time.sleep(0.02)
        return all(i in self.arrived for i in ids)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)


def deliver(dovecot: Dovecot, raw: bytes, folder: str = "INBOX") -> float:
    """Append `raw` and return the moment it was in the mailbox (monotonic clock)."""
    dovecot.append(raw, folder=folder)
    return time.monotonic()


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (0 < fraction <= 1)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(fraction * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def idle_notification_seconds(dovecot: Dovecot, raw: bytes, timeout: float = 10.0) -> float:
    """How long Dovecot itself takes to announce an appended message to an IDLE client."""
    client = dovecot.connect()
    try:
        client.select_folder("INBOX", readonly=True)
        client.idle()
        try:
            started = deliver(dovecot, raw)
            deadline = started + timeout
            while time.monotonic() < deadline:
                for resp in client.idle_check(timeout=0.5):
                    if isinstance(resp, tuple) and len(resp) > 1 and resp[1] == b"EXISTS":
                        return time.monotonic() - started
            return float("inf")
        finally:
            client.idle_done()
    finally:
        client.logout()
