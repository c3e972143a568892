"""Tests for case code names: the word list, name generation and subject tags."""

from __future__ import annotations

import random
import re

import pytest

from bot.store.codenames import (
    MAX_TRIES,
    SUBJECT_TAG,
    find_code_in_subject,
    load_words,
    new_code_name,
    slug,
    subject_tag,
)

# Words that must never appear in a case name; a regression net, not the curation.
BLACKLIST = {
    "dead", "death", "die", "dye", "kill", "murder", "victim", "guilty", "angry", "ugly",
    "fat", "old", "bomb", "knife", "gun", "black", "white", "slave", "rape", "sex",
    "nude", "naked", "whore", "slut", "bitch", "bastard", "hell", "devil", "god", "church",
    "crime", "thief", "drug", "drunk", "sick", "cancer", "virus", "insane", "crazy", "stupid",
    "idiot", "dumb", "moron", "lame", "blind", "deaf", "nazi", "queer", "dyke", "fag",
    "coon", "spade", "chink", "gook", "spic", "jap", "gypsy", "hoe", "cock", "dick",
    "butt", "ass", "boob", "tit", "fart", "poop", "crap", "blood", "grave", "coffin",
    "hang", "noose", "stab", "punch", "abuse", "stalk", "creep", "weapon", "pistol", "war",
    "prison", "jail", "police", "hate", "rage", "fear", "shame", "liar", "pig", "cow",
    "rat", "snake", "monkey", "ape", "donkey", "worm", "fairy", "pansy", "nut", "ball",
}


def test_word_list_size_and_format() -> None:
    words = load_words()
    assert len(words) >= 1500
    for word in words:
        assert re.fullmatch(r"[a-z]{3,8}", word), word


def test_word_list_has_no_duplicates() -> None:
    words = load_words()
    assert len(set(words)) == len(words)


def test_word_list_is_cached() -> None:
    assert load_words() is load_words()


def test_blacklisted_words_absent() -> None:
    assert len(BLACKLIST) >= 60
    assert BLACKLIST.isdisjoint(load_words())


def test_new_name_is_two_different_listed_words() -> None:
    words = set(load_words())
    for _ in range(200):
        first, second = new_code_name(lambda _name: False).split(" ")
        assert first != second
        assert first in words and second in words


def test_collisions_are_retried() -> None:
    seen: list[str] = []

    def taken(name: str) -> bool:
        seen.append(name)
        return len(seen) <= 3

    name = new_code_name(taken, random.Random(1))
    assert len(seen) == 4
    assert name == seen[-1]


def test_gives_up_after_max_tries() -> None:
    calls = 0

    def taken(_name: str) -> bool:
        nonlocal calls
        calls += 1
        return True

    with pytest.raises(RuntimeError):
        new_code_name(taken, random.Random(1))
    assert calls == MAX_TRIES


def test_seeded_rng_is_deterministic() -> None:
    first = [new_code_name(lambda _n: False, random.Random(7)) for _ in range(3)]
    again = [new_code_name(lambda _n: False, random.Random(7)) for _ in range(3)]
    assert first == again
    rng = random.Random(7)
    assert new_code_name(lambda _n: False, rng) != new_code_name(lambda _n: False, rng)


def test_slug_round_trip() -> None:
    assert slug("home shelf") == "home-shelf"
    assert slug("Stunned  Bulb") == "stunned-bulb"


def test_subject_tag_round_trip() -> None:
    assert SUBJECT_TAG == "[CoC {slug}]"
    assert subject_tag("home shelf") == "[CoC home-shelf]"
    for _ in range(50):
        code = new_code_name(lambda _n: False)
        assert find_code_in_subject(f"Re: {subject_tag(code)} update") == code


@pytest.mark.parametrize(
    "subject",
    [
        "Re: [CoC home-shelf] hello",
        "RE: Fwd: [coc Home-Shelf]",
        "[CoC home shelf]",
        "[ CoC  home - shelf ] spaced out",
        "Fwd: [COC   HOME   SHELF]",
    ],
)
def test_find_code_in_subject(subject: str) -> None:
    assert find_code_in_subject(subject) == "home shelf"


@pytest.mark.parametrize(
    "subject",
    ["[CoC]", "[CoC home]", "Re: [CoC home] hi", "home-shelf", "[CoC home-shelf-lamp]", ""],
)
def test_find_code_in_subject_no_match(subject: str) -> None:
    assert find_code_in_subject(subject) is None
