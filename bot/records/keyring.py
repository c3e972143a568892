"""The Person Identity Key as a listing, and rotating the key it is encrypted with.

The manual's identity key maps real names to Person Code Names "and tracks
report counts and highest recorded consequence".  Reading it needs the key;
without the key the records still work, by code name.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, delete, select

from bot.core.events import EventKind
from bot.records.identitykey import CHECK_SETTING, IdentityKey, verify_key
from bot.records.people import person_by_code, person_history
from bot.store.models import Setting
from bot.store.people import Person, PersonIndex
from bot.store.records import add_event


def person_entry(session: Session, key: IdentityKey, person: Person) -> dict[str, Any]:
    """One line of the identity key: code, names, addresses, reports, highest consequence."""
    identity = key.decrypt(person.identity) if person.identity else None
    hist = person_history(session, person)
    return {
        "person_code": person.code,
        "names": list(identity.names) if identity else [],
        "addresses": list(identity.addresses) if identity else [],
        "reports": hist.cases,
        "highest_consequence": hist.highest or "",
        "flagged": hist.flagged,
        "banned": hist.banned,
        "identity": "on file" if identity else "none (imported or purged)",
    }


def identity_key_rows(session: Session, key: IdentityKey) -> list[dict[str, Any]]:
    """The whole identity key, in code-name order (checks the key first)."""
    verify_key(session, key)
    people = session.exec(select(Person).order_by(col(Person.code))).all()
    return [person_entry(session, key, p) for p in people]


def identity_entry(session: Session, key: IdentityKey, code: str) -> dict[str, Any] | None:
    """The identity key's entry for person `code`, or None."""
    verify_key(session, key)
    person = person_by_code(session, code)
    return person_entry(session, key, person) if person is not None else None


def rotate_key(session: Session, old: IdentityKey, new: IdentityKey) -> int:
    """Re-encrypt every identity and rebuild the blind index under `new`; returns people."""
    verify_key(session, old)
    people = session.exec(select(Person)).all()
    plain = {p.id: old.decrypt(p.identity) for p in people if p.identity}
    session.exec(delete(PersonIndex))  # type: ignore[call-overload]
    session.flush()
    for person in people:
        identity = plain.get(person.id)
        if identity is None:
            continue
        person.identity = new.encrypt(identity)
        session.add(person)
        for kind, digest in new.digests(identity):
            if session.exec(select(PersonIndex.id).where(PersonIndex.digest == digest)
                            ).first() is None:
                session.add(PersonIndex(person_id=person.id or 0, digest=digest, kind=kind))
                session.flush()
    row = session.get(Setting, CHECK_SETTING)
    assert row is not None
    row.value = new.check_value()
    session.add(row)
    add_event(session, None, EventKind.IDENTITY_KEY_ROTATED, people=len(plain))
    session.flush()
    return len(plain)
