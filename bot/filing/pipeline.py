"""The one entry point for every message: raw bytes in, filed case out.

`process_message` runs inside the caller's transaction (one per message), so
the raw message, its case, every state change and every mail it causes (as
outbox rows) commit together with the intake cursor, or not at all.

Stages: dedupe -> parse (or quarantine) -> spam check -> thread into a case
(or open one) -> store -> handlers (rules, commands, acknowledgement).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.core.app import App
from bot.core.config import Member
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.filing.threads import ThreadMatch, match_case, remember_ids
from bot.mail.auth import verify_member
from bot.mail.message import ParsedMessage
from bot.mail.msgids import own_case_id
from bot.mail.parse import ParseError, extract_forwarded, parse_message
from bot.store.models import Case, InboundMessage, Quarantine
from bot.store.records import add_event, ensure_participant, open_case

log = get_logger("pipeline")


@dataclass
class Origin:
    """Where a message came from and how to treat it."""

    source: str
    received_at: datetime | None = None
    # Backfill (import, or old mail on a first run) files silently: no mail goes out.
    backfill: bool = False


@dataclass
class Outcome:
    """What happened to one message."""

    status: str  # filed | duplicate | replay | quarantined
    message_id: str | None = None
    case_code: str | None = None
    reason: str | None = None
    new_case: bool = False


@dataclass
class MessageContext:
    """Everything a handler may look at or act on for one filed message."""

    app: App
    session: Session
    pm: ParsedMessage
    inbound: InboundMessage
    case: Case
    is_new_case: bool
    origin: Origin
    match: ThreadMatch
    sender_member: Member | None
    forwarded: ParsedMessage | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def quiet(self) -> bool:
        """True when no mail may be sent about this message (backfill/import)."""
        return self.origin.backfill


Handler = Callable[[MessageContext], None]


def dedupe_key(pm_message_id: str | None, sha: str) -> str:
    """Message-ID when there is one, else a hash of the raw bytes."""
    return f"mid:{pm_message_id}" if pm_message_id else f"sha:{sha}"


def quarantine(
    session: Session,
    raw: bytes,
    *,
    reason: str,
    kind: str,
    source: str,
    key: str | None = None,
    headers_only: bool = False,
    size: int | None = None,
) -> Outcome:
    """Keep `raw` aside with `reason` (once per key) instead of filing it."""
    key = key or f"sha:{hashlib.sha256(raw).hexdigest()}"
    exists = session.exec(select(Quarantine.id).where(Quarantine.dedupe_key == key)).first()
    if exists is None:
        row = Quarantine(dedupe_key=key, raw=raw, reason=reason, kind=kind, source=source,
                         headers_only=headers_only, size=size if size is not None else len(raw))
        session.add(row)
        add_event(session, None, EventKind.QUARANTINED, category=kind, reason=reason, source=source)
        session.flush()
        # The reason can quote the mail (the bytes a parse failed on, an error's message):
        # it is for `cocbot quarantine show`, and for the log at debug level only.
        log.warning("message quarantined", kind=kind, quarantine_id=row.id)
        log.debug("quarantine reason", quarantine_id=row.id, reason=reason)
    return Outcome(status="quarantined", reason=reason)


def _received(origin: Origin, pm: ParsedMessage, app: App) -> datetime:
    when = origin.received_at or (pm.date if origin.backfill else None) or app.now()
    return when.astimezone(UTC)


def _handlers() -> list[Handler]:
    from bot.handlers import HANDLERS

    return HANDLERS


def process_message(app: App, session: Session, raw: bytes, origin: Origin) -> Outcome:
    """File one message (see module docstring); the caller commits."""
    sha = hashlib.sha256(raw).hexdigest()
    try:
        pm = parse_message(raw)
    except ParseError as exc:
        return quarantine(session, raw, reason=f"cannot parse: {exc}", kind="unparsable",
                          source=origin.source)

    key = dedupe_key(pm.message_id, sha)
    existing = session.exec(select(InboundMessage).where(InboundMessage.dedupe_key == key)).first()
    if existing is not None:
        if existing.raw_sha256 == sha:
            return Outcome(status="duplicate", message_id=pm.message_id)
        return _replay(app, session, pm, existing, origin)
    if session.exec(select(Quarantine.id).where(Quarantine.dedupe_key == key)).first():
        return Outcome(status="duplicate", message_id=pm.message_id)
    if pm.message_id:
        forwarded_copy = session.exec(select(InboundMessage).where(
            InboundMessage.message_id == pm.message_id, InboundMessage.kind == "forwarded",
        )).first()
        if forwarded_copy is not None:
            # A member already forwarded this very message into its case: filing it
            # again would count it twice (and could warn twice).
            case = session.get(Case, forwarded_copy.case_id) if forwarded_copy.case_id else None
            add_event(session, case, EventKind.ORIGINAL_AFTER_FORWARD, message_id=pm.message_id)
            return Outcome(status="duplicate", message_id=pm.message_id,
                           case_code=case.code if case else None)

    if (pm.header("X-Spam-Flag") or "").strip().upper() == "YES":
        return quarantine(session, raw, reason="flagged as spam by the upstream filter",
                          kind="spam", source=origin.source, key=key)

    sender = pm.first_from
    sender_member = app.config.member_for(sender.addr if sender else None)
    own_id_case = own_case_id(app.secret, pm.message_id)
    match = match_case(session, pm, app.secret, sender_is_member=sender_member is not None)
    forwarded: ParsedMessage | None = None
    kind = "inbound"
    is_new = False
    case = match.case

    if own_id_case is not None:
        kind = "own"
    elif (sender_member is not None and (case is None or not pm.in_reply_to)
          and _authenticated_member(app, raw)):
        # Only a member whose mail authenticates may file a forwarded message as
        # the original (or open a case for its sender): a forged forward could
        # otherwise pre-empt a Message-ID or open a case in someone's name.
        # A member's forward (attached or inline) is filed where the forwarded message
        # belongs, also when its own subject tag already names the case.  A reply
        # (In-Reply-To set) quoting a message is not a forward.
        forwarded = extract_forwarded(pm)
        if forwarded is not None:
            inner = match_case(session, forwarded, app.secret, sender_is_member=False)
            if inner.case is not None:
                case, match, kind = inner.case, inner, "forwarded"
            elif case is not None:
                kind = "forwarded"

    received = _received(origin, pm, app)
    if case is None and _answers_caseless_bot_mail(app, pm):
        return _file_without_case(app, session, pm, raw, sha, key, origin, received)
    if case is None:
        is_new = True
        report = forwarded if forwarded is not None and sender_member is not None else pm
        reporter = report.first_from
        date_reported = received
        if report is forwarded and forwarded is not None and forwarded.date is not None:
            date_reported = forwarded.date.astimezone(UTC)
        case = open_case(
            session,
            date_reported=date_reported,
            reporter_address=reporter.key if reporter else None,
            reporter_name=reporter.name if reporter else None,
            message_id=pm.message_id,
            how="forwarded by a member" if report is forwarded else "new report",
        )
        kind = "forwarded-report" if report is forwarded else "report"

    # A forward into a case is filed as the original message (its sender, date and
    # Message-ID), which closes the gap its absence left; the raw bytes stay the forward.
    shown = forwarded if kind == "forwarded" and forwarded is not None else pm
    inbound = _inbound_row(pm, shown, raw, sha, key, origin, received, case.id, kind)
    session.add(inbound)
    session.flush()
    remember_ids(session, case, pm, inbound_id=inbound.id)
    if forwarded is not None and (kind == "forwarded" or is_new):
        remember_ids(session, case, forwarded, inbound_id=inbound.id)

    if own_id_case is not None:
        add_event(session, case, EventKind.SENT_COPY_FILED, message_id=pm.message_id)
        log.info("own mail filed", case=case.code, message_id=pm.message_id)
        return Outcome(status="filed", message_id=pm.message_id, case_code=case.code)

    _record_participants(session, case, pm, app)
    if kind == "forwarded" and forwarded is not None:
        _record_participants(session, case, forwarded, app)
    add_event(session, case, EventKind.MESSAGE_FILED, message_id=pm.message_id, filed_as=kind,
              how=match.how, member=sender_member.email if sender_member else None,
              backfill=origin.backfill,
              original_message_id=inbound.message_id if shown is not pm else None)
    if match.merged:
        log.info("cases merged", case=case.code, merged=match.merged)
    log.info("message filed", case=case.code, message_id=pm.message_id, kind=kind,
             how=match.how, new_case=is_new)

    ctx = MessageContext(app=app, session=session, pm=pm, inbound=inbound, case=case,
                         is_new_case=is_new, origin=origin, match=match,
                         sender_member=sender_member, forwarded=forwarded)
    for handler in _handlers():
        handler(ctx)
    session.flush()
    return Outcome(status="filed", message_id=pm.message_id, case_code=case.code,
                   new_case=is_new)


def _authenticated_member(app: App, raw: bytes) -> bool:
    """True when `raw` passes the same sender check as members' commands."""
    return verify_member(raw, app.config).ok


def _inbound_row(
    pm: ParsedMessage, shown: ParsedMessage, raw: bytes, sha: str, key: str, origin: Origin,
    received: datetime, case_id: int | None, kind: str,
) -> InboundMessage:
    """The stored row for `raw`, described as `shown` (the original, for a forward)."""
    shown_from = shown.first_from or pm.first_from
    return InboundMessage(
        dedupe_key=key, message_id=shown.message_id or pm.message_id, raw_sha256=sha, raw=raw,
        size=len(raw), source=origin.source, received_at=received,
        date=shown.date.astimezone(UTC) if shown.date else None,
        from_address=shown_from.key if shown_from else None,
        subject=(shown.subject or pm.subject)[:1000], case_id=case_id, kind=kind,
        parent_message_id=shown.in_reply_to[0] if shown.in_reply_to else None,
    )


def _answers_caseless_bot_mail(app: App, pm: ParsedMessage) -> bool:
    """True for a reply to the bot's own mail about no case (e.g. the daily digest)."""
    return any(own_case_id(app.secret, mid) == 0 for mid in pm.cited_ids)


def _file_without_case(
    app: App, session: Session, pm: ParsedMessage, raw: bytes, sha: str, key: str,
    origin: Origin, received: datetime,
) -> Outcome:
    """Keep a reply to the bot's case-less mail without opening a case for it.

    Members answering the digest are talking to the bot, not reporting: opening
    a case (with the member as "reporter") would be wrong, and dropping the
    mail would lose it.  It is stored and noted in the global history.
    """
    session.add(_inbound_row(pm, pm, raw, sha, key, origin, received, None, "reply-to-bot"))
    add_event(session, None, EventKind.REPLY_TO_BOT_MAIL, message_id=pm.message_id)
    log.info("reply to the bot's own mail filed without a case", message_id=pm.message_id)
    return Outcome(status="filed", message_id=pm.message_id)


def _record_participants(session: Session, case: Case, pm: ParsedMessage, app: App) -> None:
    conduct = app.config.conduct_address
    for addr in [*pm.from_, *pm.to, *pm.cc]:
        if not addr.key or addr.key == conduct or "@" not in addr.key:
            continue
        role = "member" if app.config.member_for(addr.key) else "other"
        ensure_participant(session, case, addr.key, addr.name, role)


def _replay(
    app: App, session: Session, pm: ParsedMessage, existing: InboundMessage, origin: Origin
) -> Outcome:
    """Same Message-ID, different bytes: never filed twice, but noted on the case."""
    case = session.get(Case, existing.case_id) if existing.case_id else None
    add_event(session, case, EventKind.DUPLICATE_MESSAGE_ID, message_id=pm.message_id,
              source=origin.source)
    from bot.handlers import REPLAY_HANDLERS

    for handler in REPLAY_HANDLERS:
        handler(app, session, pm, case, origin)
    log.warning("message id seen before with other content", message_id=pm.message_id,
                case=case.code if case else None)
    return Outcome(status="replay", message_id=pm.message_id,
                   case_code=case.code if case else None)
