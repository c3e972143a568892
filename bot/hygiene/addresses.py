"""Who a message went to: address comparison, recipient diffs, ``[+ Name]`` notes, display.

`AddressBook` compares addresses one key per mailbox (provider rules, members'
aliases); `reply_all_diff` says whom a message added or dropped against reply-all
to its parent; `message_notes` reads the notes that should announce it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.config import Config, Member
from bot.mail.annotations import Annotations, Recipient, normalise_address, parse_annotations
from bot.mail.message import Address, ParsedMessage
from bot.mail.quoting import html_to_text, top_lines
from bot.outbound.render import clean_header

if TYPE_CHECKING:
    from bot.hygiene.policies import HygienePolicy

_LOCAL_SPLIT_RE = re.compile(r"[._-]+")


@dataclass(frozen=True)
class AddressBook:
    """How addresses compare: provider normalisation, members' aliases, ignored ones.

    `canonical` maps an address to one key per mailbox: lower case, provider rules
    applied, a member's alias replaced by the member's main address.
    """

    dotless: frozenset[str] = frozenset()
    plus: frozenset[str] = frozenset()
    member_keys: tuple[tuple[str, str], ...] = ()
    ignored: frozenset[str] = frozenset()
    ignored_domains: frozenset[str] = frozenset()

    @classmethod
    def build(cls, config: Config, policy: HygienePolicy,
              ignore: Iterable[str] = ()) -> AddressBook:
        """The book for `policy`: conduct address and `ignore` (addresses/@domains) ignored."""
        dotless = frozenset(policy.dotless_domains)
        plus = frozenset(policy.plus_domains)
        members: dict[str, str] = {}
        for m in config.members:
            for a in m.addresses:
                members[normalise_address(a, dotless_domains=dotless, plus_domains=plus)] = m.email
        book = cls(dotless=dotless, plus=plus, member_keys=tuple(sorted(members.items())))
        ignored: set[str] = {book.canonical(config.conduct_address)}
        domains: set[str] = set()
        for item in ignore:
            if item.startswith("@"):
                domains.add(item[1:])
            else:
                ignored.add(book.canonical(item))
        return cls(dotless=dotless, plus=plus, member_keys=book.member_keys,
                   ignored=frozenset(ignored), ignored_domains=frozenset(domains))

    def canonical(self, addr: str) -> str:
        """One key per mailbox (see class docstring)."""
        key = normalise_address(addr, dotless_domains=self.dotless, plus_domains=self.plus)
        return dict(self.member_keys).get(key, key)

    def is_ignored(self, addr: str) -> bool:
        """True for the conduct address and the configured exceptions."""
        key = self.canonical(addr)
        return key in self.ignored or key.rpartition("@")[2] in self.ignored_domains

    def keys(self, addresses: Iterable[Address]) -> dict[str, Address]:
        """Canonical key -> first address for it, ignored ones and non-addresses left out."""
        out: dict[str, Address] = {}
        for a in addresses:
            if "@" not in a.addr or self.is_ignored(a.addr):
                continue
            out.setdefault(self.canonical(a.addr), a)
        return out


@dataclass
class RecipientDiff:
    """Recipients a message added and removed compared with reply-all to its parent."""

    added: dict[str, Address]
    removed: dict[str, Address]

    @property
    def changed(self) -> bool:
        """True when anyone was added or removed."""
        return bool(self.added or self.removed)


def reply_all_diff(book: AddressBook, parent: ParsedMessage, pm: ParsedMessage) -> RecipientDiff:
    """Compare `pm`'s To+Cc with reply-all to `parent` (its From+To+Cc, less the sender).

    A parent with Reply-To is answered at that address; its From then counts as
    neither added nor removed when present or absent.
    """
    sender = pm.first_from
    sender_key = book.canonical(sender.addr) if sender else ""
    base = parent.reply_to or parent.from_
    expected = book.keys([*base, *parent.to, *parent.cc])
    optional = set(book.keys(parent.from_)) if parent.reply_to else set()
    actual = book.keys(pm.recipients)
    for d in (expected, actual):
        d.pop(sender_key, None)
    added = {k: a for k, a in actual.items() if k not in expected and k not in optional}
    removed = {k: a for k, a in expected.items() if k not in actual}
    return RecipientDiff(added=added, removed=removed)


def merge_notes(*parts: Annotations) -> Annotations:
    """Union of several parses (plain and HTML renderings of one body), without repeats."""
    out = Annotations()
    for part in parts:
        for src, dst in ((part.added, out.added), (part.removed, out.removed)):
            for token in src:
                if all(t.casefold() != token.casefold() for t in dst):
                    dst.append(token)
    return out


def message_notes(pm: ParsedMessage) -> Annotations:
    """The ``[+ Name]`` / ``[- Name]`` notes in the author's own lines, plain or HTML."""
    parts = [parse_annotations(top_lines(pm.text_body or ""))]
    if pm.html_body:
        parts.append(parse_annotations(top_lines(html_to_text(pm.html_body))))
    return merge_notes(*parts)


def recipient_for(key: str, address: Address, names: Iterable[str],
                  member: Member | None) -> Recipient:
    """A `Recipient` for matching notes: every name the address is known by.

    The names are the display names seen, the member's roster name, and the
    member's addresses with their local parts (so ``[- maya.chen]`` finds Maya's
    alias).  The address is kept as written.
    """
    found: list[str] = []
    for n in [address.name, *names]:
        n = " ".join((n or "").split())
        if n and n not in found:
            found.append(n)
    if member is not None:
        found.append(member.name)
        for a in member.addresses:
            found.extend([a, a.partition("@")[0]])
    if key != address.key:
        found.append(key)
    # "kim.party@..." is written by someone who thinks of Kim Party: [+ Kim] is fair.
    words = _LOCAL_SPLIT_RE.split(address.key.partition("@")[0])
    if len(words) > 1 and all(w.isalpha() for w in words):
        found.append(" ".join(words))
    return Recipient(addr=address.addr, names=tuple(found))


def display(address: Address) -> str:
    """``Name <addr>`` (or the address), safe for a mail body line."""
    name = clean_header(address.name, limit=100)
    addr = clean_header(address.addr, limit=254)
    return f"{name} <{addr}>" if name and name.lower() != addr.lower() else addr


def _first_name(r: Recipient) -> str:
    return next((n for n in r.names if n and "@" not in n), "")


def recipient_display(r: Recipient) -> str:
    """`display` of a recipient under the first name it is known by."""
    return display(Address(name=_first_name(r), addr=r.addr))


def suggested_note(sign: str, r: Recipient) -> str:
    """The note a writer could have used: ``[+ First name]`` or ``[+ address]``."""
    return f"[{sign} {clean_header(_first_name(r), limit=100) or r.addr}]"
