"""Danger triage: an urgent notice for every message that may involve physical danger.

The danger check (`rules/danger.toml`, chain "danger") runs on every new report,
whoever sent it and however it came (directly, relayed by a form or the group
with a noreply sender, a member's own first-hand report, a member's forward),
and on every later mail from outside the group in an open case.  It does not
depend on the acknowledgement: a rule that stops the acknowledgement (rate
limits, machine senders, a forged earlier mail from the same sender) never
stops the alarm.

An alarm is a `danger_detected` event.  Within an hour of a notice on the same
case nothing new is sent (the clock is running).  Otherwise every member not
shut out of the case gets the urgent notice at once; beyond
`MAX_URGENT_NOTICES_PER_HOUR` notices in the last hour (a flood), the notice is
merged (`urgent_notice_merged`) into one summary mail the scheduler sends on its
next tick (`send_urgent_summaries`; under a sustained flood at most every
`SUMMARY_EVERY`): merged, never dropped.

An alarm is answered when an authenticated member sets `#safety yes|no` or
writes to the reporter after it; until then the reminders' urgent clock
(`schedule.urgent_response_hours`, day and night) reminds every member in the case.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from bot.core.app import App
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.outbound.acknowledgement import lead_for
from bot.outbound.outbox import queue_mail, valid_address
from bot.store.db import session_scope
from bot.store.models import Case, Event, Outbox
from bot.store.records import add_event, case_events, live_case
from bot.store.recusal import members_in

log = get_logger("danger")

TEMPLATE_URGENT = "urgent_notice"
TEMPLATE_SUMMARY = "urgent_summary"
URGENT_KIND = "urgent"
# Urgent notices are mail an outsider can trigger: bound them per hour, and merge
# the rest into one summary (never drop them).
MAX_URGENT_NOTICES_PER_HOUR = 10
# Within this long after a notice on a case, more danger in it adds no new notice.
REPEAT_AFTER = timedelta(hours=1)
# Under a sustained flood, summaries go out at most this often (the first at once).
SUMMARY_EVERY = timedelta(minutes=10)


def open_alarm(events: Iterable[Event], contacts: Iterable[datetime] = ()) -> Event | None:
    """The oldest danger alarm not answered since, or None.

    Answered: Safety Risk set by a member after it (commands authenticate), or
    authenticated mail to the reporter after it (`contacts`, from the case facts).
    """
    answers = sorted(contacts)
    pending: Event | None = None
    for ev in events:
        if pending is not None and any(pending.at < c <= ev.at for c in answers):
            pending = None
        if ev.kind == EventKind.DANGER_DETECTED and pending is None:
            pending = ev
        elif ev.kind == EventKind.SAFETY_RISK_SET and pending is not None:
            pending = None
    if pending is not None and any(c > pending.at for c in answers):
        return None
    return pending


def _notified_recently(events: Iterable[Event], since: datetime) -> bool:
    return any(ev.kind in (EventKind.URGENT_NOTICE_QUEUED, EventKind.URGENT_NOTICE_MERGED)
               and ev.at >= since for ev in events)


def _notices_last_hour(session: Session, app: App) -> int:
    since = app.now_utc() - timedelta(hours=1)
    return int(session.exec(
        select(func.count()).select_from(Outbox).where(
            Outbox.kind == URGENT_KIND, col(Outbox.created_at) >= since)).one())


def raise_alarm(session: Session, app: App, case: Case, *, reason: str, rule: str,
                message_id: str | None, path: str, acknowledged: bool,
                onfile_suggested: bool = False) -> str:
    """Record danger on `case` and tell the members in it; returns what was done."""
    now = app.now_utc()
    recent = _notified_recently(case_events(session, case), now - REPEAT_AFTER)
    add_event(session, case, EventKind.DANGER_DETECTED, message_id=message_id, at=now,
              rule=rule, reason=reason, path=path)
    if recent:
        # A burst into one case: members were told within the hour, and the
        # urgent clock keeps reminding them until someone answers.
        log.warning("danger again in a case notified within the hour", case=case.code,
                    message_id=message_id)
        return "recent"
    to = [m.email for m in members_in(session, app.config, case) if valid_address(m.email)]
    if not to:
        log.warning("urgent notice has no one to go to", case=case.code)
        return "nobody"
    if _notices_last_hour(session, app) >= MAX_URGENT_NOTICES_PER_HOUR:
        add_event(session, case, EventKind.URGENT_NOTICE_MERGED, message_id=message_id,
                  at=app.now_utc(), limit=MAX_URGENT_NOTICES_PER_HOUR)
        log.warning("urgent notice merged into the next summary", case=case.code,
                    message_id=message_id)
        return "merged"
    lead, is_contact = lead_for(session, app, case)
    row = queue_mail(session, app, kind=URGENT_KIND, template=TEMPLATE_URGENT, to=to, case=case,
                     auto_submitted="auto-generated",
                     context={"path": path, "acknowledged": acknowledged,
                              "onfile_suggested": onfile_suggested,
                              "lead_name": lead, "lead_is_contact": is_contact,
                              "urgent_response_hours": app.config.schedule.urgent_response_hours})
    add_event(session, case, EventKind.URGENT_NOTICE_QUEUED, outbox_message_id=row.message_id,
              reason=reason, recipients=len(to), path=path)
    log.warning("urgent notice queued", case=case.code, message_id=row.message_id)
    return "sent"


def send_urgent_summaries(app: App) -> int:
    """One summary mail per member for every merged urgent notice not yet sent."""
    with session_scope(app.engine) as session:
        merged = session.exec(select(Event).where(
            Event.kind == EventKind.URGENT_NOTICE_MERGED).order_by(col(Event.id))).all()
        if not merged:
            return 0
        sent = session.exec(select(Event).where(
            Event.kind == EventKind.URGENT_SUMMARY_SENT)).all()
        done = {e.data.get("merged_event") for e in sent}
        todo = [e for e in merged if e.id not in done and e.case_id]
        if not todo:
            return 0
        last = max((e.at for e in sent), default=None)
        if last is not None and app.now_utc() - last < SUMMARY_EVERY:
            return 0
        cases: dict[int, Case] = {}
        for ev in todo:
            case = live_case(session, ev.case_id or 0)
            if case is not None:
                cases.setdefault(case.id or 0, case)
        per_member: dict[str, list[str]] = {}
        for case in cases.values():
            for member in members_in(session, app.config, case):
                per_member.setdefault(member.email, []).append(case.code)
        queued = 0
        for member in app.config.members:
            codes = sorted(set(per_member.get(member.email, [])))
            if not codes or not valid_address(member.email):
                continue
            queue_mail(session, app, kind=URGENT_KIND, template=TEMPLATE_SUMMARY,
                       to=[member.email], context={"codes": codes,
                                                   "limit": MAX_URGENT_NOTICES_PER_HOUR})
            queued += 1
        for ev in todo:
            case = live_case(session, ev.case_id or 0)
            add_event(session, case, EventKind.URGENT_SUMMARY_SENT, at=app.now_utc(),
                      merged_event=ev.id, recipients=queued)
        log.warning("urgent summary queued", cases=len(cases), mails=queued)
        return queued
