"""Thread-hygiene rule kinds: the recipient-change convention and the cc-conduct rule.

The communications guidelines ask two things no mail system enforces: note any
change of recipients at the top of a message (``[+ Name]`` / ``[- Name]``), and
always copy the conduct address (or forward replies that lost it).  They also
forbid disclosing a reporter's identity outside the group.  Four kinds check that:

- ``recipient_change``: a message's To+Cc against what reply-all to its parent
  would have had, and the notes at the top of its body;
- ``cc_conduct_missing``: the message reached the bot although the conduct address
  is in neither To nor Cc (Bcc, a redirect or a forward from someone's mailbox);
- ``unseen_citation``: the message cites, after a message the bot knows, one it
  never received: someone's reply left the conduct address out;
- ``reporter_leak``: a member's message going outside the group carries the
  reporter's name, address or username.

A check returns a `RuleHit` whose ``data["finding"]`` is a `Finding`; the hygiene
handler (`bot.handlers.hygiene`) decides from the rule's policy who is told and
sends at most one warning per problem and thread.  The pure parts (address
comparison, gaps in References, identity search) are module-level functions.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator
from sqlmodel import Session, col, select

from bot.annotations import (
    Annotations,
    Discrepancy,
    Recipient,
    check_annotations,
    normalise_address,
    parse_annotations,
)
from bot.config import Config, Member
from bot.message import Address, ParsedMessage
from bot.models import Case, CaseMessage, Event, InboundMessage, Outbox, Participant
from bot.msgids import own_case_id
from bot.parse import ParseError, extract_forwarded, parse_message
from bot.quoting import html_to_text, top_lines
from bot.render import clean_header
from bot.rules.base import Policy, RuleHit, RuleKind, rule_kind

if TYPE_CHECKING:
    from bot.pipeline import MessageContext

HYGIENE_CHAIN = "hygiene"
# Who a rule's `notify` / `outsider_notify` may name.  Every one resolves to members
# only: warnings never go to a reporter or anyone outside the group.
AUDIENCES = ("sender", "point_of_contact", "chairs")
# Event kind carrying a username the reporter uses (data: {"username": ...}).
REPORTER_USERNAME_EVENT = "reporter_username"
# Kinds of filed message the checks look at: replies and forwards within a case.
CHECKED_KINDS = frozenset({"inbound", "forwarded"})

_TEMPLATE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")
_SUBJECT_LIMIT = 200
_LOCAL_SPLIT_RE = re.compile(r"[._-]+")

# --------------------------------------------------------------------------- policies


def _check_address_list(values: list[str]) -> list[str]:
    out = []
    for value in values:
        v = value.strip().lower()
        local, at, domain = v.rpartition("@")
        if not at or not domain or not _DOMAIN_RE.match(domain) or " " in v:
            raise ValueError(f"not an address or @domain: {value!r}")
        out.append(v if local else f"@{domain}")
    return out


class HygienePolicy(Policy):
    """Keys every hygiene rule has.

    - notify: who gets `template` ("sender": the sender when a member;
      "point_of_contact": the case's point of contact, else the chairs; "chairs").
    - outsider_notify / outsider_template: who is told, and with what, when the
      sender is not a member (outsiders are never lectured; empty: only the case
      history records it).
    - dotless_domains / plus_domains: providers where dots / ``+tags`` in the local
      part do not change the mailbox (e.g. gmail.com).
    """

    chain: str = HYGIENE_CHAIN
    template: str
    notify: list[str] = Field(default_factory=lambda: ["sender"])
    outsider_template: str | None = None
    outsider_notify: list[str] = Field(default_factory=list)
    dotless_domains: list[str] = Field(default_factory=list)
    plus_domains: list[str] = Field(default_factory=list)

    @field_validator("chain")
    @classmethod
    def _hygiene_chain(cls, v: str) -> str:
        if v != HYGIENE_CHAIN:
            raise ValueError(f"hygiene rules run in the {HYGIENE_CHAIN!r} chain")
        return v

    @field_validator("notify", "outsider_notify")
    @classmethod
    def _known_audiences(cls, v: list[str], info: ValidationInfo) -> list[str]:
        for who in v:
            if who not in AUDIENCES:
                raise ValueError(f"unknown audience {who!r} (use {', '.join(AUDIENCES)})")
        if v and info.field_name == "outsider_notify" and not info.data.get("outsider_template"):
            raise ValueError("needs an outsider_template")
        return v

    @field_validator("template", "outsider_template")
    @classmethod
    def _template_name(cls, v: str | None) -> str | None:
        if v is not None and not _TEMPLATE_NAME_RE.match(v):
            raise ValueError("a template name (file in templates/ without .txt.j2)")
        return v

    @field_validator("dotless_domains", "plus_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        out = [d.strip().lower().rstrip(".") for d in v]
        for d in out:
            if not _DOMAIN_RE.match(d) or "." not in d:
                raise ValueError(f"not a domain: {d!r}")
        return out



class RecipientChangePolicy(HygienePolicy):
    """Keys of ``recipient_change``.

    - free_addresses: addresses (or ``@domain``) that may be added or removed freely.
    - internal_exempt: a message whose recipients are all members (besides the
      conduct address) needs no notes: it cannot share anything by mistake, and
      members often take a discussion off the reporter's thread that way.
    - notice_member_changes: whether an outsider adding or dropping a member is
      worth telling the point of contact (members get the thread through the
      conduct address anyway, so by default it is not).
    """

    template: str = "warn_recipients"
    outsider_template: str | None = "notice_outsider_recipients"
    outsider_notify: list[str] = Field(default_factory=lambda: ["point_of_contact"])
    free_addresses: list[str] = Field(default_factory=list)
    internal_exempt: bool = True
    notice_member_changes: bool = False

    @field_validator("free_addresses")
    @classmethod
    def _free(cls, v: list[str]) -> list[str]:
        return _check_address_list(v)


class CcConductPolicy(HygienePolicy):
    """`conduct_aliases`: other addresses that deliver to the conduct address."""

    template: str = "warn_cc_conduct"
    conduct_aliases: list[str] = Field(default_factory=list)

    @field_validator("conduct_aliases")
    @classmethod
    def _aliases(cls, v: list[str]) -> list[str]:
        return _check_address_list(v)


class UnseenCitationPolicy(HygienePolicy):
    """Tells the point of contact (by default) which thread lost a message."""

    template: str = "alert_unseen_reply"
    notify: list[str] = Field(default_factory=lambda: ["point_of_contact"])


class ReporterLeakPolicy(HygienePolicy):
    """How the reporter's identity is looked for.

    - min_name_part: shortest part of the reporter's name searched on its own
      (the full name is always searched).
    - ignore_words: name parts and address local parts too common to search alone
      ("will", "info", ...), compared case-insensitively.
    - trusted_addresses: recipients (address or ``@domain``) that do not count as
      outside the group (e.g. the DSF board's address).
    """

    template: str = "warn_reporter_leak"
    min_name_part: int = 3
    ignore_words: list[str] = Field(default_factory=list)
    trusted_addresses: list[str] = Field(default_factory=list)

    @field_validator("trusted_addresses")
    @classmethod
    def _trusted(cls, v: list[str]) -> list[str]:
        return _check_address_list(v)

    @field_validator("min_name_part")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v


# --------------------------------------------------------------------------- findings


@dataclass
class Finding:
    """What a hygiene rule found in one message.

    - thread: root Message-ID of the sub-thread (first of References);
    - signature: the problem, stable across replies in the thread (dedupe key part);
    - context: template variables for the warning (member-only mail);
    - outsider_context: template variables for `outsider_template`;
    - record: data for the case-history event.
    """

    thread: str
    signature: str
    context: dict[str, Any] = field(default_factory=dict)
    outsider_context: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


def signature_of(*parts: Iterable[str] | str) -> str:
    """A short stable hash of `parts` (keeps addresses out of dedupe keys)."""
    h = hashlib.sha256()
    for part in parts:
        items = [part] if isinstance(part, str) else sorted(part)
        for item in items:
            h.update(item.encode("utf-8", "replace"))
            h.update(b"\x00")
        h.update(b"\x01")
    return h.hexdigest()[:32]


def thread_root(pm: ParsedMessage) -> str:
    """The first message of `pm`'s thread as far as it knows (else its own id)."""
    if pm.references:
        return pm.references[0]
    if pm.in_reply_to:
        return pm.in_reply_to[0]
    return pm.message_id or ""


# --------------------------------------------------------------------------- addresses


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


def suggested_note(sign: str, r: Recipient) -> str:
    """The note a writer could have used: ``[+ First name]`` or ``[+ address]``."""
    name = next((n for n in r.names if n and "@" not in n), "")
    return f"[{sign} {clean_header(name, limit=100) or r.addr}]"


# --------------------------------------------------------------------------- citations


def citation_gaps(references: Sequence[str], in_reply_to: Sequence[str],
                  known: set[str], unseen: set[str]) -> list[str]:
    """Unseen ids cited *after* a message the bot knows, oldest first.

    References lists a thread oldest first; ids before the first known one are the
    thread's history before the group was involved (a report citing the mail it
    complains about), not a gap.  The In-Reply-To id goes last when References
    lacks it.  Without any known id the position of a gap cannot be told: none.
    """
    order = list(dict.fromkeys([*references, *[i for i in in_reply_to if i not in references]]))
    anchor = next((i for i, mid in enumerate(order) if mid in known), None)
    if anchor is None:
        return []
    return [mid for mid in order[anchor + 1 :] if mid in unseen and mid not in known]


# --------------------------------------------------------------------------- identities


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


@dataclass(frozen=True)
class IdentityPattern:
    """One thing to look for: what it is ("name", "email address", "username")."""

    what: str
    pattern: re.Pattern[str]


def _word_pattern(term: str) -> re.Pattern[str]:
    """`term` (already folded) as a whole word, any whitespace between its words."""
    words = [re.escape(w) for w in term.split()]
    return re.compile(r"(?<![\w.+-])" + r"\s+".join(words) + r"(?![\w-]|\.[\w-])")


def identity_patterns(identity: Identity, *, min_name_part: int,
                      ignore_words: Iterable[str]) -> list[IdentityPattern]:
    """Patterns for `identity`, on `fold`-ed text.

    Every full name; each part of a name (also the halves of hyphenated parts)
    with at least `min_name_part` letters unless in `ignore_words`; every address;
    the local part of each address and every recorded username as a whole word
    (``@handle`` too), with the same length and common-word limits.
    """
    ignored = {fold(w).strip() for w in ignore_words}
    out: list[IdentityPattern] = []
    seen: set[tuple[str, str]] = set()

    def add(what: str, term: str) -> None:
        term = " ".join(fold(term).split())
        if term and (what, term) not in seen:
            seen.add((what, term))
            out.append(IdentityPattern(what, _word_pattern(term)))

    def usable(part: str) -> bool:
        letters = sum(ch.isalpha() for ch in part)
        return letters >= min_name_part and fold(part) not in ignored

    for name in identity.names:
        clean = " ".join(name.replace('"', " ").split()).strip(" ,;()<>'")
        if not clean or "@" in clean:
            continue
        add("name", clean)
        for word in clean.split():
            word = word.strip(",;:()<>'\".")
            pieces = [word, *word.split("-")] if "-" in word else [word]
            for piece in pieces:
                if usable(piece):
                    add("name", piece)
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
    found: list[str] = []
    for p in patterns:
        if p.what not in found and p.pattern.search(folded):
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


# --------------------------------------------------------------------------- case data


def case_names(session: Session, case: Case) -> dict[str, str]:
    """Display names recorded for the case's participants, by address."""
    rows = session.exec(select(Participant).where(Participant.case_id == case.id)).all()
    return {p.address: p.name for p in rows if p.name}


def load_message(session: Session, app_secret: str, mid: str) -> ParsedMessage | None:
    """The filed (or sent) message with Message-ID `mid`, parsed, or None.

    A forward filed as its original is found inside the forward's raw bytes; the
    bot's own mail whose copy has not come back yet is read from the outbox.
    """
    row = session.exec(select(CaseMessage).where(CaseMessage.message_id == mid)).first()
    raw: bytes | None = None
    if row is not None and row.seen and row.inbound_id is not None:
        inbound = session.get(InboundMessage, row.inbound_id)
        raw = inbound.raw if inbound is not None else None
    if raw is None and own_case_id(app_secret, mid) is not None:
        out = session.exec(select(Outbox).where(Outbox.message_id == mid)).first()
        raw = out.raw if out is not None else None
    if raw is None:
        return None
    try:
        pm = parse_message(raw)
    except ParseError:
        return None
    if pm.message_id != mid:
        inner = extract_forwarded(pm)
        if inner is not None and inner.message_id == mid:
            return inner
    return pm


def find_parent(session: Session, app_secret: str, pm: ParsedMessage) -> ParsedMessage | None:
    """The message `pm` answers: its In-Reply-To if filed, else the newest filed reference."""
    for mid in [*pm.in_reply_to[:1], *reversed(pm.references)]:
        parent = load_message(session, app_secret, mid)
        if parent is not None:
            return parent
    return None


def seen_ids(session: Session, ids: Sequence[str]) -> set[str]:
    """Those of `ids` that a filed message carries."""
    if not ids:
        return set()
    return set(session.exec(
        select(CaseMessage.message_id).where(col(CaseMessage.message_id).in_(list(ids)),
                                             CaseMessage.seen == True)  # noqa: E712
    ).all())


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
        select(Event).where(Event.case_id == case.id, Event.kind == REPORTER_USERNAME_EVENT)
    ).all() if e.data.get("username")]
    return Identity(names=tuple(names), addresses=tuple(addresses), usernames=tuple(usernames))


def when(config: Config, moment: datetime | None) -> str:
    """A date for a warning, in the group's time zone."""
    if moment is None:
        return "(no date)"
    return moment.astimezone(config.schedule.zone).strftime("%Y-%m-%d %H:%M %Z")


def message_context(ctx: MessageContext, pm: ParsedMessage) -> dict[str, Any]:
    """Template variables describing `pm`: its date and sender (never its subject or text:
    warnings quote nothing of the case)."""
    sender = pm.first_from
    return {
        "message_date": when(ctx.app.config, pm.date or ctx.inbound.received_at),
        "message_sender": display(sender) if sender else "(unknown sender)",
    }


_AUTO_PRECEDENCE_RE = re.compile(r"^\s*(bulk|junk|list)\b", re.IGNORECASE)


def is_automatic(pm: ParsedMessage) -> bool:
    """Bounces, auto-replies and list mail: nobody chose their recipients."""
    auto = (pm.header("Auto-Submitted") or "no").strip().lower()
    return (pm.is_dsn or not auto.startswith("no") or pm.header("List-Id") is not None
            or bool(_AUTO_PRECEDENCE_RE.match(pm.header("Precedence") or "")))


def _policy(rule: RuleKind, cls: type[HygienePolicy]) -> Any:
    policy = rule.policy
    assert isinstance(policy, cls)
    return policy


# --------------------------------------------------------------------------- kinds


@rule_kind
class RecipientChange(RuleKind):
    """Recipients changed against reply-all to the parent, without matching notes."""

    kind = "recipient_change"
    policy_model = RecipientChangePolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Compare To+Cc with reply-all to the parent and the notes at the top."""
        policy: RecipientChangePolicy = _policy(self, RecipientChangePolicy)
        pm = ctx.pm
        if ctx.inbound.kind != "inbound" or is_automatic(pm):
            return None  # a forward starts a new conversation; reporter_leak covers it
        parent = find_parent(ctx.session, ctx.app.secret, pm)
        if parent is None:
            return None
        config = ctx.app.config
        book = AddressBook.build(config, policy, policy.free_addresses)
        members = {m.email for m in config.members}
        if policy.internal_exempt and set(book.keys(pm.recipients)) <= members:
            return None  # only the group can read it: nothing can be shared by mistake
        diff = reply_all_diff(book, parent, pm)
        if ctx.sender_member is None and not policy.notice_member_changes:
            diff.added = {k: a for k, a in diff.added.items() if k not in members}
            diff.removed = {k: a for k, a in diff.removed.items() if k not in members}
        if not diff.changed:
            return None
        seen_names = case_names(ctx.session, ctx.case)

        def recipients(found: dict[str, Address]) -> list[Recipient]:
            out = []
            for key, address in found.items():
                names = [a.name for m in (pm, parent)
                         for a in [*m.from_, *m.to, *m.cc, *m.reply_to]
                         if a.name and book.canonical(a.addr) == key]
                names.append(seen_names.get(address.key, ""))
                out.append(recipient_for(key, address, names, config.member_for(key)))
            return out

        added, removed = recipients(diff.added), recipients(diff.removed)
        notes = message_notes(pm)
        result = check_annotations(added, removed, notes)
        sender = pm.first_from
        sender_key = book.canonical(sender.addr) if sender else ""
        if ctx.sender_member is not None and result.ok:
            return None
        base = message_context(ctx, pm)
        record: dict[str, Any] = {
            "added": sorted(diff.added), "removed": sorted(diff.removed),
            "noted": result.ok,
        }
        signature = signature_of(sender_key, [f"+{k}" for k in diff.added],
                                 [f"-{k}" for k in diff.removed],
                                 _problem_tokens(result))
        context = {**base, **_discrepancy_context(result)}
        outsider_context = {
            **base,
            "added": [display(a) for a in diff.added.values()],
            "removed": [display(a) for a in diff.removed.values()],
            "noted": result.ok,
        }
        return self.hit(finding=Finding(thread=thread_root(pm), signature=signature,
                                        context=context, outsider_context=outsider_context,
                                        record=record))


def _problem_tokens(result: Discrepancy) -> list[str]:
    return [*(f"?+{fold(t)}" for t in result.extra_added),
            *(f"?-{fold(t)}" for t in result.extra_removed)]


def _discrepancy_context(result: Discrepancy) -> dict[str, Any]:
    return {
        "missing_added": [_recipient_display(r) for r in result.unannounced_added],
        "missing_removed": [_recipient_display(r) for r in result.unannounced_removed],
        "extra_added": [clean_header(t, limit=100) for t in result.extra_added],
        "extra_removed": [clean_header(t, limit=100) for t in result.extra_removed],
        "suggested_notes": [*(suggested_note("+", r) for r in result.unannounced_added),
                            *(suggested_note("-", r) for r in result.unannounced_removed)],
    }


def _recipient_display(r: Recipient) -> str:
    name = next((n for n in r.names if n and "@" not in n), "")
    return display(Address(name=name, addr=r.addr))


@rule_kind
class CcConductMissing(RuleKind):
    """The message reached the bot though the conduct address is in neither To nor Cc."""

    kind = "cc_conduct_missing"
    policy_model = CcConductPolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Look for the conduct address (or an alias) among To and Cc."""
        policy: CcConductPolicy = _policy(self, CcConductPolicy)
        if ctx.inbound.kind not in CHECKED_KINDS or is_automatic(ctx.pm):
            return None
        config = ctx.app.config
        book = AddressBook.build(config, policy)
        conduct = {book.canonical(config.conduct_address),
                   *(book.canonical(a) for a in policy.conduct_aliases if not a.startswith("@"))}
        domains = {a[1:] for a in policy.conduct_aliases if a.startswith("@")}
        for a in ctx.pm.recipients:
            key = book.canonical(a.addr)
            if key in conduct or key.rpartition("@")[2] in domains:
                return None
        pm = ctx.pm
        sender = pm.first_from
        redirected = bool(pm.header("Resent-From") or pm.header("Resent-To"))
        base = message_context(ctx, pm)
        return self.hit(finding=Finding(
            thread=thread_root(pm),
            signature=signature_of(book.canonical(sender.addr) if sender else ""),
            context={**base, "redirected": redirected},
            outsider_context={**base, "redirected": redirected},
            record={"redirected": redirected},
        ))


@rule_kind
class UnseenCitation(RuleKind):
    """The message cites, after a known message, one the bot never received."""

    kind = "unseen_citation"
    policy_model = UnseenCitationPolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Find unseen ids after the first known one in References / In-Reply-To."""
        if ctx.inbound.kind not in CHECKED_KINDS:
            return None
        source = ctx.forwarded if ctx.inbound.kind == "forwarded" and ctx.forwarded else ctx.pm
        cited = source.cited_ids
        if not cited:
            return None
        secret = ctx.app.secret
        seen = seen_ids(ctx.session, cited)
        known = seen | {m for m in cited if own_case_id(secret, m) is not None}
        unseen = {m for m in cited if m not in known}
        gaps = citation_gaps(source.references, source.in_reply_to, known, unseen)
        if not gaps:
            return None
        order = [*source.references, *source.in_reply_to]
        before = [m for m in order[: order.index(gaps[0])] if m in known]
        subject = ""
        for mid in reversed(before):
            subject = _known_subject(ctx.session, secret, mid)
            if subject:
                break
        base = message_context(ctx, source)
        fallback = clean_header(source.subject, limit=_SUBJECT_LIMIT) or "(no subject)"
        context = {**base, "thread_subject": subject or fallback,
                   "missing_count": len(gaps)}
        return self.hit(finding=Finding(
            thread=thread_root(source), signature=signature_of(gaps), context=context,
            outsider_context=context, record={"unseen": gaps},
        ))


def _known_subject(session: Session, secret: str, mid: str) -> str:
    """The sanitised subject of the known message `mid` ("" when unknown)."""
    row = session.exec(select(CaseMessage).where(CaseMessage.message_id == mid)).first()
    if row is not None and row.inbound_id is not None:
        inbound = session.get(InboundMessage, row.inbound_id)
        if inbound is not None and inbound.subject:
            return clean_header(inbound.subject, limit=_SUBJECT_LIMIT)
    if own_case_id(secret, mid) is not None:
        out = session.exec(select(Outbox).where(Outbox.message_id == mid)).first()
        if out is not None:
            try:
                return clean_header(parse_message(out.raw).subject, limit=_SUBJECT_LIMIT)
            except ParseError:
                return ""
    return ""


@rule_kind
class ReporterLeak(RuleKind):
    """A member's message going outside the group names or addresses the reporter."""

    kind = "reporter_leak"
    policy_model = ReporterLeakPolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Search the message for the reporter's identity when outsiders receive it."""
        policy: ReporterLeakPolicy = _policy(self, ReporterLeakPolicy)
        if ctx.sender_member is None or ctx.inbound.kind not in CHECKED_KINDS:
            return None
        config = ctx.app.config
        identity = reporter_identity(ctx.session, ctx.case)
        book = AddressBook.build(config, policy, [*policy.trusted_addresses,
                                                  *identity.addresses])
        member_emails = {m.email for m in config.members}
        outsiders = {k: a for k, a in book.keys(ctx.pm.recipients).items()
                     if k not in member_emails}
        if not outsiders:
            return None
        patterns = identity_patterns(identity, min_name_part=policy.min_name_part,
                                     ignore_words=policy.ignore_words)
        found: dict[str, list[str]] = {}
        for where, text in message_texts(ctx.pm):
            for what in find_identity(text, patterns):
                found.setdefault(what, [])
                if where not in found[what]:
                    found[what].append(where)
        if not found:
            return None
        # The text they wrote also sits inside the whole body; say the specific place.
        for places in found.values():
            if OWN_TEXT in places and WHOLE_TEXT in places:
                places.remove(WHOLE_TEXT)
        base = message_context(ctx, ctx.pm)
        sender = ctx.pm.first_from
        return self.hit(finding=Finding(
            thread=thread_root(ctx.pm),
            signature=signature_of(book.canonical(sender.addr) if sender else "",
                                   list(found), list(outsiders)),
            context={**base, "found": [{"what": w, "where": p} for w, p in found.items()],
                     "outsiders": [display(a) for a in outsiders.values()]},
            record={"found": sorted(found), "outsiders": len(outsiders)},
        ))
