"""Hostile mail through the pipeline on a real database (no servers): merges, links,
the per-reporter leak check, replays, own copies and quarantined outgoing mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.core.app import App
from bot.mail.parse import parse_message
from bot.outbound import outbox as outbox_module
from bot.outbound.outbox import queue_mail
from bot.outbound.safeheaders import HeaderCheckError
from bot.store.db import session_scope
from bot.store.models import Case, Event, Outbox, Participant
from bot.store.records import find_case
from bot.store.signed import fingerprints, remember, seen_under_other_id
from tests.helpers import ALEX, CONDUCT, MAYA, REPORTER, SAM, file, make_app, make_mail

KIM = "kim@victim.example"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def app(tmp_path: Any) -> App:
    return make_app(f"sqlite:///{tmp_path / 'db.sqlite'}")


def two_reports(app: App) -> tuple[str, str]:
    a = file(app, make_mail(message_id="v1@mail.example", subject="First report",
                            body="Zanzibar happened.")).case_code
    b = file(app, make_mail(sender=KIM, sender_name="Kim Victim", message_id="v2@victim.example",
                            subject="Second report", body="Quixotic things.")).case_code
    assert a and b and a != b
    return a, b


def slug(code: str) -> str:
    return code.replace(" ", "-")


def events(app: App, kind: str) -> list[Event]:
    with Session(app.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind)
                                 .order_by(col(Event.id))).all())


def case_of(app: App, code: str) -> Case:
    with Session(app.engine) as session:
        case = find_case(session, code)
        assert case is not None
        return case


def outbox(app: App, kind: str | None = None) -> list[Outbox]:
    with Session(app.engine) as session:
        rows = session.exec(select(Outbox).order_by(col(Outbox.id))).all()
        return [r for r in rows if kind is None or r.kind == kind]


def test_stranger_tying_two_cases_merges_nothing_and_members_see_the_link(app: App) -> None:
    a, b = two_reports(app)
    file(app, make_mail(sender="mallory@attacker.example", message_id="tie@attacker.example",
                        references=["v1@mail.example", "v2@victim.example"]))
    assert case_of(app, a).id != case_of(app, b).id
    assert case_of(app, a).merged_into is None and case_of(app, b).merged_into is None
    links = events(app, "possible_link")
    assert {e.data["other"] for e in links} == {a, b}
    # The next member command on the case shows the link in its transcript.
    file(app, make_mail(sender=MAYA, subject=f"Re: [CoC {slug(a)}] First report #status",
                        message_id="m1@example.org", in_reply_to="v1@mail.example"))
    [transcript] = outbox(app, "transcript")
    text = transcript.raw.decode("utf-8", "replace")
    assert "Possible link" in text and b in text


def test_merge_command_by_a_member(app: App) -> None:
    a, b = two_reports(app)
    file(app, make_mail(sender=MAYA, subject=f"Re: [CoC {slug(a)}] First report #merge {slug(b)}",
                        message_id="m1@example.org", in_reply_to="v1@mail.example"))
    assert case_of(app, b).id == case_of(app, a).id  # find_case follows the merge
    assert [e.data["merged"] for e in events(app, "case_merged")] == [b]


def test_merge_refused_for_a_member_recused_from_the_other_case(app: App) -> None:
    a, b = two_reports(app)
    file(app, make_mail(sender=ALEX, subject=f"Re: [CoC {slug(b)}] Second report #recuse",
                        message_id="x1@example.org", in_reply_to="v2@victim.example"))
    file(app, make_mail(sender=ALEX, subject=f"Re: [CoC {slug(a)}] First report #merge {slug(b)}",
                        message_id="x2@example.org", in_reply_to="v1@mail.example"))
    assert case_of(app, a).id != case_of(app, b).id
    transcript = outbox(app, "transcript")[-1].raw.decode("utf-8", "replace")
    assert f'no case called "{b}"' in transcript


def test_forged_merge_command_is_held(app: App) -> None:
    a, b = two_reports(app)
    file(app, make_mail(sender=MAYA, authenticated=False, message_id="f1@example.org",
                        subject=f"Re: [CoC {slug(a)}] #merge {slug(b)}",
                        in_reply_to="v1@mail.example"))
    assert case_of(app, a).id != case_of(app, b).id
    assert events(app, "command_held")


def test_leak_check_treats_each_reporter_of_a_merged_case_separately(app: App) -> None:
    a, b = two_reports(app)
    file(app, make_mail(sender=MAYA, subject=f"Re: [CoC {slug(a)}] #merge {slug(b)}",
                        message_id="m1@example.org", in_reply_to="v1@mail.example"))
    # A member writes to the first reporter and names the second one.
    file(app, make_mail(sender=ALEX, to=[REPORTER], cc=[CONDUCT], message_id="m2@example.org",
                        subject="Re: First report", in_reply_to="v1@mail.example",
                        body="Hi Jo, Kim Victim reported the same person."))
    problems = [e for e in events(app, "hygiene_problem")
                if e.data.get("rule") == "reporter-identity" and e.message_id == "m2@example.org"]
    assert problems and "name" in problems[0].data["found"], events(app, "hygiene_problem")


def test_forged_member_from_adds_no_participant_and_does_not_thread_by_tag(app: App) -> None:
    a, _b = two_reports(app)
    out = file(app, make_mail(sender=MAYA, authenticated=False, message_id="f2@example.org",
                              cc=["accomplice@attacker.example"],
                              subject=f"[CoC {slug(a)}] adding a colleague"))
    assert out.case_code != a
    with Session(app.engine) as session:
        addresses = session.exec(select(Participant.address)).all()
    assert "accomplice@attacker.example" not in addresses


def test_stale_and_future_command_mail_is_held(app: App) -> None:
    a, _b = two_reports(app)
    for mid, when in (("old@example.org", NOW - timedelta(days=8)),
                      ("future@example.org", NOW + timedelta(days=1))):
        file(app, make_mail(sender=SAM, subject=f"Re: [CoC {slug(a)}] #resolve", message_id=mid,
                            in_reply_to="v1@mail.example", date=when))
    assert case_of(app, a).status == "Ongoing"
    reasons = [e.data["reason"] for e in events(app, "command_held")]
    assert any("days ago" in r for r in reasons) and any("future" in r for r in reasons)


def test_command_age_is_configurable(tmp_path: Any) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite'}", auth={"command_max_age_days": 30})
    a, _b = two_reports(app)
    file(app, make_mail(sender=SAM, subject=f"Re: [CoC {slug(a)}] #resolve", message_id="o@x.org",
                        in_reply_to="v1@mail.example", date=NOW - timedelta(days=8)))
    assert case_of(app, a).status == "Resolved"


def test_same_signed_content_under_another_id_is_a_replay(app: App) -> None:
    a, _b = two_reports(app)
    signed = {"DKIM-Signature": "v=1; d=example.org; s=s1; bh=abc=; b=SIGNATUREVALUE123"}
    first = make_mail(sender=SAM, subject=f"Re: [CoC {slug(a)}] #safety yes",
                      message_id="s1@example.net", in_reply_to="v1@mail.example",
                      headers=signed)
    file(app, first)
    again = first.replace(b"<s1@example.net>", b"<s1-replayed@attacker.example>")
    file(app, again)
    held = events(app, "command_held")
    assert len(held) == 1 and held[0].data["replay"] is True
    assert [e.message_id for e in events(app, "content_replayed")] == [
        "s1-replayed@attacker.example"]
    assert len(events(app, "commands_processed")) == 1
    assert any(MAYA in r.recipients for r in outbox(app, "command_held"))


def test_signed_content_store(db_url: str) -> None:
    app = make_app(db_url)
    pm = parse_message(make_mail(sender=SAM, headers={"DKIM-Signature": "v=1; b=XYZ"}))
    prints = fingerprints(pm)
    with session_scope(app.engine) as session:
        remember(session, prints, "a@x.org", None)
        remember(session, prints, "b@x.org", None)  # first sighting wins, no duplicate
    with session_scope(app.engine) as session:
        assert not seen_under_other_id(session, prints, "a@x.org")
        assert seen_under_other_id(session, prints, "b@x.org")


def test_outgoing_mail_failing_the_header_check_is_quarantined(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    a, _b = two_reports(app)

    def refuse(raw: bytes, intended: Any) -> None:
        raise HeaderCheckError("unexpected header field in the rendered mail")

    monkeypatch.setattr(outbox_module, "check_header_block", refuse)
    with session_scope(app.engine) as session:
        case = find_case(session, a)
        row = queue_mail(session, app, kind="warning", template="command_held", to=[MAYA],
                         case=case, context={"reason": "x", "commands": [], "replay": False})
        mid = row.message_id
    [row] = [r for r in outbox(app) if r.message_id == mid]
    assert row.status == "quarantined" and "header check" in (row.last_error or "")
    assert events(app, "outbox_quarantined")


def test_member_mail_with_ids_handed_down_does_not_merge(app: App) -> None:
    a, b = two_reports(app)
    # A stranger wrote to Alex directly (the bot never saw it), citing both reports;
    # Alex's reply-all carries those References.
    file(app, make_mail(sender=ALEX, message_id="x1@example.org", subject="Re: hello",
                        in_reply_to="direct@attacker.example",
                        references=["v1@mail.example", "v2@victim.example",
                                    "direct@attacker.example"]))
    assert case_of(app, a).id != case_of(app, b).id
    # A stranger's tie the bot did see: the member's reply to it does not merge either.
    file(app, make_mail(sender="mallory@attacker.example", message_id="tie@attacker.example",
                        references=["v1@mail.example", "v2@victim.example"]))
    file(app, make_mail(sender=ALEX, message_id="x2@example.org", subject="Re: hello",
                        in_reply_to="tie@attacker.example",
                        references=["v1@mail.example", "v2@victim.example",
                                    "tie@attacker.example"]))
    assert case_of(app, a).id != case_of(app, b).id
    assert events(app, "case_merged") == []
