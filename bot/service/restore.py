"""After `cocbot db restore`: the bot must not act twice on what it handled before.

The restored records end at the moment the backup was taken.  The bot that ran
afterwards, until the restore, may have acknowledged reports, sent reminders
and digests, and delivered mail that was still queued in the backup; none of
that is in the restored records.  What the replaced database knew is read
before it is overwritten (`bot.store.backup.read_replaced`); when it is gone
(a new machine, a lost disk) the restore moment stands in for it.  Then:

- intake files mail that arrived before the replaced bot's last handled
  message (else before the restore moment) silently (`bot.intake.filer`
  `backfill_cutoff`): cases, records and commands are rebuilt, no
  acknowledgement, transcript or warning goes out a second time.  Mail that
  arrived later, while that bot was stopped, was never handled: it is new;
- mail still queued in the backup is marked sent when the replaced records
  say it was sent, stays queued when they say it was not, and is otherwise
  held (status "failed", with the reason) rather than sent again: it may
  have gone out.  `cocbot outbox` lists it, the digest reports it, `cocbot
  outbox retry ID` sends it;
- every reminder that could have gone out while the replaced bot ran counts
  as sent at its last sign of life (a `reminder_sent` event with
  ``assumed = "restore"``), so the next one follows
  `schedule.reminder_repeat_hours` later;
- each digest whose time fell between the backup and that moment is claimed
  without mail, so nobody gets that day's digest twice.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.clocks.casefacts import case_facts
from bot.clocks.reminders import obligations
from bot.core.clock import at_local, local
from bot.core.config import Config
from bot.core.events import EventKind
from bot.store.backup import BACKUP_AT, RESTORED_AT, SILENT_BEFORE, Replaced, set_time
from bot.store.db import session_scope
from bot.store.heartbeat import clear_running
from bot.store.models import Case, DigestClaim, Event, InboundMessage, Outbox, Setting
from bot.store.records import add_event

HELD_REASON = ("held at restore: queued when the backup was taken and the replaced records "
               "cannot tell whether it went out; `cocbot outbox retry ID` sends it")


@dataclass(frozen=True)
class RestoreReport:
    """What `after_restore` did."""

    restored_at: datetime
    backup_taken_at: datetime | None
    silent_before: datetime  # inbox mail that arrived before this is filed silently
    held_mail: int
    sent_before: int  # queued in the backup, sent by the replaced bot
    carried_over: int  # queued or failed after the backup in the replaced records: kept
    reminders_assumed: int
    digests_claimed: int


def after_restore(config: Config, engine: Engine, now: datetime,
                  replaced: Replaced | None = None) -> RestoreReport:
    """Record the restore and make sure nothing the replaced bot handled happens again."""
    # Whole seconds, like IMAP arrival times.
    restored = now.replace(microsecond=0)
    silent = restored
    acted_until = restored
    if replaced is not None and replaced.handled_until is not None:
        silent = min(replaced.handled_until, restored)
    if replaced is not None and replaced.active_until is not None:
        acted_until = min(replaced.active_until, restored)
    with session_scope(engine) as session:
        taken = _backup_moment(session)
        # The backup's own marker (from an earlier restore) stays true of its records.
        earlier = session.get(Setting, SILENT_BEFORE)
        if earlier is not None:
            with contextlib.suppress(ValueError):
                silent = max(silent, _utc(datetime.fromisoformat(earlier.value)))
        set_time(session, RESTORED_AT, restored)
        set_time(session, SILENT_BEFORE, silent)
        # Copied from the live database when the backup was taken; no bot runs on this one.
        clear_running(session)
        held, recovered = _reconcile_outbox(session, replaced, restored)
        carried = _carry_pending(session, replaced)
        reminders = _assume_reminders(session, config, acted_until)
        digests = _claim_digests(session, config, taken, acted_until)
        add_event(session, None, EventKind.RESTORED, at=restored,
                  backup_taken_at=taken.isoformat() if taken else None,
                  silent_before=silent.isoformat(), held_mail=held, sent_before=recovered,
                  carried_over=carried, reminders_assumed=reminders, digests_claimed=digests)
    return RestoreReport(restored, taken, silent, held, recovered, carried, reminders, digests)


def _backup_moment(session: Session) -> datetime | None:
    """When the backup was taken: its own record, else its latest activity."""
    row = session.get(Setting, BACKUP_AT)
    if row is not None:
        try:
            return _utc(datetime.fromisoformat(row.value))
        except ValueError:
            pass
    latest = [session.exec(select(func.max(col))).one()
              for col in (Event.at, InboundMessage.received_at, Outbox.created_at)]
    known = [_utc(t) for t in latest if t is not None]
    return max(known) if known else None


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _reconcile_outbox(session: Session, replaced: Replaced | None,
                      restored: datetime) -> tuple[int, int]:
    """Mail queued in the backup: (held, found sent in the replaced records)."""
    held = recovered = 0
    for row in session.exec(select(Outbox).where(Outbox.status == "queued")).all():
        case = session.get(Case, row.case_id) if row.case_id else None
        status, sent_at = (replaced.outbox.get(row.message_id, ("unknown", None))
                           if replaced is not None else ("unknown", None))
        if status == "sent":
            row.status, row.sent_at, row.last_error = "sent", sent_at or restored, None
            add_event(session, case, EventKind.MAIL_SENT, message_id=row.message_id,
                      at=restored, mail_kind=row.kind, attempts=row.attempts,
                      recorded="restore: sent before the restore")
            recovered += 1
        elif status == "queued" and sent_at is None:
            continue  # never went out: the restored bot sends it
        else:
            row.status, row.last_error = "failed", HELD_REASON
            add_event(session, case, EventKind.MAIL_HELD_AT_RESTORE, message_id=row.message_id,
                      at=restored, mail_kind=row.kind)
            held += 1
        session.add(row)
    return held, recovered


def _carry_pending(session: Session, replaced: Replaced | None) -> int:
    """Keep mail the replaced bot decided to send after the backup but never sent (or failed).

    The messages that caused it are filed again silently, so without this an
    acknowledgement held up by an SMTP outage before the restore would never go out.
    Rows keep their bytes, recipients, refusals and status; the case link is kept
    when the case existed at the backup (same code name), else dropped.
    """
    if replaced is None:
        return 0
    carried = 0
    for old, code in replaced.pending:
        if session.exec(select(Outbox.id).where(
                Outbox.message_id == old.message_id)).first() is not None:
            continue  # in the backup too: `_reconcile_outbox` decided
        case = session.exec(select(Case).where(Case.code == code)).first() if code else None
        row = Outbox(message_id=old.message_id, case_id=case.id if case else None,
                     kind=old.kind, recipients=list(old.recipients), raw=old.raw,
                     status=old.status, attempts=old.attempts,
                     next_attempt_at=old.next_attempt_at, created_at=old.created_at,
                     sent_at=old.sent_at, last_error=old.last_error, refused=list(old.refused))
        session.add(row)
        carried += 1
    return carried


def _assume_reminders(session: Session, config: Config, restored: datetime) -> int:
    repeat = timedelta(hours=config.schedule.reminder_repeat_hours)
    count = 0
    for case in session.exec(select(Case).where(Case.merged_into == None)).all():  # noqa: E711
        facts = case_facts(session, config, case)
        for ob in obligations(facts, config):
            if ob.due > restored:
                continue
            sent = facts.reminders_sent(ob.key)
            if sent and restored - _utc(sent[-1].at) < repeat:
                continue
            add_event(session, case, EventKind.REMINDER_SENT, at=restored, key=ob.key,
                      reminder=ob.kind, to=[], due=ob.due.isoformat(), assumed="restore")
            count += 1
    return count


def _claim_digests(session: Session, config: Config, taken: datetime | None,
                   restored: datetime) -> int:
    zone = config.schedule.zone
    # Without any trace of when the backup was taken, the restore's own day is at risk.
    start = taken or restored - timedelta(days=1)
    day = local(start, zone).date()
    last = local(restored, zone).date()
    count = 0
    while day <= last:
        moment = at_local(day, config.schedule.digest_time, zone)
        if start < moment <= restored:
            for member in config.members:
                exists = session.exec(select(DigestClaim.id).where(
                    DigestClaim.recipient == member.email, DigestClaim.day == day)).first()
                if exists is None:
                    session.add(DigestClaim(recipient=member.email, day=day,
                                            claimed_at=restored))
                    count += 1
        day += timedelta(days=1)
    return count
