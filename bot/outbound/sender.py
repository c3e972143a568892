"""The outbox sender: delivers queued rows over SMTP, retries, gives up visibly.

Each row holds the finished message bytes (see `bot.outbound.outbox`), so every attempt
sends exactly the same message with the same Message-ID.  Delivery is
at-least-once: if the process dies after the server accepted a message but
before the row is marked sent, the next run sends it again, and recipients
(and the bot's own intake) see the same Message-ID twice, which mail clients
and the pipeline's dedupe treat as one message.  Each row is claimed (leased)
just before its attempt and marked right after it, so a crash repeats at most
that one message, and it goes out again once its lease (one SMTP transaction's
worth of `smtp.timeout`) has run out.

Failures:

- transient (4xx replies, connection errors, timeouts, a failed login): retried
  with exponential backoff and jitter until `smtp.give_up_after_hours` after
  the row was queued; then the row is marked failed.
- permanent (5xx replies): the row is marked failed at once.
- partial acceptance: aiosmtplib returns normally when at least one recipient
  was accepted, with a dict of the refused ones.  Those are recorded on the row
  (``refused``: ``"addr: code text"``) and as an event.  Recipients refused with
  a 4xx reply are retried on their own (the row stays queued with ``sent_at``
  set: "partly delivered"); a 5xx refusal marks the row failed, so it shows up
  in ``cocbot outbox`` and ``cocbot outbox retry`` re-sends to the refused
  recipients only.

Envelope sender: the conduct address, also for automatic replies.  RFC 3834
recommends a null reverse-path (``MAIL FROM:<>``) for automatic responses so
that bounces cannot loop; we deliberately keep the conduct address because (a) submission
relays commonly refuse or rewrite ``MAIL FROM:<>`` from authenticated users,
and (b) a bounce of an acknowledgement tells the group that the reporter's
address does not work.  Loops are prevented instead by ``Auto-Submitted`` on
everything we send and by never answering DSNs or auto-submitted mail.
"""

from __future__ import annotations

import asyncio
import base64
import random
import ssl
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiosmtplib
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.core.app import App
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.core.oauth2 import OAuth2Error, oauthbearer_string, token_source, xoauth2_string
from bot.core.tls import client_context
from bot.store import heartbeat
from bot.store.db import session_scope
from bot.store.models import Case, Event, Outbox
from bot.store.records import add_event

log = get_logger("sender")

BATCH = 50
IDLE_POLL_SECONDS = 5.0
# SMTP replies one transaction waits for besides one per recipient: MAIL, DATA, the
# final reply to the message, and one spare (RSET, a slow database commit).
_FIXED_REPLIES = 4


@dataclass
class Attempt:
    """What one SMTP transaction did for one row."""

    tried: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    error: str | None = None
    transient: bool = True


def refused_entry(addr: str, code: int, text: str) -> str:
    """How a refused recipient is written in `Outbox.refused`."""
    return f"{addr}: {code} {' '.join(text.split())}"[:300]


def refused_addresses(row: Outbox) -> list[str]:
    """The addresses listed in `row.refused`."""
    return [entry.split(":", 1)[0] for entry in row.refused]


def pending_recipients(row: Outbox) -> list[str]:
    """Whom the next attempt for `row` goes to.

    Nothing delivered yet (``sent_at`` empty): every recipient.  Partly
    delivered: only the recipients listed as refused.
    """
    if row.sent_at is None or not row.refused:
        return list(row.recipients)
    return refused_addresses(row)


def backoff_seconds(app: App, attempts: int, rng: random.Random | None = None) -> float:
    """Delay before attempt `attempts` + 1: exponential, capped, with jitter."""
    smtp = app.config.smtp
    base = min(smtp.retry_max_seconds, smtp.retry_base_seconds * (2 ** max(0, attempts - 1)))
    # "Equal jitter": at least half the delay, so retries never bunch at zero.
    return base / 2 + (rng or random).uniform(0, base / 2)


def lease_seconds(app: App, row: Outbox) -> float:
    """How long a claimed row is left alone by other senders.

    Long enough for one SMTP transaction of this row, each reply waiting at most
    `smtp.timeout`; a sender that dies mid-send (SIGKILL, power loss) thereby
    delays the row by no more than that before another pass retries it.
    """
    return app.config.smtp.timeout * (_FIXED_REPLIES + len(pending_recipients(row)))


def _due_rows(app: App) -> list[Outbox]:
    """Queued rows that are due, oldest first (not yet claimed)."""
    with Session(app.engine, expire_on_commit=False) as session:
        rows = list(session.exec(
            select(Outbox)
            .where(Outbox.status == "queued", col(Outbox.next_attempt_at) <= app.now_utc())
            .order_by(col(Outbox.next_attempt_at), col(Outbox.id))
            .limit(BATCH)
        ).all())
        for row in rows:
            session.expunge(row)
    return rows


def _claim(app: App, row: Outbox) -> bool:
    """Claim `row` for one attempt by pushing its next attempt past a lease.

    A conditional update, so only one sender (thread or process) wins a row.  Rows
    are claimed one at a time, just before their own attempt: a batch claimed up
    front would stay leased after a crash for as long as the whole batch could take.
    """
    lease_until = app.now_utc() + timedelta(seconds=lease_seconds(app, row))
    with session_scope(app.engine) as session:
        result = session.execute(
            update(Outbox)
            .where(col(Outbox.id) == row.id, col(Outbox.status) == "queued",
                   col(Outbox.next_attempt_at) == row.next_attempt_at)
            .values(next_attempt_at=lease_until)
        )
        return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def _tls_context(app: App) -> ssl.SSLContext:
    return client_context(app.config)


async def _connect(app: App) -> aiosmtplib.SMTP:
    smtp_cfg = app.config.smtp
    client = aiosmtplib.SMTP(
        hostname=smtp_cfg.host,
        port=smtp_cfg.port,
        timeout=smtp_cfg.timeout,
        use_tls=smtp_cfg.security == "ssl",
        start_tls=smtp_cfg.security == "starttls",
        tls_context=_tls_context(app) if smtp_cfg.security != "none" else None,
    )
    await client.connect()
    await _login(app, client)
    return client


async def _login(app: App, client: aiosmtplib.SMTP) -> None:
    """Authenticate: the password (or app password), or XOAUTH2 / OAUTHBEARER.

    A cached OAuth2 token the server refuses is dropped and tried once more,
    freshly fetched; a fresh one refused is an error quoting the server's words.
    """
    cfg = app.config.smtp
    if cfg.auth_method == "password" or cfg.oauth2 is None:
        if cfg.username:
            await client.login(cfg.username, cfg.password)
        return
    mechanism = cfg.auth_method.upper()
    if client.last_ehlo_response is None:
        await client.ehlo()
    if mechanism not in {m.upper() for m in client.server_auth_methods}:
        offered = " ".join(sorted(m.upper() for m in client.server_auth_methods)) or "none"
        raise aiosmtplib.SMTPAuthenticationError(
            504, f"{cfg.host} does not offer AUTH {mechanism} (offers: {offered})")
    source = token_source(cfg.oauth2, user=cfg.username, label="SMTP",
                          base_dir=app.config.base_dir)
    while True:
        try:
            token, fresh = source.get()
        except OAuth2Error as exc:
            log.warning("smtp login impossible: no OAuth2 token", reason=str(exc))
            raise
        initial = (xoauth2_string(cfg.username, token) if mechanism == "XOAUTH2"
                   else oauthbearer_string(cfg.username, token, cfg.host, cfg.port))
        response = await client.execute_command(
            b"AUTH", mechanism.encode(), base64.b64encode(initial.encode()))
        if response.code == 334:
            # An error challenge (JSON); the client's answer ends the exchange.
            response = await client.execute_command(
                b"" if mechanism == "XOAUTH2" else b"AQ==")
        if response.code == 235:
            return
        # A cached token the server refuses is dropped and tried once more, fresh.
        source.invalidate()
        if fresh:
            message = (f"{mechanism} login refused by {cfg.host}: "
                       f"{' '.join(response.message.split())[:200]}")
            log.warning("smtp login refused", reason=message)
            raise aiosmtplib.SMTPAuthenticationError(response.code, message)


async def _send_one(client: aiosmtplib.SMTP, sender: str, row: Outbox) -> Attempt:
    recipients = pending_recipients(row)
    try:
        errors, _reply = await client.sendmail(sender, recipients, row.raw)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = {r.recipient: (r.code, r.message) for r in exc.recipients}
        return Attempt(tried=recipients, refused=refused, error="every recipient refused")
    except aiosmtplib.SMTPResponseException as exc:
        return Attempt(tried=recipients, error=f"{exc.code} {exc.message}",
                       transient=400 <= exc.code < 500)
    refused = {addr: (resp.code, resp.message) for addr, resp in errors.items()}
    accepted = [r for r in recipients if r not in refused]
    return Attempt(tried=recipients, accepted=accepted, refused=refused)


async def _deliver(app: App, rows: list[Outbox]) -> tuple[int, bool]:
    """One SMTP session for the batch: (rows now sent, whether anything failed).

    Each row is claimed just before and recorded just after its own transaction,
    so a crash can repeat at most the one message the server had just accepted.
    A connection failure counts as a failed attempt for every row of the batch.
    """
    sent = 0
    try:
        client = await _connect(app)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        error = f"cannot reach the SMTP server: {type(exc).__name__}: {exc}"[:500]
        for row in rows:
            if _claim(app, row):
                _record(app, row, Attempt(error=error))
        return sent, True
    broken: str | None = None
    failed = False
    try:
        for row in rows:
            if not _claim(app, row):
                continue  # another sender has it
            if broken is not None:
                attempt = Attempt(error=broken)
            else:
                try:
                    attempt = await _send_one(client, app.config.conduct_address, row)
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    # The session broke: this row and the rest are retried later.
                    broken = f"{type(exc).__name__}: {exc}"[:500]
                    attempt = Attempt(error=broken)
            failed = failed or attempt.error is not None
            if _record(app, row, attempt):
                sent += 1
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
    return sent, failed


def _retry_base(session: Session, row: Outbox) -> datetime:
    """When the current run of attempts began: queued, or last retried by hand."""
    retried = session.exec(
        select(Event.at)
        .where(Event.kind == EventKind.OUTBOX_RETRY, Event.message_id == row.message_id)
        .order_by(col(Event.at).desc()).limit(1)
    ).first()
    return max(row.created_at, retried) if retried is not None else row.created_at


def _record(app: App, claimed: Outbox, attempt: Attempt) -> bool:
    """Store the outcome of one attempt; True when the row is now fully sent."""
    now = app.now_utc()
    with session_scope(app.engine) as session:
        row = session.get(Outbox, claimed.id)
        if row is None:
            return False
        row.attempts += 1
        case = session.get(Case, row.case_id) if row.case_id else None
        if attempt.accepted and row.sent_at is None:
            row.sent_at = now
        # Entries for recipients tried again are replaced by this attempt's answer; a
        # connection failure tried nobody and keeps them.
        tried = set(attempt.tried) if (attempt.accepted or attempt.refused) else set()
        kept = [e for e in row.refused if e.split(":", 1)[0] not in tried]
        new_refusals = [refused_entry(a, c, t) for a, (c, t) in attempt.refused.items()]
        row.refused = kept + new_refusals
        if new_refusals:
            add_event(session, case, EventKind.MAIL_REFUSED, message_id=row.message_id, at=now,
                      mail_kind=row.kind, refused=new_refusals)
        transient_refusal = any(400 <= c < 500 for c, _ in attempt.refused.values())
        if attempt.error is None and not row.refused:
            row.status = "sent"
            row.last_error = None
            add_event(session, case, EventKind.MAIL_SENT, message_id=row.message_id, at=now,
                      mail_kind=row.kind, attempts=row.attempts)
            log.info("mail sent", case=case.code if case else None,
                     message_id=row.message_id, kind=row.kind, attempts=row.attempts)
            session.add(row)
            return True
        if attempt.error is not None and not attempt.refused:
            row.last_error = attempt.error
        elif row.refused:
            row.last_error = f"{len(row.refused)} recipient(s) refused"
        # Permanent: a 5xx for the whole message, or this attempt's refusals all 5xx.
        permanent = (attempt.error is not None and not attempt.transient
                     and not attempt.refused) or (bool(attempt.refused) and not transient_refusal)
        given_up = now - _retry_base(session, row) >= timedelta(
            hours=app.config.smtp.give_up_after_hours)
        if permanent or given_up:
            row.status = "failed"
            reason = "permanent failure" if permanent else "gave up retrying"
            add_event(session, case, EventKind.MAIL_FAILED, message_id=row.message_id, at=now,
                      mail_kind=row.kind, reason=reason, error=row.last_error,
                      refused=row.refused)
            log.warning("mail failed", case=case.code if case else None,
                        message_id=row.message_id, kind=row.kind, reason=reason)
        else:
            row.next_attempt_at = now + timedelta(seconds=backoff_seconds(app, row.attempts))
            log.info("mail delivery will be retried", case=case.code if case else None,
                     message_id=row.message_id, kind=row.kind, attempts=row.attempts)
        session.add(row)
    return False


def deliver_due(app: App) -> int:
    """Deliver queued outbox rows that are due; returns how many were sent."""
    sent = 0
    while True:
        rows = _due_rows(app)
        if not rows:
            return sent
        done, failed = asyncio.run(_deliver(app, rows))
        sent += done
        if failed or len(rows) < BATCH:
            # Do not spin on a broken server; the rows carry their own retry time.
            return sent


def next_due(app: App) -> datetime | None:
    """When the earliest queued row is due (None when nothing is queued)."""
    with Session(app.engine) as session:
        return session.exec(
            select(Outbox.next_attempt_at).where(Outbox.status == "queued")
            .order_by(col(Outbox.next_attempt_at)).limit(1)
        ).first()


def sender_loop(app: App, stop: threading.Event) -> None:
    """Deliver rows as they become due until `stop` is set; wakes on `app.outbox_wakeup`."""
    while not stop.is_set():
        try:
            deliver_due(app)
            due = next_due(app)
            heartbeat.beat(app.engine, heartbeat.SENDER, app.now_utc())
        except Exception:
            # A database hiccup must not kill the sender thread; try again shortly.
            log.exception("sender pass failed")
            due = None
        # Rows queued or retried by another process (`cocbot outbox retry`) do not set
        # our wakeup event, so look at the table again every few seconds regardless.
        wait = IDLE_POLL_SECONDS
        if due is not None:
            wait = max(0.05, min(wait, (due - app.now_utc()).total_seconds()))
        app.outbox_wakeup.wait(wait)
        app.outbox_wakeup.clear()
