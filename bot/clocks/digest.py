"""The chair's daily digest: where every case stands, in code names and dates only.

Once a day, after `schedule.digest_time` in `schedule.timezone`, each chair gets
one mail (plain text plus an HTML table) listing: new cases since their last
digest, cases awaiting an acknowledgement or a first response, overdue
reminders, ongoing cases by age, recently resolved cases, open proposals with
their tally and the members who have not voted yet, and the held commands and
warnings since the last digest.  No names, no addresses, no
subjects, no report text: only case code names, dates and fixed labels.

Recusal: a case's lines go to the chairs who are not recused from it; when
every chair is, they go to one non-recused member instead (the point of
contact if they qualify, else the first on the roster), who then gets a digest
holding just those lines.

Once per recipient per day, even across restarts and several instances: the
`DigestClaim` row (unique recipient + day) is inserted in the same transaction
as the outbox row, and a losing instance's insert fails and rolls back.  A
chair's empty day is claimed too (without mail unless
`schedule.digest_when_empty`), so the digest never arrives at a random hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from bot.clocks.casefacts import BATCH, CaseFacts, facts_for, point_of_contact
from bot.clocks.reminders import ACK_OVERDUE, ANY_STATUS_CLOCKS, FIRST_RESPONSE, obligations
from bot.core.app import App
from bot.core.clock import digest_due, format_day, format_moment, local_day
from bot.core.config import Config
from bot.core.events import EventKind
from bot.core.gcpause import collector_paused
from bot.core.log import get_logger
from bot.governance.proposals import Proposal, open_proposal
from bot.governance.quorum import load_quorum_rules
from bot.outbound.outbox import queue_mail
from bot.records.onboarding import AWAITING_TEXT, awaiting_statement
from bot.store.db import among, session_scope
from bot.store.models import Case, DigestClaim, Event, Outbox
from bot.store.records import STATUS_ONGOING, STATUS_RESOLVED

log = get_logger("digest")

TEMPLATE = "digest"
# (key, title, column headers): the digest's sections in order.
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("new", "New cases since the last digest", ("Case", "Reported")),
    ("awaiting_ack", "Awaiting acknowledgement", ("Case", "Reported", "Due", "State")),
    ("awaiting_response", "Awaiting a first response to the reporter",
     ("Case", "Reported", "Due", "State")),
    ("overdue", "Overdue reminders", ("Case", "What", "Due since", "Reminders sent")),
    ("ongoing", "Ongoing cases by age",
     ("Case", "Reported", "Age (days)", "Last mail to reporter", "Notes")),
    ("resolved", "Recently resolved", ("Case", "Resolved on", "Resolved by")),
    ("proposals", "Open proposals",
     ("Case", "Proposal", "Opened", "In favour/against/abstained", "Not voted yet")),
    ("held", "Held commands", ("Case", "When")),
    ("warnings", "Warnings", ("Case", "When", "What")),
)
NO_CASE = "(no case)"


@dataclass
class Digest:
    """One recipient's digest for one day: rows per section, all plain strings."""

    recipient: str
    day: date
    since: datetime
    now: datetime
    rows: dict[str, list[list[str]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when there is nothing to say."""
        return not any(self.rows.values())

    def context(self, config: Config) -> dict[str, Any]:
        """Template data: sections with titles, headers, rows and text column widths."""
        zone = config.schedule.zone
        sections = []
        for key, title, headers in SECTIONS:
            rows = self.rows.get(key, [])
            widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
            sections.append({"key": key, "title": title, "headers": list(headers),
                             "rows": rows, "widths": widths})
        counts = {key: len(self.rows.get(key, [])) for key, _t, _h in SECTIONS}
        return {
            "day": format_day(self.day, zone),
            "since": format_moment(self.since, zone),
            "generated": format_moment(self.now, zone),
            "sections": sections,
            "counts": counts,
            "empty": self.empty,
            "conduct_address": config.conduct_address,
            "bot_name": config.bot.name,
            "signature": config.bot.signature,
        }


def audience(config: Config, facts: CaseFacts, chairs: Sequence[str] | None = None) -> list[str]:
    """Who sees this case's lines: non-recused chairs, else one non-recused member.

    `chairs` (the chairs' addresses) may be passed when asking for many cases.
    """
    if chairs is None:
        chairs = [m.email for m in config.chairs]
    seeing = [c for c in chairs if c not in facts.recused]
    if seeing:
        return seeing
    contact = point_of_contact(config, facts.case)
    if contact is not None and contact.email not in facts.recused:
        return [contact.email]
    return next(([m.email] for m in config.members if m.email not in facts.recused), [])


def global_audience(config: Config) -> list[str]:
    """Who sees lines that belong to no case: the chairs (else the first member)."""
    chairs = [m.email for m in config.chairs]
    return chairs or [m.email for m in config.members[:1]]


def last_digest_at(session: Session, recipient: str, before: date) -> datetime | None:
    """When `recipient`'s most recent digest before day `before` was claimed."""
    row = session.exec(
        select(DigestClaim.claimed_at)
        .where(DigestClaim.recipient == recipient, col(DigestClaim.day) < before)
        .order_by(col(DigestClaim.claimed_at).desc())
    ).first()
    return row


def already_claimed(session: Session, recipient: str, day: date) -> bool:
    """True when `recipient`'s digest for `day` was claimed (sent or empty)."""
    return session.exec(select(DigestClaim.id).where(
        DigestClaim.recipient == recipient, DigestClaim.day == day)).first() is not None


@dataclass
class _World:
    """Everything read once for all recipients of one digest run."""

    facts: list[CaseFacts]
    codes: dict[int, str]
    audiences: dict[int, list[str]]
    events: list[Event]
    outbox: list[Outbox]
    templates: dict[str, str]


# Fixed text: the report was filed, but its sender's domain failed authentication.
UNAUTHENTICATED_REPORT = ("one report could not be acknowledged because its sender "
                          "failed authentication")


def _read_world(session: Session, config: Config, earliest: datetime, today: date) -> _World:
    events = list(session.exec(
        select(Event).where(col(Event.at) > earliest,
                            or_(col(Event.kind).in_(["command_held", "quarantined",
                                                     "command_refused",
                                                     "acknowledgement_suppressed",
                                                     "possible_link", "outbox_quarantined"]),
                                col(Event.kind).contains("warning")))
        .order_by(col(Event.at), col(Event.id))
    ).all())
    outbox = list(session.exec(
        select(Outbox).where(or_(col(Outbox.status) == "failed",
                                 and_(col(Outbox.kind) == "warning",
                                      col(Outbox.created_at) > earliest)))
        .order_by(col(Outbox.created_at), col(Outbox.id))
    ).all())
    # Events and mail of cases merged away report under the case they live on in.
    parent = {cid: up for cid, up in session.execute(
        sa_select(col(Case.id), col(Case.merged_into))).all()}
    root = {cid: _root(parent, cid) for cid in parent}
    cases = _cases_to_read(session, config, earliest, today, root)
    facts = facts_for(session, config, cases)
    chairs = [m.email for m in config.chairs]
    audiences = {f.case.id or 0: audience(config, f, chairs) for f in facts}
    codes = dict(session.execute(sa_select(col(Case.id), col(Case.code))).all())
    codes = {cid: codes[root[cid]] for cid in root}
    for cid in root:
        audiences.setdefault(cid, audiences.get(root[cid], []))
    templates = _warning_templates(session, [r.message_id for r in outbox if r.kind == "warning"])
    return _World(facts, codes, audiences, events, outbox, templates)


def _warning_templates(session: Session, message_ids: list[str]) -> dict[str, str]:
    """The template each of these queued mails was made from (what the warning was about)."""
    out: dict[str, str] = {}
    for start in range(0, len(message_ids), BATCH):
        for message_id, data in session.execute(
                sa_select(col(Event.message_id), col(Event.data)).where(
                    col(Event.kind) == EventKind.MAIL_QUEUED,
                    col(Event.message_id).in_(message_ids[start:start + BATCH]))).all():
            if message_id:
                out[message_id] = str((data or {}).get("template", ""))
    return out


def _root(parent: dict[int, int | None], case_id: int) -> int:
    """The case `case_id` lives on in, following merges (bounded, as `live_case`)."""
    hops = 0
    while parent.get(case_id) is not None and hops < 50:
        case_id = parent[case_id] or case_id
        hops += 1
    return case_id


def _cases_to_read(session: Session, config: Config, earliest: datetime, today: date,
                   root: dict[int, int]) -> list[Case]:
    """The live cases that can put a line in some digest, oldest report first.

    Ongoing cases, cases with a review date or a `#unilateral` or `#draft` clock, cases
    resolved within `digest_recent_days`, and any case with activity since the
    earliest recipient's last digest (a new case, a warning, a failed mail).
    Everything else (most of an old archive) has nothing to show and is not read.
    """
    recent = today - timedelta(days=config.schedule.digest_recent_days)
    active = {root.get(cid or 0, cid or 0) for cid in session.exec(
        select(Event.case_id).distinct().where(
            or_(col(Event.at) > earliest, col(Event.kind).in_(ANY_STATUS_CLOCKS)),
            col(Event.case_id).is_not(None))).all()}
    active.update(root.get(cid or 0, cid or 0) for cid in session.exec(
        select(Outbox.case_id).distinct().where(
            col(Outbox.status) == "failed", col(Outbox.case_id).is_not(None))).all())
    wanted = or_(col(Case.status) == STATUS_ONGOING, col(Case.review_date).is_not(None),
                 col(Case.resolution_date) >= recent)
    ids = {cid or 0 for cid in session.exec(select(Case.id).where(
        col(Case.merged_into).is_(None), wanted)).all()}
    ids.update(cid for cid in active if root.get(cid, cid) == cid)
    found: list[Case] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        found.extend(session.exec(select(Case).where(
            among(session, col(Case.id), ordered[start:start + BATCH]))).all())
    found.sort(key=lambda c: (c.date_reported, c.id or 0))
    return found


def _case_rows(config: Config, world: _World, recipient: str, since: datetime, now: datetime,
               today: date) -> dict[str, list[list[str]]]:
    zone = config.schedule.zone
    recent = today - timedelta(days=config.schedule.digest_recent_days)
    rows: dict[str, list[list[str]]] = {key: [] for key, _t, _h in SECTIONS}
    for facts in world.facts:
        case = facts.case
        if recipient not in world.audiences.get(case.id or 0, []):
            continue
        reported = format_moment(case.date_reported, zone)
        if since < facts.opened_at <= now and not facts.backfilled:
            rows["new"].append([case.code, reported])
        obs = obligations(facts, config)
        for ob in obs:
            state = "overdue" if ob.due <= now else "open"
            # A further reporter of a merged case: when their own report arrived.
            when = reported if ob.key == ob.kind else format_moment(ob.started, zone)
            if ob.kind == ACK_OVERDUE:
                rows["awaiting_ack"].append([case.code, when, format_moment(ob.due, zone),
                                             state])
            elif ob.kind == FIRST_RESPONSE:
                rows["awaiting_response"].append([case.code, when,
                                                  format_moment(ob.due, zone), state])
            if ob.due <= now:
                rows["overdue"].append([case.code, ob.label, format_moment(ob.due, zone),
                                        str(len(facts.reminders_sent(ob.key)))])
        prop = open_proposal(facts.events) if case.status == STATUS_ONGOING else None
        if prop is not None:
            rows["proposals"].append(_proposal_row(config, facts, prop, now))
        if case.status == STATUS_ONGOING:
            notes = []
            if facts.urgent:
                notes.append("safety risk")
            if facts.alarm is not None:
                notes.append("danger not answered (#safety)")
            if any(e.kind == EventKind.ONFILE_SUGGESTED for e in facts.events):
                notes.append("local rep says action taken: #onfile?")
            if case.review_date:
                notes.append(f"review {case.review_date.isoformat()}")
            age = (today - local_day(case.date_reported, zone)).days
            last = format_day(facts.last_contact_at, zone) if facts.last_contact_at else "none"
            rows["ongoing"].append([case.code, format_day(case.date_reported, zone), str(age),
                                    last, ", ".join(notes)])
        elif (case.status == STATUS_RESOLVED and case.resolution_date is not None
              and case.resolution_date >= recent):
            rows["resolved"].append([case.code, format_day(case.resolution_date, zone),
                                     case.resolution_source or ""])
    return rows


def _proposal_row(config: Config, facts: CaseFacts, prop: Proposal, now: datetime) -> list[str]:
    """One open proposal: its consequence, the tally, and who has not voted (by name)."""
    rules = load_quorum_rules(config)
    eligible = [m.email for m in config.members if m.email not in facts.recused]
    verdict = prop.verdict(eligible, rules.is_severe(prop.consequence, facts.case.safety_risk),
                           rules, now, config.schedule.decision_days)
    names = [m.name for m in config.members if m.email in verdict.pending]
    tally = f"{verdict.in_favour}/{verdict.against}/{verdict.abstained} (needs {verdict.needed})"
    return [facts.case.code, prop.consequence or "Other",
            format_day(prop.opened_at, config.schedule.zone), tally, ", ".join(names) or "-"]


def _sees(world: _World, config: Config, recipient: str, case_id: int | None) -> bool:
    if case_id is None:
        return recipient in global_audience(config)
    return recipient in world.audiences.get(case_id, [])


def _activity_rows(config: Config, world: _World, recipient: str, since: datetime,
                   now: datetime) -> dict[str, list[list[str]]]:
    """Held commands and warnings in (since, now]; failed deliveries whenever they happened."""
    zone = config.schedule.zone
    held: list[list[str]] = []
    warnings: list[tuple[datetime, list[str]]] = []
    mailed: set[tuple[int | None, datetime]] = set()
    refused: set[tuple[int | None, str | None]] = set()
    links_seen: set[frozenset[str]] = set()
    quarantined = 0

    def code_of(case_id: int | None) -> str:
        return world.codes.get(case_id, NO_CASE) if case_id else NO_CASE

    for row in world.outbox:
        if not _sees(world, config, recipient, row.case_id):
            continue
        if row.status == "failed":
            warnings.append((row.created_at, [
                code_of(row.case_id), format_moment(row.created_at, zone),
                f"{row.kind} mail could not be delivered (see cocbot outbox)"]))
        elif row.kind == "warning" and since < row.created_at <= now:
            what = (world.templates.get(row.message_id, "") or "warning").replace("_", " ")
            warnings.append((row.created_at, [code_of(row.case_id),
                                              format_moment(row.created_at, zone),
                                              f"warning mail ({what})"]))
            mailed.add((row.case_id, row.created_at.replace(microsecond=0)))
    for ev in world.events:
        if not since < ev.at <= now or not _sees(world, config, recipient, ev.case_id):
            continue
        if ev.kind == EventKind.COMMAND_HELD:
            held.append([code_of(ev.case_id), format_moment(ev.at, zone)])
        elif (ev.kind == EventKind.COMMAND_REFUSED and ev.data.get("reason") == "excluded"
              and (ev.case_id, ev.message_id) not in refused):
            # An excluded member's commands get no answer: the chairs see them here.
            refused.add((ev.case_id, ev.message_id))
            held.append([code_of(ev.case_id), format_moment(ev.at, zone)])
        elif ev.kind == EventKind.POSSIBLE_LINK:
            link = _link_row(config, world, recipient, ev, zone, links_seen)
            if link is not None:
                warnings.append((ev.at, link))
        elif ev.kind == EventKind.OUTBOX_QUARANTINED:
            warnings.append((ev.at, [code_of(ev.case_id), format_moment(ev.at, zone),
                                     "a mail failed the header check and was not sent"]))
        elif ev.kind == EventKind.QUARANTINED:
            quarantined += 1
        elif ev.kind == EventKind.ACKNOWLEDGEMENT_SUPPRESSED:
            if ev.data.get("sender_failed_authentication"):
                warnings.append((ev.at, [code_of(ev.case_id), format_moment(ev.at, zone),
                                         UNAUTHENTICATED_REPORT]))
        elif "warning" in ev.kind and (ev.case_id, ev.at.replace(microsecond=0)) not in mailed:
            # A warning recorded without a mail of its own (one line per warning).
            warnings.append((ev.at, [code_of(ev.case_id), format_moment(ev.at, zone),
                                     ev.kind.replace("_", " ")]))
    if quarantined and recipient in global_audience(config):
        warnings.append((now, [NO_CASE, format_moment(now, zone),
                               f"{quarantined} message(s) quarantined (see cocbot quarantine)"]))
    warnings.sort(key=lambda item: item[0])
    return {"held": held, "warnings": [line for _at, line in warnings]}


def _link_row(config: Config, world: _World, recipient: str, ev: Event, zone: Any,
              seen: set[frozenset[str]]) -> list[str] | None:
    """One line per pair of cases a stranger's mail tied, for those who see both."""
    here = world.codes.get(ev.case_id or 0)
    other = str(ev.data.get("other") or "")
    other_id = next((cid for cid, code in world.codes.items() if code == other), None)
    if here is None or other_id is None or not _sees(world, config, recipient, other_id):
        return None
    pair = frozenset((here, other))
    if pair in seen:
        return None
    seen.add(pair)
    return [here, format_moment(ev.at, zone),
            f'possible link with "{other}" (cited together by mail from outside the group; '
            f"not merged, #merge if they are one case)"]


def recipients(config: Config, world: _World) -> list[str]:
    """Chairs first, then any member who stands in for recused chairs, roster order."""
    wanted = set(global_audience(config))
    for aud in world.audiences.values():
        wanted.update(aud)
    return [m.email for m in config.members if m.email in wanted]


def build_digests(session: Session, app: App, now: datetime,
                  only: Sequence[str] = ()) -> list[Digest]:
    """Every digest due for the local day of `now` (or for `only` recipients); no claims."""
    config = app.config
    day = local_day(now, config.schedule.zone)
    default_since = now - timedelta(days=1)
    sinces = {}
    for member in config.members:
        sinces[member.email] = last_digest_at(session, member.email, day) or default_since
    earliest = min(sinces.values(), default=default_since)
    with collector_paused():
        return _build(session, app, now, only, sinces, earliest)


def _build(session: Session, app: App, now: datetime, only: Sequence[str],
           sinces: dict[str, datetime], earliest: datetime) -> list[Digest]:
    config = app.config
    day = local_day(now, config.schedule.zone)
    world = _read_world(session, config, earliest, day)
    wanted = [r.lower() for r in only]
    out = []
    for recipient in recipients(config, world):
        if wanted and recipient not in wanted:
            continue
        since = sinces[recipient]
        rows = _case_rows(config, world, recipient, since, now, day)
        rows.update(_activity_rows(config, world, recipient, since, now))
        if awaiting_statement(session, recipient):
            # Onboarding: no case detail at all until the member states their conflicts.
            rows = {"warnings": [[NO_CASE, format_moment(now, config.schedule.zone),
                                  AWAITING_TEXT]]}
        out.append(Digest(recipient=recipient, day=day, since=since, now=now, rows=rows))
    return out


def send_digests(app: App, now: datetime, *, force: bool = False,
                 only: Sequence[str] = ()) -> int:
    """Claim and queue today's digest for each recipient not yet claimed; returns mails queued.

    `force` sends even an empty digest (the `cocbot digest` command).
    """
    config = app.config
    with session_scope(app.engine) as session:
        digests = [d for d in build_digests(session, app, now, only)
                   if not already_claimed(session, d.recipient, d.day)]
    chairs = {m.email for m in config.chairs}
    queued = 0
    for digest in digests:
        say = not digest.empty or config.schedule.digest_when_empty or force
        if not say and digest.recipient not in chairs:
            continue
        try:
            with session_scope(app.engine) as session:
                claim = DigestClaim(recipient=digest.recipient, day=digest.day, claimed_at=now)
                session.add(claim)
                session.flush()  # the unique key decides who sends; a loser stops here
                if say:
                    row = queue_mail(session, app, kind="digest", template=TEMPLATE,
                                     to=[digest.recipient], context=digest.context(config))
                    claim.outbox_message_id = row.message_id
                    session.add(claim)
                    queued += 1
                    log.info("digest queued", day=digest.day.isoformat(),
                             message_id=row.message_id,
                             lines=sum(len(r) for r in digest.rows.values()))
                else:
                    log.info("digest empty; nothing sent", day=digest.day.isoformat())
        except IntegrityError:
            log.info("digest already claimed by another run", day=digest.day.isoformat())
    return queued


# (database, day) -> (newest event id, roster) when every digest that run could
# send was claimed: until a case changes, another run would build the same
# recipients and claim nothing new, so a tick need not read every case again.
_SETTLED: dict[tuple[str, date], tuple[int, str]] = {}


def _stamp(app: App) -> tuple[int, str]:
    with session_scope(app.engine) as session:
        newest = session.exec(select(func.max(Event.id))).one() or 0
    roster = "|".join(f"{m.email}:{m.role}" for m in app.config.members)
    return int(newest), roster


def run_digests(app: App) -> int:
    """Send today's digests when the digest time has passed; returns mails queued."""
    now = app.now_utc()
    sched = app.config.schedule
    day = digest_due(now, sched.zone, sched.digest_time)
    if day is None:
        return 0
    key = (str(app.engine.url), day)
    stamp = _stamp(app)  # read before building: a change during the run re-arms
    if _SETTLED.get(key) == stamp:
        return 0
    queued = send_digests(app, now)
    _SETTLED[key] = stamp
    return queued
