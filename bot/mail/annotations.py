"""The ``[+ Name]`` / ``[- Name]`` recipient-change convention.

The communications guidelines ask anyone who adds or removes people on a thread
to say so at the top of their email, so that nobody shares protected information
without noticing who can now read it.  This module reads those notes from the
author's own lines (see `bot.mail.quoting.top_lines`), matches them against the
recipients that actually changed, and reports any disagreement.

Everything here is pure: the caller works out which addresses were added or
removed and which names belong to them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "Annotations",
    "Discrepancy",
    "Recipient",
    "check_annotations",
    "name_matches",
    "normalise_address",
    "parse_annotations",
]

_PLUS = "+＋﹢"
# Mail clients and phones "smarten" a typed hyphen into any of these.
_MINUS = "-‐‑‒–—−－﹣"
_SIGNS = _PLUS + _MINUS

_NOTE_RE = re.compile(rf"[\[［]\s*([{re.escape(_SIGNS)}])\s*([^\[\]［］]*?)\s*[\]］]")
# What may follow a bracket that makes it Markdown rather than a note:
# "[text](url)", "[text][ref]" and "[ref]: url".
_MARKDOWN_TAIL_RE = re.compile(
    rf"^(?:\(|\[(?![\s{re.escape(_SIGNS)}])|:\s*<?[a-z][a-z0-9+.-]*://|:\s*www\.)",
    re.IGNORECASE,
)
_ADDR_IN_TOKEN_RE = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>")
_WORD_STRIP = "\"'`.,;:!?()[]{}<>«»“”‘’「」『』"

# Letters NFKD leaves whole but that people routinely type without the diacritic.
_TRANSLIT = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)


@dataclass
class Annotations:
    """The names or addresses noted as added (``[+ ...]``) and removed (``[- ...]``)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Recipient:
    """One changed recipient: its address and every name it is known by.

    `names` holds each display name seen for the address plus the roster name of
    the member it belongs to, if any.
    """

    addr: str
    names: tuple[str, ...] = ()


@dataclass
class Discrepancy:
    """How the notes in a message disagree with the recipient changes it made."""

    unannounced_added: list[Recipient] = field(default_factory=list)
    unannounced_removed: list[Recipient] = field(default_factory=list)
    extra_added: list[str] = field(default_factory=list)
    extra_removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every change was noted and every note matches a change."""
        return not (
            self.unannounced_added
            or self.unannounced_removed
            or self.extra_added
            or self.extra_removed
        )


def _split_items(content: str) -> list[str]:
    """Split a note's contents on commas/semicolons outside quotes and ``<...>``.

    ``"Chen, Maya" <maya@example.org>`` is one person, not two.
    """
    items: list[str] = []
    buf: list[str] = []
    in_quote = False
    in_angle = False
    for ch in content:
        if ch == '"' and not in_angle:
            in_quote = not in_quote
        elif ch == "<" and not in_quote:
            in_angle = True
        elif ch == ">" and not in_quote:
            in_angle = False
        elif ch in ",;，、；" and not in_quote and not in_angle:
            items.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    items.append("".join(buf))
    return items


def _is_name(token: str) -> bool:
    """False for things like ``1`` or ``2 days`` that share the bracket syntax."""
    if not any(ch.isalpha() for ch in token):
        return False
    return not (token[0].isdigit() and "@" not in token)


def _add_unique(target: list[str], token: str) -> None:
    """Append unless already present: repeating a note is not a second change."""
    folded = token.casefold()
    if all(existing.casefold() != folded for existing in target):
        target.append(token)


def parse_annotations(lines: list[str]) -> Annotations:
    """Collect ``[+ Name]`` / ``[- Name]`` notes from the author's own lines.

    Notes may sit anywhere in `lines` (people put them after a greeting), several
    to a line, and one bracket may list several people separated by commas.  En
    dash, em dash, minus sign and full-width variants of the signs and brackets are
    accepted.  Votes (``[+1]``), Markdown links (``[- see here](...)``) and lines
    that are themselves quoted (leading ">") are ignored.
    """
    notes = Annotations()
    for line in lines:
        if line.lstrip().startswith(">"):
            continue
        for m in _NOTE_RE.finditer(line):
            if _MARKDOWN_TAIL_RE.match(line[m.end() :]):
                continue
            sign = m.group(1)
            for item in _split_items(m.group(2)):
                token = " ".join(item.split())
                # "[+ Maya, +Sam]" or "[+ Maya, - Alex]": a sign on an item is its own.
                if token and token[0] in _SIGNS:
                    sign = token[0]
                    token = token[1:].strip()
                if not token or not _is_name(token):
                    continue
                _add_unique(notes.added if sign in _PLUS else notes.removed, token)
    return notes


def _fold(text: str, *, loose: bool) -> str:
    """Case-fold `text`; with `loose`, also drop accents and transliterate ø, ł, ..."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if loose:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        text = text.translate(_TRANSLIT)
    return text


def _words(text: str) -> list[str]:
    """Whitespace-separated parts of a name, without surrounding punctuation."""
    return [w for w in (part.strip(_WORD_STRIP) for part in text.split()) if w]


def _contains_run(haystack: list[str], needle: list[str]) -> bool:
    """True when `needle` occurs as consecutive items of `haystack`."""
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def name_matches(token: str, r: Recipient) -> bool:
    """Whether the note `token` refers to the recipient `r`.

    Matching ignores case, and accents too when the token is plain ASCII (someone
    typing "Alex Orsted" means "Ålex Ørsted").  The token matches the address, its
    local part, a whole display or roster name, or any run of its words ("Maya"
    matches "Maya Chen").  A token that spells out ``<addr>`` matches on that
    address only: when the writer was that explicit, a name alone is not enough.
    """
    token = token.strip()
    if not token:
        return False
    addr = r.addr.strip().strip("<>").casefold()
    explicit = _ADDR_IN_TOKEN_RE.search(token)
    if explicit:
        return explicit.group(1).casefold() == addr
    bare = token.strip(_WORD_STRIP).casefold()
    if bare and (bare == addr or ("@" in addr and bare == addr.rpartition("@")[0])):
        return True
    loose = token.isascii()
    wanted = _words(_fold(token, loose=loose))
    if not wanted:
        return False
    return any(_contains_run(_words(_fold(name, loose=loose)), wanted) for name in r.names)


def _assign(recipients: list[Recipient], tokens: list[str]) -> tuple[list[Recipient], list[str]]:
    """Pair tokens with recipients one-to-one, as many pairs as possible.

    A greedy first-match would let "Maya" claim Maya Chen before "Maya Chen" gets
    the chance and then report Maya Li as unannounced; augmenting paths avoid that.
    Returns the unpaired recipients and the unpaired tokens, in input order.
    """
    candidates = [[j for j, r in enumerate(recipients) if name_matches(t, r)] for t in tokens]
    owner: dict[int, int] = {}  # recipient index -> token index

    def claim(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or claim(owner[j], seen):
                owner[j] = i
                return True
        return False

    paired = {i for i in range(len(tokens)) if claim(i, set())}
    left = [r for j, r in enumerate(recipients) if j not in owner]
    extra = [t for i, t in enumerate(tokens) if i not in paired]
    return left, extra


def check_annotations(
    added: list[Recipient], removed: list[Recipient], notes: Annotations
) -> Discrepancy:
    """Compare the recipients a message added and removed with its notes.

    Each note may account for one recipient.  A changed recipient no note accounts
    for is unannounced; a note that matches no changed recipient (a note without a
    change, or the wrong name) is extra.
    """
    unannounced_added, extra_added = _assign(added, notes.added)
    unannounced_removed, extra_removed = _assign(removed, notes.removed)
    return Discrepancy(
        unannounced_added=unannounced_added,
        unannounced_removed=unannounced_removed,
        extra_added=extra_added,
        extra_removed=extra_removed,
    )


def _lower_set(domains: Iterable[str]) -> frozenset[str]:
    return frozenset(d.strip().rstrip(".").lower() for d in domains)


def normalise_address(
    addr: str,
    *,
    dotless_domains: frozenset[str] = frozenset(),
    plus_domains: frozenset[str] = frozenset(),
) -> str:
    """The canonical form of `addr` for telling whether two addresses are one mailbox.

    Always lower-cased.  For domains in `plus_domains` a ``+tag`` is cut from the
    local part; for domains in `dotless_domains` (such as gmail.com) dots are removed
    from it.  Which providers behave that way is the caller's configuration: doing
    either for an arbitrary domain could merge two different people.
    """
    addr = addr.strip().strip("<>").strip().lower()
    local, at, domain = addr.rpartition("@")
    if not at or not local:
        return addr
    domain = domain.rstrip(".")
    if domain in _lower_set(plus_domains):
        untagged = local.split("+", 1)[0]
        # "+tag@..." with nothing before the plus is not a tagged address.
        if untagged:
            local = untagged
    if domain in _lower_set(dotless_domains):
        local = local.replace(".", "")
    return f"{local}@{domain}"
