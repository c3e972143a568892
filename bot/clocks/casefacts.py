"""What the clocks need to know about one case, derived from the database each time.

Nothing here is stored: the facts are read from the case's messages, outbox rows
and events on every scheduler run, so a restart or a missed run changes nothing.

"Mail to the reporter" means either a filed message from a member whose To or
Cc holds a reporter's address (the conduct address is copied, so members' mail
reaches the bot), or an outbox row addressed to a reporter that is not the
automatic acknowledgement and did not fail.

A member's message counts (toward mail to the reporter, or as the report after
`#unilateral`) only when it passes the same sender authentication as commands
(`bot.mail.auth`): anyone can write a member's address into From, and a forged
"reply" must not silence the reminders that keep a reporter from being forgotten.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from bot.core.config import Config, Member
from bot.core.events import EventKind
from bot.core.gcpause import collector_paused
from bot.governance.danger import open_alarm
from bot.mail.auth import verify_member
from bot.store.db import among
from bot.store.models import Case, Event, InboundMessage, Outbox, Participant
from bot.store.records import STATUS_ONGOING
from bot.store.recusal import awaiting_conflict_statement, exclusions_from, shut_out_from

# Evidence that the case involves physical danger (besides Safety Risk = Yes):
# the intake's urgent notice to every member, and events naming such a notice.
URGENT_OUTBOX_KINDS = frozenset({"urgent"})
URGENT_EVENT_KINDS = frozenset({EventKind.URGENT_NOTICE_QUEUED, EventKind.DANGER_DETECTED,
                                EventKind.URGENT_NOTICE_MERGED})
ACK_KIND = "acknowledgement"

# Events no clock reads and of which a case has many (every mail in and out makes
# some): left out of `CaseFacts.events`, so that reading thousands of cases stays
# cheap.  Filed messages are read separately, as plain columns.
TRAFFIC_KINDS = sorted(k.value for k in (
    EventKind.MESSAGE_FILED, EventKind.SENT_COPY_FILED, EventKind.CASE_OPENED,
    EventKind.ACKNOWLEDGEMENT_QUEUED, EventKind.COMMANDS_PROCESSED, EventKind.MAIL_QUEUED,
    EventKind.MAIL_SENT, EventKind.MAIL_REFUSED, EventKind.MAIL_FAILED,
    EventKind.HYGIENE_PROBLEM, EventKind.HYGIENE_WARNING, EventKind.NOTE))

# Parsed To/Cc of filed messages and whether their sender authenticated as a member,
# by (database, message row id, authserv-id).  Raw mail never changes once stored, so
# the cache never goes stale; it only bounds re-parsing.
_HeaderFacts = tuple[frozenset[str], bool]
_RECIPIENTS: OrderedDict[tuple[str, int, str], _HeaderFacts] = OrderedDict()
_RECIPIENTS_MAX = 20_000

# (row id, Message-ID, sender, received at, kind) of one filed message.
_Msg = tuple[int, str | None, str | None, datetime, str]


@dataclass
class Unilateral:
    """One `#unilateral` clock: who acted, when they said so, and whether they reported."""

    event_id: int
    member: str
    at: datetime
    reported_at: datetime | None


@dataclass(frozen=True)
class ReporterClock:
    """One reporter's own acknowledgement and first-response facts.

    Kept when a case holds several reporters (reports merged with `#merge`):
    mail to one reporter does not answer another.  `suffix` tells their clocks
    apart: "" for the case's first reporter (so a case's clock keys do not
    change when a second report is merged in), ":<participant id>" for others.
    """

    suffix: str
    reported_at: datetime
    ack_sent_at: datetime | None
    first_contact_at: datetime | None


@dataclass
class CaseFacts:
    """Everything the reminders and the digest derive from one case."""

    case: Case
    reporters: set[str]
    recused: set[str]  # main emails of recused members (and their raw addresses)
    backfilled: bool  # the report itself was filed by import/backfill
    opened_at: datetime  # when the group got the case: its first message's arrival
    first_live_at: datetime | None  # first message filed live (not backfill)
    ack_sent_at: datetime | None
    first_contact_at: datetime | None
    last_contact_at: datetime | None
    urgent: bool
    unilateral: list[Unilateral] = field(default_factory=list)
    # The case's history, oldest first, without the mail traffic (`TRAFFIC_KINDS`).
    events: list[Event] = field(default_factory=list)
    # The oldest danger alarm no member has answered (#safety, or mail to the reporter).
    alarm: Event | None = None
    # One clock per reporter, oldest report first, when there are several.
    reporter_clocks: list[ReporterClock] = field(default_factory=list)

    @property
    def ongoing(self) -> bool:
        """True while the case's status is Ongoing."""
        return self.case.status == STATUS_ONGOING

    @property
    def has_reporter(self) -> bool:
        """True when there is someone outside the group to acknowledge and inform."""
        return bool(self.reporters)

    def reminders_sent(self, key: str) -> list[Event]:
        """The "reminder_sent" events for reminder `key`, oldest first."""
        return [e for e in self.events
                if e.kind == EventKind.REMINDER_SENT and e.data.get("key") == key]


def _header_facts(key: tuple[str, int, str], raw: bytes, config: Config) -> _HeaderFacts:
    """(To/Cc addresses, sender authenticated as a member) of one filed message."""
    cached = _RECIPIENTS.get(key)
    if cached is not None:
        _RECIPIENTS.move_to_end(key)
        return cached
    # Headers only: cheap, and compat32 never fails on odd header values.
    msg = BytesHeaderParser(policy=compat32).parsebytes(raw)
    values = [str(v) for name in ("to", "cc") for v in (msg.get_all(name) or [])]
    found = frozenset(addr.strip().lower() for _n, addr in getaddresses(values) if "@" in addr)
    trusted = verify_member(raw, config).ok
    _RECIPIENTS[key] = (found, trusted)
    if len(_RECIPIENTS) > _RECIPIENTS_MAX:
        _RECIPIENTS.popitem(last=False)
    return found, trusted


# Cases read per batch of queries: well under every database's bound-parameter limit.
BATCH = 400


@dataclass
class _Rows:
    """One case's rows, as read in bulk (the case and those merged into it)."""

    participants: list[tuple[int, int, str, str, bool]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    filed: list[tuple[int, str | None, bool]] = field(default_factory=list)  # id, msgid, backfill
    msgs: list[_Msg] = field(default_factory=list)
    outbox: list[tuple[str, list[str], str, datetime | None, datetime]] = field(
        default_factory=list)


def case_facts(session: Session, config: Config, case: Case) -> CaseFacts:
    """Derive the clock-relevant facts of `case` (including cases merged into it)."""
    return facts_for(session, config, [case])[0]


def facts_for(session: Session, config: Config, cases: Sequence[Case]) -> list[CaseFacts]:
    """`case_facts` of many cases, in order, reading a few queries per `BATCH` cases.

    The digest and the scheduler look at thousands of cases; one set of queries
    per case made a digest over 10,000 cases take a minute.
    """
    merged: dict[int, list[int]] = {}
    if cases:
        for child, parent in session.execute(
                sa_select(col(Case.id), col(Case.merged_into))
                .where(col(Case.merged_into).is_not(None))).all():
            merged.setdefault(parent, []).append(child)
    awaiting = awaiting_conflict_statement(session, config)
    members = set(config.member_address_map)
    out: list[CaseFacts] = []
    with collector_paused():
        for start in range(0, len(cases), BATCH):
            batch = cases[start:start + BATCH]
            groups = {c.id or 0: [c.id or 0, *merged.get(c.id or 0, [])] for c in batch}
            rows = _read_rows(session, config, groups)
            out.extend(_derive(session, config, c, rows[c.id or 0], awaiting, members)
                       for c in batch)
    return out


def _read_rows(session: Session, config: Config, groups: dict[int, list[int]]) -> dict[int, _Rows]:
    """Every row the facts need for the cases in `groups` (root id -> its ids)."""
    root_of = {cid: root for root, ids in groups.items() for cid in ids}
    ids = sorted(root_of)
    rows = {root: _Rows() for root in groups}
    for pid, cid, address, role, recused in session.execute(
            sa_select(col(Participant.id), col(Participant.case_id), col(Participant.address),
                      col(Participant.role), col(Participant.recused))
            .where(among(session, col(Participant.case_id), ids))
            .order_by(col(Participant.id))).all():
        rows[root_of[cid]].participants.append((pid, cid, address, role, bool(recused)))
    for ev in session.exec(select(Event).where(among(session, col(Event.case_id), ids),
                                               col(Event.kind).not_in(TRAFFIC_KINDS))
                           .order_by(col(Event.at), col(Event.id))).all():
        rows[root_of[ev.case_id or 0]].events.append(ev)
    # Filed messages are most of a history: plain columns, not whole events.
    for eid, cid, message_id, data in session.execute(
            sa_select(col(Event.id), col(Event.case_id), col(Event.message_id), col(Event.data))
            .where(among(session, col(Event.case_id), ids),
                   col(Event.kind) == EventKind.MESSAGE_FILED)).all():
        rows[root_of[cid]].filed.append((eid, message_id, bool((data or {}).get("backfill"))))
    for mid, message_id, sender, received, kind, cid in session.execute(
            sa_select(col(InboundMessage.id), col(InboundMessage.message_id),
                      col(InboundMessage.from_address), col(InboundMessage.received_at),
                      col(InboundMessage.kind), col(InboundMessage.case_id))
            .where(among(session, col(InboundMessage.case_id), ids))
            .order_by(col(InboundMessage.received_at), col(InboundMessage.id))).all():
        rows[root_of[cid]].msgs.append((mid, message_id, sender, received, kind))
    for kind, recipients, status, sent_at, created_at, cid in session.execute(
            sa_select(col(Outbox.kind), col(Outbox.recipients), col(Outbox.status),
                      col(Outbox.sent_at), col(Outbox.created_at), col(Outbox.case_id))
            .where(among(session, col(Outbox.case_id), ids))).all():
        rows[root_of[cid]].outbox.append((kind, recipients, status, sent_at, created_at))
    _read_member_headers(session, config, [m for r in rows.values() for m in r.msgs])
    return rows


def _read_member_headers(session: Session, config: Config, msgs: list[_Msg]) -> None:
    """Parse (once, into the cache) the headers of members' messages not cached yet."""
    members = set(config.member_address_map)
    engine_key = str(session.get_bind().engine.url)
    authserv = config.auth.authserv_id
    missing = [m[0] for m in msgs if m[2] in members and m[4] != "own"
               and (engine_key, m[0], authserv) not in _RECIPIENTS]
    for start in range(0, len(missing), BATCH):
        for row_id, raw in session.exec(
                select(InboundMessage.id, InboundMessage.raw)
                .where(among(session, col(InboundMessage.id), missing[start:start + BATCH]))).all():
            _header_facts((engine_key, row_id or 0, authserv), raw, config)


def _derive(session: Session, config: Config, case: Case, rows: _Rows,
            awaiting: set[str], members: set[str]) -> CaseFacts:
    """One case's facts from its rows (no queries but a rare uncached header).

    `members`: every member address and alias.
    """
    engine_key = str(session.get_bind().engine.url)

    reporters = {addr for _pid, _cid, addr, role, _r in rows.participants if role == "reporter"}
    if case.reporter_address:
        reporters.add(case.reporter_address.strip().lower())
    reporters -= members
    reporters.discard(config.conduct_address)

    events = rows.events
    backfill_ids = {mid for _id, mid, backfill in rows.filed if backfill}
    first_filed = min(rows.filed) if rows.filed else None
    backfilled = bool(first_filed is not None and first_filed[2])

    msgs = rows.msgs
    live = [m for m in msgs if m[4] != "own" and m[1] not in backfill_ids]
    first_live_at = live[0][3] if live else None

    contacts: list[datetime] = []
    # Per reporter (only told apart when there are several): mail to them, their ack.
    contact_by: dict[str, list[datetime]] = {}
    ack_by: dict[str, datetime] = {}
    member_msgs = [m for m in msgs if m[2] in members and m[4] != "own"]
    authserv = config.auth.authserv_id
    trusted: set[int] = set()
    for m in member_msgs:
        key = (engine_key, m[0], authserv)
        if key not in _RECIPIENTS:
            # Evicted since the batch read it (a very large batch): read it again.
            raw = session.exec(select(InboundMessage.raw)
                               .where(InboundMessage.id == m[0])).first() or b""
            _header_facts(key, raw, config)
        rcpts, authenticated = _header_facts(key, b"", config)
        if not authenticated:
            continue
        trusted.add(m[0])
        if rcpts & reporters:
            contacts.append(m[3])
            for addr in rcpts & reporters:
                contact_by.setdefault(addr, []).append(m[3])

    ack_sent_at: datetime | None = None
    urgent = (case.safety_risk or "").strip().lower() == "yes"
    for kind, recipients, status, sent_at, created_at in rows.outbox:
        if kind in URGENT_OUTBOX_KINDS:
            urgent = True
        to_reporters = reporters & {r.lower() for r in recipients}
        if kind == ACK_KIND:
            if status == "sent":
                when = sent_at or created_at
                ack_sent_at = when if ack_sent_at is None else min(ack_sent_at, when)
                for addr in to_reporters:
                    ack_by[addr] = min(ack_by.get(addr, when), when)
            continue
        if status != "failed" and to_reporters:
            contacts.append(sent_at or created_at)
            for addr in to_reporters:
                contact_by.setdefault(addr, []).append(sent_at or created_at)
    if any(e.kind in URGENT_EVENT_KINDS for e in events):
        urgent = True

    recusals = sorted({addr for _pid, cid, addr, _role, recused in rows.participants
                       if recused and cid == case.id})
    exclusions = exclusions_from((e.kind, e.data) for e in events)
    vouched = [m for m in msgs if m[0] in trusted]
    unilateral = [_unilateral(e, vouched, config) for e in events
                  if e.kind == EventKind.UNILATERAL_ACTION and not e.data.get("backfill")]
    opened_at = min((m[3] for m in msgs), default=case.date_reported)
    clocks = _reporter_clocks(case, reporters, rows, live, opened_at, ack_by, contact_by)
    return CaseFacts(
        case=case, reporters=reporters,
        recused=shut_out_from(config, recusals, exclusions, awaiting),
        backfilled=backfilled, first_live_at=first_live_at,
        opened_at=opened_at,
        ack_sent_at=ack_sent_at,
        first_contact_at=min(contacts) if contacts else None,
        last_contact_at=max(contacts) if contacts else None,
        urgent=urgent, unilateral=unilateral, events=events,
        alarm=open_alarm(events, contacts), reporter_clocks=clocks,
    )


def _reporter_clocks(case: Case, reporters: set[str], rows: _Rows, live: list[_Msg],
                     opened_at: datetime, ack_by: dict[str, datetime],
                     contact_by: dict[str, list[datetime]]) -> list[ReporterClock]:
    """One clock per reporter with a live report of their own, when there are several.

    The case's first reporter keeps the plain keys and the case's report time;
    a reporter known only from a member's forward has no report of their own here.
    """
    if len(reporters) < 2:
        return []
    first_from: dict[str, datetime] = {}
    for _id, _mid, sender, received, _kind in live:  # oldest first
        if sender in reporters:
            first_from.setdefault(sender, received)
    primary = (case.reporter_address or "").strip().lower()
    if primary not in reporters:
        primary = min(first_from, key=lambda a: (first_from[a], a), default="")
    pid_of: dict[str, int] = {}
    for pid, _cid, addr, role, _r in rows.participants:  # by id: the oldest row names them
        if role == "reporter":
            pid_of.setdefault(addr, pid)
    out: list[ReporterClock] = []
    for addr in sorted(reporters, key=lambda a: (first_from.get(a, opened_at), a)):
        if addr == primary:
            started = max(case.date_reported, opened_at)
            suffix = ""
        elif addr in first_from and addr in pid_of:
            started, suffix = first_from[addr], f":{pid_of[addr]}"
        else:
            continue
        mail = contact_by.get(addr, [])
        out.append(ReporterClock(suffix, started, ack_by.get(addr),
                                 min(mail) if mail else None))
    return out


def _unilateral(ev: Event, msgs: list[_Msg], config: Config) -> Unilateral:
    """The clock started by `ev`; reported by the member's next filed message in the case."""
    member = config.member_for(ev.actor)
    addrs = set(member.addresses) if member else {(ev.actor or "").lower()}
    command_row = next((m[0] for m in msgs if ev.message_id and m[1] == ev.message_id), None)
    reported: datetime | None = None
    for row_id, mid, sender, received, kind in msgs:
        if kind == "own" or sender not in addrs or mid == ev.message_id:
            continue
        # Order by filing (row id) when the command's message is known: under a
        # frozen clock several messages share one timestamp.
        later = (row_id or 0) > command_row if command_row is not None else received > ev.at
        if later:
            reported = received
            break
    return Unilateral(event_id=ev.id or 0, member=member.email if member else (ev.actor or ""),
                      at=ev.at, reported_at=reported)


def point_of_contact(config: Config, case: Case) -> Member | None:
    """The member named as the case's point of contact (by address or name), if any."""
    value = (case.point_of_contact or "").strip()
    if not value:
        return None
    member = config.member_for(value)
    if member is not None:
        return member
    lowered = value.lower()
    for m in config.members:
        if m.name.lower() == lowered:
            return m
    return None
