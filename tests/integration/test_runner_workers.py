"""`cocbot run` never stops quietly: a dead worker ends the process with a failure."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import bot.service.runner
from bot.core.app import App
from tests.helpers import make_app


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_worker_stops_the_bot_with_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    app: App = make_app(f"sqlite:///{tmp_path / 'cocbot.db'}",
                        intake={"source": "maildir", "maildir": str(inbox)})

    def broken_sender(_app: App, _stop: threading.Event) -> None:
        raise RuntimeError("a bug in the sender")

    monkeypatch.setattr(bot.service.runner, "sender_loop", broken_sender)
    outcome: list[BaseException | None] = []

    def run() -> None:
        # Off the main thread, so pytest's own signal handlers stay in place.
        try:
            bot.service.runner.run_forever(app, threading.Event())
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    runner.join(30)
    [stopped] = outcome
    # Exit status 1 (a message, not 0): a supervisor sees a failure and restarts the bot.
    assert isinstance(stopped, SystemExit)
    assert stopped.code == "cocbot stopped: the sender worker stopped unexpectedly"
