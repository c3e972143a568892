"""Scheduler (placeholder until reminders and the digest land)."""

from __future__ import annotations

import threading

from bot.app import App


def run_due(app: App) -> int:
    """Run every job that is due at app.now(); returns how many acted."""
    return 0


def scheduler_loop(app: App, stop: threading.Event) -> None:
    """Run due jobs every minute until `stop` is set."""
    while not stop.wait(60):
        run_due(app)
