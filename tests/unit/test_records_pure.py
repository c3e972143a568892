"""Pure parts of the records: normalisation, the blind index, scrubbing, person parsing."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from bot.records.identitykey import (
    Identity,
    IdentityKey,
    IdentityKeyError,
    generate_key,
    normalise_address,
    normalise_name,
)
from bot.records.ladder import parse_duration, record_type
from bot.records.people import PersonError, parse_people
from bot.records.scrub import _terms, scrub_bytes


def test_address_and_name_normalisation() -> None:
    assert normalise_address("Q.Quibble+forum@Example.ORG") == "qquibble@example.org"
    assert normalise_address("<qquibble@example.org>") == "qquibble@example.org"
    assert normalise_name("  QUENTIN   Quibble, Jr. ") == "quentin quibble jr"


def test_blind_index_is_keyed_and_encryption_round_trips() -> None:
    a, b = IdentityKey(generate_key()), IdentityKey(generate_key())
    ident = Identity(("Quentin Quibble",), ("q.quibble+x@example.org",))
    same = Identity(("quentin QUIBBLE",), ("QQuibble@example.org",))
    assert a.digests(ident) == a.digests(same)
    assert set(a.digests(ident)).isdisjoint(b.digests(ident))
    token = a.encrypt(ident)
    assert "quibble" not in token.lower() and a.decrypt(token) == ident
    with pytest.raises(IdentityKeyError):
        b.decrypt(token)
    with pytest.raises(IdentityKeyError):
        IdentityKey("not-a-key")


def test_parse_people_forms() -> None:
    people = parse_people('Ann Able <ann@example.com>, "Bob Bee", cy@example.com')
    assert [(p.identity.names, p.identity.addresses) for p in people] == [
        (("Ann Able",), ("ann@example.com",)), (("Bob Bee",), ()), ((), ("cy@example.com",))]
    assert len(parse_people("Quibble, Quentin; Ann Able")) == 2
    for bad in ("", "Name <not an address>", "x" * 300):
        with pytest.raises(PersonError):
            parse_people(bad)


def test_record_types_and_durations() -> None:
    assert record_type("No violation") == "no-violation" and record_type("flag") == "flagged"
    assert record_type("maybe") is None
    assert [parse_duration(t) for t in ("60d", "8w", "3m", "1y", "60", "0d", "x")] == [
        60, 56, 90, 365, 60, None, None]


def _mail(body: str, *, cte: str | None = None, from_: str = "Sam Jones <sam@example.net>") \
        -> bytes:
    msg = EmailMessage()
    msg["From"] = from_
    msg["To"] = "conduct@example.org, Quentin Quibble <qq@example.org>"
    msg["Subject"] = "Re: about Quentin"
    msg.set_content(body, cte=cte) if cte else msg.set_content(body)
    return msg.as_bytes()


def test_scrub_rewrites_text_parts_and_informational_headers_only() -> None:
    terms = _terms([("Blue Jay", Identity(("Quentin Quibble", "Sam"), ("qq@example.org",)))])
    raw = _mail("Quentin Quibble wrote again; Samantha saw it. Quentin quibble é\n",
                cte="quoted-printable")
    out = scrub_bytes(raw, terms)
    assert out is not None and b"quibble" not in out.lower() and b"qq@example.org" not in out
    msg = BytesParser(policy=policy.default).parsebytes(out)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "[Blue Jay] wrote again; Samantha saw it" in text
    # The sender's header is how the bot knows who wrote: kept, even when a name matches.
    assert msg["From"] == "Sam Jones <sam@example.net>"
    assert "[Blue Jay]" in str(msg["To"])
    plain = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nnothing\r\n"
    assert scrub_bytes(plain, terms) is None
    b64 = _mail("Quentin Quibble in base64 \u2603\n", cte="base64")
    assert b"quibble" not in (scrub_bytes(b64, terms) or b"").lower()
