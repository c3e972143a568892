"""Reading a member's draft: the intended recipients and the text to send.

A draft is written as the mail would be sent, but addressed to the conduct
address with ``#draft`` in the subject and the real recipients on lines at the
top of the body::

    Draft-To: Alex Doe <alex@example.org>
    Draft-Cc: organiser@example.org
    Draft-Subject: About the sprint

(``Draft-Subject`` is optional: without it the draft's own subject, without its
tags, is used.)

    Hello Alex, ...

`parse_draft` returns the recipients (plain addresses only: display names are
dropped, so nothing a draft says can become a header) and the body without
those lines and without command lines, and the subject without its tags.
Pure: no database, no configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import getaddresses

__all__ = ["MAX_RECIPIENTS", "Draft", "DraftError", "has_draft_lines", "parse_draft",
           "strip_tags"]

# More recipients than this is not a letter about a conduct case; it is a mistake
# or an attempt to use the bot as a relay.
MAX_RECIPIENTS = 10
# Longest Draft-To/Draft-Cc line read; longer is refused rather than cut.
MAX_LINE = 2000
MAX_SUBJECT = 200

# What may follow #draft in the subject (bot.commands.draft): not part of the subject sent.
DRAFT_MODES = ("reported", "reported-party", "party", "info", "organiser", "organizer",
               "moderator", "board")
_MODE_RE = re.compile(r"(?<!\S)#draft\s+(?:" + "|".join(DRAFT_MODES) + r")(?![\w-])",
                      re.IGNORECASE)
_DRAFT_LINE_RE = re.compile(r"^\s*draft-([a-z-]*)\s*:(.*)$", re.IGNORECASE)
_TAG_LINE_RE = re.compile(r"^\s*#[A-Za-z][A-Za-z0-9-]*(?:\s|$)")
_TAG_RE = re.compile(r"(?<!\S)#[A-Za-z][A-Za-z0-9-]*(?=$|[\s,.;:!?)\]])")
_ADDR_RE = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class DraftError(ValueError):
    """The draft cannot be used as written (the message says why)."""


@dataclass(frozen=True)
class Draft:
    """A parsed draft: recipients, subject and body as they would be sent."""

    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def recipients(self) -> tuple[str, ...]:
        """To and Cc together."""
        return (*self.to, *self.cc)


def strip_tags(subject: str) -> str:
    """`subject` without ``#tags``, ``[CoC code]`` tags and reply prefixes' doubles."""
    text = _TAG_RE.sub(" ", subject or "")
    text = re.sub(r"\[\s*coc[^\]]{0,80}\]", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def _addresses(value: str, field_name: str) -> list[str]:
    if len(value) > MAX_LINE:
        raise DraftError(f"{field_name}: line too long")
    out: list[str] = []
    for _name, addr in getaddresses([value]):
        addr = addr.strip()
        if not addr:
            continue
        if not _ADDR_RE.match(addr) or len(addr) > 254:
            raise DraftError(f"{field_name}: {addr[:80]!r} is not a plain address")
        out.append(addr.lower())
    # getaddresses drops what it cannot read: count the separators as a cross-check.
    if not out and value.strip():
        raise DraftError(f"{field_name}: no usable address")
    return out


def has_draft_lines(lines: list[str]) -> bool:
    """True when the author's own `lines` start (after blanks and tag lines) with Draft-To."""
    for line in lines:
        if not line.strip() or _TAG_LINE_RE.match(line):
            continue
        match = _DRAFT_LINE_RE.match(line)
        return match is not None and match.group(1).lower() in ("to", "cc", "subject")
    return False


def parse_draft(subject: str, text: str) -> Draft:
    """The draft in `text` (the plain-text body) with `subject` (tags removed).

    The ``Draft-To:``/``Draft-Cc:``/``Draft-Subject:`` lines must come first (after
    blank lines and command lines); any other ``Draft-...:`` line anywhere, a missing Draft-To,
    an unreadable address or more than `MAX_RECIPIENTS` recipients raise
    `DraftError`.
    """
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    to: list[str] = []
    cc: list[str] = []
    own_subject: str | None = None
    i = 0
    while i < len(lines) and (not lines[i].strip() or _TAG_LINE_RE.match(lines[i])):
        i += 1
    while i < len(lines):
        match = _DRAFT_LINE_RE.match(lines[i])
        if match is None:
            break
        kind = match.group(1).lower()
        if kind == "to":
            to.extend(_addresses(match.group(2), "Draft-To"))
        elif kind == "cc":
            cc.extend(_addresses(match.group(2), "Draft-Cc"))
        elif kind == "subject" and own_subject is None:
            own_subject = " ".join(match.group(2).split())[:MAX_SUBJECT]
        else:
            raise DraftError(f"unexpected line 'Draft-{kind[:20]}:'; use one Draft-To, "
                             "Draft-Cc and Draft-Subject each")
        i += 1
    for later in lines[i:]:
        match = _DRAFT_LINE_RE.match(later)
        if match is not None:
            raise DraftError("Draft-To/Draft-Cc lines must be the first lines of the body")
    if not to:
        raise DraftError("no 'Draft-To:' line at the top of the body")
    to = _unique(to, set())
    cc = _unique(cc, set(to))
    if len(to) + len(cc) > MAX_RECIPIENTS:
        raise DraftError(f"{len(to) + len(cc)} recipients; a draft may have at most "
                         f"{MAX_RECIPIENTS}")
    body_lines = lines[i:]
    while body_lines and not body_lines[0].strip():
        body_lines = body_lines[1:]
    # Trailing spaces go, except in the "-- " signature separator, which needs its space.
    body = "\n".join(line if line == "-- " else line.rstrip()
                     for line in body_lines).rstrip() + "\n"
    if not body.strip():
        raise DraftError("the draft has no text below its Draft-To/Draft-Cc lines")
    return Draft(to=tuple(to), cc=tuple(cc), body=body,
                 subject=own_subject if own_subject else strip_tags(_MODE_RE.sub(" ", subject)))


def _unique(addresses: list[str], seen: set[str]) -> list[str]:
    """`addresses` without repeats and without any already in `seen`."""
    out: list[str] = []
    for addr in addresses:
        if addr not in seen:
            seen.add(addr)
            out.append(addr)
    return out
