"""`cocbot check-config --connect`: log in to every server the bot needs and say how it went.

Each probe uses the same connection code as the daemon (`bot.intake.imap.connect`,
the sender's SMTP connect, `bot.store.db.make_engine`), so what it reports is
what `cocbot run` will meet.  A failure is one line that names the server and
the setting to look at, with the server's own words; passwords never appear.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Engine, text

from bot.core.app import App
from bot.core.config import Config


@dataclass(frozen=True)
class ProbeResult:
    """What one probe found."""

    name: str  # database | imap | smtp | maildir
    ok: bool
    detail: str

    def line(self) -> str:
        """``name: OK (detail)`` or ``name: FAILED: detail``."""
        if self.ok:
            return f"{self.name}: OK ({self.detail})"
        return f"{self.name}: FAILED: {self.detail}"


def _words(exc: BaseException) -> str:
    """The server's (or the system's) words for `exc`, on one line."""
    text_ = str(exc)
    if text_.startswith("b'") or text_.startswith('b"'):
        text_ = text_[2:-1]  # imapclient passes the server's bytes through str()
    text_ = " ".join(text_.split())
    return f"{type(exc).__name__}: {text_}"[:300] if text_ else type(exc).__name__


def probe_database(config: Config) -> tuple[ProbeResult, Engine | None]:
    """Open the database, run one query and read the schema revision."""
    from bot.store.db import make_engine, schema_status
    from bot.store.dburl import describe_error, parse_url

    url = config.database.url
    try:
        parsed = parse_url(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        current, head = schema_status(engine)
    except Exception as exc:
        line = describe_error(exc)
        if line is None:
            raise
        return ProbeResult("database", False, line), None
    where = (f"SQLite file {parsed.database}" if parsed.get_backend_name() == "sqlite"
             else f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}/"
                  f"{parsed.database}")
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        return ProbeResult("database", False, f"{where} is reachable but its schema is "
                           f"{state}, newest is {head}: run `cocbot db upgrade`"), engine
    return ProbeResult("database", True, f"{where}, schema at revision {current}"), engine


def probe_imap(app: App) -> ProbeResult:
    """Log in to the IMAP server and select the configured folder read-only."""
    from imapclient.exceptions import IMAPClientError, LoginError

    from bot.intake.imap import connect

    cfg = app.config.imap
    where = f"{cfg.host}:{cfg.port} ({cfg.security})"
    try:
        client = connect(app)
    except LoginError as exc:
        return ProbeResult("imap", False, f"{where} refused the login for {cfg.username!r}: "
                           f"{_words(exc)} (check imap.username and imap.password)")
    except (OSError, IMAPClientError, ssl.SSLError, EOFError) as exc:
        return ProbeResult("imap", False, f"cannot connect to {where}: {_words(exc)} "
                           "(check imap.host, imap.port and imap.security)")
    try:
        info = client.select_folder(cfg.folder, readonly=True)
        count = int(info.get(b"EXISTS", 0))
        idle = client.has_capability("IDLE")
    except (OSError, IMAPClientError, ssl.SSLError, EOFError) as exc:
        return ProbeResult("imap", False, f"logged in to {where}, but cannot open folder "
                           f"{cfg.folder!r}: {_words(exc)} (check imap.folder)")
    finally:
        try:
            client.logout()
        except Exception:  # the connection may already be gone
            client.shutdown()
    return ProbeResult("imap", True, f"logged in to {where} as {cfg.username!r}; folder "
                       f"{cfg.folder!r} has {count} message(s); "
                       f"{'IDLE' if idle else 'no IDLE, polling'}")


def probe_smtp(app: App) -> ProbeResult:
    """Connect to the SMTP server and log in as the bot will."""
    import aiosmtplib

    from bot.outbound.sender import SmtpLoginRefused, _connect

    cfg = app.config.smtp
    where = f"{cfg.host}:{cfg.port} ({cfg.security})"

    async def attempt() -> None:
        client = await _connect(app)
        try:
            await client.noop()
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    try:
        asyncio.run(attempt())
    except SmtpLoginRefused as exc:
        # The sender's own words: they quote the server.
        return ProbeResult("smtp", False, f"{where} refused the login for {cfg.username!r}: "
                           f"{exc} (check smtp.username and smtp.password)")
    except aiosmtplib.SMTPAuthenticationError as exc:
        return ProbeResult("smtp", False, f"{where} refused the login for {cfg.username!r}: "
                           f"{exc.code} {' '.join(exc.message.split())} "
                           "(check smtp.username and smtp.password)")
    except aiosmtplib.SMTPResponseException as exc:
        return ProbeResult("smtp", False, f"{where} answered {exc.code} "
                           f"{' '.join(exc.message.split())}")
    except (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError) as exc:
        return ProbeResult("smtp", False, f"cannot connect to {where}: {_words(exc)} "
                           "(check smtp.host, smtp.port and smtp.security)")
    login = f"logged in as {cfg.username!r}" if cfg.username else "connected (no login set)"
    return ProbeResult("smtp", True, f"{where}: {login}")


def probe_maildir(config: Config) -> ProbeResult:
    """The local Maildir the bot reads instead of IMAP."""
    assert config.intake.maildir is not None
    path = config.resolve_path(config.intake.maildir)
    if not path.exists():
        return ProbeResult("maildir", True, f"{path} does not exist yet; it will be created")
    if not (path / "new").is_dir() or not (path / "cur").is_dir():
        return ProbeResult("maildir", False, f"{path} is not a Maildir (no new/ and cur/); "
                           "check intake.maildir")
    return ProbeResult("maildir", True, str(path))


def probe_all(config: Config) -> list[ProbeResult]:
    """Database, then the inbox, then SMTP; every probe runs even when one fails."""
    from sqlalchemy import create_engine

    database, engine = probe_database(config)
    # The mail probes need no database; an in-memory stand-in keeps App's shape when the
    # configured one cannot be opened.
    app = App(config=config, engine=engine or cast(Engine, create_engine("sqlite://")),
              secret="")
    results = [database]
    if config.intake.source == "maildir":
        results.append(probe_maildir(config))
    else:
        results.append(probe_imap(app))
    results.append(probe_smtp(app))
    return results
