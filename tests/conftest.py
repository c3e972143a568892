"""Shared pytest fixtures: real Dovecot, PostgreSQL and SMTP servers on loopback.

The servers themselves live in ``tests/servers.py``; this file only scopes them. A missing
server binary skips the tests that need it on a developer machine, but fails them in CI
(environment variable ``CI`` set), where a skip would hide a broken install step.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import Dovecot, Postgres, SmtpSink, dovecot_binary, postgres_bin_dir


def _require(available: bool, what: str) -> None:
    """Skip (or, under CI, fail) the requesting test when a server is not installed."""
    if available:
        return
    reason = f"{what} is not installed; run scripts/test.sh to install it"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the servers they use, so ``-m "not e2e"`` / ``"not postgres"`` work."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"dovecot", "fresh_inbox", "smtp_sink"}:
            item.add_marker(pytest.mark.e2e)
        if names & {"postgres_server", "pg_url"}:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot IMAP server for the session (user ``conduct@example.org`` / ``secret``)."""
    _require(dovecot_binary() is not None, "dovecot (Debian package dovecot-imapd)")
    with Dovecot() as server:
        yield server


@pytest.fixture
def fresh_inbox(dovecot: Dovecot) -> Dovecot:
    """The session's Dovecot with every mailbox emptied and a new INBOX UIDVALIDITY."""
    # An earlier test may have killed or stopped the server to test reconnects.
    if not dovecot.running:
        dovecot.start()
    dovecot.reset()
    return dovecot


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One throwaway PostgreSQL cluster for the session."""
    _require(postgres_bin_dir() is not None, "PostgreSQL (Debian package postgresql)")
    with Postgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: Postgres) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty PostgreSQL database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    # FORCE disconnects engines the test left open; a failed drop only costs disk space.
    try:
        postgres_server.drop_database(name)
    except Exception as exc:
        print(f"could not drop {name}: {exc}")


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An SMTP server on a free loopback port that records every accepted message."""
    with SmtpSink() as sink:
        yield sink


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`db_url` is SQLite; tests marked ``storage`` also run on PostgreSQL.

    The PostgreSQL pass is for storage behaviour (transactions, locking,
    constraints, migrations, timestamp queries); logic above the database runs
    once, on SQLite, to keep the suite fast.
    """
    if "db_url" not in metafunc.fixturenames:
        return
    backends: list[Any] = ["sqlite"]
    if metafunc.definition.get_closest_marker("storage") is not None:
        backends.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    metafunc.parametrize("db_url", backends, indirect=True)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL for the backend the test is parametrised with."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cocbot.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(autouse=True)
def _real_record_clock() -> Iterator[None]:
    """Each test starts with record timestamps on the real clock (an App may freeze it)."""
    from bot.store.models import set_clock

    set_clock(None)
    yield
    set_clock(None)
