"""Reading a draft's recipients, subject and body (pure)."""

from __future__ import annotations

import pytest

from bot.hygiene.draftcheck import copied_runs, exact_times, gendered_words, missing_parts
from bot.mail.drafts import DraftError, parse_draft, strip_tags


def test_recipients_subject_and_body() -> None:
    d = parse_draft("Re: Your conduct #draft reported [CoC home-shelf]",
                    "\n#neutral\nDraft-To: Alex <Alex@Example.org>, b@x.example\n"
                    "Draft-Cc: c@y.example, b@x.example\n\nHello\n\n-- \nMaya\n")
    assert d.to == ("alex@example.org", "b@x.example")
    assert d.cc == ("c@y.example",)
    assert d.subject == "Re: Your conduct"
    assert d.body == "Hello\n\n-- \nMaya\n"


def test_draft_subject_line_wins() -> None:
    d = parse_draft("Re: [CoC a-b] Commands processed #draft",
                    "Draft-To: a@x.example\nDraft-Subject:  About   the sprint \n\nHi\n")
    assert d.subject == "About the sprint"


@pytest.mark.parametrize(("text", "error"), [
    ("Hello\n", "no 'Draft-To:'"),
    ("Hello\nDraft-To: a@x.example\n", "must be the first lines"),
    ("Draft-To: a@x.example\nDraft-Bcc: b@x.example\n\nHi", "unexpected line"),
    ("Draft-To: a@x.example\n\n", "no text"),
    ("Draft-To: <a@x.example>, evil\n\nHi", "not a plain address"),
    ("Draft-To: " + "a" * 3000 + "@x.example\n\nHi", "too long"),
    ("Draft-To: " + ",".join(f"p{i}@x.example" for i in range(11)) + "\n\nHi", "at most 10"),
])
def test_refused(text: str, error: str) -> None:
    with pytest.raises(DraftError, match=error):
        parse_draft("x #draft", text)


def test_strip_tags() -> None:
    assert strip_tags("Re: x #draft #approve [CoC home-shelf] y") == "Re: x y"


def test_check_helpers() -> None:
    assert exact_times("at 9pm on 3 May and 2026-05-03, or 14:30") == \
        ["9pm", "3 May", "2026-05-03", "14:30"]
    assert exact_times("a recent meetup in spring") == []
    assert missing_parts("Description of behaviour:\nx\n**Impact**\n- [x] Expected changes\n"
                         "4. Consequences: a warning") == []
    assert missing_parts("Hello, the impact was large and consequences follow.") == [
        "description of behaviour", "impact of that behaviour",
        "behavioural modifications expected", "consequences"]
    assert gendered_words("They said he left; She agreed. Then her.") == ["he", "She", "her"]
    assert copied_runs("one two three four five six seven", ["one two three four five six"],
                       n=8) == []
    assert copied_runs("So: A, b c d e f g h!", ["a b c d e f g h"], n=8) == ["A b c d e f g h"]
