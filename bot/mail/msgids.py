"""The bot's own Message-IDs: case id plus a keyed hash, recognisable later.

Form: ``cocbot.<case id>.<random token>.<mac>@<domain>``.  The MAC (HMAC-SHA256
over case id and token, truncated) stops anyone from forging an id that would
thread a stranger's mail into a case of their choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_OWN_RE = re.compile(r"^cocbot\.(\d+)\.([A-Za-z0-9]{8,40})\.([0-9a-f]{20})@(.+)$")


def _mac(secret: str, case_id: int, token: str) -> str:
    digest = hmac.new(secret.encode(), f"{case_id}.{token}".encode(), hashlib.sha256)
    return digest.hexdigest()[:20]


def make_message_id(secret: str, domain: str, case_id: int | None) -> str:
    """A fresh Message-ID (without angle brackets) for mail about `case_id` (0: none)."""
    cid = case_id or 0
    token = secrets.token_hex(8)
    return f"cocbot.{cid}.{token}.{_mac(secret, cid, token)}@{domain}"


def own_case_id(secret: str, message_id: str | None) -> int | None:
    """The case id carried by one of the bot's own ids, or None (also for forgeries).

    Returns 0 for the bot's own mail that belongs to no case (e.g. a digest).
    """
    if not message_id:
        return None
    match = _OWN_RE.match(message_id)
    if not match:
        return None
    cid, token, mac = int(match.group(1)), match.group(2), match.group(3)
    if not hmac.compare_digest(mac, _mac(secret, cid, token)):
        return None
    return cid


def is_own(secret: str, message_id: str | None) -> bool:
    """True when `message_id` is a genuine id minted by this bot."""
    return own_case_id(secret, message_id) is not None
