"""Who a message is from, as far as the bot may believe it.

- `claims_member`: From shows a member's address, honestly or not;
- `is_own_copy`: the message is the bot's own mail coming back, which needs more
  than one of its Message-IDs: the outbox must have sent that id, from the
  conduct address, with this subject and this text.

Anyone who once received mail from the bot knows one of its ids; an id alone
would let them file a mail "as the bot's own" and skip every handler.
"""

from __future__ import annotations

import re

from sqlmodel import Session, select

from bot.core.config import Config
from bot.core.log import get_logger
from bot.mail.auth import AuthVerdict, verify_member
from bot.mail.message import ParsedMessage
from bot.mail.parse import ParseError, parse_message
from bot.store.models import Outbox

_SPACE_RE = re.compile(r"\s+")
log = get_logger("senders")


def sender_verdict(raw: bytes, config: Config) -> AuthVerdict:
    """`verify_member`, failing closed (never raising) on input it cannot handle."""
    try:
        return verify_member(raw, config)
    except Exception:  # hostile input must not stop filing; it only fails to authenticate
        log.warning("sender check failed on hostile input")
        return AuthVerdict(ok=False, reason="sender check failed", address=None)


def claims_member(pm: ParsedMessage, config: Config) -> bool:
    """True when the From header(s) show a member address anywhere, honestly or not.

    Besides the parsed mailboxes this looks at the decoded From text, so that
    ``"maya@example.org" <evil@attacker.example>`` or an encoded-word spelling
    a member's address still counts as a (failed) claim to be that member.
    """
    addresses = config.member_address_map
    if any(a.key in addresses for a in pm.from_):
        return True
    texts = [v.lower() for v in pm.header_all("From")]
    for addr in addresses:
        pattern = re.compile(r"(?<![\w.+-])" + re.escape(addr) + r"(?![\w-])")
        if any(pattern.search(text) for text in texts):
            return True
    return False


def _norm(text: str | None) -> str:
    return _SPACE_RE.sub(" ", text or "").strip()


def is_own_copy(session: Session, config: Config, pm: ParsedMessage) -> bool:
    """True when `pm` is a copy of a mail the outbox holds (id, sender and content).

    A list or group may append a footer, so the sent text must be where the
    copy's text starts, not all of it.
    """
    if not pm.message_id or pm.from_header_count != 1 or len(pm.from_) != 1:
        return False
    if pm.from_[0].key != config.conduct_address.lower():
        return False
    row = session.exec(select(Outbox).where(Outbox.message_id == pm.message_id)).first()
    if row is None:
        return False
    try:
        sent = parse_message(row.raw)
    except ParseError:
        return False
    if _norm(sent.subject) != _norm(pm.subject):
        return False
    sent_text, copy_text = _norm(sent.text_body), _norm(pm.text_body)
    return bool(sent_text) and copy_text.startswith(sent_text)
