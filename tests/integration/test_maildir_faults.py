"""Maildir intake under database faults: the message stays in new/ and is filed later.

A locked or full database rolls the filing back whole; the file must not move
to cur/ (that would lose it) and must not be quarantined (it is good mail).
The polling loop logs one line naming the problem and tries again.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from bot.core.config import parse_config
from bot.intake.maildir import ensure_maildir, run_maildir, sync_maildir
from bot.store.bootstrap import build_app
from bot.store.db import upgrade
from bot.store.models import Case, InboundMessage, Quarantine
from tests.helpers import config_dict, make_mail


def _app(path: Path, *, max_pages: list[int] | None = None) -> Any:
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = create_engine(url, connect_args={"timeout": 0.2})

    @event.listens_for(engine, "connect")
    def _limit(dbapi_conn: Any, _record: Any) -> None:
        if max_pages:
            dbapi_conn.execute(f"PRAGMA max_page_count = {max_pages[0]}")

    return build_app(parse_config(config_dict(url), environ={}), engine)


def _deliver(box_path: Path, raw: bytes) -> None:
    ensure_maildir(box_path).add(raw)


def _where(box_path: Path) -> tuple[int, int]:
    return (len(list((box_path / "new").iterdir())), len(list((box_path / "cur").iterdir())))


def _counts(app: Any) -> tuple[int, int, int]:
    with Session(app.engine) as session:
        return (len(session.exec(select(InboundMessage)).all()),
                len(session.exec(select(Case)).all()),
                len(session.exec(select(Quarantine)).all()))


def test_locked_database_leaves_the_message_in_new(tmp_path: Path) -> None:
    app = _app(tmp_path / "cocbot.db")
    box = tmp_path / "Maildir"
    _deliver(box, make_mail(message_id="locked@mail.example"))
    blocker = sqlite3.connect(tmp_path / "cocbot.db")
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OperationalError):
            sync_maildir(app, box)
    finally:
        blocker.rollback()
        blocker.close()
    assert _where(box) == (1, 0) and _counts(app) == (0, 0, 0)
    assert sync_maildir(app, box) == 1
    assert _where(box) == (0, 1) and _counts(app) == (1, 1, 0)


def test_full_disk_leaves_the_message_in_new(tmp_path: Path) -> None:
    limit: list[int] = []
    app = _app(tmp_path / "cocbot.db", max_pages=limit)
    box = tmp_path / "Maildir"
    _deliver(box, make_mail(message_id="full@mail.example", body="x" * 200_000))
    with app.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    app.engine.dispose()
    limit.append(int(pages))  # no room for one more page: "database or disk is full"
    with pytest.raises(OperationalError):
        sync_maildir(app, box)
    assert _where(box) == (1, 0)
    limit.clear()
    app.engine.dispose()
    assert _counts(app) == (0, 0, 0)
    assert sync_maildir(app, box) == 1
    assert _where(box) == (0, 1) and _counts(app) == (1, 1, 0)


def test_the_polling_loop_rides_out_a_lock(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(tmp_path / "cocbot.db")
    box = tmp_path / "Maildir"
    ensure_maildir(box)
    blocker = sqlite3.connect(tmp_path / "cocbot.db")
    blocker.execute("BEGIN EXCLUSIVE")
    stop = threading.Event()
    loop = threading.Thread(target=run_maildir, args=(app, box, stop, 0.05), daemon=True)
    loop.start()
    try:
        _deliver(box, make_mail(message_id="during@mail.example"))
        time.sleep(0.6)  # several polls meet the lock
        assert loop.is_alive() and _where(box) == (1, 0)
    finally:
        blocker.rollback()
        blocker.close()
    deadline = time.monotonic() + 10
    while _where(box) != (0, 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    loop.join(5)
    assert _where(box) == (0, 1) and _counts(app) == (1, 1, 0)
    out = capsys.readouterr().out
    assert "maildir intake interrupted; retrying" in out and "database is locked" in out
    assert "Traceback" not in out
