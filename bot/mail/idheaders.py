"""Message-IDs as written in Message-ID, In-Reply-To and References headers.

Ids are kept without angle brackets and only when they contain an ``@``.  (The
bot's own Message-IDs are made in `bot.mail.msgids`.)
"""

from __future__ import annotations

import re

from bot.mail.headers import CONTROL_RE, bytes_to_text, unfold

__all__ = ["normalise_msgid", "parse_msgid_list"]

# Longest usable id: RFC 5322 caps a line at 998 octets.
_MAX_MSGID = 998

_BRACKETED_RE = re.compile(r"<([^<>]*)>")
_COMMENT_RE = re.compile(r"\([^()]*\)")
_BARE_ID_RE = re.compile(r"[A-Za-z0-9!#$%&*+/=?^_`{|}~.\-]+@[A-Za-z0-9!#$%&*+/=?^_`{|}~.\-\[\]:]+")
_WS_RE = re.compile(r"\s+")


def _valid_id(candidate: str) -> str | None:
    """`candidate` without whitespace/brackets when it is a usable id, else None."""
    candidate = _WS_RE.sub("", candidate).strip("<>")
    if not candidate or len(candidate) > _MAX_MSGID:
        return None
    local, at, domain = candidate.rpartition("@")
    if not at or not local or not domain:
        return None
    if any(ch in candidate for ch in '<>"()') or CONTROL_RE.search(candidate):
        return None
    return candidate


def normalise_msgid(value: str) -> str | None:
    """The Message-ID in `value` without angle brackets and whitespace, or None.

    Only ids containing ``@`` count: ``<yes>`` and other placeholders link nothing.
    When `value` has a bracketed id the first one wins; otherwise the whole value
    (less comments) is taken as a bare id.
    """
    if not value:
        return None
    value = unfold(bytes_to_text(value))
    match = _BRACKETED_RE.search(value)
    if match:
        return _valid_id(match.group(1))
    return _valid_id(_COMMENT_RE.sub(" ", value))


def parse_msgid_list(value: str) -> list[str]:
    """The ids in an In-Reply-To/References value, in order, without duplicates.

    Bracketed ids win: when there are any, text between them (commas, comments,
    "Your message of ...") is ignored, because that text often holds email
    addresses that must not be taken for ids.  Without any brackets the value is
    split on whitespace/commas and every token shaped like ``local@domain`` counts.
    """
    if not value:
        return []
    value = unfold(bytes_to_text(value))
    found: dict[str, None] = {}  # ordered set: a References list can be long
    bracketed = _BRACKETED_RE.findall(value)
    candidates = bracketed or _BARE_ID_RE.findall(_COMMENT_RE.sub(" ", value))
    for candidate in candidates:
        mid = _valid_id(candidate.rstrip(".,;:") if not bracketed else candidate)
        if mid is not None:
            found.setdefault(mid)
    return list(found)
