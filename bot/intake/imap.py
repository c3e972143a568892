"""IMAP intake with imapclient: a UID cursor, IDLE or polling, reconnects.

- The cursor is (UIDVALIDITY, last UID) per folder and advances in the same
  transaction as the message it covers.  ``UID n:*`` returns the last message
  even when n is past it, so UIDs at or below the cursor are ignored.
- A UIDVALIDITY change rescans the folder from the start; the pipeline's
  dedupe (Message-ID, else a hash of the raw bytes) files nothing twice.
- Flags are never read or changed: the folder is selected read-only and bodies
  are fetched with BODY.PEEK, because members read this mailbox too.
- Size is checked (RFC822.SIZE) before fetching; oversize mail is quarantined
  with its header block only.
- No missed wake-ups: a server announces in IDLE only what arrives after IDLE
  began, so before idling the intake searches again until a search finds
  nothing new ("drain"): mail that arrived while a batch was being filed (or
  during a start-up catch-up) is picked up at once, not at the next re-issue.
- A catch-up (many messages waiting) goes in steps of `CATCH_UP_STEP`; between
  steps, mail that arrived since the catch-up began is filed first, without
  moving the cursor (which only advances in UID order); the cursor later
  passes those UIDs without fetching them again, and after a crash the
  pipeline's dedupe makes the repeat harmless.  A report arriving during a
  long catch-up therefore waits for one step, not for the whole backlog.
- Any untagged ``NO``, ``BAD`` or ``BYE`` during IDLE (a deleted or recreated
  mailbox, a shutdown) means the view may be stale: the intake reconnects and
  re-selects at once, without backoff.  A response it does not know ends the
  IDLE and makes it search again at once.
- Keepalive: IDLE is ended and re-issued every `keepalive_seconds` (half of
  `socket_timeout`, at most `idle_seconds`), and the server's answer to DONE
  must come within the other half; TCP keepalive is on as well.  A connection
  that died silently (no FIN) is therefore noticed within `socket_timeout`.
- While the server is unreachable the intake probes at a steady rate (backoff
  capped by `reconnect_max_seconds`); a failed login is an error with the
  server's words, and after `service.login_failure_exit_minutes` of failed
  logins the daemon exits non-zero so a service manager shows it.
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.util import to_unicode
from sqlmodel import Session

from bot.core.app import App
from bot.core.log import get_logger
from bot.core.oauth2 import OAuth2Error, token_source
from bot.core.tls import client_context
from bot.core.watch import LoginWatch, report_fatal
from bot.filing.context import Origin
from bot.filing.quarantine import quarantine
from bot.intake.filer import (
    backfill_cutoff,
    database_outage,
    describe_db_error,
    file_raw,
    oversize_key,
)
from bot.store import heartbeat
from bot.store.db import session_scope
from bot.store.models import ImapCursor, utcnow

log = get_logger("imap")

FETCH_BATCH = 50
# During a catch-up, newly arrived mail is looked for after every this many messages.
CATCH_UP_STEP = 5


def connect(app: App) -> IMAPClient:
    """Connect, log in and return the client (folder not selected).

    TLS certificates are checked against the system's CAs or ``tls.ca_file``.
    """
    cfg = app.config.imap
    context = client_context(app.config)
    client = IMAPClient(
        cfg.host, port=cfg.port, ssl=cfg.security == "ssl", ssl_context=context,
        timeout=cfg.socket_timeout,
    )
    try:
        if cfg.security == "starttls":
            client.starttls(context)
        login(client, app)
    except BaseException:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
    _tcp_keepalive(client, cfg.socket_timeout)
    return client


class LoginRefused(LoginError):
    """The server refused our credentials; the message quotes the server."""


def login(client: IMAPClient, app: App) -> None:
    """Authenticate `client`; the one place IMAP login happens.

    LOGIN with the password (or an app password), or XOAUTH2 / OAUTHBEARER.  A
    cached OAuth2 token the server refuses (revoked, or expired early) is dropped
    and the login tried once more with a freshly fetched one.  A refused login
    raises `LoginRefused` carrying the server's own words.
    """
    cfg = app.config.imap
    if cfg.auth_method == "password" or cfg.oauth2 is None:
        try:
            client.login(cfg.username, cfg.password)
        except LoginError as exc:
            raise LoginRefused(f"IMAP server {cfg.host}:{cfg.port} refused the login: "
                               f"{server_words(exc)}") from exc
        return
    source = token_source(cfg.oauth2, user=cfg.username, label="IMAP",
                          base_dir=app.config.base_dir)
    mechanism = cfg.auth_method.upper()
    while True:
        try:
            token, fresh = source.get()
        except OAuth2Error as exc:
            # Said here, with its reason: the reconnect loop logs only the error's type.
            log.warning("imap login impossible: no OAuth2 token", reason=str(exc))
            raise
        try:
            if cfg.auth_method == "xoauth2":
                client.oauth2_login(cfg.username, token)
            else:
                client.oauthbearer_login(cfg.username, token)
            return
        except LoginError as exc:
            source.invalidate()
            if not fresh:
                continue
            message = (f"IMAP {mechanism} login refused by {cfg.host}: "
                       f"{server_words(exc)[:200]}")
            log.warning("imap login refused", reason=message)
            raise LoginRefused(message) from None


def server_words(exc: BaseException) -> str:
    """The server's reply text inside an imapclient/imaplib error, one line."""
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return " ".join(text.split())[:300] or type(exc).__name__


def _tcp_keepalive(client: IMAPClient, socket_timeout: float) -> None:
    """Let the kernel probe an idle connection too (a second line of defence)."""
    try:
        sock = client.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        idle = max(1, int(socket_timeout / 2))
        for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", max(1, idle // 3)),
                            ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    except OSError:
        pass  # not every platform has every option; the IDLE keepalive still works


def _uidvalidity(select_info: dict[bytes, Any]) -> int:
    return int(select_info[b"UIDVALIDITY"])


class ImapIntake:
    """Reads the configured folder and files every new message exactly once."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.folder = app.config.imap.folder
        self.client: IMAPClient | None = None
        self.uidvalidity: int | None = None
        self._cutoff: datetime | None = None
        # Why `run` gave up, when it did (read by the daemon to exit non-zero).
        self.fatal: str | None = None
        self._last_resync = float("-inf")
        # UIDs filed ahead of a catch-up backlog (the cursor has not passed them yet).
        self._early: set[int] = set()

    # -- cursor -----------------------------------------------------------------------
    def _cursor(self) -> ImapCursor | None:
        with Session(self.app.engine) as session:
            return session.get(ImapCursor, self.folder)

    def _advance(self, uidvalidity: int, uid: int) -> Any:
        def in_txn(session: Session) -> None:
            row = session.get(ImapCursor, self.folder)
            if row is None:
                row = ImapCursor(folder=self.folder, uidvalidity=uidvalidity, last_uid=uid)
            else:
                row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, uid, utcnow()
            session.add(row)

        return in_txn

    def _backfill_cutoff(self) -> datetime:
        if self._cutoff is None:
            self._cutoff = backfill_cutoff(self.app, f"imap:{self.folder}")
        return self._cutoff

    # -- one pass ---------------------------------------------------------------------
    def open(self) -> IMAPClient:
        """Connect and select the folder read-only."""
        self.close()
        client = connect(self.app)
        info = client.select_folder(self.folder, readonly=True)
        self.client = client
        if self.uidvalidity != _uidvalidity(info):
            self._early.clear()
        self.uidvalidity = _uidvalidity(info)
        log.info("imap connected", folder_uidvalidity=self.uidvalidity,
                 idle=client.has_capability("IDLE"))
        return client

    def close(self) -> None:
        """Log out, ignoring errors from a dead connection."""
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # the connection may already be gone
                with contextlib.suppress(Exception):
                    self.client.shutdown()
        self.client = None

    def sync(self) -> int:
        """File every message past the cursor; returns how many were handled."""
        client = self.client or self.open()
        assert self.uidvalidity is not None
        cursor = self._cursor()
        last = 0
        if cursor is not None and cursor.uidvalidity == self.uidvalidity:
            last = cursor.last_uid
        elif cursor is not None:
            log.warning("uidvalidity changed; rescanning folder",
                        old=cursor.uidvalidity, new=self.uidvalidity)
        # Fixed on the first pass, even over an empty folder: mail arriving later is new.
        cutoff = self._backfill_cutoff()
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        heartbeat.beat(self.app.engine, heartbeat.INTAKE, self.app.now_utc())
        self._early = {u for u in self._early if u > last}
        if not uids:
            return 0
        handled = 0
        newest = uids[-1]
        # A catch-up (many waiting) goes in small steps, with a look for newly arrived
        # mail between them, so a report arriving now is not queued behind the backlog.
        step = CATCH_UP_STEP if len(uids) > CATCH_UP_STEP else FETCH_BATCH
        for start in range(0, len(uids), step):
            if start:
                newest = self._file_early(client, newest, cutoff)
            handled += self._fetch_batch(client, uids[start:start + step], cutoff)
        return handled

    def _file_early(self, client: IMAPClient, newest: int, cutoff: datetime) -> int:
        """File mail that arrived after the catch-up began, ahead of the backlog.

        The cursor does not move for these (it only ever advances in UID order, so a
        crash re-reads the backlog); they are remembered, and when the backlog reaches
        them the cursor passes them without a second fetch.  A crash before that makes
        intake fetch them again, and the pipeline's dedupe files nothing twice.
        """
        _check_untagged(client.noop()[1])
        fresh = sorted(u for u in client.search(["UID", f"{newest + 1}:*"]) if u > newest)
        for start in range(0, len(fresh), FETCH_BATCH):
            self._fetch_batch(client, fresh[start:start + FETCH_BATCH], cutoff, early=True)
        return fresh[-1] if fresh else newest

    def _fetch_batch(self, client: IMAPClient, uids: list[int], cutoff: datetime,
                     early: bool = False) -> int:
        assert self.uidvalidity is not None
        handled = 0  # messages whose cursor advanced (an expunged one is not counted)
        todo = [u for u in uids if u not in self._early]
        meta = client.fetch(todo, ["RFC822.SIZE", "INTERNALDATE"]) if todo else {}
        limit = self.app.config.intake.max_message_bytes
        small = [u for u in todo if int(meta.get(u, {}).get(b"RFC822.SIZE", 0)) <= limit]
        bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
        for uid in uids:  # in UID order: the cursor never passes a message not yet filed
            advance = self._advance(self.uidvalidity, uid)
            if uid in self._early:
                if not early:
                    # Filed ahead of the backlog already: only the cursor moves past it.
                    with session_scope(self.app.engine) as session:
                        advance(session)
                    self._early.discard(uid)
                    handled += 1
                continue
            info = meta.get(uid, {})
            size = int(info.get(b"RFC822.SIZE", 0))
            internal = info.get(b"INTERNALDATE")
            received = _aware_utc(internal) if isinstance(internal, datetime) else None
            source = f"imap:{self.uidvalidity}:{uid}"
            if uid not in bodies:
                if uid in small or early:
                    continue  # expunged between the two fetches (or oversize: in order)
                self._quarantine_oversize(client, uid, size, source, advance)
                handled += 1
                continue
            raw = bodies[uid].get(b"BODY[]") or b""
            backfill = received is not None and received < cutoff
            outcome = file_raw(self.app, raw, Origin(source=source, received_at=received,
                                                     backfill=backfill),
                               in_txn=None if early else advance)
            log.info("imap message handled", uid=uid, status=outcome.status,
                     case=outcome.case_code, message_id=outcome.message_id,
                     ahead_of_backlog=early or None)
            if early:
                self._early.add(uid)
            else:
                handled += 1
        return handled

    def _quarantine_oversize(
        self, client: IMAPClient, uid: int, size: int, source: str, advance: Any
    ) -> None:
        header = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {}).get(b"BODY[HEADER]", b"")
        with session_scope(self.app.engine) as session:
            quarantine(
                session, header or b"", reason=f"message too large ({size} bytes; limit "
                f"{self.app.config.intake.max_message_bytes}); headers kept, body not fetched",
                kind="oversize", source=source, key=oversize_key(header or b"", size),
                headers_only=True, size=size,
            )
            advance(session)

    # -- forever ---------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Sync, then IDLE (or poll) until `stop` is set; reconnect when anything breaks.

        Returns early (leaving `self.fatal` set) only when logging in has failed for
        longer than `service.login_failure_exit_minutes`.
        """
        cfg = self.app.config.imap
        server = f"{cfg.host}:{cfg.port}"
        watch = LoginWatch(self.app.config.service.login_failure_exit_minutes * 60)
        failures = 0
        while not stop.is_set():
            delay: float
            try:
                client = self.open()
                watch.ok()
                self.drain()
                if failures:
                    log.info("imap reachable again", server=server, failures=failures)
                failures = 0
                if client.has_capability("IDLE"):
                    self._idle_loop(client, stop)
                else:
                    self._poll_loop(stop)
                continue
            except Resync as exc:
                # The server told us our view is stale: look again now, not after a backoff
                # (unless it keeps saying so: then the backoff keeps this from spinning).
                failures += 1
                now = time.monotonic()
                delay = 0.0 if now - self._last_resync > 10 else self._backoff(failures)
                self._last_resync = now
                log.warning("imap view is stale; resynchronising", reason=str(exc),
                            retry_in=round(delay, 1))
            except LoginRefused as exc:
                failures += 1
                delay = max(self._backoff(failures), min(60.0, cfg.reconnect_max_seconds))
                log.error("imap login failed", server=server, server_says=str(exc),
                          retry_in=round(delay, 1))
                if watch.failed():
                    self.fatal = (f"{exc} (for {watch.minutes:g} minutes; "
                                  "see service.login_failure_exit_minutes)")
                    log.error("giving up: imap login keeps failing", server=server)
                    report_fatal(self.fatal)
                    self.close()
                    return
            except (OSError, IMAPClientError, ssl.SSLError, EOFError) as exc:
                failures += 1
                delay = self._backoff(failures)
                # One warning when the trouble starts, then a reminder now and then.
                say = log.warning if failures == 1 or failures % 20 == 0 else log.info
                say("intake interrupted; reconnecting", server=server,
                    error=type(exc).__name__, retry_in=round(delay, 1), failures=failures)
            except Exception as exc:
                if not database_outage(exc):
                    raise
                # The database is unreachable, locked or full: nothing was committed
                # for the current message, so it is fetched again after the backoff.
                failures += 1
                delay = self._backoff(failures)
                log.warning("database unavailable; intake will retry",
                            error=type(exc).__name__, problem=describe_db_error(exc),
                            retry_in=round(delay, 1))
            self.close()
            stop.wait(delay)
        self.close()

    def _backoff(self, failures: int) -> float:
        """Capped exponential backoff with jitter: a steady probe while the server is down."""
        cap = self.app.config.imap.reconnect_max_seconds
        return float(min(cap, 0.5 * 2 ** min(failures, 10)) * (0.5 + random.random() / 2))

    def drain(self) -> int:
        """Sync until a fresh look finds nothing new: nothing waits for the next wake-up.

        A server announces in IDLE only what arrives once IDLE has begun; mail that
        arrived while the last batch was being filed is found here instead.  The NOOP
        makes the server bring its view of the folder up to date before the search.
        """
        assert self.client is not None
        total = 0
        while True:
            handled = self.sync()
            total += handled
            if handled:
                continue
            _check_untagged(self.client.noop()[1])
            if not self.sync():
                return total

    def keepalive_seconds(self) -> float:
        """How long one IDLE lasts before it is ended and re-issued (a liveness check)."""
        cfg = self.app.config.imap
        return max(0.5, min(float(cfg.idle_seconds), cfg.socket_timeout / 2))

    def _idle_loop(self, client: IMAPClient, stop: threading.Event) -> None:
        cfg = self.app.config.imap
        keepalive = self.keepalive_seconds()
        sock = client.socket()
        while not stop.is_set():
            client.idle()
            deadline = time.monotonic() + keepalive
            try:
                while not stop.is_set():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    # Short checks so a stop request is honoured quickly.
                    wait = min(1.0, left)
                    started = time.monotonic()
                    responses = client.idle_check(timeout=wait)
                    if _check_untagged(responses):
                        break
                    if not responses and time.monotonic() - started < wait / 2:
                        # Nothing read, yet the wait ended early: the socket is at EOF
                        # (a server BYE). Spinning here would be a busy, deaf loop.
                        raise EOFError("IDLE connection closed by the server")
            finally:
                # The answer to DONE proves the connection alive; it must come within
                # the other half of socket_timeout, so a silent drop is noticed in time.
                sock.settimeout(max(0.5, cfg.socket_timeout - keepalive))
                try:
                    _text, late = client.idle_done()
                finally:
                    sock.settimeout(cfg.socket_timeout)
            _check_untagged(late)
            self.drain()

    def _poll_loop(self, stop: threading.Event) -> None:
        cfg = self.app.config.imap
        while not stop.wait(cfg.poll_seconds):
            self.drain()


class Resync(Exception):
    """The server said something that makes our view of the folder doubtful."""


# Untagged responses that are routine during IDLE or after NOOP.
_ROUTINE = frozenset({"OK", "EXISTS", "RECENT", "EXPUNGE", "FETCH", "FLAGS", "VANISHED",
                      "CAPABILITY"})


def _word(part: Any) -> str:
    return (to_unicode(part) if isinstance(part, bytes) else str(part)).upper()


def _check_untagged(responses: Iterable[Any]) -> bool:
    """True when `responses` call for a fresh look (new mail, or a response we do not know).

    Raises Resync (reconnect and re-select) on an untagged NO, BAD or BYE.
    """
    look = False
    for resp in responses:
        parts = resp if isinstance(resp, tuple) else (resp,)
        words = [_word(p) for p in parts[:2] if isinstance(p, bytes | str | int)]
        if words and words[0] in ("NO", "BAD", "BYE"):
            raise Resync(f"server said {words[0]}")
        kind = (words[1] if len(words) > 1 and words[0].isdigit() else words[0]) if words \
            else ""
        if kind in ("EXISTS", "RECENT") or kind not in _ROUTINE:
            # New mail, or something unexpected: either way, search again now.
            if kind not in ("EXISTS", "RECENT"):
                log.info("unexpected response during IDLE; searching again", kind=kind[:20])
            look = True
    return look


def _aware_utc(value: datetime) -> datetime:
    # imapclient returns INTERNALDATE aware, or naive local time when normalising;
    # astimezone reads a naive value as local time, so one call covers both.
    return value.astimezone(UTC)


def run_once(app: App) -> int:
    """Connect, file everything waiting, disconnect (for `cocbot run --once`)."""
    intake = ImapIntake(app)
    try:
        intake.open()
        return intake.sync()
    finally:
        intake.close()
