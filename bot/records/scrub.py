"""Taking reported people's real names and addresses out of the stored mail of a case.

The identity key is the only place a reported person's identity may live in
the database (the threat model: a stolen database reveals no names).  A
member's ``#person Quentin Quibble <q@example.org>`` command mail, and any
later mail on the thread quoting it, would otherwise keep the name in clear;
so once a person is recorded, every stored copy of the case's mail has their
names and addresses replaced by ``[Blue Jay]``.  Members keep the original
mail in their own mailboxes; the records keep the code name.

The message is re-serialised with its text parts and headers rewritten
(quoted-printable or base64 bodies cannot be edited as bytes).  The stored
``raw_sha256`` stays the hash of the bytes that arrived, so a second delivery
of the very same message is still recognised as a duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr, getaddresses

from sqlmodel import Session, col, select

from bot.records.identitykey import Identity, IdentityKey, IdentityKeyError
from bot.store.models import Case, InboundMessage, Outbox
from bot.store.people import CasePerson, Person

# Outbox rows whose bytes may be rewritten: mail already out of the door, and
# mail to members only (a queued mail to a reporter must go out as decided).
_MEMBER_KINDS = ("transcript", "warning", "repeat_person", "command_held")
MIN_TERM_CHARS = 3


# Headers the bot reads to decide who wrote a message and whether it is
# authenticated, or that identify it: never rewritten (a reported person who
# writes in is a participant under their own address, as the README says).
_KEEP_HEADERS = frozenset({"from", "sender", "reply-to", "authentication-results",
                           "arc-authentication-results", "arc-seal", "arc-message-signature",
                           "dkim-signature", "received", "message-id", "in-reply-to",
                           "references", "return-path", "x-original-from",
                           "x-original-sender", "content-type", "content-transfer-encoding",
                           "mime-version", "content-disposition"})


def _terms(identities: Iterable[tuple[str, Identity]]) -> list[tuple[re.Pattern[str], str]]:
    """Patterns for every address (as written) and name (whole words only) of the people."""
    out: list[tuple[re.Pattern[str], str]] = []
    for code, identity in identities:
        words = [(a, False) for a in identity.addresses] + [(n, True) for n in identity.names]
        for word, whole in sorted(set(words), key=lambda w: len(w[0]), reverse=True):
            if len(word) < MIN_TERM_CHARS:
                continue
            pattern = re.escape(word)
            if whole:
                # "Sam" must not eat "Samantha" or a member's "Sam Jones" address.
                pattern = rf"(?<![\w@.]){pattern}(?![\w@])"
            out.append((re.compile(pattern, re.IGNORECASE), f"[{code}]"))
    return out


_ADDRESS_HEADERS = frozenset({"to", "cc", "bcc", "resent-to", "resent-cc", "delivered-to",
                              "x-original-to"})


def _address_list(text: str, terms: list[tuple[re.Pattern[str], str]]) -> str:
    """An address header with each matching mailbox replaced by a placeholder mailbox."""
    out = []
    for name, addr in getaddresses([text]):
        hit = next((ph for pattern, ph in terms if pattern.search(addr) or
                    (name and pattern.search(name))), None)
        if hit is None:
            out.append(formataddr((name, addr)) if name else addr)
        else:
            # A parsable stand-in: "[Blue Jay]" <blue-jay@person.invalid> (RFC 2606).
            slug = "-".join(hit.strip("[]").lower().split())
            out.append(formataddr((hit, f"{slug}@person.invalid")))
    return ", ".join(out)


def _replace(text: str, terms: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, placeholder in terms:
        text = pattern.sub(placeholder, text)
    return text


def scrub_bytes(raw: bytes, terms: list[tuple[re.Pattern[str], str]]) -> bytes | None:
    """`raw` with every term replaced in its headers and text parts; None when unchanged."""
    if not terms:
        return None
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    changed = False
    for part in msg.walk():
        assert isinstance(part, EmailMessage)
        for name, value in list(part.items()):
            if name.lower() in _KEEP_HEADERS:
                continue
            text = str(value)
            new = _address_list(text, terms) if name.lower() in _ADDRESS_HEADERS else \
                _replace(text, terms)
            if new != text:
                del part[name]
                part[name] = new.replace("\r", " ").replace("\n", " ")
                changed = True
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        try:
            body = part.get_content()
        except (LookupError, ValueError):
            continue
        new_body = _replace(body, terms)
        if new_body != body:
            part.set_content(new_body, subtype=part.get_content_subtype(), charset="utf-8")
            changed = True
    out = msg.as_bytes(policy=policy.SMTP) if changed else raw
    # Anything the structured rewrite missed in the body (an odd encoding, a
    # malformed part) goes as plain bytes; the kept headers stay as they are.
    split = re.search(rb"\r?\n\r?\n", out)
    head, body = (out[:split.end()], out[split.end():]) if split else (out, b"")
    for pattern, placeholder in terms:
        bpattern = re.compile(pattern.pattern.encode("utf-8"), re.IGNORECASE)
        body, n = bpattern.subn(placeholder.encode("utf-8"), body)
        changed = changed or n > 0
    return head + body if changed else None


def case_identities(session: Session, key: IdentityKey, case_ids: list[int]) -> list[
        tuple[str, Identity]]:
    """(code, identity) of every person recorded in the cases `case_ids`."""
    rows = session.exec(
        select(Person).join(CasePerson, col(CasePerson.person_id) == Person.id)
        .where(col(CasePerson.case_id).in_(case_ids))
    ).all()
    out: list[tuple[str, Identity]] = []
    for person in rows:
        if person.identity:
            try:
                out.append((person.code, key.decrypt(person.identity)))
            except IdentityKeyError:
                continue
    return out


def _case_ids(session: Session, case: Case) -> list[int]:
    ids = [case.id or 0]
    ids.extend(i for i in session.exec(select(Case.id).where(Case.merged_into == case.id)).all()
               if i is not None)
    return ids


def scrub_text(session: Session, key: IdentityKey, case: Case, text: str) -> str:
    """`text` with the case's recorded people's names and addresses as their code names."""
    terms = _terms(case_identities(session, key, _case_ids(session, case)))
    return _replace(text, terms) if terms else text


def scrub_inbound(row: InboundMessage, terms: list[tuple[re.Pattern[str], str]]) -> bool:
    """Scrub one stored message (raw and subject); True when it changed."""
    new = scrub_bytes(row.raw, terms)
    subject = _replace(row.subject or "", terms)
    if new is None and subject == row.subject:
        return False
    if new is not None:
        row.raw = new
        row.size = len(new)
    row.subject = subject
    return True


def scrub_case(session: Session, key: IdentityKey, case: Case,
               only: InboundMessage | None = None) -> int:
    """Replace recorded people's identities in the case's stored mail; returns rows changed.

    With `only`, just that inbound message (and the case's member mail queued in
    this transaction) is scrubbed: the rest was scrubbed when it was filed.
    """
    ids = _case_ids(session, case)
    terms = _terms(case_identities(session, key, ids))
    if not terms:
        return 0
    changed = 0
    inbound = [only] if only is not None else session.exec(
        select(InboundMessage).where(col(InboundMessage.case_id).in_(ids))).all()
    for row in inbound:
        if scrub_inbound(row, terms):
            session.add(row)
            changed += 1
    outbox = session.exec(select(Outbox).where(col(Outbox.case_id).in_(ids))).all()
    for out in outbox:
        if out.status == "queued" and out.kind not in _MEMBER_KINDS:
            continue
        new = scrub_bytes(out.raw, terms)
        if new is not None:
            out.raw = new
            session.add(out)
            changed += 1
    session.flush()
    return changed
