"""Header values the bot writes: nested encodings, controls, and the final check."""

from __future__ import annotations

import base64
import email
import email.headerregistry
import email.policy
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.config import parse_config
from bot.mail.msgids import make_message_id, own_case_id
from bot.outbound.outbox import build_message
from bot.outbound.safeheaders import (
    HeaderCheckError,
    PreparedHeader,
    check_header_block,
    encode_mailbox,
    encode_unstructured,
    hides_controls,
    plain_text,
)
from tests.helpers import config_dict

PAYLOAD = "x\r\nBcc: victim@phish.example\r\nReply-To: evil@phish.example\r\n\r\n<b>hi</b>"


def ew(text: str, enc: str = "b") -> str:
    data = text.encode()
    if enc == "b":
        return f"=?utf-8?b?{base64.b64encode(data).decode()}?="
    return "=?utf-8?q?" + "".join(f"={b:02X}" for b in data) + "?="


def nest(text: str, levels: int, encs: str = "b") -> str:
    for i in range(levels):
        text = ew(text, encs[i % len(encs)])
    return text


@pytest.mark.parametrize("levels", [1, 2, 3, 5])
@pytest.mark.parametrize("encs", ["b", "q", "bq"])
def test_nested_encodings_decode_to_one_clean_line(levels: int, encs: str) -> None:
    text = plain_text(nest(PAYLOAD, levels, encs))
    assert "\r" not in text and "\n" not in text and "=?" not in text
    assert text.startswith("x Bcc: victim@phish.example")


def test_folded_encoded_words_join_before_decoding() -> None:
    inner = nest(PAYLOAD, 2)
    half = len(inner) // 2
    value = f"{ew(inner[:half])}\r\n {ew(inner[half:])}"
    assert plain_text(value).startswith("x Bcc:")


def test_endless_nesting_is_defused() -> None:
    text = plain_text(nest("hello", 20))
    assert "=?" not in text  # what could not be decoded within the bound is broken up


@pytest.mark.parametrize("value", [nest(PAYLOAD, 3), "Grüße " * 40, "a" * 300,
                                   "plain words", "=?bogus?x?y?=", "\u2028line\u2029sep\x85"])
def test_encoded_values_are_ascii_and_fold_cleanly(value: str) -> None:
    folded = encode_unstructured("Subject", value)
    assert folded.isascii()
    for line in folded.split("\r\n"):
        assert len(line) <= 78 and "\r" not in line and "\n" not in line
    assert re.fullmatch(r"[^\r\n]*(\r\n [^\r\n]*)*", folded)


def test_mailbox_with_hostile_display_name() -> None:
    folded = encode_mailbox("From", nest(PAYLOAD, 3), "conduct@example.org")
    assert folded.endswith("<conduct@example.org>") and folded.isascii()
    with pytest.raises(HeaderCheckError):
        encode_mailbox("From", "x", "a@b.example>\r\nBcc: c@d.example")


def test_prepared_header_refuses_line_breaks() -> None:
    with pytest.raises(HeaderCheckError):
        PreparedHeader("Subject", "x\r\nBcc: a@b.example")
    with pytest.raises(HeaderCheckError):
        PreparedHeader("Subject", "x\nBcc: a@b.example")


def test_hides_controls() -> None:
    assert hides_controls(nest("Jo\r\nX-Evil: 1", 3))
    assert not hides_controls(nest("Jo Reporter", 3))


def test_check_header_block_refuses_an_extra_field() -> None:
    good = b"From: a@b.example\r\nSubject: hi\r\nMIME-Version: 1.0\r\n\r\nbody\r\n"
    check_header_block(good, ["From", "Subject"])
    with pytest.raises(HeaderCheckError):
        check_header_block(good.replace(b"Subject: hi", b"Subject: hi\r\nBcc: x@y.example"),
                           ["From", "Subject"])
    with pytest.raises(HeaderCheckError):
        check_header_block(good.replace(b"Subject: hi", b"Subject: hi\nBcc: x@y.example"),
                           ["From", "Subject"])
    with pytest.raises(HeaderCheckError):
        check_header_block(good, ["From", "Subject", "To"])
    with pytest.raises(HeaderCheckError):
        check_header_block(good.replace(b"hi", ew("a\r\nBcc: x@y.example").encode()),
                           ["From", "Subject"])


class _Reply:
    message_id = f"{nest(PAYLOAD, 2)}@attacker.example"
    references = (f"{nest(PAYLOAD, 3)}@attacker.example", "ok@mail.example")
    subject = ""


def _build(subject: str, reply: Any = None) -> bytes:
    config = parse_config(config_dict("sqlite://"), environ={})
    return build_message(config, now=datetime(2026, 1, 1, tzinfo=UTC),
                         message_id=make_message_id("s", "example.org", 7), subject=subject,
                         text="body", html=None, to=["jo@mail.example"], cc=[],
                         reply_to=reply, auto_submitted="auto-replied")


def test_the_email_package_never_parses_our_header_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What an unpatched Python (CVE-2024-6923) would do wrong never gets the chance:
    the header registry is not consulted for any value we write."""
    parsed: list[str] = []
    original = email.headerregistry.HeaderRegistry.__call__

    def spy(self: Any, name: str, value: str) -> Any:
        parsed.append(name.lower())
        return original(self, name, value)

    monkeypatch.setattr(email.headerregistry.HeaderRegistry, "__call__", spy)
    raw = _build(f"Re: {nest(PAYLOAD, 3)}", _Reply())
    monkeypatch.undo()
    assert not set(parsed) & {"from", "to", "subject", "message-id", "in-reply-to",
                              "references", "date", "auto-submitted"}, parsed
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Bcc"] is None and msg["Reply-To"] is None
    assert msg["In-Reply-To"] is None  # an id carrying an encoded-word is not repeated
    assert msg["References"] is None
    assert "\n" not in str(msg["Subject"]) and "=?" not in str(msg["Subject"])


def test_own_ids_are_opaque_and_keyed() -> None:
    ids = [make_message_id("secret", "example.org", n) for n in (1, 2, 2, 0)]
    assert [own_case_id("secret", i) for i in ids] == [1, 2, 2, 0]
    assert all(re.fullmatch(r"cocbot\.[a-z2-7]{34}@example\.org", i) for i in ids)
    assert ids[1] != ids[2]
    assert all(own_case_id("other", i) is None for i in ids)
    tampered = ids[0].replace(ids[0][10], "a" if ids[0][10] != "a" else "b", 1)
    assert own_case_id("secret", tampered) is None
    # Ids minted before stay recognised (replies to old mail keep threading).
    import hashlib
    import hmac
    mac = hmac.new(b"secret", b"12.abcdefgh", hashlib.sha256).hexdigest()[:20]
    assert own_case_id("secret", f"cocbot.12.abcdefgh.{mac}@example.org") == 12
