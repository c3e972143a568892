"""The daily digest on a real database (SQLite and PostgreSQL), with a frozen clock.

One fixture builds a week of cases through the real pipeline (reports,
replies, an unauthenticated command, a command seen by an outsider), then the
scheduler runs at Tuesday 10 November 2026, 08:00 UTC.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlmodel import Session, select

from bot.clocks.digest import build_digests, send_digests
from bot.clocks.scheduler import build_scheduler, run_due, scheduler_loop
from bot.core.app import App
from bot.store.db import session_scope
from bot.store.models import DigestClaim
from bot.store.records import find_case
from tests.helpers import ALEX, CONDUCT, MAYA, MEMBERS, REPORTER, SAM, make_app, make_mail
from tests.integration.clocks import (
    body_text,
    file_mail,
    mark_sent,
    moment,
    outbox,
    parsed,
    recuse,
    reply,
    report,
    set_clock,
    update_case,
)

# Storage behaviour (transactions, claims, constraints): SQLite and PostgreSQL.
pytestmark = pytest.mark.storage

OUTSIDER = "moderator@forum.example"
DIGEST_AT = moment(10, 8)  # Tuesday 10 November 2026, 08:00 UTC

# (key, reporter, reported at, report text, subject): every report in the fixture.
REPORTS = [
    ("A", "ann.reporter@mail.example", moment(9, 10), "Blue haired attendee shoved me at the "
     "registration desk", "Incident at registration"),
    ("B", REPORTER, moment(2, 10), "Repeated sexist jokes in the sprint channel",
     "Sprint channel behaviour"),
    ("C", "carl.reporter@mail.example", moment(20, 10, month=10), "Hostile review comments "
     "on my pull request from a core dev", "Pull request comments"),
    ("D", "dana.reporter@mail.example", moment(3, 10), "Slurs posted in the meetup group chat",
     "Meetup chat"),
    ("E", "ed.reporter@mail.example", moment(1, 10, month=9), "Unwanted photos taken at the "
     "conference party", "Conference party"),
    ("F", "fay.reporter@mail.example", moment(5, 10), "A working group chair was rude to me "
     "in the forum", "About a chair"),
]


@dataclass
class World:
    app: App
    codes: dict[str, str]


def _world(app: App) -> World:
    codes: dict[str, str] = {}
    for key, sender, when, text, subject in REPORTS:
        codes[key] = report(app, when, f"{key.lower()}1@mail.example", sender=sender, body=text,
                            subject=subject)
        if key != "A":  # A's acknowledgement is still queued
            mark_sent(app, codes[key], "acknowledgement", when + timedelta(minutes=1))
    # C: ALEX answered the reporter the next day; nothing since (progress overdue).
    reply(app, moment(21, 10, month=10), ALEX, codes["C"], "c1@mail.example", "ca@example.org",
          to=(REPORTS[2][1],), cc=(CONDUCT,))
    # D resolved two days ago, E long ago.
    update_case(app, codes["D"], status="Resolved", resolution_date=date(2026, 11, 8),
                resolution_source="CoC WG")
    update_case(app, codes["E"], status="Resolved", resolution_date=date(2026, 10, 1),
                resolution_source="Local Event Reps")
    # F concerns the chair: she recused; SAM is the point of contact and wrote to the reporter.
    recuse(app, codes["F"], MAYA)
    update_case(app, codes["F"], point_of_contact=SAM)
    reply(app, moment(6, 10), SAM, codes["F"], "f1@mail.example", "fs@example.net",
          to=(REPORTS[5][1],), cc=(CONDUCT,))
    # B: an unauthenticated "#resolve" is held (yesterday afternoon).
    raw = make_mail(sender=ALEX, sender_name="", authenticated=False, message_id="bh@example.org",
                    subject=f"Re: Sprint channel behaviour [CoC {codes['B'].replace(' ', '-')}] "
                            "#resolve", in_reply_to="b1@mail.example",
                    references=["b1@mail.example"], date=moment(9, 15))
    file_mail(app, raw, moment(9, 15))
    # C: a command in mail that an outsider also received: a private warning (yesterday).
    reply(app, moment(9, 16), ALEX, codes["C"], "ca@example.org", "cb@example.org",
          cc=(CONDUCT, OUTSIDER), tags="#note asked the forum moderator")
    return World(app, codes)


@pytest.fixture
def world(db_url: str) -> World:
    return _world(make_app(db_url))


def _digest_rows(app: App, recipient: str) -> dict[str, list[list[str]]]:
    with Session(app.engine) as session:
        [digest] = build_digests(session, app, DIGEST_AT, only=[recipient])
    return digest.rows


def _codes(rows: list[list[str]]) -> list[str]:
    return [r[0] for r in rows]


def test_digest_lists_exactly_the_right_cases(world: World) -> None:
    app, c = world.app, world.codes
    set_clock(app, DIGEST_AT)
    rows = _digest_rows(app, MAYA)
    assert _codes(rows["new"]) == [c["A"]]
    assert _codes(rows["awaiting_ack"]) == [c["A"]]
    assert [(r[0], r[3]) for r in rows["awaiting_response"]] == [(c["B"], "overdue"),
                                                                  (c["A"], "open")]
    assert sorted((r[0], r[1]) for r in rows["overdue"]) == sorted([
        (c["B"], "no member has written to the reporter yet"),
        (c["C"], "no progress update to the reporter"),
        # "shoved me" is physical danger: A's alarm is unanswered after 4 hours.
        (c["A"], "possible danger not yet answered (#safety)"),
    ])
    assert _codes(rows["ongoing"]) == [c["C"], c["B"], c["A"]]  # oldest first
    assert [r[2] for r in rows["ongoing"]] == ["21", "8", "1"]  # age in days
    assert [(r[0], r[2]) for r in rows["resolved"]] == [(c["D"], "CoC WG")]
    assert _codes(rows["held"]) == [c["B"]]
    # Other rules may warn about that mail too; the command warning is there, F's never.
    assert (c["C"], "warning mail (commands visible warning)") in [
        (r[0], r[2]) for r in rows["warnings"]]
    assert {r[0] for r in rows["warnings"]} <= {c[k] for k in "ABCD"}


def test_digest_mail_at_eight_once_per_day_without_addresses_or_report_text(
        world: World) -> None:
    app, c = world.app, world.codes
    set_clock(app, moment(10, 7, 59))
    run_due(app)
    assert outbox(app, "digest") == []  # not before digest_time

    set_clock(app, DIGEST_AT)
    run_due(app)
    digests = outbox(app, "digest")
    assert sorted(r.recipients[0] for r in digests) == [MAYA, SAM]
    [maya] = [r for r in digests if r.recipients == [MAYA]]
    [sam] = [r for r in digests if r.recipients == [SAM]]

    text = body_text(maya)
    for key in "ABCD":
        assert c[key] in text
    assert c["E"] not in text  # resolved long ago, nothing new
    assert c["F"] not in text  # the chair is recused from F
    # The recused chair's case goes to its point of contact, and only that case.
    sam_text = body_text(sam)
    assert c["F"] in sam_text
    assert all(c[k] not in sam_text for k in "ABCDE")

    # No address, no report text, no subject, no name: search for every one of them.
    forbidden = [REPORTER, OUTSIDER, CONDUCT, *(m["email"] for m in MEMBERS)]
    forbidden += [r[1] for r in REPORTS] + [r[4] for r in REPORTS]
    forbidden += [" ".join(r[3].split()[:4]) for r in REPORTS]
    forbidden += [m["name"] for m in MEMBERS] + ["Jo Reporter", "forum moderator"]
    for row in digests:
        content = body_text(row)
        for needle in forbidden:
            assert needle.lower() not in content.lower(), needle
        assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", content)

    # Plain text plus an HTML part with a table; the digest kind and our Message-ID.
    msg = parsed(maya)
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and "<table" in html.get_content()
    assert f"<td>{c['A']}</td>" in html.get_content()
    assert msg.get_body(preferencelist=("plain",)) is not None
    assert maya.kind == "digest" and str(msg["Auto-Submitted"]) == "auto-generated"

    # A second run the same day, or a restarted bot, sends no second digest.
    set_clock(app, moment(10, 9))
    run_due(app)
    url = app.engine.url.render_as_string(hide_password=False)
    run_due(make_app(url, clock=moment(10, 17)))
    assert len(outbox(app, "digest")) == 2

    # The next day's digest lists only what is new since this one.
    set_clock(app, moment(11, 8))
    run_due(app)
    [maya2] = [r for r in outbox(app, "digest") if r.recipients == [MAYA] and r.id != maya.id]
    with Session(app.engine) as session:
        [d2] = build_digests(session, app, moment(11, 8), only=[MAYA])
    assert d2.rows["new"] == [] and d2.rows["held"] == [] and d2.rows["warnings"] == []
    assert c["A"] in body_text(maya2)  # still ongoing


def test_two_instances_claim_one_digest(world: World) -> None:
    app = world.app
    url = app.engine.url.render_as_string(hide_password=False)
    other = make_app(url, clock=DIGEST_AT)
    set_clock(app, DIGEST_AT)
    # Both built their digests before either claimed: only the claim decides.
    with session_scope(app.engine) as session:
        session.add(DigestClaim(recipient=MAYA, day=date(2026, 11, 10), claimed_at=DIGEST_AT))
    assert send_digests(other, DIGEST_AT) == 1  # SAM's only; MAYA's was claimed
    assert send_digests(app, DIGEST_AT) == 0
    assert [r.recipients for r in outbox(app, "digest")] == [[SAM]]


def test_nothing_sent_when_there_is_nothing_to_say(db_url: str) -> None:
    app = make_app(db_url, clock=DIGEST_AT)
    assert run_due(app) == 0
    assert outbox(app, "digest") == []
    with Session(app.engine) as session:
        claims = session.exec(select(DigestClaim)).all()
    # The chair's empty day is claimed, so nothing arrives later that day either.
    assert [(cl.recipient, cl.outbox_message_id) for cl in claims] == [(MAYA, None)]


def test_empty_digest_sent_when_configured(db_url: str) -> None:
    app = make_app(db_url, clock=DIGEST_AT, schedule={"digest_when_empty": True})
    assert run_due(app) == 1
    [row] = outbox(app, "digest")
    assert row.recipients == [MAYA] and "Nothing to report" in body_text(row)


def test_digest_time_is_local(db_url: str) -> None:
    # 08:00 in Berlin is 07:00 UTC in November.
    app = make_app(db_url, schedule={"timezone": "Europe/Berlin", "digest_when_empty": True})
    set_clock(app, moment(10, 6, 59))
    assert run_due(app) == 0
    set_clock(app, moment(10, 7, 0))
    assert run_due(app) == 1


def test_reply_to_the_digest_is_not_a_command(world: World) -> None:
    app, c = world.app, world.codes
    set_clock(app, DIGEST_AT)
    run_due(app)
    [maya] = [r for r in outbox(app, "digest") if r.recipients == [MAYA]]
    subject = str(parsed(maya)["Subject"])
    raw = make_mail(sender=MAYA, sender_name="", message_id="dr@example.org",
                    subject=f"Re: {subject} [CoC {c['B'].replace(' ', '-')}] #resolve",
                    in_reply_to=maya.message_id, references=[maya.message_id],
                    date=moment(10, 9))
    file_mail(app, raw, moment(10, 9))
    with Session(app.engine) as session:
        case = find_case(session, c["B"])
        assert case is not None and case.status == "Ongoing"


def test_scheduler_loop_runs_due_jobs_at_start_and_stops(db_url: str) -> None:
    app = make_app(db_url, clock=DIGEST_AT, schedule={"digest_when_empty": True})
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    assert set(jobs) == {"tick", "digest"}
    stop = threading.Event()
    thread = threading.Thread(target=scheduler_loop, args=(app, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not outbox(app, "digest") and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    assert [r.recipients for r in outbox(app, "digest")] == [[MAYA]]
    assert app.outbox_wakeup.is_set()  # the sender is woken for the new mail
