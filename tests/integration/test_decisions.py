"""Decisions by the manual's quorum, feedback before enactment (pipeline, SQLite)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.clocks.digest import build_digests
from bot.clocks.reminders import run_reminders
from bot.store.db import session_scope
from tests.helpers import ALEX, MAYA, SAM
from tests.integration.gov import (
    NOW,
    command,
    events,
    gov_app,
    last_transcript,
    mails,
    record,
    report,
    text_of,
)

CALM = "He kept making comments about my accent at the sprint."


def test_ban_proposed_by_the_chair_and_agreed_by_two_members(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#propose Ban - repeated harassment after a warning", sender=MAYA)
    text = last_transcript(app, MAYA)
    assert "proposal #" in text and "(Ban)" in text and "not voted yet: Alex Smith, Sam Jones" \
        in text
    assert "repeated harassment" not in text, "the proposal's text is case content"
    command(app, code, "#agree", sender=ALEX)
    assert "AGREED" not in last_transcript(app, ALEX)
    command(app, code, "#agree", sender=SAM)
    assert "AGREED" in last_transcript(app, SAM)
    [agreed] = events(app, "proposal_agreed")
    assert agreed.data["consequence"] == "Ban"
    assert len(events(app, "tally")) == 3 and len(events(app, "vote_cast")) == 2
    command(app, code, "#consequence ban", sender=MAYA)
    assert record(app, code)["consequences"] == "Ban"
    # Feedback before enactment.
    command(app, code, "#resolve", sender=MAYA)
    text = last_transcript(app, MAYA)
    assert "held" in text and "Once a resolution is agreed upon, but before it is enacted" in text
    assert record(app, code)["status"] == "Ongoing"
    command(app, code, "#feedback none the reporter did not answer in two weeks", sender=MAYA)
    [fb] = events(app, "feedback_recorded")
    assert fb.data["none"] is True and fb.data["date"] == "2026-03-02"
    # A new mail (other words): the same content again would be held as a replay.
    command(app, code, "#resolve", sender=MAYA, body="Feedback recorded; resolving.")
    assert record(app, code)["status"] == "Resolved"


def test_ban_by_one_member_alone_is_held(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#consequence Ban", sender=ALEX)
    text = last_transcript(app, ALEX)
    assert "held" in text and "at least two members of the working group to agree" in text
    assert record(app, code)["consequences"] is None
    assert events(app, "decision_held")[0].data["command"] == "consequence"
    command(app, code, "#consequence Warning", sender=ALEX)
    assert record(app, code)["consequences"] == "Warning"


def test_resolve_with_an_unagreed_consequence_is_held(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#propose first suspension 60 days", sender=MAYA)
    command(app, code, "#agree", sender=ALEX)
    command(app, code, "#consequence first suspension", sender=MAYA)
    assert record(app, code)["consequences"] is None
    assert "held" in last_transcript(app, MAYA)


def test_objection_needs_two_thirds(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#propose Warning", sender=MAYA)
    command(app, code, "#object too mild", sender=ALEX)
    assert "too mild" not in last_transcript(app, ALEX)
    assert not events(app, "proposal_agreed")
    command(app, code, "#agree", sender=SAM)  # 2 of 3 in favour: two-thirds
    [agreed] = events(app, "proposal_agreed")
    assert agreed.data["rule"] == "two-thirds"


def test_only_the_chair_proposes_unless_every_chair_is_out(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#propose Warning", sender=ALEX)
    assert "the chair proposes" in last_transcript(app, ALEX)
    command(app, code, "#agree", sender=SAM)
    assert "no open proposal" in last_transcript(app, SAM)
    command(app, code, "#recuse", sender=MAYA)
    # A new mail (other words): the same content again would be held as a replay.
    command(app, code, "#propose Warning", sender=ALEX, body="Proposing again now.")
    assert "of 2 members without a conflict" in last_transcript(app, ALEX)
    command(app, code, "#agree", sender=MAYA)  # recused: refused, not counted
    assert "refused" in last_transcript(app, MAYA)
    assert not events(app, "vote_cast")


def test_proposer_cannot_vote_and_latest_vote_counts(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#propose Warning", sender=MAYA)
    command(app, code, "#agree", sender=MAYA)
    assert "already counts as in favour" in last_transcript(app, MAYA)
    command(app, code, "#object", sender=ALEX)
    command(app, code, "#agree", sender=ALEX)
    assert "replacing object" in last_transcript(app, ALEX)


def test_no_quorum_in_decision_days_goes_to_the_board(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#propose Warning", sender=MAYA)
    command(app, code, "#agree", sender=ALEX)
    app.clock = lambda: NOW + timedelta(days=14, hours=1)
    run_reminders(app)
    [board] = [r for r in mails(app, "reminder") if "board" in text_of(r)]
    assert board.recipients == [MAYA] and "foundation@djangoproject.com" in text_of(board)
    assert events(app, "proposal_to_board")
    command(app, code, "#agree", sender=SAM)
    assert "no open proposal" in last_transcript(app, SAM)


def test_unilateral_action_during_a_proposal_shows_in_the_tally(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#propose Ban", sender=MAYA)
    command(app, code, "#unilateral blocked him on the forum", sender=SAM)
    command(app, code, "#agree", sender=ALEX)
    assert "unilateral action taken while it is open: Sam Jones" in last_transcript(app, ALEX)


def test_digest_lists_open_proposals_and_who_has_not_voted(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#propose Warning", sender=MAYA)
    command(app, code, "#object", sender=SAM)
    with session_scope(app.engine) as session:
        [digest] = [d for d in build_digests(session, app, NOW + timedelta(hours=1))
                    if d.recipient == MAYA]
    [row] = digest.rows["proposals"]
    assert row[0] == code and row[1] == "Warning" and row[3].startswith("1/1/0")
    assert row[4] == "Alex Smith"


def test_feedback_reminder_after_feedback_days(tmp_path: Path) -> None:
    app = gov_app(tmp_path)
    code = report(app, CALM)
    command(app, code, "#propose Warning", sender=MAYA)
    command(app, code, "#agree", sender=ALEX)
    command(app, code, "#agree", sender=SAM)
    command(app, code, "#feedback", sender=MAYA)
    assert "write the feedback" in last_transcript(app, MAYA)
    app.clock = lambda: NOW + timedelta(days=7, hours=1)
    run_reminders(app)
    assert [r for r in mails(app, "reminder") if "Feedback from Affected Parties" in text_of(r)]
    command(app, code, "#feedback The reporter says a warning is fine.", sender=MAYA)
    app.clock = lambda: NOW + timedelta(days=9, hours=1)
    run_reminders(app)
    assert events(app, "reminder_cleared")
