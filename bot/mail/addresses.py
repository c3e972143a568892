"""Split address headers (From, To, Cc, Reply-To) into mailboxes, noting tampering.

mail-parser's structural address scanner (`mailparser.utils.get_addresses`)
splits the values.  It refuses to promote ambiguous text such as
``<a@attacker.example>maya@example.org`` to a mailbox and reports why, which
(with display names that carry another address) decides whether a From header
looks tampered with (`ParsedMessage.from_defects`).
"""

from __future__ import annotations

import re
from email.utils import getaddresses

from mailparser.utils import get_addresses

from bot.mail.headers import bytes_to_text, decode_words, single_line, unfold
from bot.mail.message import Address

__all__ = ["EMAILISH_RE", "address_list", "split_addresses"]

# Text shaped like an email address, wherever it appears (display names, free text).
EMAILISH_RE = re.compile(r"[^\s@<>()\"',;:\[\]]+@[^\s@<>()\"',;:\[\]]+\.[^\s@<>()\"',;:\[\]]+")


# mail-parser diagnostics that say nothing about who sent the message: an encoded
# word longer than RFC 2047's 75 characters is everyday mail.
_BENIGN_ADDRESS_REASONS = frozenset({"", "overlong-encoded-word"})


def _stdlib_addresses(value: str, diagnostics: list[dict[str, object]]) -> list[tuple[str, str]]:
    """Fallback splitter (stdlib) used when mail-parser's is missing or fails."""
    pairs = getaddresses([value])
    out: list[tuple[str, str]] = []
    for name, addr in pairs:
        if not addr:
            continue
        if "@" not in addr:
            diagnostics.append({"reason": "missing-at", "raw": addr})
            continue
        out.append((decode_words(name), addr))
    return out


def _mailparser_addresses(
    value: str, diagnostics: list[dict[str, object]]
) -> list[tuple[str, str]]:
    """mail-parser's structural splitter, which reports ambiguous items."""
    pairs = get_addresses(value, defects=diagnostics, decode_names=True)
    return [(name, addr) for name, addr in pairs if addr]


def split_addresses(value: str) -> tuple[list[Address], bool]:
    """Mailboxes in one raw address header value and whether it looked tampered with.

    "Tampered" means the splitter had to guess or drop text, a mailbox has no
    ``@``, or a display name (possibly decoded from an encoded word) carries an
    address other than the mailbox's own, as in ``"boss@example.org" <x@evil>``.
    """
    text = unfold(bytes_to_text(value))
    diagnostics: list[dict[str, object]] = []
    try:
        pairs = _mailparser_addresses(text, diagnostics)
    except Exception:  # any failure there means: use the stdlib
        diagnostics = [{"reason": "mail-parser-failed"}]
        try:
            pairs = _stdlib_addresses(text, diagnostics)
        except Exception:
            pairs = []
    suspicious = any(
        set(str(item.get("reason", "")).split(",")) - _BENIGN_ADDRESS_REASONS
        for item in diagnostics
    )
    addresses: list[Address] = []
    for name, addr in pairs:
        clean_name = single_line(name)
        clean_addr = single_line(addr)
        if "@" not in clean_addr:
            suspicious = True
            continue
        others = [m for m in EMAILISH_RE.findall(clean_name) if m.lower() != clean_addr.lower()]
        if others:
            suspicious = True
        addresses.append(Address(name=clean_name, addr=clean_addr))
    return addresses, suspicious


def address_list(values: list[str]) -> list[Address]:
    """All mailboxes in several values of one address header."""
    out: list[Address] = []
    for value in values:
        out.extend(split_addresses(value)[0])
    return out
