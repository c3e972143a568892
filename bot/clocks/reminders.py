"""Reminders: the manual's clocks, kept from the database on every scheduler run.

Each clock is an *obligation* derived from the case's current state (never
stored): while it is open and past due, its reminder goes out, then again no
sooner than `schedule.reminder_repeat_hours` later, until the state change that
answers it closes it.  Every reminder sent is a "reminder_sent" event (with the
obligation's `key`) written in the same transaction as its outbox row, so a
restart or a second instance never sends one twice; when a reminded obligation
closes, a "reminder_cleared" event records it once.

Clocks (key: due -> to; closed by):

- ack_overdue: report + ack_overdue_hours -> the chair(s); closed by the
  acknowledgement being sent, or by any member writing to the reporter.
- first_response: report + first_response_days -> point of contact (else the
  chair); closed by a member writing to the reporter.
- progress:<anchor>: last mail to the reporter + progress_update_days -> point
  of contact; closed by new mail to the reporter (which opens the next one).
- unilateral:<event id>: `#unilateral` + unilateral_report_hours -> that
  member; closed by their next message filed in the case.
- review:<date>: the review date (local midnight) -> point of contact; closed
  by `#review` with another date, or `#review done`.
- urgent:<event id>: a danger alarm + urgent_response_hours -> every member not
  shut out of the case, repeated every urgent_response_hours, day and night;
  closed by `#safety yes|no` or a member's authenticated mail to the reporter.
- decision:<proposal>: an open proposal + decision_days -> the chair(s), told
  to turn the matter over to the board (a `proposal_to_board` event); once.
- feedback:<proposal>: an agreed proposal + feedback_days -> point of contact;
  closed by `#feedback`.
- draft:<event id>: a `#draft` + draft_review_hours -> every member not shut
  out of the case but its author; closed by `#approve`, `#revise`, or the
  author's newer draft.

A reminder with nobody to go to is recorded as sent to nobody (`undeliverable`).

The first three apply to Ongoing cases with a reporter outside the group whose
report was not backfilled.  Outside working days/hours in `schedule.timezone`
reminders wait, unless the case is urgent (Safety Risk "Yes", or the danger
notice went out).  Recused members never get a reminder about the case.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.clocks.casefacts import (
    BATCH,
    CaseFacts,
    ReporterClock,
    case_facts,
    facts_for,
    point_of_contact,
)
from bot.core.app import App
from bot.core.clock import (
    at_local,
    format_day,
    format_moment,
    is_working_time,
    next_working_time,
)
from bot.core.config import Config
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.governance.proposals import latest_agreed, open_proposal
from bot.governance.review import awaiting_review
from bot.outbound.outbox import queue_mail
from bot.store import clockindex
from bot.store.db import among, session_scope
from bot.store.models import Case, Event
from bot.store.records import STATUS_ONGOING, add_event, live_case

log = get_logger("reminders")

ACK_OVERDUE = "ack_overdue"
FIRST_RESPONSE = "first_response"
PROGRESS = "progress"
UNILATERAL = "unilateral"
REVIEW = "review"
URGENT = "urgent"
DECISION = "decision"
FEEDBACK = "feedback"
DRAFT = "draft"

TEMPLATES = {
    ACK_OVERDUE: "reminder_ack_overdue",
    FIRST_RESPONSE: "reminder_first_response",
    PROGRESS: "reminder_progress",
    UNILATERAL: "reminder_unilateral",
    REVIEW: "reminder_review",
    URGENT: "reminder_urgent",
    DECISION: "reminder_decision",
    FEEDBACK: "reminder_feedback",
    DRAFT: "reminder_draft",
}
# What each reminder is about, for the digest (no case content).
LABELS = {
    ACK_OVERDUE: "no acknowledgement has gone to the reporter",
    FIRST_RESPONSE: "no member has written to the reporter yet",
    PROGRESS: "no progress update to the reporter",
    UNILATERAL: "unilateral action not yet reported to the group",
    REVIEW: "review date reached",
    URGENT: "possible danger not yet answered (#safety)",
    DECISION: "no quorum on the proposal: turn it over to the board",
    FEEDBACK: "no feedback from affected parties recorded yet",
    DRAFT: "a draft waits for a second member's review",
}


# Events that start a clock whatever the case's status (a resolved case too).
ANY_STATUS_CLOCKS = (EventKind.UNILATERAL_ACTION, EventKind.DRAFT_FILED)


@dataclass(frozen=True)
class Obligation:
    """One open clock on a case."""

    kind: str  # one of TEMPLATES' keys
    key: str  # unique per clock instance within the case
    started: datetime
    due: datetime
    audience: str  # "chair" | "contact" | "member" | "all" | "reviewers"
    member: str | None = None  # audience "member": who; "reviewers": who is left out

    @property
    def template(self) -> str:
        """The reminder's mail template."""
        return TEMPLATES[self.kind]

    @property
    def label(self) -> str:
        """A short description for the digest."""
        return LABELS[self.kind]


def _minute(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%MZ")


def obligations(facts: CaseFacts, config: Config) -> list[Obligation]:
    """The clocks open on the case right now (due or not yet due)."""
    sched = config.schedule
    case = facts.case
    out: list[Obligation] = []
    if case.merged_into is not None:
        return out
    # A report a member forwarded days later starts the clocks when the group got it.
    reported = max(case.date_reported, facts.opened_at)
    if facts.ongoing and facts.has_reporter:
        if not facts.backfilled:
            # Several reporters (merged reports): each is acknowledged and answered.
            clocks = facts.reporter_clocks or [
                ReporterClock("", reported, facts.ack_sent_at, facts.first_contact_at)]
            for clock in clocks:
                if clock.ack_sent_at is None and clock.first_contact_at is None:
                    out.append(Obligation(
                        ACK_OVERDUE, ACK_OVERDUE + clock.suffix, clock.reported_at,
                        clock.reported_at + timedelta(hours=sched.ack_overdue_hours), "chair"))
                if clock.first_contact_at is None:
                    out.append(Obligation(
                        FIRST_RESPONSE, FIRST_RESPONSE + clock.suffix, clock.reported_at,
                        clock.reported_at + timedelta(days=sched.first_response_days),
                        "contact"))
        anchor: datetime | None = facts.last_contact_at
        if facts.backfilled:
            # Imported history starts the clock only once the case is live again.
            if facts.first_live_at is not None:
                anchor = max(anchor, facts.first_live_at) if anchor else facts.first_live_at
            else:
                anchor = None
        if anchor is not None:
            out.append(Obligation(PROGRESS, f"{PROGRESS}:{_minute(anchor)}", anchor,
                                  anchor + timedelta(days=sched.progress_update_days),
                                  "contact"))
    for uni in facts.unilateral:
        if uni.reported_at is None:
            out.append(Obligation(UNILATERAL, f"{UNILATERAL}:{uni.event_id}", uni.at,
                                  uni.at + timedelta(hours=sched.unilateral_report_hours),
                                  "member", member=uni.member))
    if case.review_date is not None:
        start = at_local(case.review_date, datetime.min.time(), sched.zone)
        out.append(Obligation(REVIEW, f"{REVIEW}:{case.review_date.isoformat()}", start, start,
                              "contact"))
    out.extend(governance_obligations(facts, config))
    for draft in awaiting_review(facts.events):
        out.append(Obligation(DRAFT, f"{DRAFT}:{draft.event_id}", draft.filed_at,
                              draft.filed_at + timedelta(hours=sched.draft_review_hours),
                              "reviewers", member=draft.author))
    return out


def governance_obligations(facts: CaseFacts, config: Config) -> list[Obligation]:
    """The urgent clock, the decision deadline and the feedback wait (module doc)."""
    sched = config.schedule
    out: list[Obligation] = []
    alarm = facts.alarm
    if alarm is not None and facts.ongoing:
        out.append(Obligation(URGENT, f"{URGENT}:{alarm.id}", alarm.at,
                              alarm.at + timedelta(hours=sched.urgent_response_hours), "all"))
    if not facts.ongoing:
        return out
    pending = open_proposal(facts.events)
    if pending is not None:
        out.append(Obligation(DECISION, f"{DECISION}:{pending.id}", pending.opened_at,
                              pending.opened_at + timedelta(days=sched.decision_days), "chair"))
    agreed = latest_agreed(facts.events)
    if agreed is not None and not agreed.feedback_recorded and agreed.decided_at is not None:
        out.append(Obligation(FEEDBACK, f"{FEEDBACK}:{agreed.id}", agreed.decided_at,
                              agreed.decided_at + timedelta(days=sched.feedback_days), "contact"))
    return out


def chair_recipients(config: Config, recused: set[str]) -> list[str]:
    """Non-recused chairs; failing that, every non-recused member."""
    chairs = [m.email for m in config.chairs if m.email not in recused]
    if chairs:
        return chairs
    return [m.email for m in config.members if m.email not in recused]


def recipients_for(config: Config, facts: CaseFacts, ob: Obligation) -> tuple[list[str], bool]:
    """Who gets the reminder for `ob`, and whether they stand in for someone.

    Never a member recused from the case: a reminder meant for a recused (or
    missing) point of contact or acting member goes to the chair(s) instead.
    """
    recused = facts.recused
    if ob.audience == "all":
        return [m.email for m in config.members if m.email not in recused], False
    if ob.audience == "reviewers":
        # A second member reviews: never the author, never anyone shut out.
        author = config.member_for(ob.member)
        mine = set(author.addresses) if author else {(ob.member or "").lower()}
        return [m.email for m in config.members
                if m.email not in recused and mine.isdisjoint(m.addresses)], False
    if ob.audience == "member" and ob.member:
        member = config.member_for(ob.member)
        if member is not None and member.email not in recused:
            return [member.email], False
        return chair_recipients(config, recused), True
    if ob.audience == "contact":
        contact = point_of_contact(config, facts.case)
        if contact is not None and contact.email not in recused:
            return [contact.email], False
        # No point of contact yet is the normal case early on: the chair is it.
        return chair_recipients(config, recused), contact is not None
    return chair_recipients(config, recused), False


def due_now(ob: Obligation, facts: CaseFacts, config: Config, now: datetime) -> bool:
    """True when `ob`'s reminder should go out at `now` (due, in hours, not repeated early)."""
    sched = config.schedule
    if now < ob.due:
        return False
    if not facts.urgent and not is_working_time(now, sched.zone, sched.working_hours,
                                                sched.working_days):
        return False
    sent = facts.reminders_sent(ob.key)
    repeat = sched.urgent_response_hours if ob.kind == URGENT else sched.reminder_repeat_hours
    return not (sent and now - sent[-1].at < timedelta(hours=repeat))


def _context(config: Config, facts: CaseFacts, ob: Obligation, now: datetime,
             fallback: bool) -> dict[str, Any]:
    zone = config.schedule.zone
    elapsed = now - ob.started
    return {
        "reported": format_moment(facts.case.date_reported, zone),
        "started": format_moment(ob.started, zone),
        "due": format_moment(ob.due, zone),
        "now": format_moment(now, zone),
        "elapsed_days": elapsed.days,
        "elapsed_hours": int(elapsed.total_seconds() // 3600),
        "review_date": format_day(facts.case.review_date, zone) if facts.case.review_date else "",
        "last_contact": (format_day(facts.last_contact_at, zone)
                         if facts.last_contact_at else ""),
        "reminder_number": len(facts.reminders_sent(ob.key)) + 1,
        "repeat_hours": config.schedule.reminder_repeat_hours,
        "has_contact": point_of_contact(config, facts.case) is not None,
        "fallback": fallback,
        "urgent": facts.urgent,
        # A clock of one of several reporters (merged reports) other than the first.
        "another_reporter": ob.kind != ob.key and ob.kind in (ACK_OVERDUE, FIRST_RESPONSE),
        "ack_overdue_hours": config.schedule.ack_overdue_hours,
        "first_response_days": config.schedule.first_response_days,
        "progress_update_days": config.schedule.progress_update_days,
        "unilateral_report_hours": config.schedule.unilateral_report_hours,
        "urgent_response_hours": config.schedule.urgent_response_hours,
        "decision_days": config.schedule.decision_days,
        "feedback_days": config.schedule.feedback_days,
        "draft_review_hours": config.schedule.draft_review_hours,
        "member_name": _member_name(config, ob.member),
        "board_address": config.board.address,
    }


def _member_name(config: Config, address: str | None) -> str:
    """The roster name behind `address` ("a former member" when none)."""
    member = config.member_for(address)
    return member.name if member is not None else "a former member"


def _answered(facts: CaseFacts, open_keys: set[str]) -> list[str]:
    """Keys that were reminded about, are no longer open, and are not yet marked cleared."""
    sent = {e.data.get("key") for e in facts.events if e.kind == EventKind.REMINDER_SENT}
    cleared = {e.data.get("key") for e in facts.events if e.kind == EventKind.REMINDER_CLEARED}
    return sorted(k for k in sent - cleared - open_keys if isinstance(k, str))


def _clear_answered(session: Session, facts: CaseFacts, open_keys: set[str],
                    now: datetime) -> None:
    """Record once that a reminded obligation was answered."""
    for key in _answered(facts, open_keys):
        add_event(session, facts.case, EventKind.REMINDER_CLEARED, at=now, key=key,
                  reminder=key.split(":", 1)[0])
        log.info("reminder cleared", case=facts.case.code, reminder=key)


def remind_case(session: Session, app: App, case: Case, facts: CaseFacts | None = None) -> int:
    """Send the reminders due on `case` now (caller's transaction); returns how many.

    `facts` may be given when the caller read them in this transaction, under the lock.
    """
    now = app.now_utc()
    if facts is None:
        facts = case_facts(session, app.config, case)
    obs = obligations(facts, app.config)
    _clear_answered(session, facts, {o.key for o in obs}, now)
    sent = 0
    for ob in obs:
        if not due_now(ob, facts, app.config, now):
            continue
        to, fallback = recipients_for(app.config, facts, ob)
        if not to:
            # Recorded like a reminder sent (to nobody), so that the warning, too, comes
            # once per repeat interval instead of at every tick; the digest still lists it.
            add_event(session, case, EventKind.REMINDER_SENT, at=now, key=ob.key,
                      reminder=ob.kind, to=[], due=ob.due.isoformat(), urgent=facts.urgent,
                      undeliverable=True)
            log.warning("reminder has no one to go to", case=case.code, reminder=ob.kind)
            continue
        row = queue_mail(session, app, kind="reminder", template=ob.template, to=to, case=case,
                         context=_context(app.config, facts, ob, now, fallback))
        add_event(session, case, EventKind.REMINDER_SENT, at=now, message_id=row.message_id,
                  key=ob.key, reminder=ob.kind, to=to, due=ob.due.isoformat(),
                  urgent=facts.urgent)
        if ob.kind == DECISION:
            # The outcome of a proposal without quorum: the chairs turn it to the board.
            add_event(session, case, EventKind.PROPOSAL_TO_BOARD, at=now,
                      proposal=int(ob.key.split(":", 1)[1]), to=to,
                      board=app.config.board.address)
        log.info("reminder queued", case=case.code, reminder=ob.kind,
                 message_id=row.message_id)
        sent += 1
    return sent


def _candidates(app: App) -> list[int]:
    """Cases that have something to send or clear now.

    Only cases without a valid stored due-time, or whose time has come, are
    looked at (`bot.store.clockindex`); every case looked at gets its next time
    stored, so a steady tick reads one indexed query and nothing else.
    """
    now = app.now_utc()
    key = clock_key(app.config)
    ids: list[int] = []
    urgent: set[int] = set()
    with session_scope(app.engine) as session:
        stale = clockindex.to_look_at(session, now, key)
        if not stale:
            return ids
        clocked = _clocked_cases(session)
        # Plain columns first: only the cases left to look at are loaded whole.
        todo: list[int] = []
        for start in range(0, len(stale), BATCH):
            for cid, status, review in session.execute(
                    sa_select(col(Case.id), col(Case.status), col(Case.review_date))
                    .where(among(session, col(Case.id), stale[start:start + BATCH]))).all():
                if status != STATUS_ONGOING and review is None and cid not in clocked:
                    # Resolved, no review date, no clock of its own: nothing can fall due.
                    clockindex.remember(session, cid, None, key)
                else:
                    todo.append(cid)
        cases: list[Case] = []
        for start in range(0, len(todo), BATCH):
            cases.extend(session.exec(select(Case).where(
                among(session, col(Case.id), todo[start:start + BATCH]))).all())
        cases.sort(key=lambda c: c.id or 0)
        for case, facts in zip(cases, facts_for(session, app.config, cases), strict=True):
            obs = obligations(facts, app.config)
            if any(due_now(o, facts, app.config, now) for o in obs) or _answered(
                    facts, {o.key for o in obs}):
                ids.append(case.id or 0)
                if facts.urgent:
                    urgent.add(case.id or 0)
            else:
                clockindex.remember(session, case.id or 0,
                                    next_check(obs, facts, app.config, now), key)
    # In a burst (after an outage or a restore), possible danger goes out first.
    return sorted(ids, key=lambda cid: (cid not in urgent, cid))


def _clocked_cases(session: Session) -> set[int]:
    """Live cases with a clock of their own (a #unilateral or #draft, a reminder, an alarm).

    Resolved cases only matter with a review date or one of these.
    """
    clocked = set(session.exec(select(Event.case_id).distinct().where(
        col(Event.kind).in_([*ANY_STATUS_CLOCKS, EventKind.REMINDER_SENT,
                             EventKind.DANGER_DETECTED]))).all())
    for child, parent in session.exec(select(Case.id, Case.merged_into).where(
            col(Case.merged_into).is_not(None))).all():
        root = live_case(session, parent) if child in clocked and parent else None
        if root is not None:
            clocked.add(root.id)
    return {cid for cid in clocked if cid is not None}


def next_check(obs: list[Obligation], facts: CaseFacts, config: Config,
               now: datetime) -> datetime | None:
    """The earliest moment any of `obs` can be due (None: nothing open).

    A lower bound, so a case is never skipped past the moment it is due: the due
    time (or the end of the repeat interval), moved to the start of the next
    working hours when the case is not urgent and that time falls outside them
    (otherwise an overdue case would be read again every minute all night).
    """
    repeat = timedelta(hours=config.schedule.reminder_repeat_hours)
    times = []
    for ob in obs:
        sent = facts.reminders_sent(ob.key)
        times.append(max(ob.due, sent[-1].at + repeat) if sent else ob.due)
    if not times:
        return None
    earliest = min(times)
    if not facts.urgent:
        sched = config.schedule
        opens = next_working_time(max(earliest, now), sched.zone, sched.working_hours,
                                  sched.working_days)
        if opens is not None:
            earliest = max(earliest, opens)
    return earliest


def clock_key(config: Config) -> str:
    """A key of what due times depend on: the schedule and the roster."""
    data = config.schedule.model_dump_json() + "|".join(
        f"{m.email}:{m.role}" for m in config.members)
    return hashlib.sha256(data.encode()).hexdigest()[:32]


# Cases handled per transaction when sending: one commit per case made a burst of
# thousands of overdue reminders take minutes.
SEND_BATCH = 50


def run_reminders(app: App) -> int:
    """Send every reminder due at app.now(), a batch of cases per transaction; returns how many.

    Cases with possible danger come first. A batch that fails is retried one
    case per transaction, so one case that cannot be handled holds back no other.
    """
    todo = _candidates(app)
    total = 0
    for start in range(0, len(todo), SEND_BATCH):
        batch = todo[start:start + SEND_BATCH]
        if total:
            app.outbox_wakeup.set()  # what is committed goes out while the rest is prepared
        try:
            total += _remind_batch(app, batch)
        except Exception:
            if len(batch) == 1:
                log.exception("reminders failed for one case", case_id=batch[0])
                continue
            for case_id in batch:
                try:
                    total += _remind_batch(app, [case_id])
                except Exception:
                    log.exception("reminders failed for one case", case_id=case_id)
    return total


def _remind_batch(app: App, case_ids: list[int]) -> int:
    """Send the reminders due on `case_ids` in one transaction."""
    with session_scope(app.engine) as session:
        # Take the cases' row locks first (a no-op UPDATE: row locks on PostgreSQL,
        # the write lock on SQLite), then re-read: a second instance running the
        # same job waits here and then sees our events.
        session.execute(update(Case).where(col(Case.id).in_(case_ids))
                        .values(code=Case.code))
        order = {cid: i for i, cid in enumerate(case_ids)}  # urgent first, as given
        cases = sorted(session.exec(select(Case).where(col(Case.id).in_(case_ids))).all(),
                       key=lambda c: order.get(c.id or 0, 0))
        sent = 0
        for case, facts in zip(cases, facts_for(session, app.config, cases), strict=True):
            sent += remind_case(session, app, case, facts)
        return sent
