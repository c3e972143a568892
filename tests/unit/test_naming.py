"""Which members a report names (bot.governance.naming)."""

from __future__ import annotations

from email.message import EmailMessage

from bot.core.config import Member
from bot.governance.naming import attachment_texts, member_by_name, members_named, report_text
from bot.mail.parse import parse_message

MAYA = Member(name="Maya Chen", email="maya@example.org", role="chair",
              aliases=["maya.chen@example.org"])
ALEX = Member(name="Alex Smith", email="alex@example.org")
SAM = Member(name="Sam Jones", email="sam@example.net")
ROSTER = [MAYA, ALEX, SAM]


def test_full_name_or_any_address_names_a_member() -> None:
    assert members_named("Alex Smith kept messaging me.", ROSTER) == [ALEX]
    assert members_named("ALEX   SMITH was rude", ROSTER) == [ALEX]
    assert members_named("mail from maya.chen@example.org", ROSTER) == [MAYA]
    assert members_named("Alex was nice; Smithers was not.", ROSTER) == []
    assert members_named("write to xalex@example.org.uk", ROSTER) == []


def test_the_author_does_not_name_themselves() -> None:
    assert members_named("Regards, Alex Smith", ROSTER, skip=["alex@example.org"]) == []


def test_forwarded_header_lines_do_not_name_the_recipient() -> None:
    msg = EmailMessage()
    msg["From"] = "jo@mail.example"
    msg["To"] = "maya@example.org"
    msg["Subject"] = "Fwd: report"
    msg.set_content("FYI\n\n---------- Forwarded message ---------\nFrom: Jo <jo@mail.example>\n"
                    "To: Maya Chen <maya@example.org>\n\nSam Jones shouted at me.\n")
    raw = msg.as_bytes()
    assert members_named(report_text(parse_message(raw), raw), ROSTER) == [SAM]


def test_attachments_are_searched() -> None:
    msg = EmailMessage()
    msg["From"] = "jo@mail.example"
    msg["Subject"] = "report"
    msg.set_content("See the attached log.")
    msg.add_attachment("chat log: <alex@example.org> you will regret this",
                       filename="log.txt")
    raw = msg.as_bytes()
    assert any("alex@example.org" in t for t in attachment_texts(raw))
    assert members_named(report_text(parse_message(raw), raw), ROSTER) == [ALEX]


def test_member_by_name() -> None:
    assert member_by_name(ROSTER, "Alex Smith") == ALEX
    assert member_by_name(ROSTER, "alex") == ALEX
    assert member_by_name(ROSTER, "<maya.chen@example.org>") == MAYA
    assert member_by_name(ROSTER, "Quentin") is None
