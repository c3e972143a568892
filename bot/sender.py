"""Outbox sender (placeholder until the outbound work lands): nothing to deliver."""

from __future__ import annotations

import threading

from bot.app import App


def deliver_due(app: App) -> int:
    """Deliver queued outbox rows that are due; returns how many were sent."""
    return 0


def sender_loop(app: App, stop: threading.Event) -> None:
    """Deliver rows as they become due until `stop` is set."""
    while not stop.is_set():
        app.outbox_wakeup.wait(1.0)
        app.outbox_wakeup.clear()
        deliver_due(app)
