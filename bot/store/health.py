"""`cocbot status`: the bot's health, read from the database, judged against `[status]`.

Everything comes from what the running bot already writes: the intake's
heartbeat (`bot.store.heartbeat`), the outbox, the quarantine and the schema
revision.  So `status` works from any machine that reaches the database, also
when the daemon is down (then its heartbeat goes stale, which is the alarm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.core.config import Config
from bot.store.heartbeat import INTAKE, SENDER, read_beats, running_since
from bot.store.models import Outbox, Quarantine


@dataclass
class Health:
    """The figures `cocbot status` prints, and what is out of bounds."""

    now: datetime
    intake_source: str  # imap | maildir: what "inbox contact" means
    running_since: datetime | None  # a `cocbot run` that has not stopped cleanly started then
    last_intake_contact: datetime | None
    last_sender_pass: datetime | None
    last_successful_send: datetime | None
    queue_length: int
    oldest_unsent: datetime | None
    failed_mail: int
    quarantined: int
    quarantined_spam: int
    schema_current: str | None
    schema_newest: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when every figure is within its bound."""
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict (times ISO-8601, UTC)."""
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "healthy": self.healthy,
            "problems": list(self.problems),
            "checked_at": iso(self.now),
            "intake_source": self.intake_source,
            "running_since": iso(self.running_since),
            "last_intake_contact": iso(self.last_intake_contact),
            "last_sender_pass": iso(self.last_sender_pass),
            "last_successful_send": iso(self.last_successful_send),
            "queue_length": self.queue_length,
            "oldest_unsent": iso(self.oldest_unsent),
            "failed_mail": self.failed_mail,
            "quarantined": self.quarantined,
            "quarantined_spam": self.quarantined_spam,
            "schema": {"current": self.schema_current, "newest": self.schema_newest,
                       "up_to_date": self.schema_current == self.schema_newest},
        }


def _age_minutes(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / 60


def measure(config: Config, engine: Engine, now: datetime) -> Health:
    """Read the figures and judge them against `config.status`."""
    from bot.store.db import schema_status

    current, newest = schema_status(engine)
    with Session(engine) as session:
        beats = read_beats(session) if current is not None else {}
        running = running_since(session) if current is not None else None
        queued = select(func.count()).select_from(Outbox).where(Outbox.status == "queued")
        queue_length = session.exec(queued).one() if current else 0
        oldest = session.exec(select(func.min(Outbox.created_at))
                              .where(Outbox.status == "queued")).one() if current else None
        last_sent = session.exec(select(func.max(Outbox.sent_at))).one() if current else None
        failed = session.exec(select(func.count()).select_from(Outbox)
                              .where(Outbox.status == "failed")).one() if current else 0
        open_q = (select(Quarantine.kind, func.count()).where(
            col(Quarantine.released_at).is_(None)).group_by(Quarantine.kind))
        by_kind = dict(session.exec(open_q).all()) if current else {}
    health = Health(
        now=now, intake_source=config.intake.source, running_since=running,
        last_intake_contact=beats.get(INTAKE),
        last_sender_pass=beats.get(SENDER),
        last_successful_send=_aware(last_sent), queue_length=int(queue_length),
        oldest_unsent=_aware(oldest), failed_mail=int(failed),
        quarantined=sum(n for k, n in by_kind.items() if k != "spam"),
        quarantined_spam=int(by_kind.get("spam", 0)),
        schema_current=current, schema_newest=newest,
    )
    health.problems = judge(config, health)
    return health


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for what was stored as aware UTC.
    if value is None or value.tzinfo is not None:
        return value
    from datetime import UTC

    return value.replace(tzinfo=UTC)


def judge(config: Config, h: Health) -> list[str]:
    """One line per figure outside its `[status]` bound (each names the bound)."""
    bounds = config.status
    problems: list[str] = []
    if h.schema_current != h.schema_newest:
        problems.append(f"schema at {h.schema_current or '(empty)'}, newest is "
                        f"{h.schema_newest}: run `cocbot db upgrade`")
    silence = timedelta(minutes=bounds.max_intake_silence_minutes)
    if h.last_intake_contact is None:
        problems.append("the inbox was never read (is `cocbot run` running?)")
    elif h.now - h.last_intake_contact > silence:
        problems.append(
            f"last inbox contact {_age_minutes(h.now, h.last_intake_contact):.0f} min ago "
            f"(status.max_intake_silence_minutes = {bounds.max_intake_silence_minutes:g})")
    if h.queue_length > bounds.max_queue_length:
        problems.append(f"{h.queue_length} mail(s) waiting in the outbox "
                        f"(status.max_queue_length = {bounds.max_queue_length})")
    if h.oldest_unsent is not None and h.now - h.oldest_unsent > timedelta(
            minutes=bounds.max_unsent_minutes):
        problems.append(
            f"the oldest unsent mail was queued {_age_minutes(h.now, h.oldest_unsent):.0f} "
            f"min ago (status.max_unsent_minutes = {bounds.max_unsent_minutes:g})")
    if h.failed_mail > bounds.max_failed_mail:
        problems.append(f"{h.failed_mail} mail(s) failed for good; see `cocbot outbox` "
                        f"(status.max_failed_mail = {bounds.max_failed_mail})")
    if h.quarantined > bounds.max_quarantined:
        problems.append(f"{h.quarantined} message(s) in quarantine; see `cocbot quarantine` "
                        f"(status.max_quarantined = {bounds.max_quarantined})")
    return problems
