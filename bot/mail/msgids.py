"""The bot's own Message-IDs: opaque, keyed, recognisable later.

Form: ``cocbot.<blob>@<domain>``, the blob 34 lower-case base32 characters of:

- token: 6 random bytes, fresh for every mail;
- sealed case id: the case id (6 bytes, big-endian) XORed with a keyed pad
  (HMAC-SHA256 of the token), so two ids for one case, or for consecutive cases,
  look unrelated and nobody can count cases from the ids they receive;
- mac: HMAC-SHA256 over token and sealed id (9 bytes), so nobody can forge an
  id that would thread a stranger's mail into a case of their choosing.

The id stays short (some mail libraries encode a long In-Reply-To as
encoded-words, which breaks threading).
Ids minted before this form (``cocbot.<case id>.<token>.<mac>``) are still
recognised, so replies to old mail keep threading.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_OWN_RE = re.compile(r"^cocbot\.([a-z2-7]{34})@(.+)$")
_LEGACY_RE = re.compile(r"^cocbot\.(\d+)\.([A-Za-z0-9]{8,40})\.([0-9a-f]{20})@(.+)$")


def _legacy_mac(secret: str, case_id: int, token: str) -> str:
    digest = hmac.new(secret.encode(), f"{case_id}.{token}".encode(), hashlib.sha256)
    return digest.hexdigest()[:20]


def _pad(secret: str, token: bytes) -> int:
    digest = hmac.new(secret.encode(), b"pad." + token, hashlib.sha256).digest()
    return int.from_bytes(digest[:6], "big")


def _mac(secret: str, token: bytes, sealed: bytes) -> bytes:
    return hmac.new(secret.encode(), b"mac." + token + sealed, hashlib.sha256).digest()[:9]


def make_message_id(secret: str, domain: str, case_id: int | None) -> str:
    """A fresh Message-ID (without angle brackets) for mail about `case_id` (0: none)."""
    cid = case_id or 0
    if not 0 <= cid < 2 ** 48:
        raise ValueError("case id out of range")
    token = secrets.token_bytes(6)
    sealed = (cid ^ _pad(secret, token)).to_bytes(6, "big")
    blob = base64.b32encode(token + sealed + _mac(secret, token, sealed)).decode("ascii")
    return f"cocbot.{blob.rstrip('=').lower()}@{domain}"


def own_case_id(secret: str, message_id: str | None) -> int | None:
    """The case id carried by one of the bot's own ids, or None (also for forgeries).

    Returns 0 for the bot's own mail that belongs to no case (e.g. a digest).
    """
    if not message_id:
        return None
    match = _OWN_RE.match(message_id)
    if match:
        try:
            data = base64.b32decode(match.group(1).upper() + "======")
        except ValueError:
            return None
        token, sealed, mac = data[:6], data[6:12], data[12:21]
        if len(data) != 21 or not hmac.compare_digest(mac, _mac(secret, token, sealed)):
            return None
        return int.from_bytes(sealed, "big") ^ _pad(secret, token)
    legacy = _LEGACY_RE.match(message_id)
    if not legacy:
        return None
    cid = int(legacy.group(1))
    if not hmac.compare_digest(legacy.group(3), _legacy_mac(secret, cid, legacy.group(2))):
        return None
    return cid


def is_own(secret: str, message_id: str | None) -> bool:
    """True when `message_id` is a genuine id minted by this bot."""
    return own_case_id(secret, message_id) is not None
