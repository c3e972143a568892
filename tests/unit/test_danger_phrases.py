"""The danger rule (rules/danger.toml) on sentences people write: 40 that must raise
the alarm, 40 that must not."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.core.resources import shipped_dir
from bot.mail.parse import parse_message
from bot.rules.base import run_chain
from bot.rules.chains import Chain
from bot.rules.loader import load_rules_from
from tests.helpers import make_mail

RULES = load_rules_from(shipped_dir("rules"))

POSITIVE = [
    "He threatened to kill me after the meetup.",
    "A removed attendee came back tonight and threatened to kill one of our volunteers.",
    "I believe someone is in physical danger.",
    "There is a threat to physical safety at the venue.",
    "I no longer feel safe going to the sprints.",
    "Honestly I don't feel safe around him.",
    "I do not feel safe at the conference hotel.",
    "I felt unsafe walking back from the social event.",
    "This is not safe for anyone in that channel.",
    "He said he is going to hurt me if I speak up.",
    "They sent me death threats on Mastodon.",
    "She received a death threat by email.",
    "He has been stalking me since DjangoCon.",
    "Someone followed me home from the meetup.",
    "He followed me to my hotel after the party.",
    "She showed up at my house uninvited.",
    "He posted my address on his blog.",
    "They doxxed me on a forum yesterday.",
    "He shared my home address in the Discord server.",
    "He knows where I live and keeps saying so.",
    "I am scared for my safety.",
    "I fear for my life.",
    "He grabbed me in the hallway after the talk.",
    "She was sexually assaulted at the afterparty.",
    "He punched me outside the venue.",
    "He said he has a gun.",
    "He was waving a knife around in the parking lot.",
    "The attendee made violent threats against the organisers.",
    "My friend keeps talking about suicide after what they wrote.",
    "I keep thinking I want to die after what they said.",
    "I have been thinking about self-harm.",
    "Someone spiked my drink at the party.",
    "We called the police after the incident.",
    "This is an emergency, please respond quickly.",
    "He threatened me in the hallway.",
    "They were threatening me in private messages all week.",
    "He has been following me around the venue all day.",
    "There were threats of violence in the chat.",
    "I'm scared of him and what he might do.",
    "He wants to kill anyone who disagrees with him.",
]

NEGATIVE = [
    "Someone was rude to me in the forum thread yesterday.",
    "The speaker made a sexist joke during the keynote.",
    "A commenter keeps derailing my pull request discussions.",
    "He interrupted me repeatedly during the sprint planning.",
    "The moderator was curt with me.",
    "I was talked over in the meeting and it felt dismissive.",
    "Someone posted an offensive meme in the Discord server.",
    "Our meetup organiser asked an attendee to leave; for your records.",
    "The attendee was removed from the event and we consider it handled.",
    "Please keep this report on file for the central log.",
    "He used a slur in the issue tracker.",
    "I received unwanted private messages asking me out.",
    "The talk contained inappropriate imagery.",
    "A user keeps tagging me in unrelated tickets.",
    "The conversation on the mailing list turned hostile.",
    "Someone mocked my accent at the dinner.",
    "He made comments about my appearance.",
    "I think this behaviour goes against the Code of Conduct.",
    "The sponsor booth staff were dismissive of women attendees.",
    "A volunteer was shouted at by a speaker.",
    "Our forum moderator locked the thread and warned the user.",
    "The reported person apologised and we closed the matter.",
    "I would like to request reconsideration of the decision.",
    "The review comments were needlessly harsh.",
    "The keynote was about database safety features.",
    "We should kill the process and restart the worker.",
    "The test suite keeps failing on the violation check.",
    "This security release fixes a potential denial of service.",
    "Please update the safety documentation for migrations.",
    "The thread was spammed with off-topic links.",
    "She felt excluded from the sprint group.",
    "He called my code garbage in a public review.",
    "They made a joke about my country.",
    "I was misgendered repeatedly in the chat.",
    "The organiser did not respond to my complaint.",
    "Someone impersonated me on the forum.",
    "The slides included a racist caricature.",
    "A participant kept sending me the same question.",
    "We had a disagreement about the release schedule.",
    "The meetup host forgot to share the Code of Conduct.",
]


def _ctx(body: str, subject: str = "Report") -> Any:
    return SimpleNamespace(pm=parse_message(make_mail(subject=subject, body=body)))


def test_forty_each() -> None:
    assert len(POSITIVE) == 40 and len(NEGATIVE) == 40
    assert len(set(POSITIVE)) == 40 and len(set(NEGATIVE)) == 40


@pytest.mark.parametrize("sentence", POSITIVE)
def test_danger_sentence_raises_the_alarm(sentence: str) -> None:
    assert run_chain(RULES, Chain.DANGER, _ctx(sentence), first_only=True), sentence


@pytest.mark.parametrize("sentence", NEGATIVE)
def test_calm_sentence_raises_nothing(sentence: str) -> None:
    assert not run_chain(RULES, Chain.DANGER, _ctx(sentence), first_only=True), sentence


def test_phrase_in_subject_counts_and_line_breaks_inside_a_phrase_are_spaces() -> None:
    assert run_chain(RULES, Chain.DANGER, _ctx("Please read.", subject="Death threat"))
    assert run_chain(RULES, Chain.DANGER, _ctx("He threatened\nto kill me."))
