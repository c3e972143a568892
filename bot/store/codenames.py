"""Case Code Names: two random words ("home shelf") that stand for a case.

The working group uses these names everywhere instead of real names, including
in public spaces, so the words come from a curated list of neutral concrete
words shipped as package data (``bot/store/data/codewords.txt``).  Outgoing mail
carries the name in the subject as ``[CoC home-shelf]``; the hyphen keeps the
tag one token for mail clients and for people grepping their inbox.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable
from functools import lru_cache
from importlib import resources

SUBJECT_TAG = "[CoC {slug}]"
MAX_TRIES = 1000

# Tolerant on purpose: people retype tags by hand, change case, add spaces or
# drop the hyphen, and the case must still be found.  Exactly two words are
# required so that "[CoC]" or "[CoC home]" never match half a name.
_TAG_RE = re.compile(
    r"\[\s*coc(?:\s*:\s*|\s+)([a-z]+)(?:\s*-\s*|\s+)([a-z]+)\s*\]",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def load_words() -> tuple[str, ...]:
    """The code-name word list from the package data, in file order.

    Blank lines and lines starting with ``#`` are skipped.
    """
    text = resources.files("bot.store").joinpath("data/codewords.txt").read_text(encoding="utf-8")
    words = []
    for line in text.splitlines():
        word = line.strip()
        if word and not word.startswith("#"):
            words.append(word)
    return tuple(words)


def new_code_name(taken: Callable[[str], bool], rng: random.Random | None = None) -> str:
    """A fresh code name ("word1 word2", two different words) for which `taken` is false.

    `rng` defaults to the operating system's CSPRNG so names cannot be predicted
    from earlier ones; tests pass a seeded ``random.Random``.  Raises
    RuntimeError when no free name turns up in ``MAX_TRIES`` attempts.
    """
    chooser = rng if rng is not None else secrets.SystemRandom()
    words = load_words()
    for _ in range(MAX_TRIES):
        first, second = chooser.sample(words, 2)
        name = f"{first} {second}"
        if not taken(name):
            return name
    raise RuntimeError(f"no free case code name after {MAX_TRIES} tries")


def slug(code: str) -> str:
    """The hyphenated form used in subject tags: "home shelf" -> "home-shelf"."""
    return "-".join(code.lower().split())


def subject_tag(code: str) -> str:
    """The subject tag for a case code name: "home shelf" -> "[CoC home-shelf]"."""
    return SUBJECT_TAG.format(slug=slug(code))


def without_code_tags(subject: str) -> str:
    """`subject` with every case tag (``[CoC home-shelf]``) taken out."""
    return _TAG_RE.sub(" ", subject or "")


def find_code_in_subject(subject: str) -> str | None:
    """The code name ("home shelf") tagged in `subject`, or None.

    Recognises ``[CoC home-shelf]`` and ``[CoC home shelf]`` in any case and
    with extra spaces, anywhere in the subject (after "Re:", "Fwd:" and so on).
    The first tag wins.
    """
    match = _TAG_RE.search(subject or "")
    if match is None:
        return None
    return f"{match.group(1).lower()} {match.group(2).lower()}"
