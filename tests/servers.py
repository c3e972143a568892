"""Real servers on free loopback ports, for tests.

Plain Python, no pytest import, so the helpers also serve scripts and benchmarks:

* :class:`Dovecot` — an IMAP server with its own configuration, users and mail store.
* :class:`Postgres` — a throwaway PostgreSQL cluster.
* :class:`SmtpSink` — an aiosmtpd server that records every message it accepts.
* :class:`SilentDropProxy` — a TCP proxy that can stop forwarding without closing,
  to imitate a network that silently drops packets.

Every class is a context manager and cleans up its processes and temporary folders on
exit, including when the body raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import glob
import os
import pwd
import queue
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from imapclient import IMAPClient

LOOPBACK = "127.0.0.1"

__all__ = [
    "LOOPBACK",
    "CapturedMessage",
    "Dovecot",
    "Postgres",
    "ServerError",
    "SilentDropProxy",
    "SmtpSink",
    "dovecot_binary",
    "free_port",
    "postgres_bin_dir",
    "wait_for_port",
]


class ServerError(RuntimeError):
    """A test server failed to start or stop; the message carries its log tail."""


def free_port() -> int:
    """Return a TCP port on the loopback address that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    host: str,
    port: int,
    timeout: float = 10.0,
    alive: Callable[[], bool] | None = None,
    greeting: bytes | None = None,
) -> None:
    """Wait until ``host:port`` accepts a connection (and, if given, sends ``greeting``).

    ``alive`` is polled between attempts so that a server process that died during start-up
    fails fast instead of after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise ServerError(f"server for {host}:{port} exited during start-up")
        try:
            with socket.create_connection((host, port), timeout=1.0) as sock:
                if greeting is None:
                    return
                # A listening socket alone is not enough for Dovecot: the login process
                # may not be ready, so wait for the protocol greeting.
                data = sock.recv(256)
                if data.startswith(greeting):
                    return
                last_error = ServerError(f"unexpected greeting {data!r}")
        except OSError as exc:
            last_error = exc
        time.sleep(0.05)
    raise ServerError(f"{host}:{port} not ready after {timeout} s: {last_error!r}")


def _tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a log file, or a note that it is missing."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path.name} missing)"
    return "\n".join(text.splitlines()[-lines:])


def _make_root(prefix: str) -> Path:
    """Create a temporary folder that the server's unprivileged users can traverse."""
    # pytest's tmp_path sits below a 0700 folder that dovecot/nobody/postgres cannot enter.
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)
    return root


# --------------------------------------------------------------------------- Dovecot


def dovecot_binary() -> str | None:
    """Return the path of the ``dovecot`` binary, or None when it is not installed."""
    # /usr/sbin is often missing from PATH for non-login shells.
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


_DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 0
mail_fsync = never
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  # Without this socket Dovecot disables its per-IP auth penalty, which would otherwise
  # delay every login from 127.0.0.1 by up to 15 s after a failed one.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_plugins =
}}
"""


class Dovecot:
    """A private Dovecot IMAP server on a free loopback port.

    Call :meth:`add_user` for extra users (any time: Dovecot re-reads the users file when it
    changes). The default user is ``conduct@example.org`` / ``secret``. :meth:`restart` keeps
    the port and the mail store, so clients can test reconnecting.
    """

    def __init__(
        self,
        user: str = "conduct@example.org",
        password: str = "secret",
        port: int | None = None,
        extra_config: str = "",
    ) -> None:
        """Prepare (but do not start) a server with one user; `extra_config` is appended."""
        binary = dovecot_binary()
        if binary is None:
            raise ServerError("dovecot is not installed (Debian package dovecot-imapd)")
        self.binary = binary
        self.host = LOOPBACK
        self.port = port if port is not None else free_port()
        self.user = user
        self.password = password
        self._users: dict[str, str] = {}
        self._users_mtime = 0
        self.root = _make_root("cocbot-dovecot-")
        self.proc: subprocess.Popen[bytes] | None = None
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir(mode=0o755)
        self._chown_nobody(self.root / "home")
        (self.root / "dovecot.conf").write_text(
            _DOVECOT_CONF.format(root=self.root, port=self.port) + extra_config
        )
        self.add_user(user, password)

    # -- lifecycle

    @property
    def log_path(self) -> Path:
        """Dovecot's log file (useful in assertion messages)."""
        return self.root / "dovecot.log"

    @property
    def running(self) -> bool:
        """True while the master process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Start the master process and wait until it greets IMAP clients."""
        if self.running:
            return
        # Its own session (process group), so kill() can take every child with it,
        # the way a crashed host would.
        with open(self.root / "stderr.log", "ab") as stderr:
            self.proc = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            wait_for_port(
                self.host, self.port, timeout, alive=lambda: self.running, greeting=b"* OK"
            )
        except ServerError as exc:
            self.kill()
            raise ServerError(
                f"{exc}\n--- dovecot.log\n{_tail(self.log_path)}\n"
                f"--- stderr\n{_tail(self.root / 'stderr.log')}"
            ) from None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM), falling back to SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(5)
        # The master reaps its children on SIGTERM; stragglers would keep the port.
        self._signal_group(signal.SIGKILL)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the master and all its children at once: a crash, not a shutdown."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self.proc = None

    def restart(self, graceful: bool = True) -> None:
        """Stop (or kill) and start again on the same port with the same mail."""
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        """Start the server."""
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server and remove its files."""
        self.cleanup()

    # -- users and mail

    def add_user(self, name: str, password: str) -> None:
        """Add (or change) a login; works before start and while running."""
        self._users[name] = password
        if name == self.user:
            self.password = password
        lines = "".join(f"{u}:{{PLAIN}}{p}\n" for u, p in self._users.items())
        tmp = self.root / "users.tmp"
        tmp.write_text(lines)
        # Read by Dovecot's unprivileged auth process; these are throwaway test secrets.
        tmp.chmod(0o644)
        # Dovecot notices a change by whole-second mtime and size; a password change of
        # the same length within a second would go unseen without a distinct mtime.
        self._users_mtime = max(int(time.time()), self._users_mtime + 1)
        os.utime(tmp, (self._users_mtime, self._users_mtime))
        tmp.replace(self.root / "users")
        if self.running:
            self._wait_for_login(name)

    def _wait_for_login(self, name: str, timeout: float = 5.0) -> None:
        # Dovecot checks the users file at most once per wall-clock second, so a login
        # before the next second could still see the old file (and fail slowly).
        time.sleep(1.02 - time.time() % 1)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect(name).logout()
                return
            except IMAPClient.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def connect(self, user: str | None = None, timeout: float | None = 10.0) -> IMAPClient:
        """Return an IMAPClient logged in as ``user`` (default: the main user)."""
        name = user if user is not None else self.user
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        try:
            client.login(name, self._users[name])
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    def append(
        self,
        raw: bytes,
        folder: str = "INBOX",
        flags: tuple[str, ...] = (),
        user: str | None = None,
    ) -> int | None:
        """Append a raw message to ``folder`` (created if missing); return its UID."""
        with self.connect(user) as client:
            if folder.upper() != "INBOX" and not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=flags)
        match = re.search(rb"APPENDUID \d+ (\d+)", _as_bytes(response))
        return int(match.group(1)) if match else None

    def uids(self, folder: str = "INBOX", user: str | None = None) -> list[int]:
        """Return the UIDs of every message in ``folder``, ascending."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in client.search("ALL"))

    def uidvalidity(self, folder: str = "INBOX", user: str | None = None) -> int:
        """Return the UIDVALIDITY of ``folder``."""
        with self.connect(user) as client:
            status = client.folder_status(folder, [b"UIDVALIDITY"])
            return int(status[b"UIDVALIDITY"])

    def fetch_all(self, folder: str = "INBOX", user: str | None = None) -> dict[int, bytes]:
        """Return ``{uid: raw message}`` for every message in ``folder``."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            data = client.fetch(uids, [b"BODY.PEEK[]"])
            return {int(uid): bytes(item[b"BODY[]"]) for uid, item in data.items()}

    def recreate_mailbox(self, folder: str = "INBOX", user: str | None = None) -> None:
        """Delete and re-create ``folder`` empty: new UIDVALIDITY, UIDs restart at 1.

        Sessions that have a deleted non-INBOX folder selected get Dovecot's own reaction.
        Dovecot refuses to DELETE or RENAME INBOX, so for INBOX the user's sessions are
        kicked (clients see ``* BYE``) and its Maildir files are removed on disk.
        """
        name = user if user is not None else self.user
        if folder.upper() != "INBOX":
            with self.connect(name) as client:
                if client.folder_exists(folder):
                    client.delete_folder(folder)
                client.create_folder(folder)
            return
        self._wipe(name, inbox_only=True)

    def reset(self) -> None:
        """Give every user an empty INBOX (new UIDVALIDITY) and no other folder."""
        for name in self._users:
            self._wipe(name, inbox_only=False)

    def kick(self, user: str | None = None) -> None:
        """Disconnect every IMAP session of ``user`` (clients see ``* BYE``) and wait."""
        name = user if user is not None else self.user
        pids = self.session_pids(name)
        if not pids:
            return
        try:
            self.doveadm("kick", name)
        except ServerError:
            # The sessions may have ended between the listing and the kick
            # (doveadm then fails with nothing to say): only a live one is an error.
            if any(_pid_alive(pid) for pid in pids) and self.session_pids(name):
                raise
        deadline = time.monotonic() + 5
        for pid in pids:
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)

    def session_pids(self, user: str | None = None) -> list[int]:
        """Return the PIDs of the IMAP processes serving ``user`` right now."""
        name = user if user is not None else self.user
        out = self.doveadm("who", "-1", name)
        pids = []
        for line in out.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
                pids.append(int(fields[2]))
        return pids

    def doveadm(self, *args: str) -> str:
        """Run ``doveadm`` against this server's configuration and return its output."""
        binary = shutil.which("doveadm", path=str(Path(self.binary).parent)) or "doveadm"
        result = subprocess.run(
            [binary, "-c", str(self.root / "dovecot.conf"), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"doveadm {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def _wipe(self, user: str, inbox_only: bool) -> None:
        maildir = self.root / "home" / user / "Maildir"
        if self.running:
            self.kick(user)
        if maildir.is_dir():
            for entry in maildir.iterdir():
                # dovecot-uidvalidity* hands out the next UIDVALIDITY; keeping it is what
                # guarantees the new mailbox a value different from the old one.
                if entry.name.startswith("dovecot-uidvalidity"):
                    continue
                if inbox_only and entry.name.startswith("."):
                    continue  # maildir++ subfolders (.Archive) are other mailboxes
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        entry.unlink()
        if self.running:
            # A client that reconnected during the wipe would see half a mailbox.
            self.kick(user)
            with self.connect(user) as client:
                # Selecting makes Dovecot create the new INBOX (and its UIDVALIDITY) now.
                client.select_folder("INBOX")

    # -- internals

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    @staticmethod
    def _chown_nobody(path: Path) -> None:
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(path, nobody.pw_uid, nobody.pw_gid)


def _pid_alive(pid: int) -> bool:
    """True while a process with this PID exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _as_bytes(value: Any) -> bytes:
    """imapclient returns bytes or str depending on the call; normalise to bytes."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bin_dir() -> Path | None:
    """Return the newest installed PostgreSQL server bin folder, or None."""

    def version(path: str) -> tuple[int, ...]:
        """Sort key: /usr/lib/postgresql/15/bin -> (15,)."""
        name = Path(path).parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    candidates = [
        p for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "pg_ctl").exists()
    ]
    if not candidates:
        return None
    return Path(max(candidates, key=version))


class Postgres:
    """A throwaway PostgreSQL cluster on a free loopback port, trusting every local login."""

    def __init__(self, port: int | None = None, durable: bool = False) -> None:
        """Prepare (but do not start) a cluster."""
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise ServerError("PostgreSQL server is not installed (Debian package postgresql)")
        self.bin_dir = bin_dir
        self.host = LOOPBACK
        self.port = port if port is not None else free_port()
        self.user = "postgres"
        self.root = _make_root("cocbot-pg-")
        self.data_dir = self.root / "data"
        self.log_path = self.root / "pg.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            # initdb refuses to run as root, so the cluster belongs to postgres.
            pg = pwd.getpwnam("postgres")
            os.chown(self.root, pg.pw_uid, pg.pw_gid)
        self._initialised = False
        self._started = False
        # durable: keep synchronous_commit on, so a commit the client saw survives a crash
        # of the server (tests that kill it); otherwise the last commits may be lost.
        self.durable = durable

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServerError(
                f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
                f"\n--- pg.log\n{_tail(self.log_path)}"
            )

    def start(self) -> None:
        """Initialise the cluster (once) and start it, waiting until it accepts connections."""
        if self._started:
            return
        if not self._initialised:
            self._run(
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
            self._initialised = True
        options = (
            f"-c listen_addresses={self.host} -p {self.port} -k {self.root} "
            "-c fsync=off -c full_page_writes=off"
        )
        if not self.durable:
            options += " -c synchronous_commit=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        self._started = True

    def postmaster_pid(self) -> int | None:
        """Return the postmaster's PID from its pid file, or None when it is not running."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        return int(first)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop with SIGINT (fast shutdown) and wait until the pid file is gone."""
        self._started = False
        pid = self.postmaster_pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return
        # The postmaster is not our child (pg_ctl daemonises it), and a container's PID 1 may
        # never reap it, so its pid file vanishing is the reliable "stopped" signal.
        pid_file = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy URL of ``database`` on this cluster."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def _admin(self, statement: Any) -> None:
        import psycopg

        conninfo = f"host={self.host} port={self.port} user={self.user} dbname=postgres"
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        from psycopg import sql

        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        from psycopg import sql

        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def cleanup(self) -> None:
        """Stop the cluster and delete its files."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        """Start the cluster."""
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the cluster and remove its files."""
        self.cleanup()


# --------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class CapturedMessage:
    """One message as the SMTP sink received it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    message: EmailMessage
    login: str | None = None


@dataclass
class _SinkState:
    """What the handler consults and fills; shared between the test and the server thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: list[CapturedMessage] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    require_auth: bool = False
    # While set, DATA is not answered: the message is "in flight" (see hold_data).
    hold: threading.Event | None = None
    data_started: threading.Event = field(default_factory=threading.Event)


class _SinkHandler:
    """aiosmtpd handler: refuses configured recipients, records accepted messages."""

    def __init__(self, state: _SinkState) -> None:
        self.state = state

    async def handle_MAIL(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Refuse MAIL FROM before AUTH when the sink has credentials."""
        if self.state.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Refuse the recipients configured with ``refuse()``, accept the rest."""
        with self.state.lock:
            reply = self.state.refused.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Record the message, or answer with the configured DATA failure."""
        with self.state.lock:
            hold = self.state.hold
        self.state.data_started.set()
        while hold is not None and hold.is_set():
            await asyncio.sleep(0.02)
            if session.peer is None or server.transport is None or \
                    server.transport.is_closing():
                return "421 4.4.2 client went away"
        with self.state.lock:
            reply = self.state.data_reply
        if reply is not None:
            return reply
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        login = session.auth_data
        captured = CapturedMessage(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            content=raw,
            message=parsed,  # type: ignore[arg-type]  # policy.default yields EmailMessage
            login=login.decode() if isinstance(login, bytes) else login,
        )
        with self.state.lock:
            self.state.messages.append(captured)
        return "250 OK"


class SmtpSink:
    """An aiosmtpd server on a free loopback port that records what it accepts.

    :meth:`stop` then :meth:`start` brings it back on the same port, to imitate an outage.
    With ``username``/``password`` it offers AUTH PLAIN/LOGIN without TLS and checks them.
    """

    def __init__(
        self,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        """Prepare (but do not start) a sink."""
        self.host = LOOPBACK
        self.port = port if port is not None else free_port()
        self.username = username
        self.password = password
        self._state = _SinkState()
        self._controller: Any = None

    @property
    def messages(self) -> list[CapturedMessage]:
        """A snapshot of every message accepted so far, oldest first."""
        with self._state.lock:
            return list(self._state.messages)

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._state.lock:
            self._state.messages.clear()

    def refuse(self, address: str, code_and_text: str = "550 no such user") -> None:
        """Answer RCPT TO for ``address`` with ``code_and_text`` (e.g. ``"550 no such user"``)."""
        with self._state.lock:
            self._state.refused[address.lower()] = code_and_text

    def accept(self, address: str) -> None:
        """Undo :meth:`refuse` for ``address``."""
        with self._state.lock:
            self._state.refused.pop(address.lower(), None)

    def hold_data(self) -> threading.Event:
        """Stop answering DATA until the returned event is cleared (a message in flight).

        ``data_started`` on the sink's state is set when a DATA arrives while held.
        """
        hold = threading.Event()
        hold.set()
        with self._state.lock:
            self._state.hold = hold
            self._state.data_started.clear()
        return hold

    @property
    def data_started(self) -> threading.Event:
        """Set once a message's DATA has arrived (see :meth:`hold_data`)."""
        return self._state.data_started

    def fail_data(self, text: str | None) -> None:
        """Answer DATA with ``text`` (a 4xx/5xx reply) from now on; None accepts again."""
        with self._state.lock:
            self._state.data_reply = text

    @property
    def running(self) -> bool:
        """True while the server accepts connections."""
        return self._controller is not None

    def start(self) -> None:
        """Start listening (again) on this sink's port."""
        if self._controller is not None:
            return
        from aiosmtpd.controller import Controller

        kwargs: dict[str, Any] = {"enable_SMTPUTF8": True}
        if self.username is not None:
            # auth_required=True would warn on every connection without TLS; the handler's
            # handle_MAIL enforces it instead.
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
            self._state.require_auth = True
        # A new Controller each time: restarting a stopped one is not a supported path.
        controller = Controller(
            _SinkHandler(self._state), hostname=self.host, port=self.port, **kwargs
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening and drop open sessions; the port stays reserved for :meth:`start`."""
        if self._controller is None:
            return
        controller, self._controller = self._controller, None
        controller.stop()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[CapturedMessage]:
        """Wait until at least ``count`` messages arrived and return them all.

        Raises TimeoutError with the number received when they do not arrive in time.
        """
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages
            if len(got) >= count:
                return got
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {count} message(s), got {len(got)} in {timeout} s")
            time.sleep(0.02)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        # handled=False: aiosmtpd then sends the 235/535 reply itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    def __enter__(self) -> Self:
        """Start the sink."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the sink."""
        self.stop()


# --------------------------------------------------------------------------- silent drop


@dataclass
class _Leg:
    """One socket of a proxied connection and the bytes waiting to be written to it."""

    sock: socket.socket
    pending: bytearray = field(default_factory=bytearray)
    open: bool = True


@dataclass
class _Pair:
    """A proxied connection: the client's leg and the upstream server's leg."""

    client: _Leg
    upstream: _Leg | None
    dropped: bool = False

    def other(self, leg: _Leg) -> _Leg | None:
        """The leg that data read from ``leg`` must be written to."""
        return self.upstream if leg is self.client else self.client


class SilentDropProxy:
    """A loopback TCP proxy in front of ``target_host:target_port``.

    :meth:`blackhole` stops forwarding in both directions while every socket stays open,
    like a network path that silently loses packets; those connections never recover.
    :meth:`restore` makes new connections forward again. :meth:`close_all` resets (RST)
    every connection. One selector thread does all socket work, so no socket is ever
    closed under another thread's feet.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        """Listen on a free loopback port and start forwarding."""
        self.target = (target_host, target_port)
        self.host = LOOPBACK
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._blackholed = False
        self._pairs: list[_Pair] = []
        self._commands: queue.Queue[tuple[str, threading.Event]] = queue.Queue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="silent-drop-proxy", daemon=True)
        self._thread.start()

    # -- public API: each call is carried out by the loop thread before it returns

    def blackhole(self) -> None:
        """Stop forwarding on every connection, now and new ones, without closing any."""
        self._command("blackhole")

    def restore(self) -> None:
        """Forward again for connections opened from now on."""
        self._command("restore")

    def close_all(self) -> None:
        """Reset every proxied connection (the peers see ECONNRESET)."""
        self._command("close_all")

    @property
    def connection_count(self) -> int:
        """Number of proxied connections with at least one socket still open."""
        return len(self._pairs)

    def close(self) -> None:
        """Reset every connection and stop listening."""
        if self._stopping or not self._thread.is_alive():
            return
        self._command("stop")
        self._thread.join(5)

    def __enter__(self) -> Self:
        """Return the running proxy."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the proxy."""
        self.close()

    # -- loop thread

    def _command(self, name: str) -> None:
        done = threading.Event()
        self._commands.put((name, done))
        self._wake_w.send(b"x")
        if not done.wait(5):
            raise ServerError(f"proxy did not carry out {name!r}")

    def _loop(self) -> None:
        try:
            while not self._stopping:
                for key, mask in self._sel.select(timeout=0.5):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        with contextlib.suppress(BlockingIOError):
                            self._wake_r.recv(4096)
                        self._run_commands()
                    else:
                        pair, leg = key.data
                        if not leg.open:
                            continue  # reset earlier in this same batch of events
                        if mask & selectors.EVENT_READ:
                            self._on_readable(pair, leg)
                        if mask & selectors.EVENT_WRITE and leg.open:
                            self._flush(pair, leg)
        finally:
            for pair in list(self._pairs):
                self._reset(pair)
            self._sel.close()
            self._listener.close()
            self._wake_r.close()
            self._wake_w.close()

    def _run_commands(self) -> None:
        while True:
            try:
                name, done = self._commands.get_nowait()
            except queue.Empty:
                return
            if name == "blackhole":
                self._blackholed = True
                for pair in self._pairs:
                    pair.dropped = True
                    for leg in (pair.client, pair.upstream):
                        if leg is not None:
                            leg.pending.clear()
                            self._watch(pair, leg)
            elif name == "restore":
                self._blackholed = False
            elif name == "close_all":
                for pair in list(self._pairs):
                    self._reset(pair)
            elif name == "stop":
                self._stopping = True
            done.set()

    def _accept(self) -> None:
        try:
            client, _addr = self._listener.accept()
        except BlockingIOError:
            return
        client.setblocking(False)
        pair = _Pair(client=_Leg(client), upstream=None, dropped=self._blackholed)
        if not pair.dropped:
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                # Upstream down: refuse the way a dead server would.
                self._abort(client)
                return
            upstream.setblocking(False)
            pair.upstream = _Leg(upstream)
        self._pairs.append(pair)
        self._watch(pair, pair.client)
        if pair.upstream is not None:
            self._watch(pair, pair.upstream)

    def _watch(self, pair: _Pair, leg: _Leg) -> None:
        if not leg.open:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if leg.pending else 0)
        try:
            self._sel.modify(leg.sock, events, (pair, leg))
        except KeyError:
            self._sel.register(leg.sock, events, (pair, leg))

    def _on_readable(self, pair: _Pair, leg: _Leg) -> None:
        try:
            data = leg.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._reset(pair)
            return
        other = pair.other(leg)
        if not data:
            if pair.dropped:
                # A dropped path loses the FIN too: the other side must keep waiting.
                self._close_leg(leg)
                if not any(x is not None and x.open for x in (pair.client, pair.upstream)):
                    self._forget(pair)
            else:
                if other is not None and other.open:
                    with contextlib.suppress(OSError):
                        other.sock.setblocking(True)
                        other.sock.settimeout(2)
                        other.sock.sendall(bytes(other.pending))
                self._close_pair(pair)
            return
        if pair.dropped or other is None:
            return  # swallowed, as a dead network path would
        other.pending += data
        self._flush(pair, other)

    def _flush(self, pair: _Pair, leg: _Leg) -> None:
        if leg.pending:
            try:
                sent = leg.sock.send(leg.pending)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._reset(pair)
                return
            del leg.pending[:sent]
        self._watch(pair, leg)

    def _close_leg(self, leg: _Leg) -> None:
        if leg.open:
            leg.open = False
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(leg.sock)
            leg.sock.close()

    def _close_pair(self, pair: _Pair) -> None:
        for leg in (pair.client, pair.upstream):
            if leg is not None:
                self._close_leg(leg)
        self._forget(pair)

    def _reset(self, pair: _Pair) -> None:
        for leg in (pair.client, pair.upstream):
            if leg is not None and leg.open:
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(leg.sock)
                leg.open = False
                self._abort(leg.sock)
        self._forget(pair)

    def _forget(self, pair: _Pair) -> None:
        with contextlib.suppress(ValueError):
            self._pairs.remove(pair)

    @staticmethod
    def _abort(sock: socket.socket) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
