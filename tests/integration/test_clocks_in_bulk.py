"""The clocks read many cases at once: the same answers as one case at a time, less reading.

The digest and the scheduler read cases in batches (`bot.clocks.casefacts.facts_for`),
the digest skips an archive that cannot show anything, a steady tick looks at no
case (`bot.store.clockindex.to_look_at`), and reminders go out a batch of cases per
transaction, with a failing case retried alone so it holds back no other.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from bot.clocks.casefacts import TRAFFIC_KINDS, CaseFacts, case_facts, facts_for
from bot.clocks.digest import _cases_to_read, _root, build_digests
from bot.clocks.reminders import clock_key, run_reminders
from bot.core.app import App
from bot.core.events import EventKind
from bot.store import clockindex
from bot.store.clockindex import CaseClock
from bot.store.db import session_scope
from bot.store.models import Case, Outbox
from bot.store.records import find_case
from tests.helpers import ALEX, MAYA, make_app
from tests.integration.clocks import moment, outbox, report, set_clock, update_case
from tests.integration.test_digest import DIGEST_AT, World, _world


@pytest.fixture
def world(db_url: str) -> World:
    return _world(make_app(db_url))


def _summary(facts: CaseFacts) -> tuple[object, ...]:
    return (facts.case.id, sorted(facts.reporters), sorted(facts.recused), facts.backfilled,
            facts.opened_at, facts.first_live_at, facts.ack_sent_at, facts.first_contact_at,
            facts.last_contact_at, facts.urgent,
            [(u.event_id, u.member, u.reported_at) for u in facts.unilateral],
            [e.id for e in facts.events], facts.alarm.id if facts.alarm else None)


def test_facts_read_together_equal_facts_read_alone(world: World) -> None:
    """Rows of one case never leak into another when they are read in one batch."""
    with Session(world.app.engine) as session:
        cases = list(session.exec(select(Case).order_by(col(Case.id))).all())
        together = [_summary(f) for f in facts_for(session, world.app.config, cases)]
        alone = [_summary(case_facts(session, world.app.config, c)) for c in cases]
    assert together == alone
    assert len({tuple(s[1]) for s in together}) == len(cases)  # each its own reporter
    # F's recused chair and A's unanswered danger alarm are in their own cases only.
    ids = _ids(world)
    assert [s[0] for s in together if MAYA in s[2]] == [ids["F"]]
    assert [s[0] for s in together if s[12] is not None] == [ids["A"]]


def _ids(world: World) -> dict[str, int]:
    with Session(world.app.engine) as session:
        found = {key: find_case(session, code) for key, code in world.codes.items()}
    return {key: case.id or 0 for key, case in found.items() if case is not None}


def test_facts_leave_out_mail_traffic_but_keep_what_clocks_read(world: World) -> None:
    app = world.app
    set_clock(app, moment(10, 10))  # within working hours: B's first-response reminder
    assert run_reminders(app) > 0
    with Session(app.engine) as session:
        case = find_case(session, world.codes["B"])
        assert case is not None
        facts = case_facts(session, app.config, case)
    kinds = {e.kind for e in facts.events}
    assert not kinds & set(TRAFFIC_KINDS)
    assert EventKind.REMINDER_SENT in kinds and EventKind.COMMAND_HELD in kinds
    # The filed report still counts: the case was opened live, not by a backfill.
    assert not facts.backfilled and facts.first_live_at is not None


def _read_codes(app: App) -> list[str]:
    with Session(app.engine) as session:
        parent = dict(session.exec(select(Case.id, Case.merged_into)).all())
        root = {cid or 0: _root(parent, cid or 0) for cid in parent}
        since = DIGEST_AT - timedelta(days=1)
        cases = _cases_to_read(session, app.config, since, DIGEST_AT.date(), root)
        return [c.code for c in cases]


def test_digest_skips_the_archive_but_not_what_it_must_show(world: World) -> None:
    app, c = world.app, world.codes
    set_clock(app, DIGEST_AT)
    # E was resolved in October: nothing about it can show, so it is not read.
    assert c["E"] not in _read_codes(app)
    assert {c[k] for k in "ABCD"} <= set(_read_codes(app))

    # A review date brings it back (and its review reminder shows as overdue).
    update_case(app, c["E"], review_date=date(2026, 11, 9))
    assert c["E"] in _read_codes(app)
    with Session(app.engine) as session:
        [digest] = build_digests(session, app, DIGEST_AT, only=[MAYA])
    assert (c["E"], "review date reached") in [(r[0], r[1]) for r in digest.rows["overdue"]]

    # A mail about an archived case that could not be delivered shows whenever it failed.
    update_case(app, c["E"], review_date=None)
    with session_scope(app.engine) as session:
        case = find_case(session, c["E"])
        assert case is not None
        session.add(Outbox(message_id="failed-e@example.org", case_id=case.id, kind="transcript",
                           recipients=[ALEX], raw=b"x", status="failed", attempts=9,
                           next_attempt_at=moment(1, 10, month=10),
                           created_at=moment(1, 10, month=10), last_error="550 no such user"))
    assert c["E"] in _read_codes(app)
    with Session(app.engine) as session:
        [digest] = build_digests(session, app, DIGEST_AT, only=[MAYA])
    assert (c["E"], "transcript mail could not be delivered (see cocbot outbox)") in [
        (r[0], r[2]) for r in digest.rows["warnings"]]


# The indexed query compares stored times in SQL: SQLite and PostgreSQL.
@pytest.mark.storage
def test_a_steady_tick_looks_at_no_case_until_one_changes(world: World) -> None:
    app, c = world.app, world.codes
    set_clock(app, DIGEST_AT)
    run_reminders(app)  # sends what is due
    run_reminders(app)  # looks once more at the cases it changed
    key = clock_key(app.config)
    with Session(app.engine) as session:
        assert clockindex.to_look_at(session, DIGEST_AT, key) == []
        rows = {r.case_id: r.next_check_at for r in session.exec(select(CaseClock)).all()}
        e = find_case(session, c["E"])
        assert e is not None and e.id is not None
    # Every live case has a stored time; the archived one has none to wait for.
    assert len(rows) == len(c) and rows[e.id] is None
    # A change to the archived case (a new mail filed into it) makes it looked at again.
    report_code = report(app, DIGEST_AT, "e2@mail.example", sender="ed.reporter@mail.example",
                         subject=f"Re: Conference party [CoC {c['E'].replace(' ', '-')}]")
    assert report_code == c["E"]
    with Session(app.engine) as session:
        assert clockindex.to_look_at(session, DIGEST_AT, key) == [e.id]


def test_a_failing_case_holds_back_no_other(tmp_path: Path) -> None:
    """A real fault in the database for one case: the others' reminders still go out."""
    app = make_app(f"sqlite:///{tmp_path / 'fault.db'}", schedule={"digest_time": "23:59"})
    codes = [report(app, moment(2, 10), f"r{i}@mail.example",
                    sender=f"reporter{i}@mail.example") for i in range(3)]
    with session_scope(app.engine) as session:
        bad = find_case(session, codes[1])
        assert bad is not None
        session.execute(text(
            "CREATE TRIGGER no_reminder BEFORE INSERT ON outbox "
            f"WHEN NEW.case_id = {bad.id} AND NEW.kind = 'reminder' "
            "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"))
    set_clock(app, moment(3, 10, 30))  # the acknowledgement clocks are due
    assert run_reminders(app) == 2
    assert [len(outbox(app, "reminder", code)) for code in codes] == [1, 0, 1]
    # The failed case is tried again on the next tick, once the fault is gone.
    with session_scope(app.engine) as session:
        session.execute(text("DROP TRIGGER no_reminder"))
    assert run_reminders(app) == 1
    assert [len(outbox(app, "reminder", code)) for code in codes] == [1, 1, 1]


def test_in_a_burst_possible_danger_goes_out_first(tmp_path: Path) -> None:
    """After an outage, sixty overdue cases wait; the one with possible danger is sent first."""
    app = make_app(f"sqlite:///{tmp_path / 'burst.db'}", schedule={"digest_time": "23:59"})
    for i in range(60):
        report(app, moment(2, 10), f"calm{i}@mail.example", sender=f"calm{i}@mail.example",
               body="Someone kept interrupting people in the chat.")
    danger = report(app, moment(2, 10), "danger@mail.example", sender="dana@mail.example",
                    body="He said he knows where I live and will come to hurt me.")
    set_clock(app, moment(3, 14, 30))  # a day later, the urgent clock long overdue too
    run_reminders(app)
    rows = outbox(app, "reminder")
    assert len({r.case_id for r in rows}) == 61
    with Session(app.engine) as session:
        danger_id = find_case(session, danger).id  # type: ignore[union-attr]
    assert rows[0].case_id == danger_id


@pytest.mark.storage
def test_among_selects_exactly_the_ids_given(world: World) -> None:
    """The id filter the batched reads use (an array parameter on PostgreSQL)."""
    from bot.store.db import among

    ids = _ids(world)
    wanted = [ids["A"], ids["C"], 999_999]
    with Session(world.app.engine) as session:
        found = session.exec(select(Case.code).where(among(session, col(Case.id), wanted))
                             .order_by(col(Case.id))).all()
        none = session.exec(select(Case.id).where(among(session, col(Case.id), []))).all()
    assert sorted(found) == sorted([world.codes["A"], world.codes["C"]]) and none == []
