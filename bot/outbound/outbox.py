"""The transactional outbox: every mail the bot sends starts as a row here.

`queue_mail` renders a template and writes an `Outbox` row inside the caller's
transaction, so the decision to send and the mail commit together.  The
sender (`bot.outbound.sender`) delivers rows afterwards.

The complete message (headers and body, CRLF line endings) is serialised once,
here, and stored in the row: a retry or a resend after a crash sends the very
same bytes, with the very same Message-ID, so recipients' clients and the
bot's own intake recognise it as one message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlmodel import Session

from bot.core.app import App
from bot.core.config import Config
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.mail.message import ParsedMessage
from bot.mail.msgids import make_message_id
from bot.outbound.render import clean_header, render_mail
from bot.outbound.safeheaders import (
    HeaderCheckError,
    PreparedHeader,
    check_header_block,
    encode_addresses,
    encode_mailbox,
    encode_msgids,
    encode_unstructured,
    plain_text,
    safe_msgid,
    usable_address,
)
from bot.store.codenames import find_code_in_subject, subject_tag
from bot.store.models import Case, Outbox
from bot.store.records import add_event

log = get_logger("outbox")

AUTO_SUBMITTED_VALUES = ("no", "auto-generated", "auto-replied", "auto-notified")
# Bounds what a reply carries forward from a stranger's References header.
MAX_REFERENCES = 20

_ADDR_RE = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_TAG_RE = re.compile(r"\[\s*coc(?:\s*:\s*|\s+)[a-z]+(?:\s*-\s*|\s+)[a-z]+\s*\]", re.IGNORECASE)
_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|odp|r|rif|vs)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


# Status of an outbox row whose rendered mail failed the header check: never sent.
QUARANTINED = "quarantined"


class OutboxError(ValueError):
    """A mail cannot be queued (unusable recipient, bad header value)."""


def valid_address(addr: str | None) -> bool:
    """True when `addr` is a plain address the bot is willing to send to."""
    return (bool(addr) and _ADDR_RE.match(addr or "") is not None and len(addr or "") <= 254
            and usable_address(addr))


def reply_subject(original: str) -> str:
    """``Re: <original>``: sanitised, case tags and earlier Re:/Aw: prefixes removed."""
    text = _TAG_RE.sub(" ", plain_text(original))
    text = _RE_PREFIX.sub("", text)
    text = clean_header(text)
    return f"Re: {text}" if text else "Re: your message"


def _address_list(values: Sequence[str], field: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        addr = (value or "").strip()
        if not valid_address(addr):
            raise OutboxError(f"{field}: not a usable address")
        if addr.lower() not in seen:
            seen.add(addr.lower())
            out.append(addr)
    return out


def build_message(
    config: Config,
    *,
    now: datetime,
    message_id: str,
    subject: str,
    text: str,
    html: str | None,
    to: Sequence[str],
    cc: Sequence[str],
    reply_to: ParsedMessage | None,
    auto_submitted: str,
) -> bytes:
    """The complete message as bytes (policy.SMTP: CRLF, folded, encoded words).

    Every header is encoded and folded here (`bot.outbound.safeheaders`), so no
    text from a mail is ever parsed by the email package again; the rendered
    bytes are then re-read and refused (`HeaderCheckError`) unless they carry
    exactly the intended header fields.
    """
    msg = EmailMessage(policy=policy.SMTP)
    intended: list[str] = ["MIME-Version"]

    def put(name: str, folded: str) -> None:
        intended.append(name)
        msg[name] = PreparedHeader(name, folded)

    put("From", encode_mailbox("From", config.bot.name, config.conduct_address))
    put("To", encode_addresses("To", list(to)))
    if cc:
        put("Cc", encode_addresses("Cc", list(cc)))
    put("Subject", encode_unstructured("Subject", subject))
    put("Date", format_datetime(now))
    put("Message-ID", encode_msgids("Message-ID", [message_id]))
    if reply_to is not None and safe_msgid(reply_to.message_id):
        assert reply_to.message_id is not None
        refs = [m for m in reply_to.references if safe_msgid(m) and m != reply_to.message_id]
        refs = [*refs, reply_to.message_id][-MAX_REFERENCES:]
        put("In-Reply-To", encode_msgids("In-Reply-To", [reply_to.message_id]))
        put("References", encode_msgids("References", refs))
    put("Auto-Submitted", auto_submitted)
    # Exchange/Outlook honour this and stay quiet instead of auto-replying to us.
    put("X-Auto-Response-Suppress", "All")
    msg["MIME-Version"] = "1.0"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    raw = msg.as_bytes(policy=policy.SMTP)
    check_header_block(raw, intended)
    return raw


def queue_mail(
    session: Session,
    app: App,
    *,
    kind: str,
    template: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    case: Case | None = None,
    context: dict[str, Any] | None = None,
    reply_to: ParsedMessage | None = None,
    auto_submitted: str = "auto-generated",
    tag_subject: bool = True,
) -> Outbox:
    """Render `template` with `context` and queue it for `to` (+ `cc`).

    - kind: what this mail is ("acknowledgement", "transcript", "warning",
      "reminder", "digest", "urgent", ...), recorded on the row and in events.
    - template: name of a template in templates/ (without extension).
    - to/cc: plain addresses (no display names); duplicates are dropped and an
      address already in `to` is dropped from `cc`.  Raises OutboxError for an
      unusable address (check with `valid_address` first when it came from mail).
    - case: the case this mail is about: its Message-ID carries the case id, its
      subject gets the case tag (``[CoC home-shelf]``) when missing, and a
      "mail_queued" event is added to the case history.
    - context: template variables (data only).  Also available to templates:
      ``case_code`` and ``case_tag`` when `case` is given, ``reply_subject``
      (``Re: <original subject>``, sanitised) when `reply_to` is given,
      ``conduct_address``, ``bot_name`` and ``signature``.
    - reply_to: the message this answers; sets In-Reply-To/References.
    - auto_submitted: value of the Auto-Submitted header ("auto-replied" for
      responses to a message, "auto-generated" otherwise).
    - tag_subject: False keeps the case tag out of the subject (mail to a
      reporter carries no code name; it threads by In-Reply-To/References).
    The Message-ID is the bot's own form for `case` (bot.mail.msgids).  The caller
    commits; wake the sender (`app.outbox_wakeup.set()`) after the commit.
    """
    if auto_submitted not in AUTO_SUBMITTED_VALUES:
        raise OutboxError(f"auto_submitted: unknown value {auto_submitted!r}")
    to_list = _address_list(to, "to")
    if not to_list:
        raise OutboxError("to: no recipient")
    taken = {a.lower() for a in to_list}
    cc_list = [a for a in _address_list(cc, "cc") if a.lower() not in taken]

    values: dict[str, Any] = {
        "conduct_address": app.config.conduct_address,
        "bot_name": app.config.bot.name,
        "signature": app.config.bot.signature,
    }
    if case is not None:
        values["case_code"] = case.code
        values["case_tag"] = subject_tag(case.code)
    if reply_to is not None:
        values["reply_subject"] = reply_subject(reply_to.subject)
    values.update(context or {})
    rendered = render_mail(app.config, template, values)
    subject = rendered.subject
    if tag_subject and case is not None and find_code_in_subject(subject) != case.code:
        subject = f"{subject} {subject_tag(case.code)}".strip()

    message_id = make_message_id(app.secret, app.config.message_id_domain,
                                 case.id if case is not None else None)
    status, problem = "queued", None
    try:
        raw = build_message(app.config, now=app.now_utc(), message_id=message_id,
                            subject=subject, text=rendered.text, html=rendered.html,
                            to=to_list, cc=cc_list, reply_to=reply_to,
                            auto_submitted=auto_submitted)
    except HeaderCheckError as exc:
        # Fail closed: the row is kept (for the operator) but never sent.
        status, problem = QUARANTINED, f"header check failed: {exc}"
        raw = rendered.text.encode("utf-8", "replace")
    row = Outbox(message_id=message_id, case_id=case.id if case is not None else None,
                 kind=kind, recipients=[*to_list, *cc_list], raw=raw, status=status,
                 attempts=0, next_attempt_at=app.now_utc(), created_at=app.now_utc(),
                 last_error=problem)
    session.add(row)
    if problem is not None:
        add_event(session, case, EventKind.OUTBOX_QUARANTINED, message_id=message_id,
                  at=app.now_utc(), mail_kind=kind, reason=problem)
        log.warning("outgoing mail quarantined", case=case.code if case else None,
                    message_id=message_id, kind=kind, reason=problem)
    if case is not None:
        add_event(session, case, EventKind.MAIL_QUEUED, message_id=message_id, at=app.now_utc(),
                  mail_kind=kind, template=template, to=to_list, cc=cc_list)
    session.flush()
    log.info("mail queued", case=case.code if case else None, message_id=message_id,
             kind=kind)
    return row
