"""Member commands on a real database (SQLite and PostgreSQL), through the pipeline."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.core.app import App
from bot.mail.msgids import make_message_id
from bot.store.db import session_scope
from bot.store.models import Case, Event, Outbox
from bot.store.records import case_record, find_case
from tests.helpers import (
    ALEX,
    AUTHSERV,
    CONDUCT,
    MAYA,
    REPORTER,
    SAM,
    auth_header,
    file,
    make_app,
    outbox_rows,
)
from tests.helpers import make_mail as _make_mail

REPORT_ID = "r1@mail.example"
REPORT_SUBJECT = "Harassment at the sprint table"
REPORT_BODY = "Quentin Quibble kept making comments about me at the sprint."
ATTACKER = "evil@attacker.example"
NOW = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)


def make_mail(**kw: Any) -> bytes:
    """Test mail dated at the frozen clock (command mail dated elsewhen is held)."""
    kw.setdefault("date", NOW)
    return _make_mail(**kw)


@pytest.fixture
def app(db_url: str) -> App:
    return make_app(db_url, clock=NOW)



def report(app: App) -> str:
    """File a report; return the case's subject slug ("home-shelf")."""
    out = file(app, make_mail(message_id=REPORT_ID, subject=REPORT_SUBJECT, body=REPORT_BODY))
    assert out.new_case and out.case_code
    return out.case_code.replace(" ", "-")


_counter = iter(range(1_000_000))


def command(app: App, code: str, tags: str, *, sender: str = ALEX, body: str = "Thanks.",
            parent: str = REPORT_ID, message_id: str | None = None, **kw: Any) -> str:
    """A member's reply on the thread with `tags` in the subject; returns its Message-ID."""
    mid = message_id or f"c{next(_counter)}@{sender.split('@')[1]}"
    out = file(app, make_mail(sender=sender, subject=f"Re: [CoC {code}] {REPORT_SUBJECT} {tags}",
                              body=body, message_id=mid, in_reply_to=parent,
                              references=[parent], **kw))
    assert out.status == "filed" and not out.new_case, out
    return mid


def record(app: App, code: str) -> dict[str, Any]:
    with Session(app.engine) as session:
        case = find_case(session, code)
        assert case is not None
        return case_record(session, case)


def events(app: App, kind: str | None = None) -> list[Event]:
    with Session(app.engine) as session:
        query = select(Event).order_by(col(Event.id))
        if kind:
            query = query.where(Event.kind == kind)
        return list(session.exec(query).all())


outbox = outbox_rows


def text_of(row: Outbox) -> str:
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    part = msg.get_body(("plain",))
    assert part is not None
    return f"Subject: {msg['Subject']}\n\n{part.get_content()}"  # type: ignore[attr-defined]


def transcripts(app: App) -> list[Outbox]:
    return outbox(app, "transcript")


def last_transcript(app: App, to: str = ALEX) -> str:
    rows = transcripts(app)
    assert rows, "no transcript"
    assert rows[-1].recipients == [to]
    return text_of(rows[-1])


def assert_confidential(text: str) -> None:
    """A transcript or notice quotes nothing of the report."""
    for secret in (REPORTER, "Jo Reporter", "Quentin", "sprint", ATTACKER):
        assert secret.lower() not in text.lower(), secret


# --------------------------------------------------------------------------
# Each command's effect and event
# --------------------------------------------------------------------------


def test_resolve_sets_record_event_and_transcript(app: App) -> None:
    code = report(app)
    to_reporter = [r for r in outbox(app) if REPORTER in r.recipients]
    command(app, code, "#resolve")
    rec = record(app, code)
    assert rec["status"] == "Resolved"
    assert rec["resolution_source"] == "CoC WG"
    assert rec["resolution_date"] == "2026-03-01"
    [ev] = events(app, "resolved")
    assert ev.actor == ALEX and ev.data["resolution_source"] == "CoC WG"
    [row] = transcripts(app)
    assert row.recipients == [ALEX]  # to the sender only, not Cc the conduct address
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert msg["Cc"] is None and msg["Auto-Submitted"] == "auto-replied"
    text = text_of(row)
    assert "> #resolve" in text and "Processed: 1 command, 0 errors" in text
    assert "resolution_source = CoC WG" in text and code in text
    assert_confidential(text)
    # The reporter hears nothing about internal commands.
    assert [r for r in outbox(app) if REPORTER in r.recipients] == to_reporter


def test_resolution_date_is_today_in_the_configured_time_zone(db_url: str) -> None:
    app = make_app(db_url, clock=NOW, schedule={"timezone": "Pacific/Auckland"})
    code = report(app)
    command(app, code, "#resolve")
    assert record(app, code)["resolution_date"] == "2026-03-02"


@pytest.mark.parametrize(("arg", "source"), [
    ("board", "DSF Board"), ("DSF Board", "DSF Board"), ("local", "Local Event Reps"),
    ("Local-Event reps", "Local Event Reps"), ("none", "None"), ("coc wg", "CoC WG"),
])
def test_resolve_sources_and_short_forms(app: App, arg: str, source: str) -> None:
    code = report(app)
    command(app, code, f"#resolve {arg}")
    assert record(app, code)["resolution_source"] == source


def test_resolve_unknown_source_is_an_error_naming_the_valid_ones(app: App) -> None:
    code = report(app)
    command(app, code, "#resolve eventually")
    assert record(app, code)["status"] == "Ongoing"
    text = last_transcript(app)
    assert "error: unknown resolution source 'eventually'" in text
    assert "CoC WG, DSF Board, Local Event Reps, None" in text
    assert "Processed: 1 command, 1 error" in text
    assert events(app, "resolved") == []


def test_resolve_twice_says_already_resolved(app: App) -> None:
    code = report(app)
    command(app, code, "#resolve")
    command(app, code, "#resolve", sender=SAM)
    assert len(events(app, "resolved")) == 1
    assert "already resolved on 2026-03-01" in last_transcript(app, SAM)


def test_reopen_clears_resolution(app: App) -> None:
    code = report(app)
    command(app, code, "#resolve board")
    command(app, code, "#reopen", sender=SAM)
    rec = record(app, code)
    assert rec["status"] == "Ongoing" and rec["resolution_date"] is None
    assert rec["resolution_source"] is None
    [ev] = events(app, "reopened")
    assert ev.data["previous"]["resolution_source"] == "DSF Board"
    command(app, code, "#reopen", sender=MAYA)
    assert "already Ongoing" in last_transcript(app, MAYA)
    assert len(events(app, "reopened")) == 1


def test_recused_member_is_refused_while_others_still_work(app: App) -> None:
    code = report(app)
    command(app, code, "#recuse", body="I work with the reported person.")
    assert record(app, code)["recused"] == [ALEX]
    assert [e.actor for e in events(app, "recused")] == [ALEX]
    text = last_transcript(app)
    assert "now recused" in text and "still forwards" in text

    command(app, code, "#resolve #help")
    assert record(app, code)["status"] == "Ongoing"
    text = last_transcript(app)
    assert "refused: you are recused from this case" in text
    assert "#onfile" in text  # #help still answers
    assert [e.data["command"] for e in events(app, "command_refused")] == ["resolve"]

    command(app, code, "#resolve", sender=SAM)
    assert record(app, code)["status"] == "Resolved"


def test_recused_member_cannot_be_point_of_contact(app: App) -> None:
    code = report(app)
    command(app, code, "#contact")
    assert record(app, code)["point_of_contact"] == ALEX
    command(app, code, "#recuse")
    assert record(app, code)["point_of_contact"] is None
    command(app, code, "#contact alex", sender=MAYA)
    assert "Alex Smith is recused" in last_transcript(app, MAYA)
    assert record(app, code)["point_of_contact"] is None


@pytest.mark.parametrize(("arg", "who"), [
    ("", ALEX), ("maya", MAYA), ("Sam Jones", SAM), ("maya.chen@example.org", MAYA),
    ("<sam@example.net>", SAM),
])
def test_contact_by_self_name_first_name_or_address(app: App, arg: str, who: str) -> None:
    code = report(app)
    command(app, code, f"#contact {arg}".strip())
    assert record(app, code)["point_of_contact"] == who
    [ev] = events(app, "point_of_contact_set")
    assert ev.data["new"] == who and ev.actor == ALEX


def test_contact_unknown_name_is_an_error(app: App) -> None:
    code = report(app)
    command(app, code, "#contact Robin")
    assert record(app, code)["point_of_contact"] is None
    assert "no member called 'Robin'" in last_transcript(app)


def test_onfile_acknowledges_once_and_resolves_as_local(app: App) -> None:
    code = report(app)
    before = [r for r in outbox(app) if REPORTER in r.recipients]
    command(app, code, "#onfile", sender=MAYA)
    rec = record(app, code)
    assert rec["status"] == "Resolved" and rec["resolution_source"] == "Local Event Reps"
    sent = [r for r in outbox(app) if REPORTER in r.recipients][len(before):]
    assert len(sent) == 1
    ack = text_of(sent[0])
    assert "keep this report on file" in ack
    assert "Commands" not in ack and "#onfile" not in ack
    assert len(events(app, "on_file_acknowledged")) == 1

    command(app, code, "#onfile", sender=SAM)
    assert [r for r in outbox(app) if REPORTER in r.recipients][len(before):] == sent
    assert "not sent again" in last_transcript(app, SAM)


def test_note_is_dated_and_not_repeated_in_the_transcript(app: App) -> None:
    code = report(app)
    command(app, code, "#note spoke with the venue's organiser by phone")
    [ev] = events(app, "note")
    assert ev.data == {"date": "2026-03-01", "text": "spoke with the venue's organiser by phone"}
    text = last_transcript(app)
    assert "note dated 2026-03-01 added" in text
    assert "organiser" not in text


def test_note_without_text_is_an_error(app: App) -> None:
    code = report(app)
    command(app, code, "#note")
    assert events(app, "note") == []
    assert "#note needs text" in last_transcript(app)


def test_status_reports_record_and_history_to_the_member_only(app: App) -> None:
    code = report(app)
    command(app, code, "#safety yes #status")
    text = last_transcript(app)
    assert "Safety Risk: Yes" in text and "Status: Ongoing" in text
    assert "safety_risk_set  by Alex Smith" in text
    assert_confidential(text)


def test_help_lists_every_command_with_its_help(app: App) -> None:
    from bot.commands.base import REGISTRY

    code = report(app)
    command(app, code, "#help")
    text = last_transcript(app)
    for name, cmd in REGISTRY.items():
        assert cmd.help_text().splitlines()[0] in text, name


@pytest.mark.parametrize(("tags", "field", "value", "kind"), [
    ("#safety yes", "safety_risk", "Yes", "safety_risk_set"),
    ("#safety NO", "safety_risk", "No", "safety_risk_set"),
    ("#harassment maybe", "ongoing_harassment", "Maybe", "ongoing_harassment_set"),
    ("#consequence warning", "consequences", "Warning", "consequences_set"),
    ("#consequence Not a violation", "consequences", "Not a violation", "consequences_set"),
])
def test_record_fields(app: App, tags: str, field: str, value: str, kind: str) -> None:
    code = report(app)
    command(app, code, tags)
    assert record(app, code)[field] == value
    [ev] = events(app, kind)
    assert ev.data["new"] == value and ev.actor == ALEX


@pytest.mark.parametrize(("tags", "valid"), [
    ("#safety perhaps", "Yes, No"), ("#harassment often", "Yes, No, Maybe"),
    ("#consequence jail", "Not a violation, Out of scope, No action taken, Warning"),
])
def test_record_field_bad_value_names_the_valid_ones(app: App, tags: str, valid: str) -> None:
    code = report(app)
    command(app, code, tags)
    assert valid in last_transcript(app)
    rec = record(app, code)
    assert rec["safety_risk"] is rec["ongoing_harassment"] is rec["consequences"] is None


# --------------------------------------------------------------------------
# Semantics: new tags only, quoted/forwarded ignored, unknown tags, non-members
# --------------------------------------------------------------------------


def test_reply_all_repeating_tags_does_nothing(app: App) -> None:
    code = report(app)
    first = command(app, code, "#safety yes")
    file(app, make_mail(sender=MAYA, subject=f"Re: Re: [CoC {code}] {REPORT_SUBJECT} #safety yes",
                        body="Agreed.", message_id="m2@example.org", in_reply_to=first,
                        references=[REPORT_ID, first]))
    assert len(events(app, "safety_risk_set")) == 1
    assert len(events(app, "commands_processed")) == 1
    assert len(transcripts(app)) == 1


def test_unseen_parent_holds_subject_tags(app: App) -> None:
    code = report(app)
    # A reply to a message the bot never saw: its subject may be a stranger's, so
    # the subject's commands are held and the member is asked to repeat them.
    file(app, make_mail(sender=SAM, subject=f"Re: [CoC {code}] {REPORT_SUBJECT} #resolve",
                        message_id="s9@example.net", in_reply_to="ghost@example.org",
                        references=[REPORT_ID, "ghost@example.org"]))
    assert record(app, code)["status"] == "Ongoing"
    [held] = events(app, "command_held")
    assert held.data["commands"] == ["resolve"]
    text = last_transcript(app, to=SAM)
    assert "held" in text and "top of your message" in text
    # Repeated at the top of the body, it counts.
    file(app, make_mail(sender=SAM, subject=f"Re: [CoC {code}] {REPORT_SUBJECT} #resolve",
                        body="#resolve\n\nClosing as discussed.", message_id="s10@example.net",
                        in_reply_to="ghost2@example.org"))
    assert record(app, code)["status"] == "Resolved"


def test_tags_quoted_in_the_body_do_nothing(app: App) -> None:
    code = report(app)
    body = ("I think we should wait.\n\n"
            "On Mon, 2 Mar 2026 at 10:15, Maya Chen <maya@example.org> wrote:\n"
            "> #resolve\n> #note something\n")
    command(app, code, "", body=body)
    command(app, code, "", body="> #resolve\n\nNot yet.\n", sender=SAM)
    assert record(app, code)["status"] == "Ongoing"
    assert events(app, "commands_processed") == [] and transcripts(app) == []


def test_tags_at_top_of_body_count(app: App) -> None:
    code = report(app)
    command(app, code, "", body="#harassment no\n#consequence warning\n\nDone, thanks.\n")
    rec = record(app, code)
    assert rec["ongoing_harassment"] == "No" and rec["consequences"] == "Warning"
    assert len(transcripts(app)) == 1


def test_unknown_tag_gets_a_suggestion(app: App) -> None:
    code = report(app)
    command(app, code, "#resolv")
    assert record(app, code)["status"] == "Ongoing"
    text = last_transcript(app)
    assert "unknown command #resolv; did you mean #resolve?" in text
    assert "1 error" in text


def test_processing_stops_after_five_unknown_tags(app: App) -> None:
    code = report(app)
    command(app, code, "#a #b #c #d #e #resolve")
    assert record(app, code)["status"] == "Ongoing"
    assert "Stopped after 5 unknown tags" in last_transcript(app)


def test_non_member_tags_are_plain_text(app: App) -> None:
    code = report(app)
    before = [r.id for r in outbox(app)]
    command(app, code, "#resolve #recuse", sender=REPORTER)
    command(app, code, "#resolve", sender="stranger@else.example")
    assert record(app, code)["status"] == "Ongoing" and record(app, code)["recused"] == []
    # (Thread hygiene may alert members about the stranger; commands send nothing.)
    new = [r for r in outbox(app) if r.id not in before]
    assert not [r for r in new if r.kind in ("transcript", "command_held", "warning")]
    assert not [r for r in new if {REPORTER, "stranger@else.example"} & set(r.recipients)]
    assert events(app, "command_held") == [] and events(app, "commands_processed") == []


def visibility_warnings(app: App) -> list[Outbox]:
    """Warnings about commands seen outside the group (thread hygiene warns too)."""
    return [r for r in outbox(app, "warning") if "commands were visible" in text_of(r)]


def test_commands_sent_to_non_members_get_a_private_warning(app: App) -> None:
    code = report(app)
    command(app, code, "#note talked to them", cc=[CONDUCT, SAM, "organiser@event.example"])
    [warning] = visibility_warnings(app)
    assert warning.recipients == [ALEX]
    text = text_of(warning)
    assert "1 recipient outside the working group" in text
    assert "organiser@event.example" not in text
    assert len(events(app, "note")) == 1  # the command still ran
    command(app, code, "#safety no", cc=[CONDUCT, SAM, MAYA], sender=SAM)
    assert len(visibility_warnings(app)) == 1  # members only: no warning


def test_reply_to_digest_is_never_a_command(app: App) -> None:
    code = report(app)
    digest_id = make_message_id(app.secret, app.config.message_id_domain, None)
    with session_scope(app.engine) as session:
        session.add(Outbox(message_id=digest_id, kind="digest", recipients=[MAYA], raw=b"x"))
    file(app, make_mail(sender=MAYA, subject=f"Re: digest [CoC {code}] #resolve",
                        message_id="d1@example.org", in_reply_to=digest_id,
                        references=[digest_id, REPORT_ID]))
    assert record(app, code)["status"] == "Ongoing"
    assert transcripts(app) == [] and events(app, "command_held") == []


def test_same_message_twice_changes_nothing_twice(app: App) -> None:
    code = report(app)
    raw = make_mail(sender=ALEX, subject=f"Re: [CoC {code}] x #note once",
                    message_id="n1@example.org", in_reply_to=REPORT_ID)
    assert file(app, raw).status == "filed"
    assert file(app, raw).status == "duplicate"
    assert len(events(app, "note")) == 1 and len(transcripts(app)) == 1


def test_imported_commands_change_state_but_send_nothing(app: App) -> None:
    code = report(app)
    before = len(outbox(app))
    raw = make_mail(sender=ALEX, subject=f"Re: [CoC {code}] x #resolve local",
                    message_id="old@example.org", in_reply_to=REPORT_ID,
                    date=datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    file(app, raw, backfill=True)
    rec = record(app, code)
    assert rec["status"] == "Resolved" and rec["resolution_date"] == "2025-06-01"
    assert len(outbox(app)) == before


# --------------------------------------------------------------------------
# Sender authentication: held, nothing changed, the chair told
# --------------------------------------------------------------------------


def raw_mail(code: str, *, froms: list[str], ars: list[str], subjects: list[str] | None = None,
             message_id: str = "spoof@attacker.example") -> bytes:
    """A hand-built message (the spoofs make_mail cannot express)."""
    lines = [f"Authentication-Results: {ar}" for ar in ars]
    lines += [f"From: {f}" for f in froms]
    lines += [f"To: {CONDUCT}"]
    subjects = subjects or [f"Re: [CoC {code}] {REPORT_SUBJECT} #resolve"]
    lines += [f"Subject: {s}" for s in subjects]
    lines += [f"Message-ID: <{message_id}>", f"In-Reply-To: <{REPORT_ID}>",
              f"References: <{REPORT_ID}>", "Date: Sun, 1 Mar 2026 23:00:00 +0000",
              "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(lines) + "\r\n\r\nPlease close this.\r\n").encode()


GOOD_AR = auth_header("example.org")
ATTACKER_AR = auth_header("attacker.example")
B64_MAYA = base64.b64encode(MAYA.encode()).decode()

SPOOFS: dict[str, dict[str, Any]] = {
    "address as display name": dict(froms=[f'"{MAYA}" <{ATTACKER}>'], ars=[ATTACKER_AR]),
    "base64 address in From": dict(froms=[f"=?utf-8?b?{B64_MAYA}?="], ars=[GOOD_AR]),
    "base64 display name": dict(froms=[f"=?utf-8?b?{B64_MAYA}?= <{ATTACKER}>"],
                                ars=[ATTACKER_AR]),
    "angle address before member": dict(froms=[f"<a@attacker.example>{MAYA}"], ars=[GOOD_AR]),
    "two From headers": dict(froms=[f"Maya Chen <{MAYA}>", ATTACKER], ars=[GOOD_AR]),
    "duplicate Subject": dict(froms=[f"Maya Chen <{MAYA}>"], ars=[GOOD_AR],
                              subjects=["Re: [CoC {code}] x #resolve", "Hello"]),
    "forged AR below trusted": dict(
        froms=[f"Maya Chen <{MAYA}>"],
        ars=[f"{AUTHSERV}; dkim=none; dmarc=none header.from=example.org", GOOD_AR]),
    "missing AR": dict(froms=[f"Maya Chen <{MAYA}>"], ars=[]),
    "AR from another authserv-id": dict(
        froms=[f"Maya Chen <{MAYA}>"],
        ars=["mx.attacker.example; dkim=pass header.d=example.org; "
             "dmarc=pass header.from=example.org"]),
    "dmarc fail": dict(froms=[f"Alex Smith <{ALEX}>"], ars=[auth_header("example.org", "fail")]),
}


@pytest.mark.parametrize("name", list(SPOOFS))
def test_spoofed_command_is_held_and_chair_told(app: App, name: str) -> None:
    code = report(app)
    spec = dict(SPOOFS[name])
    if spec.get("subjects"):
        spec["subjects"] = [s.replace("{code}", code) for s in spec["subjects"]]
    before = [r.id for r in outbox(app)]
    out = file(app, raw_mail(code, **spec))
    assert out.status == "filed" and out.case_code == code.replace("-", " ")

    rec = record(app, code)
    assert rec["status"] == "Ongoing" and rec["resolution_date"] is None
    assert events(app, "resolved") == [] and events(app, "commands_processed") == []
    [held] = events(app, "command_held")
    assert held.data["reason"] and held.data["commands"] == ["resolve"]
    new = [r for r in outbox(app) if r.id not in before]
    assert not [r for r in new if ATTACKER in r.recipients]
    # (Thread hygiene may warn about the message too; commands send the notice only.)
    new = [r for r in new if r.kind in ("command_held", "transcript")]
    assert [r.kind for r in new] == ["command_held"]
    assert new[0].recipients == [MAYA]  # the chair, even when the chair is the one spoofed
    text = text_of(new[0])
    assert code in text and held.data["reason"] in text and "#resolve" in text
    assert_confidential(text)
    assert MAYA not in text.split("\n\n", 1)[1]


def test_held_notices_are_bounded(app: App) -> None:
    code = report(app)
    for i in range(12):
        file(app, raw_mail(code, froms=[f"Maya Chen <{MAYA}>"], ars=[],
                           message_id=f"spoof{i}@attacker.example"))
    assert len(events(app, "command_held")) == 12
    assert len(outbox(app, "command_held")) == 10
    assert len(events(app, "command_held_notice_suppressed")) == 2


def test_replayed_message_id_changes_nothing_and_chair_is_told(app: App) -> None:
    code = report(app)
    command(app, code, "#safety yes", message_id="orig@example.org")
    replay = make_mail(sender=ALEX,
                       subject=f"Re: [CoC {code}] {REPORT_SUBJECT} #resolve #safety no",
                       message_id="orig@example.org", in_reply_to=REPORT_ID, body="again")
    out = file(app, replay)
    assert out.status == "replay"
    rec = record(app, code)
    assert rec["status"] == "Ongoing" and rec["safety_risk"] == "Yes"
    [held] = events(app, "command_held")
    assert held.data["replay"] is True and set(held.data["commands"]) == {"resolve", "safety"}
    [notice] = outbox(app, "command_held")
    assert notice.recipients == [MAYA]
    assert "already processed" in text_of(notice)
    assert len(transcripts(app)) == 1


def test_replay_without_commands_tells_nobody(app: App) -> None:
    code = report(app)
    command(app, code, "", message_id="plain@example.org", body="hello")
    file(app, make_mail(sender=ALEX, subject=f"Re: [CoC {code}] {REPORT_SUBJECT}",
                        message_id="plain@example.org", in_reply_to=REPORT_ID, body="changed"))
    assert outbox(app, "command_held") == []


def test_held_only_for_known_commands(app: App) -> None:
    code = report(app)
    file(app, raw_mail(code, froms=[f"Maya Chen <{MAYA}>"], ars=[],
                       subjects=[f"Re: [CoC {code}] see #DjangoCon"]))
    assert events(app, "command_held") == [] and outbox(app, "command_held") == []


def test_case_row_unchanged_by_held_command(app: App) -> None:
    code = report(app)
    with Session(app.engine) as session:
        before = session.exec(select(Case)).one().model_dump()
    file(app, raw_mail(code, froms=[f'"{MAYA}" <{ATTACKER}>'], ars=[ATTACKER_AR]))
    with Session(app.engine) as session:
        assert session.exec(select(Case)).one().model_dump() == before


def test_reply_to_digest_by_subject_is_never_a_command(app: App) -> None:
    code = report(app)
    file(app, make_mail(sender=MAYA, message_id="d2@example.org",
                        subject=f"Re: Code of Conduct digest 2026-03-01 [CoC {code}] #resolve"))
    assert record(app, code)["status"] == "Ongoing"
    assert transcripts(app) == [] and events(app, "command_held") == []


def test_member_forwarding_a_handled_report_with_onfile(app: App) -> None:
    body = (
        "This was handled at the meetup already.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Pat Person <pat@person.example>\n"
        "Date: Mon, 2 Feb 2026 at 10:15\n"
        "Subject: Something happened at the meetup\n"
        "To: Maya Chen <maya@example.org>\n\n"
        "We asked the person to leave; please keep this on file.\n"
    )
    out = file(app, make_mail(sender=MAYA, subject="Fwd: Something happened at the meetup #onfile",
                              body=body, message_id="fw@example.org"))
    assert out.new_case and out.case_code
    rec = record(app, out.case_code)
    assert rec["status"] == "Resolved" and rec["resolution_source"] == "Local Event Reps"
    [ack] = [r for r in outbox(app) if "pat@person.example" in r.recipients]
    text = text_of(ack)
    assert "keep this report on file" in text and "Hi Pat" in text
    assert "Something happened at the meetup" not in text
    assert len(transcripts(app)) == 1


def test_hashtags_that_are_no_command_get_no_transcript(app: App) -> None:
    code = report(app)
    command(app, code, "#DjangoConEU #sprints")
    assert transcripts(app) == [] and events(app, "commands_processed") == []


def test_command_opening_a_new_case_says_so(app: App) -> None:
    out = file(app, make_mail(sender=SAM, subject="Noticed at the meetup #safety no",
                              message_id="new@example.net"))
    assert out.new_case
    text = last_transcript(app, SAM)
    assert "opened this new case" in text and "Safety Risk set to No" in text


def test_commands_after_recuse_in_the_same_message_are_refused(app: App) -> None:
    code = report(app)
    command(app, code, "#recuse #resolve")
    assert record(app, code)["status"] == "Ongoing" and record(app, code)["recused"] == [ALEX]
    text = last_transcript(app)
    assert "now recused" in text and "refused: you are recused" in text


def test_onfile_after_a_merge_answers_the_reporter_of_the_surviving_case(app: App) -> None:
    """Two reports tied into one case: #onfile writes to the case's reporter about their
    own message, never quoting (or greeting with) the other reporter's."""
    other = file(app, make_mail(sender="yara@else.example", sender_name="Yara Witness",
                                subject="Yara saw it too", message_id="y1@else.example"))
    assert other.new_case
    body = (
        "This came to me directly.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Pat Person <pat@person.example>\n"
        "Date: Mon, 2 Feb 2026 at 10:15\n"
        "Subject: Something happened at the meetup\n"
        "To: Maya Chen <maya@example.org>\n\n"
        "We asked the person to leave; please keep this on file.\n"
    )
    fwd = file(app, make_mail(sender=MAYA, subject="Fwd: Something happened at the meetup",
                              body=body, message_id="fw@example.org"))
    assert fwd.new_case and fwd.case_code
    # A member's reply cites both: one case now (the older report's, Pat's).
    tie = file(app, make_mail(sender=ALEX, subject="Re: Fwd: Something happened at the meetup",
                              message_id="tie@example.org", in_reply_to="fw@example.org",
                              references=["y1@else.example", "fw@example.org"]))
    assert tie.case_code == fwd.case_code
    with Session(app.engine) as session:
        case = find_case(session, fwd.case_code)
        assert case is not None and case.reporter_address == "pat@person.example"
    code = fwd.case_code.replace(" ", "-")
    command(app, code, "#onfile", sender=MAYA, parent="tie@example.org")
    acks = [r for r in outbox(app) if r.kind == "acknowledgement"
            and "pat@person.example" in r.recipients]
    assert len(acks) == 1
    raw = acks[0].raw.decode("utf-8", "replace")
    text = text_of(acks[0])
    assert "Hi Pat" in text and "keep this report on file" in text
    for secret in ("Yara", "yara@else.example", "y1@else.example", "saw it too"):
        assert secret not in raw and secret not in text, secret


def test_recusal_survives_a_merge_into_a_case_the_member_took_part_in(app: App) -> None:
    code = report(app)
    file(app, make_mail(sender=SAM, subject=f"Re: [CoC {code}] {REPORT_SUBJECT}",
                        message_id="s1@example.net", in_reply_to=REPORT_ID,
                        references=[REPORT_ID]))
    other = file(app, make_mail(sender="other@else.example", sender_name="Olive Other",
                                subject="My friend Sam's colleague", message_id="b1@else.example"))
    assert other.new_case and other.case_code
    other_code = other.case_code.replace(" ", "-")
    command(app, other_code, "#recuse", sender=SAM, parent="b1@else.example")
    assert record(app, other_code)["recused"] == [SAM]
    tie = file(app, make_mail(sender=ALEX, subject="Re: both", message_id="tie@example.org",
                              in_reply_to="s1@example.net",
                              references=[REPORT_ID, "s1@example.net", "b1@else.example"]))
    assert tie.case_code and tie.case_code.replace(" ", "-") == code
    # Sam stays out of what the merged case now holds: recorded, and commands refused.
    assert record(app, code)["recused"] == [SAM]
    command(app, code, "#resolve", sender=SAM, parent="tie@example.org")
    assert record(app, code)["status"] == "Ongoing"
    assert "refused: you are recused" in last_transcript(app, SAM)
