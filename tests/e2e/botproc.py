"""Run the real `cocbot` against test servers: configs and a background process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import create_engine, text

from tests.helpers import config_dict, write_config
from tests.servers import Dovecot, SmtpSink


def e2e_config(tmp: Path, dovecot: Dovecot, smtp: SmtpSink | None = None,
               **overrides: Any) -> Path:
    """Write a config for the bot on `dovecot` (+ `smtp`) with a SQLite database in `tmp`."""
    sections: dict[str, Any] = {
        "imap": {"host": dovecot.host, "port": dovecot.port, "security": "none",
                 "username": dovecot.user, "password": dovecot.password,
                 "idle_seconds": 5, "socket_timeout": 3, "reconnect_max_seconds": 2,
                 "poll_seconds": 1},
        "intake": {"source": "imap"},
    }
    if smtp is not None:
        sections["smtp"] = {"host": smtp.host, "port": smtp.port, "security": "none",
                            "retry_base_seconds": 0.5, "retry_max_seconds": 2}
        # A server that comes back is found by the next probe: probe often in tests.
        sections["service"] = {"smtp_probe_seconds": 1}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(sections.get(key), dict):
            sections[key] = {**sections[key], **value}
        else:
            sections[key] = value
    data = config_dict(f"sqlite:///{tmp / 'cocbot.db'}", **sections)
    return write_config(tmp / "cocbot.toml", data)


def run_cli(config: Path, *args: str, timeout: float = 120,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    """`cocbot --config CONFIG ARGS...` in a subprocess."""
    result = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), *args],
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"cocbot {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


class BotProcess:
    """`cocbot run` in the background; stopped with SIGTERM (or killed) on exit."""

    def __init__(self, config: Path, *args: str) -> None:
        self.config = config
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = config.parent / "bot.log"

    def start(self) -> Self:
        """Start the process, logging to bot.log beside the config."""
        env = dict(os.environ)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(self.config), "run", *self.args],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        """What the process logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def db_rows(config: Path, sql: str) -> list[Any]:
    """Rows of `sql` on the test SQLite database beside `config`."""
    engine = create_engine(f"sqlite:///{config.parent / 'cocbot.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; return it (or the last falsy value)."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value
