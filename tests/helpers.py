"""Shared test helpers: configs, test mail, an App on a real database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from bot.core.app import App
from bot.core.config import Config, parse_config
from bot.filing.context import Origin, Outcome
from bot.store.bootstrap import build_app
from bot.store.db import make_engine, upgrade
from bot.store.models import Outbox
from bot.store.models import utcnow as record_now
from tests.dbtemplate import fresh_sqlite_url

AUTHSERV = "mx.test.example"
CONDUCT = "conduct@example.org"
MAYA = "maya@example.org"  # chair
ALEX = "alex@example.org"  # member
SAM = "sam@example.net"  # member at another domain
REPORTER = "jo.reporter@mail.example"

MEMBERS: list[dict[str, Any]] = [
    {"name": "Maya Chen", "email": MAYA, "role": "chair", "aliases": ["maya.chen@example.org"]},
    {"name": "Alex Smith", "email": ALEX, "role": "member"},
    {"name": "Sam Jones", "email": SAM, "role": "member"},
]


def toml_value(value: Any) -> str:
    """Render a Python value as TOML (enough for test configs)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def config_dict(db_url: str, **sections: Any) -> dict[str, Any]:
    """A test configuration as a dict; keyword arguments override whole sections/keys."""
    data: dict[str, Any] = {
        "conduct_address": CONDUCT,
        "database": {"url": db_url},
        "auth": {"authserv_id": AUTHSERV},
        "bot": {"secret_key": "test-secret"},
        "members": MEMBERS,
        "log": {"level": "debug", "format": "json"},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """Write `data` as a TOML file at `path`."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{key} = {toml_value(value)}")
    for name, table in tables:
        lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in table.items())
    for name, items in arrays:
        for item in items:
            lines.append(f"\n[[{name}]]")
            lines.extend(f"{k} = {toml_value(v)}" for k, v in item.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def migrate(db_url: str) -> None:
    """Bring the database at `db_url` to the newest schema.

    A new SQLite file is a copy of a migrated template (`tests.dbtemplate`):
    running the migrations for each of a thousand tests cost most of a minute.
    """
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        if not path.exists():
            fresh_sqlite_url(path.parent, path.name)
            return
    upgrade(db_url)


def make_app(db_url: str, clock: datetime | None = None, **sections: Any) -> App:
    """Migrate the database at `db_url` and return an App with the test config."""
    migrate(db_url)
    config: Config = parse_config(config_dict(db_url, **sections), environ={})
    engine = make_engine(db_url)
    return build_app(config, engine, clock=(lambda: clock) if clock else None)


def auth_header(domain: str = "example.org", result: str = "pass") -> str:
    """A trusted Authentication-Results value for mail from `domain`."""
    return (f"{AUTHSERV}; dkim={result} header.d={domain}; "
            f"dmarc={result} header.from={domain}")


def make_mail(
    *,
    sender: str = REPORTER,
    sender_name: str = "Jo Reporter",
    to: Sequence[str] = (CONDUCT,),
    cc: Sequence[str] = (),
    subject: str = "Report about behaviour in the forum",
    body: str = "Someone was rude to me in the forum thread yesterday.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
    authenticated: bool | None = None,
    html: str | None = None,
) -> bytes:
    """A test message as raw bytes (members' mail is authenticated by default)."""
    msg = EmailMessage()
    if authenticated is None:
        authenticated = sender in {m["email"] for m in MEMBERS}
    if authenticated:
        msg["Authentication-Results"] = auth_header(sender.split("@", 1)[1])
    msg["From"] = f"{sender_name} <{sender}>" if sender_name else sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    # Undated test mail is dated at the record clock: the frozen moment of the test's
    # App when it has one (command mail dated far from "now" is held), else now.
    msg["Date"] = format_datetime(date or record_now())
    msg["Message-ID"] = f"<{message_id}>" if message_id else make_msgid(domain="mail.example")
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def message_id_of(raw: bytes) -> str:
    """The Message-ID of `raw`, without angle brackets."""
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().strip(b"<>").decode()
    raise ValueError("no Message-ID")


def cocbot(*args: str, config: Path | None = None, check: bool = True,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the `cocbot` command line in a subprocess."""
    cmd = [sys.executable, "-m", "bot", *( ["--config", str(config)] if config else []), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"cocbot {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def file(app: App, raw: bytes, *, backfill: bool = False) -> Outcome:
    """Run `raw` through the pipeline in its own transaction, as intake would."""
    from bot.filing.pipeline import process_message
    from bot.store.db import session_scope

    with session_scope(app.engine) as session:
        return process_message(app, session, raw, Origin(source="test", backfill=backfill))


def outbox_rows(app: App, kind: str | None = None) -> list[Outbox]:
    """The outbox rows (of one `kind`, when given), oldest first."""
    from sqlmodel import Session, col, select

    with Session(app.engine) as session:
        query = select(Outbox).order_by(col(Outbox.id))
        if kind:
            query = query.where(Outbox.kind == kind)
        return list(session.exec(query).all())
