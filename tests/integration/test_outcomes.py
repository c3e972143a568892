"""#outcome, #suspend, #ban, #doc, #space, #type and the readmission clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.clocks.scheduler import run_due
from bot.core.app import App
from bot.records import enforce
from bot.records.enforce import OutcomeRefused
from bot.records.identitykey import generate_key
from bot.store.models import Outbox
from bot.store.people import CaseExtra, CasePerson, Person
from tests.helpers import ALEX, MAYA, SAM, make_app
from tests.integration.test_people import command, report, rows, text_of

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path, keyfile: Path) -> App:
    return make_app(f"sqlite:///{tmp_path / 'o.db'}", clock=NOW,
                    identity={"key_file": str(keyfile)})


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "identity.key"
    path.write_text(generate_key())
    return path


def last_transcript(app: App) -> str:
    return text_of([r for r in rows(app, Outbox) if r.kind == "transcript"][-1])


def setup_case(app: App, people: str = "#person Ann Able <ann@example.com>") -> tuple[str, str]:
    code, mid = report(app)
    command(app, code, mid, body=people)
    return code, mid


def test_outcome_sets_record_type_per_person(app: App) -> None:
    code, mid = setup_case(app, "#person Ann Able; Bob Bee")
    ann, bob = rows(app, Person)
    command(app, code, mid, subject_tags=f"#outcome flagged {bob.code}")
    links = {link.person_id: link for link in rows(app, CasePerson)}
    assert links[bob.id].record_type == "flagged" and links[ann.id].record_type is None
    command(app, code, mid, subject_tags="#outcome resolved")
    links = {link.person_id: link for link in rows(app, CasePerson)}
    assert links[bob.id].record_type == "resolved" and links[ann.id].record_type == "resolved"
    command(app, code, mid, subject_tags="#outcome maybe")
    assert "say which record type" in last_transcript(app)


def test_outcome_on_a_case_without_people_is_case_level(app: App) -> None:
    code, mid = report(app)
    command(app, code, mid, subject_tags="#outcome unidentified")
    [extra] = rows(app, CaseExtra)
    assert extra.record_type == "unidentified"


def agreed(app: App, code: str, mid: str, consequence: str) -> None:
    """The chair proposes `consequence` and two members agree (the manual's quorum)."""
    # Each a new mail (its own words): the same content twice would be a replay.
    command(app, code, mid, subject_tags=f"#propose {consequence}", sender=MAYA,
            body=f"Proposing {consequence}.")
    command(app, code, mid, subject_tags="#agree", sender=ALEX, body=f"Agree: {consequence}.")
    command(app, code, mid, subject_tags="#agree", sender=SAM, body=f"Agree: {consequence}.")


def test_suspension_without_an_agreed_proposal_is_held(app: App) -> None:
    code, mid = setup_case(app)
    command(app, code, mid, subject_tags="#suspend 60d")
    [link] = rows(app, CasePerson)
    assert link.consequence is None and link.suspension_end is None
    assert "needs a proposal for it agreed by the group" in last_transcript(app)


def test_suspend_with_dates_and_readmission_reminder(app: App) -> None:
    code, mid = setup_case(app)
    command(app, code, mid, subject_tags="#contact Sam")
    agreed(app, code, mid, "First Suspension")
    command(app, code, mid, subject_tags="#suspend 60d no DMs to the reporter")
    [link] = rows(app, CasePerson)
    assert link.consequence == "First Suspension" and link.record_type == "banned"
    assert link.suspension_start.isoformat() == "2026-03-02"
    assert link.suspension_end.isoformat() == "2026-05-01"
    assert link.conditions == "no DMs to the reporter"
    assert "readmission request is required" in last_transcript(app)
    run_due(app)
    assert [r for r in rows(app, Outbox) if "Suspension ends" in text_of(r)] == []
    app.clock = lambda: NOW + timedelta(days=60)
    run_due(app)
    run_due(app)
    [reminder] = [r for r in rows(app, Outbox) if "Suspension ends" in text_of(r)]
    assert reminder.recipients == [SAM]
    assert "ann" not in text_of(reminder).lower()


def test_second_suspension_and_ban(app: App) -> None:
    code, mid = setup_case(app)
    agreed(app, code, mid, "First Suspension")
    command(app, code, mid, subject_tags="#suspend 120d")
    code2, mid2 = setup_case(app, "#person ann@example.com")
    agreed(app, code2, mid2, "Second Suspension")
    command(app, code2, mid2, subject_tags="#suspend 30")
    links = rows(app, CasePerson)
    assert [link.consequence for link in links] == ["First Suspension", "Second Suspension"]
    agreed(app, code2, mid2, "Ban")
    command(app, code2, mid2, subject_tags="#ban")
    assert rows(app, CasePerson)[1].consequence == "Ban"
    assert rows(app, CasePerson)[1].suspension_end is None


def test_ban_goes_through_the_gate(app: App) -> None:
    code, mid = setup_case(app)

    def refuse(*_args: object) -> None:
        raise OutcomeRefused("needs an agreed proposal (#propose)")

    enforce.set_gate(refuse)
    try:
        command(app, code, mid, subject_tags="#ban")
        command(app, code, mid, subject_tags="#suspend 30d")
    finally:
        enforce.set_gate(None)
    [link] = rows(app, CasePerson)
    assert link.consequence is None
    assert "needs an agreed proposal" in last_transcript(app)


def test_doc_space_type(app: App) -> None:
    code, mid = report(app)
    command(app, code, mid, body="#doc https://docs.example/d/abc\n#space Discord\n"
            "#type harassment, threat")
    [extra] = rows(app, CaseExtra)
    assert extra.documents == "https://docs.example/d/abc"
    assert extra.space == "discord" and extra.types == ["harassment", "threat"]
    command(app, code, mid, subject_tags="#space moon #type gossip", sender=MAYA)
    text = last_transcript(app)
    assert "unknown space 'moon'" in text and "unknown type 'gossip'" in text
    command(app, code, mid, subject_tags="#doc javascript:alert(1)", sender=ALEX)
    with Session(app.engine) as session:
        assert session.exec(select(CaseExtra)).one().documents == "https://docs.example/d/abc"
