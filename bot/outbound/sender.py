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

Each claim also names the claiming instance (`claimed_by`, see
`bot.store.lease`); when an instance takes the intake lease over (after a
crash, an immediate restart included) it takes over the dead holder's claims
at once instead of waiting out their leases.

Failures:

- the server cannot be reached or refuses the login: the rows are left alone
  (no attempt counted, no growing backoff) and the server is probed again every
  `service.smtp_probe_seconds`; the first successful connection drains the
  queue.  A refused login is logged as an error with the server's words, and
  after `service.login_failure_exit_minutes` the daemon exits non-zero.

- transient (4xx replies, a session that breaks mid-message, timeouts): retried
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
import re
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
from bot.core.watch import LoginWatch, report_fatal
from bot.store import heartbeat
from bot.store.db import session_scope
from bot.store.lease import Holder
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
            .values(next_attempt_at=lease_until, claimed_by=Holder.me().text)
        )
        return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def take_over_claims(app: App) -> int:
    """Make rows claimed by other (dead) instances due now; returns how many.

    Called by the instance that has just taken the intake lease: whoever claimed
    those rows no longer works, so their attempts in flight are repeated at once
    (an acknowledgement goes out again under the same Message-ID, or for the
    first time), instead of after their time leases run out.
    """
    me = Holder.me().text
    with session_scope(app.engine) as session:
        result = session.execute(
            update(Outbox)
            .where(col(Outbox.status) == "queued", col(Outbox.claimed_by) != None,  # noqa: E711
                   col(Outbox.claimed_by) != me)
            .values(next_attempt_at=app.now_utc(), claimed_by=None)
        )
        count: int = result.rowcount  # type: ignore[attr-defined]
    if count:
        log.info("took over mail claimed by a stopped instance", rows=count)
    return count


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
    try:
        await login(client, app)
    except BaseException:
        client.close()
        raise
    return client


class SmtpLoginRefused(Exception):
    """The SMTP server refused our credentials; the message quotes the server."""


async def login(client: aiosmtplib.SMTP, app: App) -> None:
    """Authenticate `client`; the one place SMTP login happens.

    The password (or an app password), or XOAUTH2 / OAUTHBEARER.  A cached
    OAuth2 token the server refuses is dropped and tried once more, freshly
    fetched.  A refused login raises `SmtpLoginRefused` quoting the server.
    """
    cfg = app.config.smtp
    where = f"SMTP server {cfg.host}:{cfg.port}"
    if cfg.auth_method == "password" or cfg.oauth2 is None:
        if not cfg.username:
            return
        try:
            await client.login(cfg.username, cfg.password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SmtpLoginRefused(f"{where} refused the login: {exc.code} "
                                   f"{' '.join(exc.message.split())}") from exc
        except aiosmtplib.SMTPException as exc:
            # E.g. no AUTH offered (missing STARTTLS): also a login that cannot happen.
            raise SmtpLoginRefused(f"{where}: cannot log in: "
                                   f"{' '.join(str(exc).split())}") from exc
        return
    mechanism = cfg.auth_method.upper()
    if client.last_ehlo_response is None:
        await client.ehlo()
    if mechanism not in {m.upper() for m in client.server_auth_methods}:
        offered = " ".join(sorted(m.upper() for m in client.server_auth_methods)) or "none"
        raise SmtpLoginRefused(f"{where} does not offer AUTH {mechanism} (offers: {offered})")
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
            raise SmtpLoginRefused(message)


_ADDRESS = re.compile(r"[^\s<>:;,\"']+@[^\s<>:;,\"']+")


def redact_addresses(text: str) -> str:
    """`text` with every email address replaced, so it can be logged at warning level."""
    return _ADDRESS.sub("<address>", text)


@dataclass
class Pass:
    """What one delivery pass did."""

    sent: int = 0
    failed: bool = False
    # Set when the server could not be used at all: (kind, what is wrong).
    unreachable: str | None = None
    login_refused: bool = False
    connected: bool = False  # a session was opened (the server works)


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


async def _deliver(app: App, rows: list[Outbox]) -> Pass:
    """One SMTP session for the batch.

    Each row is claimed just before and recorded just after its own transaction,
    so a crash can repeat at most the one message the server had just accepted.
    When the server cannot be reached (or refuses the login) no row is tried:
    their next attempt is the next probe, not a growing backoff.
    """
    result = Pass()
    try:
        client = await _connect(app)
    except SmtpLoginRefused as exc:
        result.failed, result.login_refused, result.unreachable = True, True, str(exc)
        # Less often than an outage probe: retrying a wrong password every few seconds
        # can get the account locked.
        probe = app.config.service.smtp_probe_seconds
        _postpone(app, rows, str(exc), max(probe, min(60.0, probe * 6)))
        return result
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        cfg = app.config.smtp
        error = (f"cannot reach the SMTP server {cfg.host}:{cfg.port}: "
                 f"{type(exc).__name__}: {' '.join(str(exc).split())}")[:500]
        result.failed, result.unreachable = True, error
        _postpone(app, rows, error, app.config.service.smtp_probe_seconds)
        return result
    result.connected = True
    broken: str | None = None
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
            result.failed = result.failed or attempt.error is not None
            if _record(app, row, attempt):
                result.sent += 1
    finally:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
    return result


def _postpone(app: App, rows: list[Outbox], error: str, seconds: float) -> None:
    """The server is unusable: note why on each row and look again in `seconds`.

    Each probe counts as an attempt, but the delay stays the probe interval (no
    growing backoff); `give_up_after_hours` still applies, so a server gone for
    days ends in failed rows the operator sees.
    """
    now = app.now_utc()
    for claimed in rows:
        with session_scope(app.engine) as session:
            row = session.get(Outbox, claimed.id)
            if row is None or row.status != "queued" or row.next_attempt_at != \
                    claimed.next_attempt_at:
                continue  # sent or claimed meanwhile
            row.last_error = error
            row.attempts += 1
            if now - _retry_base(session, row) >= timedelta(
                    hours=app.config.smtp.give_up_after_hours):
                _attempt_failed_for_good(app, session, row, "gave up retrying", now)
            else:
                row.next_attempt_at = now + timedelta(seconds=seconds)
            session.add(row)


def _attempt_failed_for_good(app: App, session: Session, row: Outbox, reason: str,
                             now: datetime) -> None:
    row.status = "failed"
    case = session.get(Case, row.case_id) if row.case_id else None
    add_event(session, case, EventKind.MAIL_FAILED, message_id=row.message_id, at=now,
              mail_kind=row.kind, reason=reason, error=row.last_error, refused=row.refused)
    log.warning("mail failed", case=case.code if case else None, message_id=row.message_id,
                kind=row.kind, reason=reason,
                error=redact_addresses(row.last_error or ""))


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
        row.claimed_by = None
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
            _attempt_failed_for_good(
                app, session, row, "permanent failure" if permanent else "gave up retrying",
                now)
        else:
            row.next_attempt_at = now + timedelta(seconds=backoff_seconds(app, row.attempts))
            log.warning("mail delivery failed; will retry", case=case.code if case else None,
                        message_id=row.message_id, kind=row.kind, attempts=row.attempts,
                        error=redact_addresses(row.last_error or ""))
        session.add(row)
    return False


def deliver_due(app: App) -> int:
    """Deliver queued outbox rows that are due; returns how many were sent."""
    return deliver_pass(app).sent


def deliver_pass(app: App) -> Pass:
    """Deliver queued rows that are due; says also whether the server was usable."""
    total = Pass()
    while True:
        rows = _due_rows(app)
        if not rows:
            return total
        result = asyncio.run(_deliver(app, rows))
        total.sent += result.sent
        total.failed = total.failed or result.failed
        total.unreachable, total.login_refused = result.unreachable, result.login_refused
        total.connected = total.connected or result.connected
        if result.failed or len(rows) < BATCH:
            # Do not spin on a broken server; the rows carry their own retry time.
            return total


def next_due(app: App) -> datetime | None:
    """When the earliest queued row is due (None when nothing is queued)."""
    with Session(app.engine) as session:
        return session.exec(
            select(Outbox.next_attempt_at).where(Outbox.status == "queued")
            .order_by(col(Outbox.next_attempt_at)).limit(1)
        ).first()


def sender_loop(app: App, stop: threading.Event) -> None:
    """Deliver rows as they become due until `stop` is set; wakes on `app.outbox_wakeup`.

    Returns early only when logging in has failed for longer than
    `service.login_failure_exit_minutes` (the daemon then exits non-zero).
    """
    watch = LoginWatch(app.config.service.login_failure_exit_minutes * 60)
    down: str | None = None
    while not stop.is_set():
        try:
            result = deliver_pass(app)
            due = next_due(app)
            heartbeat.beat(app.engine, heartbeat.SENDER, app.now_utc())
        except Exception as exc:
            # A database hiccup must not kill the sender thread; try again shortly.
            log.warning("sender pass failed; will retry", error=type(exc).__name__,
                        problem=redact_addresses(str(getattr(exc, "orig", None) or exc)
                                                 .split("\n", 1)[0][:200]))
            due = None
        else:
            if result.login_refused:
                log.error("smtp login failed", server_says=result.unreachable)
                if watch.failed():
                    reason = (f"{result.unreachable} (for {watch.minutes:g} minutes; see "
                              "service.login_failure_exit_minutes)")
                    log.error("giving up: smtp login keeps failing")
                    report_fatal(reason)
                    return
                down = result.unreachable
            elif result.unreachable is not None:
                if down is None:
                    log.warning("smtp server unreachable; probing",
                                error=redact_addresses(result.unreachable),
                                every_seconds=app.config.service.smtp_probe_seconds)
                down = result.unreachable
            elif result.connected:
                watch.ok()
                if down is not None:
                    log.info("smtp server reachable again")
                down = None
        # Rows queued or retried by another process (`cocbot outbox retry`) do not set
        # our wakeup event, so look at the table again every few seconds regardless.
        wait = IDLE_POLL_SECONDS
        if due is not None:
            wait = max(0.05, min(wait, (due - app.now_utc()).total_seconds()))
        app.outbox_wakeup.wait(wait)
        app.outbox_wakeup.clear()
