"""The reporter's identity and where a message carries it: names, addresses, usernames.

`reporter_identity` gathers what identifies a case's reporter; `identity_patterns`
turns it into patterns on `fold`-ed text; `message_texts` lists the parts of a
message to search, named as the warning names them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, select

from bot.core.events import EventKind
from bot.hygiene.ordinary import ORDINARY_WORDS, written_as_name
from bot.mail.message import Address, ParsedMessage
from bot.mail.parse import ParseError, parse_message
from bot.mail.quoting import html_to_text, top_lines
from bot.store.models import Case, Event, Participant

# Event kind carrying a username the reporter uses (data: {"username": ...}).


_ACCENT_TRANS = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "ı": "i", "æ": "ae", "œ": "oe"})


def fold(text: str) -> str:
    """Case- and accent-insensitive form of `text` (for presence tests only)."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_ACCENT_TRANS)


@dataclass(frozen=True)
class Identity:
    """What identifies a reporter: names, addresses, usernames."""

    names: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()


def fold_keep_case(text: str) -> str:
    """`fold` without the case folding (for telling how a word is written)."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_ACCENT_TRANS)


@dataclass(frozen=True)
class IdentityPattern:
    """One thing to look for: what it is ("name", "email address", "username").

    An `ordinary` pattern is a name part that is also an ordinary word: it counts
    only where written as a name (`bot.hygiene.ordinary.written_as_name`), next
    to one of `other_parts` or capitalised mid-sentence.
    """

    what: str
    pattern: re.Pattern[str]
    ordinary: bool = False
    other_parts: frozenset[str] = frozenset()

    def found_in(self, folded: str, kept: str) -> bool:
        """True when the pattern occurs in `folded` (and, if ordinary, as a name in `kept`)."""
        if not self.ordinary:
            return self.pattern.search(folded) is not None
        insensitive = re.compile(self.pattern.pattern, re.IGNORECASE)
        return any(written_as_name(kept, m.start(), m.end(), self.other_parts)
                   for m in insensitive.finditer(kept))


def _word_pattern(term: str) -> re.Pattern[str]:
    """`term` (already folded) as a whole word, any whitespace between its words."""
    words = [re.escape(w) for w in term.split()]
    return re.compile(r"(?<![\w.+-])" + r"\s+".join(words) + r"(?![\w-]|\.[\w-])")


def identity_patterns(identity: Identity, *, min_name_part: int,
                      ignore_words: Iterable[str]) -> list[IdentityPattern]:
    """Patterns for `identity`, on `fold`-ed text.

    Every full name; each part of a name (also the halves of hyphenated parts)
    with at least `min_name_part` letters; a part that is an ordinary word (in
    `ignore_words` or `ORDINARY_WORDS`) counts only where written as a name;
    every address;
    the local part of each address and every recorded username as a whole word
    (``@handle`` too), with the same length and common-word limits.
    """
    ignored = {fold(w).strip() for w in ignore_words}
    ordinary = ignored | ORDINARY_WORDS
    out: list[IdentityPattern] = []
    seen: set[tuple[str, str]] = set()

    def add(what: str, term: str, others: frozenset[str] = frozenset()) -> None:
        term = " ".join(fold(term).split())
        if term and (what, term) not in seen:
            seen.add((what, term))
            common = what == "name" and " " not in term and term in ordinary
            out.append(IdentityPattern(what, _word_pattern(term), common, others))

    def usable(part: str) -> bool:
        letters = sum(ch.isalpha() for ch in part)
        return letters >= min_name_part and fold(part) not in ignored

    def long_enough(part: str) -> bool:
        return sum(ch.isalpha() for ch in part) >= min_name_part

    for name in identity.names:
        clean = " ".join(name.replace('"', " ").split()).strip(" ,;()<>'")
        if not clean or "@" in clean:
            continue
        add("name", clean)
        words = [w.strip(",;:()<>'\".") for w in clean.split()]
        parts = frozenset(fold(p) for w in words for p in [w, *w.split("-")] if p)
        for word in words:
            pieces = [word, *word.split("-")] if "-" in word else [word]
            for piece in pieces:
                if long_enough(piece):
                    add("name", piece, parts - {fold(piece)})
    for addr in identity.addresses:
        if "@" in addr:
            add("email address", addr.strip().lower())
    handles = [a.rpartition("@")[0] for a in identity.addresses if "@" in a]
    for handle in [*handles, *identity.usernames]:
        handle = handle.strip().lstrip("@")
        if handle and usable(handle):
            add("username", handle)
    return out


def find_identity(text: str, patterns: Sequence[IdentityPattern]) -> list[str]:
    """Which kinds of identifier (name, email address, username) occur in `text`."""
    if not text or not patterns:
        return []
    folded = fold(text)
    kept = fold_keep_case(text)
    found: list[str] = []
    for p in patterns:
        if p.what not in found and p.found_in(folded, kept):
            found.append(p.what)
    return found


# Where in a message an identifier was found (words used in the warning).
SUBJECT = "subject line"
OWN_TEXT = "text you wrote"
WHOLE_TEXT = "quoted or forwarded text"
ATTACHED = "attached message"


def _address_text(addresses: Iterable[Address]) -> str:
    return "\n".join(f"{a.name} <{a.addr}>" for a in addresses)


def message_texts(pm: ParsedMessage) -> list[tuple[str, str]]:
    """(where, text) pairs of `pm` to search: subject, own text, quoted text, attachments."""
    whole = pm.text_body or ""
    html = html_to_text(pm.html_body) if pm.html_body else ""
    own = "\n".join(top_lines(whole))
    if html:
        own += "\n" + "\n".join(top_lines(html))
    out = [(SUBJECT, pm.subject or ""), (OWN_TEXT, own), (WHOLE_TEXT, f"{whole}\n{html}")]
    for raw in pm.attached_messages:
        try:
            inner = parse_message(raw)
        except ParseError:
            continue
        inner_html = html_to_text(inner.html_body) if inner.html_body else ""
        out.append((ATTACHED, "\n".join([
            _address_text([*inner.from_, *inner.to, *inner.cc, *inner.reply_to]),
            inner.subject, inner.text_body or "", inner_html])))
    return out


def reporter_identity(session: Session, case: Case) -> Identity:
    """The reporter's names, addresses and recorded usernames for `case`."""
    names: list[str] = [case.reporter_name] if case.reporter_name else []
    addresses: list[str] = [case.reporter_address] if case.reporter_address else []
    for p in session.exec(select(Participant).where(Participant.case_id == case.id,
                                                    Participant.role == "reporter")).all():
        if p.name and p.name not in names:
            names.append(p.name)
        if p.address not in addresses:
            addresses.append(p.address)
    usernames = [str(e.data.get("username")) for e in session.exec(
        select(Event).where(Event.case_id == case.id, Event.kind == EventKind.REPORTER_USERNAME)
    ).all() if e.data.get("username")]
    return Identity(names=tuple(names), addresses=tuple(addresses), usernames=tuple(usernames))


def reporter_identities(session: Session, case: Case) -> list[Identity]:
    """One `Identity` per reporter of `case` (a merged case has several).

    The leak check looks at each reporter on their own: mail to one reporter
    that names another is a leak, even though both reported in this case.
    Usernames recorded on the case belong to its first reporter.
    """
    whole = reporter_identity(session, case)
    first = (case.reporter_address or "").lower()
    out: list[Identity] = []
    rows = session.exec(select(Participant).where(Participant.case_id == case.id,
                                                  Participant.role == "reporter")).all()
    people: list[tuple[str, str]] = [(p.address, p.name) for p in rows]
    if first and first not in [a for a, _ in people]:
        people.insert(0, (first, case.reporter_name or ""))
    for address, name in people:
        names = [n for n in (name, case.reporter_name if address == first else "") if n]
        out.append(Identity(names=tuple(dict.fromkeys(names)), addresses=(address,),
                            usernames=whole.usernames if address == first else ()))
    if not out and (whole.names or whole.usernames):
        out.append(whole)
    return out
