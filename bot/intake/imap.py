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
- IDLE is re-issued at most every `idle_seconds` (<= 300); each round ends
  with DONE plus a UID search, which is what notices a dead connection (after
  a server BYE imapclient's idle_check returns [] at once; after a silent drop
  it returns [] at its timeout), so the loop reconnects with backoff.
"""

from __future__ import annotations

import contextlib
import random
import ssl
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.util import to_unicode
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot.core.app import App
from bot.core.log import get_logger
from bot.core.oauth2 import OAuth2Error, token_source
from bot.core.tls import client_context
from bot.filing.context import Origin
from bot.filing.quarantine import quarantine
from bot.intake.filer import backfill_cutoff, file_raw, oversize_key
from bot.store import heartbeat
from bot.store.db import session_scope
from bot.store.models import ImapCursor, utcnow

log = get_logger("imap")

FETCH_BATCH = 50


def connect(app: App) -> IMAPClient:
    """Log in to the configured server and return the client (folder not selected).

    TLS certificates are checked against the system's CAs or ``tls.ca_file``.
    """
    cfg = app.config.imap
    context = client_context(app.config)
    client = IMAPClient(
        cfg.host, port=cfg.port, ssl=cfg.security == "ssl", ssl_context=context,
        timeout=cfg.socket_timeout,
    )
    if cfg.security == "starttls":
        client.starttls(context)
    login(app, client)
    return client


def login(app: App, client: IMAPClient) -> None:
    """Authenticate: LOGIN with the password (or app password), or XOAUTH2 / OAUTHBEARER.

    A cached OAuth2 token the server refuses (revoked, or expired early) is
    dropped and the login tried once more with a freshly fetched one; a fresh
    token refused gives a LoginError naming the mechanism and quoting the server.
    """
    cfg = app.config.imap
    if cfg.auth_method == "password" or cfg.oauth2 is None:
        client.login(cfg.username, cfg.password)
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
                       f"{' '.join(str(exc).split())[:200]}")
            log.warning("imap login refused", reason=message)
            raise LoginError(message) from None


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
        if not uids:
            return 0
        handled = 0
        for start in range(0, len(uids), FETCH_BATCH):
            handled += self._fetch_batch(client, uids[start:start + FETCH_BATCH], cutoff)
        return handled

    def _fetch_batch(self, client: IMAPClient, uids: list[int], cutoff: datetime) -> int:
        assert self.uidvalidity is not None
        meta = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"])
        limit = self.app.config.intake.max_message_bytes
        small = [u for u in uids if int(meta.get(u, {}).get(b"RFC822.SIZE", 0)) <= limit]
        bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
        for uid in uids:
            info = meta.get(uid, {})
            size = int(info.get(b"RFC822.SIZE", 0))
            internal = info.get(b"INTERNALDATE")
            received = _aware_utc(internal) if isinstance(internal, datetime) else None
            source = f"imap:{self.uidvalidity}:{uid}"
            advance = self._advance(self.uidvalidity, uid)
            if uid not in bodies:
                if uid in small:
                    continue  # expunged between the two fetches
                self._quarantine_oversize(client, uid, size, source, advance)
                continue
            raw = bodies[uid].get(b"BODY[]") or b""
            backfill = received is not None and received < cutoff
            outcome = file_raw(self.app, raw, Origin(source=source, received_at=received,
                                                     backfill=backfill), in_txn=advance)
            log.info("imap message handled", uid=uid, status=outcome.status,
                     case=outcome.case_code, message_id=outcome.message_id)
        return len(uids)

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

    # -- forever ----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Sync, then IDLE (or poll) until `stop` is set; reconnect with backoff."""
        cfg = self.app.config.imap
        failures = 0
        while not stop.is_set():
            try:
                client = self.open()
                self.sync()
                failures = 0
                if client.has_capability("IDLE"):
                    self._idle_loop(client, stop)
                else:
                    self._poll_loop(stop)
            except (OSError, IMAPClientError, ssl.SSLError, EOFError, OperationalError) as exc:
                # OperationalError: the database is unreachable; nothing was committed for
                # the current message, so it is fetched again after the backoff.
                failures += 1
                delay = min(cfg.reconnect_max_seconds, 2 ** min(failures, 10)) * (
                    0.5 + random.random() / 2
                )
                log.warning("intake interrupted; reconnecting", error=type(exc).__name__,
                            retry_in=round(delay, 1))
                self.close()
                stop.wait(delay)
        self.close()

    def _idle_loop(self, client: IMAPClient, stop: threading.Event) -> None:
        cfg = self.app.config.imap
        while not stop.is_set():
            client.idle()
            deadline = time.monotonic() + cfg.idle_seconds
            try:
                while not stop.is_set() and time.monotonic() < deadline:
                    # Short checks so a stop request is honoured quickly.
                    wait = min(1.0, float(cfg.idle_seconds))
                    started = time.monotonic()
                    responses = client.idle_check(timeout=wait)
                    if _has_news(responses):
                        break
                    if not responses and time.monotonic() - started < wait / 2:
                        # Nothing read, yet the wait ended early: the socket is at EOF
                        # (a server BYE). Spinning here would be a busy, deaf loop.
                        raise EOFError("IDLE connection closed by the server")
            finally:
                client.idle_done()
            # DONE + NOOP + UID SEARCH: a dead connection raises here.
            client.noop()
            self.sync()

    def _poll_loop(self, stop: threading.Event) -> None:
        cfg = self.app.config.imap
        while not stop.wait(cfg.poll_seconds):
            assert self.client is not None
            self.client.noop()
            self.sync()


def _has_news(responses: Iterable[Any]) -> bool:
    for resp in responses:
        if isinstance(resp, tuple) and len(resp) >= 2:
            word = to_unicode(resp[1]) if isinstance(resp[1], bytes) else str(resp[1])
            if word.upper() in ("EXISTS", "RECENT"):
                return True
        elif isinstance(resp, tuple | bytes) and b"BYE" in (
            resp if isinstance(resp, bytes) else b" ".join(
                p for p in resp if isinstance(p, bytes))
        ):
            raise EOFError("server said BYE during IDLE")
    return False


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
