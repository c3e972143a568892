"""Exclusion: a report about a member is taken away from that member (pipeline, SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.clocks.digest import build_digests
from bot.clocks.reminders import run_reminders
from bot.core.app import App
from bot.store.db import session_scope
from tests.helpers import ALEX, CONDUCT, MAYA, MEMBERS, SAM, file, make_mail
from tests.integration.gov import (
    NOW,
    command,
    events,
    first_id,
    gov_app,
    last_transcript,
    mails,
    mails_to,
    record,
    report,
    text_of,
)

ABOUT_ALEX = "Alex Smith from the working group kept messaging me after I asked him to stop."


def test_report_naming_a_member_shuts_them_out_at_once(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, ABOUT_ALEX + " I don't feel safe at the sprint.")
    [named] = events(app, "member_named")
    assert named.data["member"] == ALEX
    [urgent] = mails(app, "urgent")
    assert ALEX not in urgent.recipients and set(urgent.recipients) == {MAYA, SAM}
    [ask] = mails(app, "exclusion")
    assert ask.recipients == [MAYA]
    assert "#exclude" in text_of(ask) and "Alex Smith" in text_of(ask)
    # The acknowledgement is not copied to the conduct address (every member gets that).
    [ack] = mails(app, "acknowledgement")
    assert CONDUCT not in ack.recipients
    assert mails_to(app, ALEX) == []
    assert code


def test_excluded_member_is_refused_silently_and_counts_for_nothing(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, ABOUT_ALEX)
    command(app, code, "#exclude Alex Smith", sender=MAYA)
    assert "now excluded" in last_transcript(app, MAYA)
    assert events(app, "excluded")[0].data["member"] == ALEX
    before = len(mails(app))
    command(app, code, "#consequence not a violation #resolve", sender=ALEX)
    rec = record(app, code)
    assert rec["status"] == "Ongoing" and rec["consequences"] is None
    refused = events(app, "command_refused")
    assert [e.data["reason"] for e in refused] == ["excluded", "excluded"]
    assert len(mails(app)) == before, "nothing at all goes to the excluded member"
    assert mails_to(app, ALEX) == []
    # Decisions: Alex is not counted, so Maya's proposal needs Sam and ... nobody else.
    command(app, code, "#propose Warning", sender=MAYA)
    assert "of 2 members without a conflict" in last_transcript(app, MAYA)
    command(app, code, "#agree", sender=ALEX)
    assert not events(app, "vote_cast")


def test_excluded_chair_gets_no_digest_line_or_reminder(tmp_path: Path) -> None:
    members = [{**m, "role": "chair"} if m["email"] == ALEX else m for m in MEMBERS]
    app = gov_app(tmp_path, members=members)
    code = report(app, ABOUT_ALEX + " He threatened to kill me.")
    with session_scope(app.engine) as session:
        digests = {d.recipient: d for d in build_digests(session, app, NOW)}
    assert ALEX not in digests or all(code not in str(d.rows) for d in [digests[ALEX]])
    assert code in str(digests[MAYA].rows)
    app.clock = lambda: NOW.replace(hour=15)
    run_reminders(app)
    [reminder] = [r for r in mails(app, "reminder")]
    assert ALEX not in reminder.recipients and MAYA in reminder.recipients
    assert mails_to(app, ALEX) == []


def test_report_naming_the_only_chair_sends_the_others_to_the_board(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    report(app, "Maya Chen, the chair, shouted at me at the sprint.")
    [ask] = mails(app, "exclusion")
    assert set(ask.recipients) == {ALEX, SAM}
    assert "foundation@djangoproject.com" in text_of(ask)
    assert events(app, "board_referral")
    assert mails_to(app, MAYA) == []


def test_naming_the_chair_needs_two_members_to_confirm(tmp_path: Path) -> None:
    app = gov_app(tmp_path, board={"address": "board@dsf.example"})
    code = report(app, "maya@example.org was abusive in a private message.")
    command(app, code, "#exclude Maya", sender=ALEX)
    assert "second member" in last_transcript(app, ALEX)
    assert not events(app, "excluded")
    command(app, code, "#exclude maya@example.org", sender=SAM)
    [ev] = events(app, "excluded")
    assert sorted(ev.data["by"]) == [ALEX, SAM]
    assert "board@dsf.example" in text_of(mails(app, "exclusion")[0])


def test_only_a_chair_excludes_an_ordinary_member(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, "A calm report about a meetup.")
    command(app, code, "#exclude Sam Jones", sender=ALEX)
    assert "a chair confirms an exclusion" in last_transcript(app, ALEX)
    command(app, code, "#exclude Alex", sender=ALEX)
    assert "cannot exclude yourself" in last_transcript(app, ALEX)
    assert not events(app, "excluded")


def test_recuse_with_a_name_explains_and_changes_nothing(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, "A calm report about a meetup.")
    command(app, code, "#recuse Alex Smith", sender=MAYA)
    text = last_transcript(app, MAYA)
    assert "nothing changed" in text and "#exclude NAME" in text
    assert record(app, code)["recused"] == []
    assert not events(app, "recused") and not events(app, "excluded")


def test_every_chair_recused_tells_the_others_to_go_to_the_board(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, "A calm report about a meetup.")
    command(app, code, "#recuse", sender=MAYA)
    [board] = mails(app, "board")
    assert set(board.recipients) == {ALEX, SAM}
    assert "foundation@djangoproject.com" in text_of(board)


def test_member_forwarding_a_report_sent_to_the_chair_does_not_name_her(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    body = ("Forwarding as agreed.\n\n---------- Forwarded message ---------\n"
            "From: Pat Person <pat@person.example>\nTo: Maya Chen <maya@example.org>\n"
            "Subject: About Sam\n\nSam Jones was rude to me at the meetup.\n")
    out = file(app, make_mail(sender=MAYA, subject="Fwd: About Sam", body=body,
                              message_id="fw1@example.org"))
    assert out.new_case
    assert [e.data["member"] for e in events(app, "member_named")] == [SAM]


# ----------------------------------------------------------------------------- hostile


def test_stranger_and_forged_chair_cannot_exclude_vote_or_onfile(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, ABOUT_ALEX)
    # A stranger, and the reported member forging the chair's From (no authentication).
    for sender, auth in (("evil@attacker.example", None), (MAYA, False)):
        for tags in ("#exclude Sam Jones", "#propose Warning", "#agree", "#onfile"):
            command(app, code, tags, sender=sender, authenticated=auth)
    assert not events(app, "excluded") and not events(app, "proposal_opened")
    assert not events(app, "vote_cast") and record(app, code)["status"] == "Ongoing"
    # A stranger's tags are plain text; the forged chair's are held (chairs told).
    assert len(events(app, "command_held")) == 4
    assert mails_to(app, ALEX) == [], "held-command notices never reach the member named"


def test_member_forwarding_a_report_about_themselves_is_still_named(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    body = ("Forwarding this one.\n-- \nAlex Smith\n\n---------- Forwarded message ---------\n"
            "From: Pat Person <pat@person.example>\nSubject: About Alex\n\n"
            "Alex Smith from the working group insulted me.\n")
    out = file(app, make_mail(sender=ALEX, subject="Fwd: About Alex", body=body,
                              message_id="fw2@example.org"))
    assert out.new_case
    assert [e.data["member"] for e in events(app, "member_named")] == [ALEX]


def test_chair_readmits_a_member_the_report_only_mentions(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, "Sam Jones helped me afterwards; the speaker was rude.")
    assert record(app, code)["excluded"] == [SAM]
    command(app, code, "#readmit Sam", sender=ALEX)
    assert "a chair lets" in last_transcript(app, ALEX)
    command(app, code, "#readmit Sam Jones", sender=MAYA)
    assert record(app, code)["excluded"] == []
    command(app, code, "#status", sender=SAM)
    assert "Record of case" in last_transcript(app, SAM)


def test_a_report_naming_every_member_cannot_silence_its_own_alarm(tmp_path: Path) -> None:
    """Hostile: naming everyone would shut everyone out of the urgent notice."""
    app = gov_app(tmp_path)
    report(app, "Maya Chen, Alex Smith and Sam Jones all threatened to kill me.")
    assert not events(app, "member_named")
    [urgent] = mails(app, "urgent")
    assert set(urgent.recipients) == {MAYA, ALEX, SAM}
    [ask] = mails(app, "exclusion")
    assert set(ask.recipients) == {MAYA, ALEX, SAM} and "shut nobody out" in text_of(ask)


def test_the_chairs_digest_shows_an_excluded_members_refused_commands(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, ABOUT_ALEX)
    command(app, code, "#consequence Warning #resolve", sender=ALEX)
    with session_scope(app.engine) as session:
        [digest] = build_digests(session, app, NOW, only=[MAYA])
    assert [r[0] for r in digest.rows["held"]] == [code]


def _follow_up(app: App, code: str, body: str, *, sender: str = "jo.reporter@mail.example",
               mid: str, subject: str = "Re: Report", **kw: Any) -> None:
    parent = first_id(app, code)
    out = file(app, make_mail(sender=sender, sender_name="", subject=subject, body=body,
                              message_id=mid, in_reply_to=parent, references=[parent], **kw))
    assert out.case_code == code


def test_a_follow_up_naming_a_member_tells_the_chairs_and_shuts_nobody_out(
        tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, "Someone kept messaging me after I asked them to stop.")
    _follow_up(app, code, "I forgot to say: Alex Smith was the one who laughed along.",
               mid="f1@mail.example")
    [told] = events(app, "member_mentioned")
    assert told.data["member"] == ALEX
    [notice] = mails(app, "exclusion")
    assert notice.recipients == [MAYA]  # the chair confirms; never the member named
    text = text_of(notice)
    assert "Alex Smith" in text and "#exclude" in text and "shut nobody out" in text
    # An outsider's mail changed nothing about who handles the case.
    assert events(app, "member_named") == [] and events(app, "excluded") == []
    command(app, code, "#note still on it", sender=ALEX)
    assert events(app, "command_refused") == []
    # Said again, by anyone: no second notice.
    _follow_up(app, code, "Again: Alex Smith.", mid="f2@mail.example")
    _follow_up(app, code, "Alex Smith laughed.", sender="witness@else.example",
               mid="f3@else.example")
    assert len(mails(app, "exclusion")) == 1
    assert mails_to(app, ALEX) == [r for r in mails_to(app, ALEX) if r.kind == "transcript"]


def test_quotes_members_and_chairs_named(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, "Someone kept messaging me after I asked them to stop.")
    # Quoting a member's earlier mail names nobody; neither does a member's own mail.
    _follow_up(app, code, "Thanks!\n\nOn Monday someone wrote:\n> Best, Alex Smith\n",
               mid="q1@mail.example")
    command(app, code, "#note asked Sam Jones to help", sender=ALEX)
    assert events(app, "member_mentioned") == []
    # The chair named: the other members are told instead.
    _follow_up(app, code, "Maya Chen was there too.", mid="q2@mail.example")
    [notice] = mails(app, "exclusion")
    assert sorted(notice.recipients) == sorted([ALEX, SAM])


def test_auto_replies_and_bounces_naming_a_member_tell_nobody(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, "Someone kept messaging me after I asked them to stop.")
    _follow_up(app, code, "I am away. Your message from Alex Smith will be read later.",
               mid="ooo@mail.example", subject="Automatic reply: Re: Report",
               headers={"Auto-Submitted": "auto-replied"})
    assert events(app, "member_mentioned") == [] and mails(app, "exclusion") == []
