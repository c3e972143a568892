"""Retention: `cocbot purge` deletes a case's details from disk and keeps its statistics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from bot.cli.main import main
from bot.clocks.scheduler import run_due
from bot.core.app import App
from bot.records.export import record_rows
from bot.records.identitykey import generate_key
from bot.store.models import Case, Event, InboundMessage, Outbox, Participant
from bot.store.people import Person, PersonIndex
from tests.helpers import ALEX, MAYA, config_dict, file, make_app, make_mail, write_config
from tests.servers import Postgres

PHRASE = "the walrus incident near the coat rack"
REPORTER = "purge.me.reporter@mail.example"
KEEP_PHRASE = "a quite different story about lanterns"
KEEP_REPORTER = "stays.here@mail.example"
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def build(app: App) -> tuple[str, str]:
    out = file(app, make_mail(sender=REPORTER, sender_name="Purge Reporter",
                              message_id="old@mail.example", subject="About the walrus",
                              body=f"Please help: {PHRASE}. Sender {REPORTER}."))
    assert out.case_code
    slug = out.case_code.replace(" ", "-")
    app.clock = lambda: T0 + timedelta(hours=30)
    # A member answers the reporter: the first response the statistics count.
    file(app, make_mail(sender=ALEX, to=[REPORTER], cc=["conduct@example.org"],
                        subject=f"Re: [CoC {slug}] About the walrus #person Wally Rus "
                        "<wally@example.net> #space forum #safety yes",
                        body=f"Thanks, we are on it.\n\n> {PHRASE}", in_reply_to="old@mail.example",
                        message_id="a1@example.org"))
    app.clock = lambda: T0 + timedelta(days=3)
    file(app, make_mail(sender=MAYA, subject=f"Re: [CoC {slug}] x #resolve #outcome resolved",
                        in_reply_to="old@mail.example", message_id="a2@example.org"))
    app.clock = lambda: T0 + timedelta(days=40)
    keep = file(app, make_mail(sender=KEEP_REPORTER, message_id="new@mail.example",
                               subject="Lanterns", body=f"Report: {KEEP_PHRASE}"))
    assert keep.case_code
    return out.case_code, keep.case_code


def stats(cfg: Path) -> dict[str, object]:
    out = CliRunner().invoke(main, ["--config", str(cfg), "stats", "--year", "2026",
                                    "--format", "json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def database_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("purge.db*")))


def test_purge_leaves_no_bytes_and_the_same_statistics(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text(generate_key())
    url = f"sqlite:///{tmp_path / 'purge.db'}"
    app = make_app(url, clock=T0, identity={"key_file": str(key)}, stats={"min_count": 1})
    cfg = write_config(tmp_path / "c.toml", config_dict(
        url, identity={"key_file": str(key)}, stats={"min_count": 1}))
    gone, kept = build(app)
    before = stats(cfg)
    assert before["median_days_to_first_response"] != "fewer than 1 cases"
    with Session(app.engine) as session:
        rows_before = record_rows(session, app.config.schedule.zone)
    blob = database_bytes(tmp_path)
    assert PHRASE.encode() in blob or REPORTER.encode() in blob  # the search can find them

    dry = CliRunner().invoke(main, ["--config", str(cfg), "purge", "--resolved-before",
                                    "2026-02-01", "--dry-run"])
    assert dry.exit_code == 0 and f"would purge 1 case(s): {gone}" in dry.stdout
    with Session(app.engine) as session:
        assert session.exec(select(func.count()).select_from(InboundMessage)).one() == 4
    app.engine.dispose()
    done = CliRunner().invoke(main, ["--config", str(cfg), "purge", "--resolved-before",
                                     "2026-02-01"])
    assert done.exit_code == 0, done.output
    assert f"purged 1 case(s): {gone}" in done.stdout and "VACUUM done" in done.stdout

    blob = database_bytes(tmp_path)
    for secret in (PHRASE, REPORTER, "Purge Reporter", "wally@example.net", "Wally Rus"):
        assert secret.encode() not in blob, secret
        assert secret.lower().encode() not in blob.lower(), secret
    assert KEEP_PHRASE.encode() in blob and KEEP_REPORTER.encode() in blob
    assert stats(cfg) == before
    with Session(app.engine) as session:
        assert record_rows(session, app.config.schedule.zone) == rows_before
        case = session.exec(select(Case).where(Case.code == gone)).one()
        assert case.reporter_address is None and case.status == "Resolved"
        assert session.exec(select(Participant).where(Participant.case_id == case.id)).all() == []
        assert session.exec(select(Outbox).where(Outbox.case_id == case.id)).all() == []
        assert [e.kind for e in session.exec(
            select(Event).where(Event.case_id == case.id)).all()] == ["purged"]
        [person] = session.exec(select(Person)).all()
        assert person.identity is None
        assert session.exec(select(PersonIndex)).all() == []
        kept_case = session.exec(select(Case).where(Case.code == kept)).one()
        assert session.exec(select(func.count()).select_from(InboundMessage).where(
            col(InboundMessage.case_id) == kept_case.id)).one() == 1
    again = CliRunner().invoke(main, ["--config", str(cfg), "purge", "--resolved-before",
                                      "2026-02-01"])
    assert "no case resolved before 2026-02-01" in again.stdout


def test_purge_on_the_database(db_url: str) -> None:
    app = make_app(db_url, clock=T0, stats={"min_count": 1})
    gone, _kept = build(app)
    from bot.records.retention import purge

    result = purge(app, datetime(2026, 2, 1).date())
    assert result.cases == [gone] and result.messages == 3 and result.compacted
    with Session(app.engine) as session:
        assert session.exec(select(func.count()).select_from(InboundMessage)).one() == 1


def test_retention_reminder_to_the_chairs_once(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'ret.db'}", clock=T0, retention={"years": 1})
    gone, _kept = build(app)
    app.clock = lambda: T0 + timedelta(days=400)
    run_due(app)
    run_due(app)
    with Session(app.engine) as session:
        rows = [r for r in session.exec(select(Outbox)).all()
                if b"past retention" in r.raw]
    assert len(rows) == 1 and rows[0].recipients == [MAYA]
    assert gone.encode() in rows[0].raw and REPORTER.encode() not in rows[0].raw


def test_purge_on_postgresql_leaves_no_bytes_in_its_table_files(
        pg_url: str, postgres_server: Postgres) -> None:
    """The database's own files (not the write-ahead log, see README) hold nothing purged."""
    app = make_app(pg_url, clock=T0, stats={"min_count": 1})
    build(app)
    with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        oid = conn.execute(text("SELECT oid FROM pg_database "
                                "WHERE datname = current_database()")).scalar_one()
    folder = postgres_server.data_dir / "base" / str(oid)

    def table_files() -> bytes:
        # A checkpoint writes what shared buffers hold and unlinks dropped files.
        with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))
        return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())

    assert PHRASE.encode() in table_files()  # the search can find it
    from bot.records.retention import purge

    result = purge(app, datetime(2026, 2, 1).date())
    assert result.compacted and "VACUUM FULL" in result.compacted
    blob = table_files()
    for secret in (PHRASE, REPORTER, "Purge Reporter", "wally@example.net"):
        assert secret.encode() not in blob, secret
    assert KEEP_PHRASE.encode() in blob
    app.engine.dispose()
