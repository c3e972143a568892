"""The one entry point for every message: raw bytes in, filed case out.

`process_message` runs inside the caller's transaction (one per message), so
the raw message, its case, every state change and every mail it causes (as
outbox rows) commit together with the intake cursor, or not at all.

Stages, each a small function below: parse (or quarantine) -> dedupe ->
spam check -> place (thread into a case, or see it is a forward) -> open a
case for a new report -> store -> record -> the handlers named in
`bot.filing.pipelines` (acknowledgement, commands, hygiene).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.core.app import App
from bot.core.config import Member
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.filing import pipelines
from bot.filing.context import MessageContext, Origin, Outcome, Status
from bot.filing.quarantine import dedupe_key, quarantine
from bot.filing.relay import author_view
from bot.filing.senders import claims_member, is_own_copy, sender_verdict
from bot.filing.threads import ThreadMatch, match_case, remember_ids
from bot.mail.message import ParsedMessage
from bot.mail.msgids import own_case_id
from bot.mail.parse import ParseError, extract_forwarded, parse_message
from bot.store.copies import keep_copy
from bot.store.models import Case, InboundMessage, Quarantine
from bot.store.records import add_event, ensure_participant, open_case
from bot.store.signed import fingerprints
from bot.store.signed import remember as remember_signed

log = get_logger("pipeline")


@dataclass
class Arrival:
    """One message on its way through the stages."""

    raw: bytes
    sha: str
    origin: Origin
    pm: ParsedMessage
    key: str


@dataclass
class Placement:
    """Where a message goes and as what (the "place" stage's answer)."""

    case: Case | None
    match: ThreadMatch
    kind: str  # inbound | own | forwarded | report | forwarded-report
    sender_member: Member | None
    own_id: bool
    forwarded: ParsedMessage | None = None
    is_new: bool = False


def process_message(app: App, session: Session, raw: bytes, origin: Origin) -> Outcome:
    """File one message (see module docstring); the caller commits."""
    sha = hashlib.sha256(raw).hexdigest()
    try:
        pm = parse_message(raw)
    except ParseError as exc:
        return quarantine(session, raw, reason=f"cannot parse: {exc}", kind="unparsable",
                          source=origin.source)
    # Mail the group relayed with a rewritten From is filed as from its real author.
    pm = author_view(app.config, raw, pm)
    msg = Arrival(raw=raw, sha=sha, origin=origin, pm=pm, key=dedupe_key(pm.message_id, sha))
    early = _seen_before(app, session, msg) or _spam(session, msg)
    if early is not None:
        return early

    place = _place(app, session, msg)
    received = _received(origin, pm, app)
    if place.case is None and _answers_caseless_bot_mail(app, pm):
        outcome = _file_without_case(session, msg, received)
        for name in pipelines.CASELESS:
            pipelines.resolve(name, "caseless")(app, session, pm, raw, origin.backfill)
        return outcome
    case = place.case if place.case is not None else _open_for_report(session, msg, place,
                                                                      received)
    inbound = _store(session, msg, place, case, received)
    if place.own_id:
        add_event(session, case, EventKind.SENT_COPY_FILED, message_id=pm.message_id)
        log.info("own mail filed", case=case.code, message_id=pm.message_id)
        return Outcome(status=Status.FILED, message_id=pm.message_id, case_code=case.code)

    _record(app, session, msg, place, case, inbound)
    ctx = MessageContext(app=app, session=session, pm=pm, inbound=inbound, case=case,
                         is_new_case=place.is_new, origin=origin, match=place.match,
                         sender_member=place.sender_member, forwarded=place.forwarded)
    for name in pipelines.FILED:
        log.debug("handler", handler=name, message_id=pm.message_id)
        pipelines.resolve(name)(ctx)
    session.flush()
    return Outcome(status=Status.FILED, message_id=pm.message_id, case_code=case.code,
                   new_case=place.is_new)


def _received(origin: Origin, pm: ParsedMessage, app: App) -> datetime:
    when = origin.received_at or (pm.date if origin.backfill else None) or app.now()
    return when.astimezone(UTC)


def _seen_before(app: App, session: Session, msg: Arrival) -> Outcome | None:
    """Dedupe stage: the same message again, a replay, or an original after its forward."""
    pm = msg.pm
    existing = session.exec(
        select(InboundMessage).where(InboundMessage.dedupe_key == msg.key)).first()
    if existing is not None:
        if existing.raw_sha256 == msg.sha:
            return Outcome(status=Status.DUPLICATE, message_id=pm.message_id)
        # Same Message-ID, other bytes: the bytes are kept as an alternate copy.
        if not keep_copy(session, existing, msg.raw, msg.sha, msg.origin.source):
            return Outcome(status=Status.DUPLICATE, message_id=pm.message_id)
        return _replay(app, session, pm, existing, msg.origin)
    if msg.key != f"sha:{msg.sha}" and session.exec(select(InboundMessage.id).where(
            InboundMessage.dedupe_key == f"sha:{msg.sha}")).first() is not None:
        # Filed before under its hash (a mail that impersonated one of our ids).
        return Outcome(status=Status.DUPLICATE, message_id=pm.message_id)
    # A released entry (see `quarantine retry`) no longer holds the message back.
    if session.exec(select(Quarantine.id).where(Quarantine.dedupe_key == msg.key,
                                                Quarantine.released_at == None)  # noqa: E711
                    ).first():
        return Outcome(status=Status.DUPLICATE, message_id=pm.message_id)
    if not pm.message_id:
        return None
    forwarded_copy = session.exec(select(InboundMessage).where(
        InboundMessage.message_id == pm.message_id, InboundMessage.kind == "forwarded",
    )).first()
    if forwarded_copy is None:
        return None
    # A member already forwarded this very message into its case: filing it
    # again would count it twice (and could warn twice).
    case = session.get(Case, forwarded_copy.case_id) if forwarded_copy.case_id else None
    add_event(session, case, EventKind.ORIGINAL_AFTER_FORWARD, message_id=pm.message_id)
    return Outcome(status=Status.DUPLICATE, message_id=pm.message_id,
                   case_code=case.code if case else None)


def _spam(session: Session, msg: Arrival) -> Outcome | None:
    """Spam stage: the upstream filter's verdict quarantines the message."""
    if (msg.pm.header("X-Spam-Flag") or "").strip().upper() != "YES":
        return None
    return quarantine(session, msg.raw, reason="flagged as spam by the upstream filter",
                      kind="spam", source=msg.origin.source, key=msg.key)


def _place(app: App, session: Session, msg: Arrival) -> Placement:
    """Place stage: the case a message threads into, and whether it is a forward.

    Only an authenticated member counts as a member here: a forged member From
    is a stranger's mail for threading, participants and hygiene alike.
    """
    pm = msg.pm
    config = app.config
    verdict = sender_verdict(msg.raw, config)
    sender_member = config.member_for(verdict.address) if verdict.ok else None
    carries_own_id = own_case_id(app.secret, pm.message_id) is not None
    own_id = carries_own_id and is_own_copy(session, config, pm)
    if carries_own_id and not own_id:
        # Someone sent a mail under one of our ids: file it as what it is, and
        # leave the id free for our real copy.
        msg.key = f"sha:{msg.sha}"
        add_event(session, None, EventKind.OWN_ID_IMPERSONATED, message_id=pm.message_id)
        log.warning("mail carries one of our ids but is not our mail", message_id=pm.message_id)
    match = match_case(session, pm, app.secret, sender_is_member=sender_member is not None,
                       claims_member=claims_member(pm, config),
                       trust_own_id=own_id or not carries_own_id)
    place = Placement(case=match.case, match=match, kind="own" if own_id else "inbound",
                      sender_member=sender_member, own_id=own_id)
    if own_id or sender_member is None or (place.case is not None and pm.in_reply_to):
        return place
    # Only a member whose mail authenticates may file a forwarded message as the
    # original (or open a case for its sender): a forged forward could otherwise
    # pre-empt a Message-ID or open a case in someone's name.  A member's forward
    # (attached or inline) is filed where the forwarded message belongs, also when
    # its own subject tag already names the case.  A reply (In-Reply-To set)
    # quoting a message is not a forward.
    place.forwarded = extract_forwarded(pm)
    if place.forwarded is None:
        return place
    inner = match_case(session, place.forwarded, app.secret, sender_is_member=False)
    if inner.case is not None:
        place.case, place.match, place.kind = inner.case, inner, "forwarded"
    elif place.case is not None:
        place.kind = "forwarded"
    return place


def _open_for_report(session: Session, msg: Arrival, place: Placement,
                     received: datetime) -> Case:
    """Open stage: a new report (or a member's forwarded report) opens a case."""
    fwd = place.forwarded if place.sender_member is not None else None
    report = fwd if fwd is not None else msg.pm
    reporter = report.first_from
    date_reported = received
    if fwd is not None and fwd.date is not None:
        date_reported = fwd.date.astimezone(UTC)
    place.is_new = True
    place.kind = "forwarded-report" if fwd is not None else "report"
    case = open_case(
        session,
        date_reported=date_reported,
        reporter_address=reporter.key if reporter else None,
        reporter_name=reporter.name if reporter else None,
        message_id=msg.pm.message_id,
        how="forwarded by a member" if fwd is not None else "new report",
    )
    place.case = case
    return case


def _shown(msg: Arrival, place: Placement) -> ParsedMessage:
    """A forward into a case is filed as the original (sender, date, Message-ID)."""
    if place.kind == "forwarded" and place.forwarded is not None:
        return place.forwarded
    return msg.pm


def _store(session: Session, msg: Arrival, place: Placement, case: Case,
           received: datetime) -> InboundMessage:
    """Store stage: the inbound row, and every id it carries linked to the case."""
    # Filing a forward as the original closes the gap its absence left; the raw
    # bytes stay the forward.
    shown = _shown(msg, place)
    inbound = _inbound_row(msg.pm, shown, msg.raw, msg.sha, msg.key, msg.origin, received,
                           case.id, place.kind)
    session.add(inbound)
    session.flush()
    remember_ids(session, case, msg.pm, inbound_id=inbound.id)
    if place.forwarded is not None and (place.kind == "forwarded" or place.is_new):
        remember_ids(session, case, place.forwarded, inbound_id=inbound.id)
    return inbound


def _record(app: App, session: Session, msg: Arrival, place: Placement, case: Case,
            inbound: InboundMessage) -> None:
    """Record stage: participants, the filing event, and the log line."""
    pm = msg.pm
    member = place.sender_member
    if member is not None:
        # Replays of this signed content under another id are recognised later.
        remember_signed(session, fingerprints(pm), pm.message_id, case.id)
        # Only an authenticated member's mail adds participants.
        _record_participants(session, case, pm, app)
        if place.kind == "forwarded" and place.forwarded is not None:
            _record_participants(session, case, place.forwarded, app)
    for other in place.match.links:
        # A stranger's mail tied two cases: never merged on their word; members see it.
        add_event(session, case, EventKind.POSSIBLE_LINK, message_id=pm.message_id,
                  other=other.code)
        add_event(session, other, EventKind.POSSIBLE_LINK, message_id=pm.message_id,
                  other=case.code)
        log.info("possible link between cases", case=case.code, other=other.code,
                 message_id=pm.message_id)
    add_event(session, case, EventKind.MESSAGE_FILED, message_id=pm.message_id,
              filed_as=place.kind, how=place.match.how,
              member=member.email if member else None, backfill=msg.origin.backfill,
              original_message_id=inbound.message_id if _shown(msg, place) is not pm else None)
    if place.match.merged:
        log.info("cases merged", case=case.code, merged=place.match.merged)
    log.info("message filed", case=case.code, message_id=pm.message_id, kind=place.kind,
             how=place.match.how, new_case=place.is_new)


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


def _file_without_case(session: Session, msg: Arrival, received: datetime) -> Outcome:
    """Keep a reply to the bot's case-less mail without opening a case for it.

    Members answering the digest are talking to the bot, not reporting: opening
    a case (with the member as "reporter") would be wrong, and dropping the
    mail would lose it.  It is stored and noted in the global history.
    """
    pm = msg.pm
    session.add(_inbound_row(pm, pm, msg.raw, msg.sha, msg.key, msg.origin, received, None,
                             "reply-to-bot"))
    add_event(session, None, EventKind.REPLY_TO_BOT_MAIL, message_id=pm.message_id)
    log.info("reply to the bot's own mail filed without a case", message_id=pm.message_id)
    return Outcome(status=Status.FILED, message_id=pm.message_id)


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
    for name in pipelines.REPLAY:
        pipelines.resolve(name, "replay")(app, session, pm, case, origin)
    log.warning("message id seen before with other content", message_id=pm.message_id,
                case=case.code if case else None)
    return Outcome(status=Status.REPLAY, message_id=pm.message_id,
                   case_code=case.code if case else None)
