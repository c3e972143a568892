"""The reporter-identity check: precise on clean letters, thorough on leaks.

A name part that is also an ordinary word ("Report", "Will", "Hope") counts only
where it is written as a name.  False positives are measured on clean letters
(which mention no reporter), recall on letters that do name them.
"""

from __future__ import annotations

import pytest

from bot.hygiene.identity import Identity, find_identity, identity_patterns

REPORTERS = [
    Identity(names=("Dana Report",), addresses=("dana.r@mail.example",)),
    Identity(names=("Will Case",), addresses=("wcase@mail.example",)),
    Identity(names=("Hope Young",), addresses=("hy@mail.example",)),
    Identity(names=("Robin Field-Stone",), addresses=("robin@mail.example",)),
]

CLEAN_LETTERS = [
    "Hello,\n\nWe received a report about behaviour at the sprint. We will look into the "
    "case and hope to reply within a week.\n\nRegards,\nThe working group",
    "Report received. In this case we will keep the report on file.\nBest wishes",
    "Hi,\n\nThe young contributors at the event said the field trip was fun. We hope you "
    "will join us. Will you reply by Friday?",
    "Case closed. Hope all is well.\nYoung people are welcome at every meetup; a stone's "
    "throw from the venue there is a field where robins sing.",
    "Dear organisers,\n\nA participant was asked to leave; we will report to the board. "
    "The report will not name anyone. Field notes are attached.",
    "Thank you for the report. Stone, wood and field are not names here.\n",
    "It was a long day. We will write again; in any case, hope to see you.",
    "Subject: report\n\nPlease read the report. Young or old, everyone is welcome.",
]

LEAKS = [
    (0, "Hi,\n\nDana Report told us what happened."),
    (0, "We spoke to Ms Report about the sprint."),
    (0, "Report, Dana wrote to us yesterday."),
    (0, "Please contact dana.r@mail.example if needed."),
    (0, "someone (report dana) said so"),
    (1, "As Will Case explained, the talk ran late."),
    (1, "Thanks to Will for raising it."),
    (2, "According to Hope, the meetup was loud."),
    (2, "We asked Young whether the venue was safe."),
    (3, "Robin said the venue was loud."),
    (3, "As Field-Stone wrote, the venue was loud."),
]


def _patterns(identity: Identity) -> list:
    return identity_patterns(identity, min_name_part=3, ignore_words=["will", "hope"])


def test_no_false_positives_on_clean_letters() -> None:
    hits = [(r.names[0], i) for r in REPORTERS for i, text in enumerate(CLEAN_LETTERS)
            if find_identity(text, _patterns(r))]
    assert hits == []


@pytest.mark.parametrize(("who", "text"), LEAKS)
def test_leaks_are_found(who: int, text: str) -> None:
    assert find_identity(text, _patterns(REPORTERS[who]))
