"""Reported people: recording them in a case, recognising them again, their history.

A person is recognised by the blind index (`bot.records.identitykey`): first
by any address, then, when no address matches, by name.  Either way the
database compares keyed digests only.  A person named by their code name
("Blue Jay", e.g. one imported from the spreadsheet) is linked directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from bot.records.identitykey import Identity, IdentityKey
from bot.records.ladder import highest
from bot.records.personcodes import canonical, new_person_code
from bot.store.models import Case
from bot.store.people import CasePerson, Person, PersonIndex

_ADDR_IN_RE = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>")
_BARE_ADDR_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
MAX_NAME_CHARS = 200


class PersonError(ValueError):
    """The person text cannot be understood, or names nobody in the case."""


@dataclass(frozen=True)
class Named:
    """One person as a command named them: an identity, or an existing code name."""

    identity: Identity
    code: str | None = None


def parse_people(text: str) -> list[Named]:
    """The people in `#person` arguments: "Name <addr>", "Name", or "addr".

    Several people are separated by ";" (or by "," when no ";" is used, so a
    name written "Quibble, Quentin" needs ";" between people).
    """
    text = text.strip()
    if not text:
        raise PersonError("name the person: #person NAME <address>")
    separator = ";" if ";" in text else ","
    parts = [p.strip() for p in text.split(separator) if p.strip()]
    people: list[Named] = []
    for part in parts:
        match = _ADDR_IN_RE.search(part)
        if match:
            address = match.group(1)
            name = (part[:match.start()] + part[match.end():]).strip().strip('"').strip()
        elif _BARE_ADDR_RE.match(part):
            address, name = part, ""
        else:
            address, name = "", part.strip('"').strip()
        if address and not _BARE_ADDR_RE.match(address):
            raise PersonError(f"not an address: {address!r}")
        if "<" in name or ">" in name:
            raise PersonError(f"not an address in <...>: {part!r}")
        if len(name) > MAX_NAME_CHARS:
            raise PersonError("name too long")
        people.append(Named(Identity(names=(name,) if name else (),
                                     addresses=(address.lower(),) if address else ())))
    return people


def person_by_code(session: Session, code: str) -> Person | None:
    """The person whose code name is `code` ("blue jay", "Blue-Jay"...)."""
    return session.exec(select(Person).where(Person.code == canonical(code))).first()


def code_taken(session: Session, code: str) -> bool:
    """True when a person already has (or once had) `code`."""
    return person_by_code(session, code) is not None


def new_person(session: Session, *, code: str | None = None) -> Person:
    """A new person row with a fresh (or the given, imported) code name."""
    person = Person(code=canonical(code) if code else
                    new_person_code(lambda c: code_taken(session, c)))
    session.add(person)
    session.flush()
    return person


def match_person(session: Session, key: IdentityKey, identity: Identity) -> tuple[
        Person | None, str]:
    """The person `identity` belongs to and how it matched ("address", "name" or "")."""
    digests = key.digests(identity)
    for wanted in ("address", "name"):
        values = [d for kind, d in digests if kind == wanted]
        if not values:
            continue
        row = session.exec(select(PersonIndex).where(col(PersonIndex.digest).in_(values))
                           .order_by(col(PersonIndex.id))).first()
        if row is not None:
            return session.get(Person, row.person_id), wanted
    return None, ""


def remember_identity(session: Session, key: IdentityKey, person: Person,
                      identity: Identity) -> None:
    """Add `identity`'s names and addresses to `person` (encrypted, and to the index)."""
    known = key.decrypt(person.identity) if person.identity else Identity()
    merged = known.merged(identity)
    person.identity = key.encrypt(merged)
    session.add(person)
    existing = set(session.exec(select(PersonIndex.digest)
                                .where(PersonIndex.person_id == person.id)).all())
    for kind, digest in key.digests(merged):
        if digest in existing:
            continue
        taken = session.exec(select(PersonIndex).where(PersonIndex.digest == digest)).first()
        if taken is None:
            session.add(PersonIndex(person_id=person.id or 0, digest=digest, kind=kind))
    session.flush()


@dataclass
class Recorded:
    """What recording one person in a case did."""

    person: Person
    link: CasePerson
    new_person: bool
    new_in_case: bool
    matched_by: str = ""
    history: PersonHistory | None = None


def link_person(session: Session, case: Case, person: Person) -> tuple[CasePerson, bool]:
    """The case's row for `person`, created when missing; (row, created)."""
    row = session.exec(select(CasePerson).where(CasePerson.case_id == case.id,
                                                CasePerson.person_id == person.id)).first()
    if row is not None:
        return row, False
    row = CasePerson(case_id=case.id or 0, person_id=person.id or 0)
    session.add(row)
    session.flush()
    return row, True


def record_person(session: Session, key: IdentityKey | None, case: Case,
                  named: Named) -> Recorded:
    """Record `named` in `case`: find or create the person, link them, remember identity."""
    person: Person | None = None
    matched = ""
    if not named.identity.addresses and len(named.identity.names) == 1:
        person = person_by_code(session, named.identity.names[0])
        matched = "code name" if person is not None else ""
    if person is None:
        if key is None:
            raise PersonError("the identity key is not available to the bot, so a real "
                              "name cannot be recorded; name a person by their code name, "
                              "or ask the operator to configure the key")
        person, matched = match_person(session, key, named.identity)
    created = person is None
    if person is None:
        person = new_person(session)
    if key is not None and matched != "code name":
        remember_identity(session, key, person, named.identity)
    history = person_history(session, person, exclude_case=case)
    link, new_link = link_person(session, case, person)
    return Recorded(person=person, link=link, new_person=created, new_in_case=new_link,
                    matched_by=matched, history=history)


@dataclass
class PersonHistory:
    """A person's record across cases, in code names and counts only."""

    cases: int = 0
    ongoing: int = 0
    resolved: int = 0
    highest: str | None = None
    record_types: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """True when any record of the person is flagged."""
        return "flagged" in self.record_types

    @property
    def banned(self) -> bool:
        """True when any record of the person is a ban or suspension."""
        return "banned" in self.record_types

    def summary(self, code: str) -> str:
        """"Person Blue Jay: 2 earlier cases (resolved), highest consequence Warning, flagged"."""
        states = []
        if self.resolved:
            states.append("resolved" if not self.ongoing else f"{self.resolved} resolved")
        if self.ongoing:
            states.append("ongoing" if not self.resolved else f"{self.ongoing} ongoing")
        plural = "case" if self.cases == 1 else "cases"
        text = f"Person {code}: {self.cases} earlier {plural} ({', '.join(states)})"
        text += f", highest consequence {self.highest or 'none recorded'}"
        if self.flagged:
            text += ", flagged"
        if self.banned:
            text += ", banned or suspended"
        return text


def person_history(session: Session, person: Person,
                   exclude_case: Case | None = None) -> PersonHistory:
    """Counts of `person`'s cases (other than `exclude_case`), highest consequence, types."""
    rows = session.exec(
        select(CasePerson, Case).join(Case, col(Case.id) == CasePerson.case_id)
        .where(CasePerson.person_id == person.id)
    ).all()
    hist = PersonHistory()
    consequences: list[str | None] = []
    for link, case in rows:
        if exclude_case is not None and case.id == exclude_case.id:
            continue
        hist.cases += 1
        if case.status == "Resolved":
            hist.resolved += 1
        else:
            hist.ongoing += 1
        consequences.append(link.consequence or case.consequences)
        if link.record_type:
            hist.record_types.append(link.record_type)
    hist.highest = highest(consequences)
    return hist


def case_people(session: Session, case: Case) -> list[tuple[CasePerson, Person]]:
    """The people recorded in `case`, in the order they were recorded."""
    return list(session.exec(
        select(CasePerson, Person).join(Person, col(Person.id) == CasePerson.person_id)
        .where(CasePerson.case_id == case.id).order_by(col(CasePerson.id))
    ).all())


def person_in_case(session: Session, case: Case, text: str) -> tuple[CasePerson, Person]:
    """The person `text` names in `case` (their code name); with no text, the only one."""
    people = case_people(session, case)
    if not text.strip():
        if len(people) == 1:
            return people[0]
        if not people:
            raise PersonError("no person is recorded in this case yet: use #person first")
        names = ", ".join(p.code for _, p in people)
        raise PersonError(f"more than one person in this case ({names}): name one")
    wanted = canonical(text)
    for link, person in people:
        if person.code == wanted:
            return link, person
    names = ", ".join(p.code for _, p in people) or "nobody yet"
    raise PersonError(f"no person {wanted!r} in this case (recorded: {names})")
