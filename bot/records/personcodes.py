"""Person Code Names: "Blue Jay", a colour or nature word and an animal.

They are deliberately unlike case code names ("home shelf": two lower-case
everyday words), so nobody mistakes one for the other in a subject or a
spreadsheet.  A person keeps theirs for good; a name once given (or imported
from the group's spreadsheet) is never generated again, because the `Person`
row stays even when a purge removes the identity behind it.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from functools import lru_cache
from importlib import resources

MAX_TRIES = 200


def _words(name: str) -> tuple[str, ...]:
    text = resources.files("bot.records").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return tuple(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def word_lists() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(first words, second words) from the package data."""
    return _words("person_adjectives.txt"), _words("person_creatures.txt")


def new_person_code(taken: Callable[[str], bool], rng: random.Random | None = None) -> str:
    """A fresh Person Code Name for which `taken` is false.

    After `MAX_TRIES` misses (the lists hold about 15,000 pairs) a number is
    added ("Blue Jay 2"), so the supply never runs out.
    """
    chooser = rng if rng is not None else secrets.SystemRandom()
    first, second = word_lists()
    for attempt in range(MAX_TRIES * 2):
        name = f"{chooser.choice(first)} {chooser.choice(second)}"
        if attempt >= MAX_TRIES:
            name = f"{name} {chooser.randint(2, 999)}"
        if not taken(name):
            return name
    raise RuntimeError("no free person code name")


def canonical(code: str) -> str:
    """"blue-jay" / "BLUE  jay" -> "Blue Jay" (how the records spell it)."""
    return " ".join(w.capitalize() for w in code.replace("-", " ").split())
