"""bot.mail.parse against real-world mail: every message parses or raises ParseError.

Needs the shared corpora (see tests/corpora.py); skipped when they are absent.
"""

from __future__ import annotations

import json
import time
from datetime import UTC

import pytest

from bot.mail.parse import ParseError, extract_forwarded, parse_message
from tests.corpora import CORPORA_DIR, corpus_messages, requires_corpora

pytestmark = requires_corpora

# Samples that are not mail at all, and must be refused: an Outlook .msg file
# (OLE compound document) and an empty file.
NOT_MAIL = {"mail-parser/mail_outlook_1", "mikel-mail/sample_output_multipart"}


def test_every_message_parses_or_raises_parse_error() -> None:
    messages = list(corpus_messages())
    assert messages, f"no messages found under {CORPORA_DIR}"
    crashes: list[str] = []
    refused: set[str] = set()
    started = time.perf_counter()
    for label, raw in messages:
        try:
            pm = parse_message(raw)
            forwarded = extract_forwarded(pm)
        except ParseError as exc:
            assert str(exc), label
            refused.add(label)
            continue
        except Exception as exc:
            crashes.append(f"{label}: {type(exc).__name__}: {exc}")
            continue
        for parsed in (pm, forwarded):
            if parsed is None:
                continue
            for name, value in parsed.headers:
                assert "\n" not in value and "\r" not in value, (label, name)
            assert "\n" not in parsed.subject, label
            assert parsed.date is None or parsed.date.tzinfo is UTC, label
            for mid in [parsed.message_id, *parsed.in_reply_to, *parsed.references]:
                assert mid is None or ("@" in mid and "<" not in mid and " " not in mid), label
    elapsed = time.perf_counter() - started
    print(f"parsed {len(messages)} corpus messages in {elapsed:.2f}s")
    assert not crashes, crashes
    assert refused == NOT_MAIL, sorted(refused ^ NOT_MAIL)
    # Thousands of messages get imported at once: parsing must stay cheap.
    assert elapsed < 10 * max(1, len(messages) // 1000) + 20


def _corpus_file(relative: str) -> bytes:
    assert CORPORA_DIR is not None
    path = CORPORA_DIR / relative
    if not path.exists():
        pytest.skip(f"{relative} not in this copy of the corpora")
    return path.read_bytes()


@pytest.mark.parametrize("name", ["001", "003", "013"])
def test_stalwart_malformed_that_break_mail_parser(name: str) -> None:
    # mail-parser raises AttributeError on these (nested multiparts reusing a boundary).
    pm = parse_message(_corpus_file(f"stalwart/eml/malformed/{name}.eml"))
    assert isinstance(pm.text_body, str)


def test_unlisted_recipients_message_parses() -> None:
    assert CORPORA_DIR is not None
    for label, raw in corpus_messages():
        if label.startswith("notmuch/lkml") and b"unlisted-recipients:;" in raw:
            pm = parse_message(raw)
            assert pm.to == [] or all("@" in a.addr for a in pm.to)
            assert pm.first_from is not None
            return
    pytest.skip("no unlisted-recipients message in this copy of the corpora")


def _expected_header(parts: list[dict[str, object]], name: str) -> object:
    headers = parts[0].get("headers", [])
    assert isinstance(headers, list)
    for header in headers:
        if header.get("name") == name:
            return header.get("value")
    return None


def test_stalwart_expected_subject_and_from() -> None:
    assert CORPORA_DIR is not None
    root = CORPORA_DIR / "stalwart" / "eml"
    if not root.is_dir():
        pytest.skip("stalwart corpus absent")
    checked = 0
    mismatches: list[str] = []
    for eml in sorted(root.rglob("*.eml")):
        expected_path = eml.with_suffix(".json")
        if not expected_path.exists():
            continue
        parts = json.loads(expected_path.read_text(encoding="utf-8")).get("parts") or []
        if not parts:
            continue
        pm = parse_message(eml.read_bytes())
        subject = _expected_header(parts, "subject")
        text = subject.get("Text") if isinstance(subject, dict) else None
        # Stalwart turns undecodable 8-bit bytes into U+FFFD where we guess cp1252.
        if isinstance(text, str) and "\ufffd" not in text and text.strip() != pm.subject:
            mismatches.append(f"{eml.name} subject {text!r} != {pm.subject!r}")
        sender = _expected_header(parts, "from")
        if isinstance(sender, dict) and isinstance(sender.get("Address"), dict):
            listed = sender["Address"].get("List")
            if isinstance(listed, list):
                want = [a.get("address") for a in listed if a.get("address")]
                got = [a.addr for a in pm.from_]
                # Stalwart keeps "<moderator>" (no @); we drop it and flag from_defects.
                if all("@" in addr for addr in want) and want != got:
                    mismatches.append(f"{eml.name} from {want} != {got}")
                elif want != got:
                    assert pm.from_defects, eml.name
        checked += 1
    assert checked > 50
    assert not mismatches, mismatches
