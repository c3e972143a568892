"""Mail through the conduct Google Group, through the real pipeline (SQLite).

The group path both ways (From kept, From rewritten for strict-DMARC authors),
the group's own mail, members' commands judged by the trusted ARC sealer's
first hop, and the rule that no acknowledgement goes to a sender whose domain
failed authentication at the trusted server.  Hostile variants: forged
X-Original-From, forged ARC from untrusted sealers, prepended
Authentication-Results, a stranger writing the group's rewritten From.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bot.clocks.digest import UNAUTHENTICATED_REPORT, build_digests
from bot.core.app import App
from bot.store.models import Case, Event, InboundMessage, Outbox
from tests.dbtemplate import fresh_sqlite_url
from tests.groupmail import BOUNCE, GOOGLE, group_notice, group_sections, relayed
from tests.helpers import CONDUCT, MAYA, SAM, file, make_app, make_mail

STRICT = "sam.strict@strict.example.com"
LAX = "lee@lax.example.net"


@pytest.fixture
def app(tmp_path: Path) -> App:
    return make_app(fresh_sqlite_url(tmp_path), **group_sections())


def acks(app: App) -> list[Outbox]:
    with Session(app.engine) as session:
        return list(session.exec(select(Outbox).where(Outbox.kind == "acknowledgement")).all())


def reporters_acked(app: App) -> list[list[str]]:
    """Per acknowledgement, its recipients other than the conduct address (its Cc)."""
    return [[r for r in row.recipients if r != CONDUCT] for row in acks(app)]


def events(app: App, kind: str) -> list[Event]:
    with Session(app.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind)
                                 .order_by(col(Event.id))).all())


def only_case(app: App) -> Case:
    with Session(app.engine) as session:
        cases = list(session.exec(select(Case)).all())
    assert len(cases) == 1
    return cases[0]


def suppressed_rule(app: App) -> str:
    [ev] = events(app, "acknowledgement_suppressed")
    return str(ev.data["rule"])


# -- reports ---------------------------------------------------------------------------------

def test_relayed_report_is_acknowledged_once(app: App) -> None:
    raw = relayed(author=LAX, author_name="Lee Lax", first_hop="pass", topmost_dmarc="pass")
    assert file(app, raw).new_case
    assert file(app, raw).status == "duplicate"
    assert reporters_acked(app) == [[LAX]]
    assert only_case(app).reporter_address == LAX


def test_rewritten_report_is_acknowledged_to_the_real_reporter_and_filed_as_theirs(
        app: App) -> None:
    raw = relayed(author=STRICT, rewritten=True)
    outcome = file(app, raw)
    [ack] = acks(app)
    assert reporters_acked(app) == [[STRICT]]
    assert b"Hi Sam," in ack.raw  # first name only (drafts: texts people receive)
    case = only_case(app)
    assert case.reporter_address == STRICT and case.reporter_name == "Sam Strict"
    with Session(app.engine) as session:
        row = session.exec(select(InboundMessage)).one()
    assert row.from_address == STRICT and row.raw == raw
    assert outcome.case_code == case.code


def test_rewritten_report_of_an_author_without_a_display_name(app: App) -> None:
    # Google writes "'sam.strict@strict.example.com' via Conduct" <conduct@...>.
    file(app, relayed(author=STRICT, author_name="", rewritten=True))
    assert reporters_acked(app) == [[STRICT]]
    assert only_case(app).reporter_address == STRICT


def test_relayed_report_whose_signature_the_group_broke_is_still_acknowledged(
        app: App) -> None:
    # The group's footer broke the author's DKIM: the topmost verdict is dmarc=fail for
    # the author's domain, but the trusted sealer saw a pass at the first hop.
    raw = relayed(author=LAX, first_hop="pass", topmost_dmarc="fail")
    file(app, raw)
    assert reporters_acked(app) == [[LAX]]


def test_relayed_report_without_any_trusted_verdict_is_acknowledged(app: App) -> None:
    raw = relayed(author=LAX, first_hop=None, arc="none", topmost_dmarc="fail")
    file(app, raw)
    assert reporters_acked(app) == [[LAX]]


def test_relayed_report_that_failed_dmarc_at_the_first_hop_is_not_acknowledged(
        app: App) -> None:
    raw = relayed(author=LAX, first_hop="fail", topmost_dmarc="fail")
    file(app, raw)
    assert acks(app) == []
    assert suppressed_rule(app) == "sender-failed-authentication"


def test_mail_the_group_sends_itself_gets_no_acknowledgement(app: App) -> None:
    file(app, group_notice())
    file(app, group_notice(subject="Digest for conduct@example.org - 2 updates",
                           sender=CONDUCT))
    assert acks(app) == []
    rules = [e.data["rule"] for e in events(app, "acknowledgement_suppressed")]
    assert rules == ["group-notice", "own-mail"]


def test_direct_report_failing_dmarc_is_filed_not_acknowledged_and_the_digest_says_so(
        app: App) -> None:
    raw = relayed(author="victim@strict.example.com", first_hop=None, arc="none",
                  topmost_dmarc="fail", list_headers=False)
    outcome = file(app, raw)
    assert outcome.new_case and acks(app) == []
    [ev] = events(app, "acknowledgement_suppressed")
    assert ev.data["rule"] == "sender-failed-authentication"
    assert ev.data["sender_failed_authentication"] is True
    with Session(app.engine) as session:
        [digest] = build_digests(session, app, datetime.now(UTC) + timedelta(minutes=1),
                                 only=[MAYA])
    lines = digest.rows["warnings"]
    assert [outcome.case_code, UNAUTHENTICATED_REPORT] == [lines[0][0], lines[0][2]]
    # The digest names no address, subject or text of the report.
    assert "strict.example.com" not in str(digest.rows)


def test_spf_fail_without_aligned_dkim_is_not_acknowledged(app: App) -> None:
    raw = (f"Authentication-Results: {GOOGLE}; spf=fail smtp.mailfrom=x@forged.example; "
           "dkim=none\r\nFrom: Someone <x@forged.example>\r\nTo: conduct@example.org\r\n"
           "Subject: help\r\nMessage-ID: <spf1@forged.example>\r\n\r\nbody\r\n").encode()
    file(app, raw)
    assert acks(app) == [] and suppressed_rule(app) == "sender-failed-authentication"


# -- hostile ---------------------------------------------------------------------------------

def test_forged_list_id_does_not_escape_the_dmarc_rule(app: App) -> None:
    # A stranger adds our List-Id to a direct mail forging a strict domain: the trusted
    # server never saw the group send it, so its dmarc=fail counts.
    raw = relayed(author="victim@strict.example.com", first_hop=None, arc="none",
                  topmost_dmarc="fail")
    raw = raw.replace(b"dkim=pass header.i=@example.org", b"dkim=none")
    raw = raw.replace(BOUNCE.encode(), b"eve@evil.example")
    file(app, raw)
    assert acks(app) == [] and suppressed_rule(app) == "sender-failed-authentication"


def test_forged_x_original_from_on_non_group_mail_changes_nobody(app: App) -> None:
    raw = (f"Authentication-Results: {GOOGLE}; dkim=pass header.d=evil.example; "
           "dmarc=pass header.from=evil.example\r\n"
           "From: Eve <eve@evil.example>\r\nX-Original-From: Victim <victim@else.example>\r\n"
           "Reply-To: victim@else.example\r\nTo: conduct@example.org\r\nSubject: hi\r\n"
           "Message-ID: <xo1@evil.example>\r\n\r\nbody\r\n").encode()
    file(app, raw)
    assert only_case(app).reporter_address == "eve@evil.example"
    assert reporters_acked(app) == [["eve@evil.example"]]


def test_results_about_another_from_domain_get_no_acknowledgement(app: App) -> None:
    # The receiving server checked evil.example; we read victim@else.example: parsers
    # disagree about From, so the address in hand is not the one authenticated.
    raw = (f"Authentication-Results: {GOOGLE}; dkim=pass header.d=evil.example; "
           "dmarc=pass header.from=evil.example\r\n"
           "From: Victim <victim@else.example>\r\nTo: conduct@example.org\r\n"
           "Subject: hi\r\nMessage-ID: <pd1@evil.example>\r\n\r\nbody\r\n").encode()
    file(app, raw)
    assert acks(app) == [] and suppressed_rule(app) == "sender-failed-authentication"


def test_stranger_writing_the_rewritten_from_recovers_nobody(app: App) -> None:
    # Sent directly (not through the group): the conduct domain fails DMARC at the trusted
    # server, so the X-Original-From is not believed and nothing goes to the "victim".
    raw = (f"Authentication-Results: {GOOGLE}; spf=fail smtp.mailfrom=eve@evil.example; "
           "dmarc=fail (p=REJECT) header.from=example.org\r\n"
           f"From: \"'Victim' via Conduct\" <{CONDUCT}>\r\n"
           "X-Original-From: Victim <victim@else.example>\r\nReply-To: victim@else.example\r\n"
           f"List-ID: <conduct.example.org>\r\nTo: {CONDUCT}\r\nSubject: hi\r\n"
           "Message-ID: <sp1@evil.example>\r\n\r\nbody\r\n").encode()
    file(app, raw)
    assert acks(app) == []
    assert only_case(app).reporter_address != "victim@else.example"


def test_two_x_original_from_fields_recover_nobody(app: App) -> None:
    raw = relayed(author=STRICT, rewritten=True,
                  x_original_from=[f"Sam <{STRICT}>", "Victim <victim@else.example>"])
    file(app, raw)
    assert acks(app) == []
    assert only_case(app).reporter_address == CONDUCT


def test_forged_arc_from_an_untrusted_sealer_gives_no_first_hop(app: App) -> None:
    # The chain verifies (the forger sealed it with their own key), but the sealer is
    # not trusted: the topmost dmarc=fail for the author's domain stands.
    raw = relayed(author="victim@strict.example.com", first_hop="pass",
                  seal_domain="evil.example", sealer="mx.evil.example",
                  topmost_dmarc="fail", list_headers=False)
    file(app, raw)
    assert acks(app) == []
    raw2 = relayed(author="victim2@strict.example.com", first_hop="pass",
                   seal_domain="evil.example", sealer=GOOGLE,  # claims Google's id
                   topmost_dmarc="fail", list_headers=False, message_id="arc2@x.example")
    file(app, raw2)
    assert acks(app) == []


def test_prepended_authentication_results_are_not_trusted(app: App) -> None:
    # The forger's own header sits above... nothing: the receiving server's is topmost.
    raw = relayed(author="victim@strict.example.com", first_hop=None, arc="none",
                  topmost_dmarc="fail", list_headers=False)
    forged = (f"ARC-Authentication-Results: i=1; {GOOGLE}; dmarc=pass "
              "header.from=strict.example.com\r\n").encode()
    file(app, raw.replace(b"Return-Path:", forged + b"Return-Path:", 1))
    assert acks(app) == []


# -- members' commands through the group ------------------------------------------------------

def _open_case(app: App) -> tuple[str, str]:
    outcome = file(app, relayed(author=LAX, topmost_dmarc="pass", message_id="r1@lax.example"))
    assert outcome.case_code
    return outcome.case_code, "r1@lax.example"


def _safety(app: App) -> str | None:
    return only_case(app).safety_risk


@pytest.mark.parametrize(("rewritten", "name"), [(False, "Sam Jones"), (True, "Sam Jones"),
                                               (True, "")])
def test_member_command_through_the_group_with_a_trusted_first_hop_is_applied(
        app: App, rewritten: bool, name: str) -> None:
    code, report = _open_case(app)
    raw = relayed(author=SAM, author_name=name, rewritten=rewritten,
                  subject=f"Re: [CoC {code}] x", body="#safety no\n\nThanks.",
                  in_reply_to=report, topmost_dmarc="fail" if not rewritten else "pass")
    file(app, raw)
    assert _safety(app) == "No"
    assert events(app, "command_held") == []
    with Session(app.engine) as session:
        transcripts = session.exec(select(Outbox).where(Outbox.kind == "transcript")).all()
    assert [t.recipients for t in transcripts] == [[SAM]]


@pytest.mark.parametrize("variant", ["arc-fail", "untrusted-sealer", "seal-not-google",
                                     "first-hop-fail", "no-arc", "forged-results-below"])
def test_member_command_through_the_group_with_a_broken_chain_is_held(
        app: App, variant: str) -> None:
    code, report = _open_case(app)
    kwargs: dict[str, object] = {"rewritten": True}
    if variant == "arc-fail":
        kwargs["arc"] = "fail"
    elif variant == "untrusted-sealer":
        kwargs.update(seal_domain="evil.example", sealer="mx.evil.example")
    elif variant == "seal-not-google":  # claims Google's authserv-id, sealed by another
        kwargs.update(seal_domain="evil.example")
    elif variant == "first-hop-fail":
        kwargs["first_hop"] = "fail"
    elif variant == "forged-results-below":
        # The sender's own "arc=pass" below the receiving server's verdict counts for nothing.
        kwargs.update(arc="fail", extra=[("Authentication-Results",
                                          f"{GOOGLE}; arc=pass; dmarc=pass header.from="
                                          "example.net")])
    else:
        kwargs.update(first_hop=None, arc="none")
    raw = relayed(author=SAM, author_name="Sam Jones", subject=f"Re: [CoC {code}] x",
                  body="#safety no\n", in_reply_to=report, **kwargs)  # type: ignore[arg-type]
    file(app, raw)
    assert _safety(app) is None
    [held] = events(app, "command_held")
    assert held.data.get("reason")
    with Session(app.engine) as session:
        notices = session.exec(select(Outbox).where(Outbox.kind != "acknowledgement")).all()
    assert any(MAYA in row.recipients for row in notices)


def test_stranger_rewritten_as_a_member_cannot_command(app: App) -> None:
    code, report = _open_case(app)
    # A forger's own mail to the group, claiming a member in X-Original-From: the first
    # hop saw the forger's domain, not the member's.
    raw = relayed(author="eve@evil.example", author_name="Sam Jones", rewritten=True,
                  x_original_from=[f"Sam Jones <{SAM}>"], subject=f"Re: [CoC {code}] x",
                  body="#safety no\n", in_reply_to=report)
    file(app, raw)
    assert _safety(app) is None


def test_microsoft_365_dmarc_fail_from_the_receiving_host_is_not_acknowledged(
        tmp_path: Path) -> None:
    app = make_app(fresh_sqlite_url(tmp_path, "ms.db"),
                   auth={"authserv_id": "", "microsoft_receiving_host": "protection.outlook.com"})

    def report(verdict: str, sender: str) -> bytes:
        ar = (f"spf={verdict} (sender IP is 192.0.2.1) smtp.mailfrom=contoso.example; "
              f"dkim=none (message not signed) header.d=none;dmarc={verdict} action=none "
              f"header.from=contoso.example;compauth={verdict} reason=000")
        return (f"Authentication-Results: {ar}\r\nReceived: from mx.contoso.example "
                "(192.0.2.1) by AM4PEPF0001.mail.protection.outlook.com with Microsoft "
                f"SMTP Server\r\nFrom: <{sender}>\r\nTo: {CONDUCT}\r\nSubject: report\r\n"
                f"Message-ID: <{verdict}@contoso.example>\r\n\r\nbody\r\n").encode()

    file(app, report("fail", "forged@contoso.example"))
    assert acks(app) == [] and suppressed_rule(app) == "sender-failed-authentication"
    file(app, report("pass", "real@contoso.example"))
    assert reporters_acked(app) == [["real@contoso.example"]]


def test_recovered_reporter_is_the_reporter_for_the_leak_check(app: App) -> None:
    outcome = file(app, relayed(author=STRICT, author_name="Robin Quill", rewritten=True,
                                message_id="rw1@strict.example.com"))
    code = outcome.case_code
    member_ar = f"{GOOGLE}; dkim=pass header.i=@example.org; dmarc=pass header.from=example.org"
    mail = make_mail(sender=MAYA, sender_name="Maya Chen", to=("kim@party.example",),
                     cc=(CONDUCT,), subject=f"Re: [CoC {code}] Our concern",
                     in_reply_to="rw1@strict.example.com",
                     references=["rw1@strict.example.com"], authenticated=False,
                     headers={"Authentication-Results": member_ar},
                     body=f"[+ Kim]\n\nHello Kim,\n\nWe heard from {STRICT} about the sprint.")
    assert file(app, mail).case_code == code
    with Session(app.engine) as session:
        problems = session.exec(select(Event).where(Event.kind == "hygiene_problem")).all()
    assert "reporter-identity" in {ev.data.get("rule") for ev in problems}
    with Session(app.engine) as session:
        warnings = session.exec(select(Outbox).where(Outbox.kind == "warning")).all()
    assert warnings and all(w.recipients == [MAYA] for w in warnings)
    leak_ids = {ev.message_id for ev in events(app, "mail_queued")
                if ev.data.get("template") == "warn_reporter_leak"}
    [leak] = [w for w in warnings if w.message_id in leak_ids]
    assert STRICT.encode() not in leak.raw and b"Robin" not in leak.raw
