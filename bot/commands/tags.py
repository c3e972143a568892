"""Finding `#tags` in a member's message: which are commands, and which are new.

A tag is ``#`` followed by a letter and then letters, digits or hyphens, at the
start of the text or after whitespace, and ending at whitespace, the end, or
ordinary punctuation.  So ``#1234`` (ticket numbers), ``C#`` and the ``#`` in
``https://example.org/#anchor`` are not tags.  A tag's argument text runs to the
next tag or the end of the subject (or line).

Tags count in two places only: the subject, and lines at the very top of the
body that start with a tag, before any other text and before anything quoted or
forwarded (`bot.mail.quoting.top_text` decides where the author's own text ends).

Reply-all repeats the subject, so subject tags count only when they are new
compared with the parent message's subject (`new_tags`).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.store.codenames import without_code_tags

__all__ = [
    "MAX_UNKNOWN",
    "Tag",
    "TagPlan",
    "body_tags",
    "new_tags",
    "plan_tags",
    "subject_tags",
    "suggest",
]

MAX_UNKNOWN = 5

_TAG_RE = re.compile(r"(?<!\S)#([A-Za-z][A-Za-z0-9-]*)(?=$|[\s,.;:!?)\]])")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Tag:
    """One tag as written: name (lower-case, no '#'), argument text, where found."""

    name: str
    args: str = ""
    where: str = "subject"  # subject | body

    @property
    def key(self) -> tuple[str, str]:
        """What makes two tags "the same" when comparing with the parent subject."""
        return self.name, _SPACE_RE.sub(" ", self.args).strip().lower()

    def __str__(self) -> str:
        return f"#{self.name} {self.args}".strip()


def _tags_in(text: str, where: str) -> list[Tag]:
    """Every tag in one line of text, each with the text up to the next tag."""
    matches = list(_TAG_RE.finditer(text))
    tags: list[Tag] = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        args = _SPACE_RE.sub(" ", text[match.end():end]).strip()
        tags.append(Tag(name=match.group(1).lower().rstrip("-"), args=args, where=where))
    return tags


def subject_tags(subject: str | None) -> list[Tag]:
    """The tags in a subject line, in order.

    The case tag (``[CoC home-shelf]``) names the case, not a command's argument:
    mail clients put it after the member's tags ("Re: x #recuse [CoC home-shelf]").
    """
    return _tags_in(_SPACE_RE.sub(" ", without_code_tags(subject or "")), "subject")


def body_tags(top_lines: Sequence[str]) -> list[Tag]:
    """Tags on their own lines at the top of the body.

    `top_lines` are the author's own lines (`bot.mail.quoting.top_text`).  Leading
    blank lines are skipped; reading stops at the first line that does not
    start with a tag, so a tag in the middle of a sentence never counts.
    """
    tags: list[Tag] = []
    for line in top_lines:
        stripped = line.strip()
        if not stripped:
            continue
        match = _TAG_RE.match(stripped)
        if match is None:
            break
        tags.extend(_tags_in(stripped, "body"))
    return tags


def new_tags(tags: Iterable[Tag], baseline_subjects: Iterable[str | None]) -> list[Tag]:
    """`tags` minus those already in any of `baseline_subjects` (as many times as there).

    The baseline is the parent message's subject (and, for a forward, the
    forwarded message's subject): tags a mail client carried over say nothing new.
    """
    seen: Counter[tuple[str, str]] = Counter()
    for subject in baseline_subjects:
        counts = Counter(t.key for t in subject_tags(subject))
        for key, n in counts.items():
            seen[key] = max(seen[key], n)
    fresh: list[Tag] = []
    for tag in tags:
        if tag.where == "subject" and seen[tag.key] > 0:
            seen[tag.key] -= 1
            continue
        fresh.append(tag)
    return fresh


def suggest(name: str, known: Iterable[str]) -> str | None:
    """The known tag closest to `name` (``resolv`` -> ``resolve``), if any is close."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return close[0] if close else None


@dataclass(frozen=True)
class PlannedTag:
    """A tag with what is known about it before running: command or not."""

    tag: Tag
    known: bool
    suggestion: str | None = None


@dataclass
class TagPlan:
    """The tags to act on, in order, and whether reading stopped early."""

    items: list[PlannedTag] = field(default_factory=list)
    stopped: bool = False
    # Commands in the subject of a reply to a message the bot never saw: the
    # subject may be someone else's, so they are held, never run.
    held: list[Tag] = field(default_factory=list)

    @property
    def has_command(self) -> bool:
        """True when at least one tag names a known command."""
        return any(item.known for item in self.items)

    @property
    def unknown(self) -> list[PlannedTag]:
        """The tags that name no command."""
        return [item for item in self.items if not item.known]


def plan_tags(tags: Iterable[Tag], known: Iterable[str], max_unknown: int = MAX_UNKNOWN) -> TagPlan:
    """Sort `tags` into commands and unknown tags; stop after `max_unknown` unknown ones.

    The same tag with the same argument twice in one message counts once.
    """
    names = set(known)
    plan = TagPlan()
    done: set[tuple[str, str]] = set()
    for tag in tags:
        if tag.key in done:
            continue
        if len(plan.unknown) >= max_unknown:
            # Something that is mostly not commands (a pasted list of hashtags, a
            # mangled subject): acting on the rest would be guesswork.
            plan.stopped = True
            break
        done.add(tag.key)
        if tag.name in names:
            plan.items.append(PlannedTag(tag, known=True))
        else:
            plan.items.append(PlannedTag(tag, known=False, suggestion=suggest(tag.name, names)))
    return plan
