"""Database faults while filing: retried, never quarantined, nothing half-written."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from bot.core.config import parse_config
from bot.filing.context import Origin
from bot.intake.filer import database_outage, describe_db_error, file_raw
from bot.store.bootstrap import build_app
from bot.store.db import upgrade
from bot.store.models import Case, InboundMessage, Outbox, Quarantine
from tests.helpers import config_dict, make_mail


def _app(path: Path, *, busy_seconds: float = 0.2, max_pages: list[int] | None = None) -> Any:
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = create_engine(url, connect_args={"timeout": busy_seconds})

    @event.listens_for(engine, "connect")
    def _limit(dbapi_conn: Any, _record: Any) -> None:
        if max_pages:
            dbapi_conn.execute(f"PRAGMA max_page_count = {max_pages[0]}")

    return build_app(parse_config(config_dict(url), environ={}), engine)


def _counts(app: Any) -> tuple[int, int, int, int]:
    with Session(app.engine) as session:
        return (len(session.exec(select(InboundMessage)).all()),
                len(session.exec(select(Case)).all()),
                len(session.exec(select(Outbox)).all()),
                len(session.exec(select(Quarantine)).all()))


def test_database_locked_is_retried_not_quarantined(tmp_path: Path) -> None:
    app = _app(tmp_path / "cocbot.db")
    raw = make_mail(message_id="locked@mail.example")
    blocker = sqlite3.connect(tmp_path / "cocbot.db")
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OperationalError) as info:
            file_raw(app, raw, Origin(source="test"))
        assert database_outage(info.value)
        assert "database is locked" in describe_db_error(info.value)
    finally:
        blocker.rollback()
        blocker.close()
    assert _counts(app) == (0, 0, 0, 0)  # nothing half-written
    assert file_raw(app, raw, Origin(source="test")).status == "filed"
    assert _counts(app) == (1, 1, 1, 0)


def test_disk_full_is_retried_not_quarantined(tmp_path: Path) -> None:
    limit: list[int] = []
    app = _app(tmp_path / "cocbot.db", max_pages=limit)
    with app.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    app.engine.dispose()
    limit.append(int(pages))  # no room for one more page: "database or disk is full"
    big = make_mail(message_id="full@mail.example", body="x" * 200_000)
    with pytest.raises(OperationalError) as info:
        file_raw(app, big, Origin(source="test"))
    assert database_outage(info.value)
    assert "full" in describe_db_error(info.value)
    limit.clear()
    app.engine.dispose()
    assert _counts(app) == (0, 0, 0, 0)
    assert file_raw(app, big, Origin(source="test")).status == "filed"
    assert _counts(app) == (1, 1, 1, 0)
