"""Every text people receive renders with hostile and with missing values, and names nobody.

Reporter-facing texts (acknowledgements, the point-of-contact note, the letter
skeletons' letters) and reported-party-facing ones (the letter skeleton, a sent
draft) are read for the reporter's and other people's identities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.config import parse_config
from bot.hygiene.identity import Identity, find_identity, identity_patterns
from bot.outbound.acknowledgement import first_name
from bot.outbound.render import render_mail, templates_dir
from tests.helpers import config_dict

CONFIG = parse_config(config_dict("sqlite://"), environ={})
LONG = "Zanzibar-" * 120
HOSTILE = [
    "Evil\r\nBcc: victim@example.org",
    "=?utf-8?b?QmNjOiB2aWN0aW1AZXhhbXBsZS5vcmc=?=",
    LONG,
    "{{ 7*7 }} {% for x in y %}",
    "Jo\u2028Reporter\u0085",
]
MINE = ["ack_decision_needed", "ack_on_file", "urgent_notice", "reporter_contact",
        "draft_outgoing", "draft_revise", "letter_reported", "letter_outcome",
        "letter_progress", "letter_feedback", "letter_board", "warn_reporter_leak"]
BASE: dict[str, Any] = {
    "conduct_address": "conduct@example.org", "bot_name": "Bot", "signature": "The group",
    "case_code": "home shelf", "case_tag": "[CoC home-shelf]", "reply_subject": "Re: x",
    "team_page": "https://www.djangoproject.com/foundation/teams/#code-of-conduct-team",
}
OPTIONAL_NONE: dict[str, Any] = {
    "greeting_name": "", "contact_name": "", "danger": False, "ack_queued": False,
    "forwarded": False, "lead_name": "", "lead_is_contact": False, "contact_first_name": "",
    "subject": "", "body": "", "author_name": "", "reviewer_name": "", "note": "",
    "member_name": "", "draft_to": [], "draft_subject": "", "date_reported": None, "status": None,
    "resolution_source": None, "resolution_date": None, "consequences": None,
    "safety_risk": None, "ongoing_harassment": None, "review_date": None,
    "recipient_name": "", "message_date": "", "outsiders": [], "found": [],
}


def _hostile(value: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, default in OPTIONAL_NONE.items():
        if isinstance(default, bool):
            out[key] = True
        elif isinstance(default, list):
            out[key] = [value] if key != "found" else [{"what": value, "where": [value]}]
        elif key in ("greeting_name", "contact_first_name"):
            out[key] = first_name(value)  # how the code derives them
        else:
            out[key] = value
    return out


def test_every_template_of_this_feature_exists() -> None:
    for name in MINE:
        assert (templates_dir(CONFIG) / f"{name}.txt.j2").is_file()


@pytest.mark.parametrize("name", MINE)
def test_renders_with_missing_optional_values(name: str) -> None:
    mail = render_mail(CONFIG, name, {**BASE, **OPTIONAL_NONE})
    # A sent draft is the author's text alone (an empty draft is refused earlier).
    assert mail.text.strip() or name == "draft_outgoing"
    assert "None" not in mail.text


@pytest.mark.parametrize("value", HOSTILE, ids=["crlf", "encoded-word", "long", "jinja", "seps"])
@pytest.mark.parametrize("name", MINE)
def test_renders_with_hostile_values(name: str, value: str) -> None:
    mail = render_mail(CONFIG, name, {**BASE, **_hostile(value)})
    assert "\r" not in mail.subject and "\n" not in mail.subject
    assert len(mail.subject) <= 500
    assert "49" not in mail.text  # values are data, never template source


def test_first_name_is_safe() -> None:
    assert first_name("Jo Reporter") == "Jo"
    assert first_name("Dr. Maya Chen") == "Maya"
    assert first_name("'Maya Chen' via Conduct") == "Maya"
    for unsafe in ["MAYA CHEN", "chen, maya", "J. Chen", "http://x.example", LONG, "",
                   "Evil\r\nBcc: x", "=?utf-8?q?x?="]:
        assert first_name(unsafe) == ""


PEOPLE = [Identity(names=("Jo Rahmani",), addresses=("jo.reporter@mail.example",)),
          Identity(names=("Pat Party",), addresses=("pat.party@elsewhere.example",)),
          Identity(names=("Maya Chen",), addresses=("maya@example.org",)),
          Identity(names=("Wren Witness",), addresses=("wren@w.example",))]
FACTS: dict[str, Any] = {
    **OPTIONAL_NONE, "contact_first_name": "Maya", "contact_name": "Maya",
    "date_reported": "2026-03-01", "status": "Resolved", "consequences": "formal warning",
    "resolution_source": "CoC WG", "resolution_date": "2026-03-20", "safety_risk": "No",
    "ongoing_harassment": "No", "danger": True,
}
OUTSIDE_FACING = ["ack_decision_needed", "ack_on_file", "reporter_contact", "letter_reported",
                  "letter_outcome", "letter_progress", "letter_feedback"]


@pytest.mark.parametrize("name", OUTSIDE_FACING)
def test_outside_facing_texts_name_nobody(name: str) -> None:
    mail = render_mail(CONFIG, name, {**BASE, **FACTS})
    text = f"{mail.subject}\n{mail.text}"
    if name.startswith("letter_"):
        # Only the letter below the line reaches its recipient (Draft-To is stripped).
        text = text.split("Draft-To:", 1)[1].split("\n", 1)[1]
    hits = [p.names[0] for p in PEOPLE
            if find_identity(text, identity_patterns(p, min_name_part=3, ignore_words=[]))
            and p.names[0] != "Maya Chen"]
    assert hits == []
    # A member appears by first name at most (the point of contact), never in full.
    assert "Chen" not in text and "maya@" not in text
    assert "law enforcement first" not in text


def test_template_folder_has_no_stale_names(tmp_path: Path) -> None:
    # Every template of this feature starts with a Subject line and a blank line.
    for name in MINE:
        head = (templates_dir(CONFIG) / f"{name}.txt.j2").read_text().split("\n", 2)
        assert head[0].startswith("Subject:") and head[1] == ""
