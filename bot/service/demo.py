"""`cocbot demo`: the real pipeline on a fresh machine, with no accounts and no config.

Creates a folder with a SQLite database, a Maildir standing in for the conduct
inbox and a configuration file, starts a small SMTP server on a free loopback
port, and plays a short scripted exchange through `bot.service.runner.run_once`:

1. a report arrives; the bot opens a case and acknowledges it;
2. the bot's own copy (Cc to the conduct address) comes back and is filed as sent mail;
3. an out-of-office auto-reply arrives and gets no answer;
4. a member replies to the reporter, copying the conduct address;
5. a member steers the case with `#contact` and `#safety` and gets a transcript.

The SMTP server plays the mail system: what is addressed to the conduct address
is delivered into the Maildir (so the bot really receives its own copy), the
rest is captured and shown.  Nothing leaves the machine.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import click
from sqlmodel import Session, col, select

from bot.core import log as logmod
from bot.core.app import App
from bot.core.config import load_config
from bot.core.events import EventKind
from bot.store.bootstrap import build_app
from bot.store.db import make_engine, upgrade
from bot.store.models import Case, Event, utcnow

CONDUCT = "conduct@demo.example"
AUTHSERV = "mx.demo.example"
REPORTER = ("Jo Reporter", "jo@reporter.example")
CHAIR = ("Maya Chen", "maya@demo.example")
MEMBER = ("Alex Smith", "alex@demo.example")
# The manual's committee has at least three members; the third only completes the roster.
THIRD = ("Riley Park", "riley@demo.example")
AWAY = ("Sam Traveller", "sam@elsewhere.example")


FILED_AS = {
    "report": "the report that opened it",
    "inbound": "a reply in the conversation",
    "forwarded": "a message forwarded by a member",
    "forwarded-report": "a report forwarded by a member",
}


@dataclass
class Captured:
    """One message the demo SMTP server accepted."""

    rcpt_tos: list[str]
    content: bytes


@dataclass
class MailSystem:
    """A loopback SMTP server: conduct-address mail goes to the Maildir, the rest is kept."""

    maildir: Path
    captured: list[Captured] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Any = None
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Deliver or capture one message."""
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        with self.lock:
            self.captured.append(Captured(list(envelope.rcpt_tos), raw))
            if any(r.lower() == CONDUCT for r in envelope.rcpt_tos):
                box = mailbox.Maildir(str(self.maildir), factory=None, create=True)
                box.add(raw)
                box.close()
        return "250 OK"

    def start(self) -> None:
        """Listen on a free loopback port."""
        from aiosmtpd.controller import Controller

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        """Stop listening."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_demo_config(folder: Path, smtp_port: int) -> Path:
    """A complete configuration for the demo in `folder` (kept with --keep)."""
    lines = [
        f"conduct_address = {_toml_str(CONDUCT)}",
        "",
        "[database]",
        f"url = {_toml_str('sqlite:///' + str(folder / 'cocbot.db'))}",
        "",
        "[intake]",
        'source = "maildir"',
        'maildir = "inbox"',
        "",
        "[smtp]",
        'host = "127.0.0.1"',
        f"port = {smtp_port}",
        'security = "none"',
        "timeout = 10.0",
        "",
        "[auth]",
        f"authserv_id = {_toml_str(AUTHSERV)}",
        "",
        "[log]",
        'level = "error"',
        'format = "console"',
    ]
    for (name, addr), role in ((CHAIR, "chair"), (MEMBER, "member"), (THIRD, "member")):
        lines += ["", "[[members]]", f"name = {_toml_str(name)}",
                  f"email = {_toml_str(addr)}", f'role = "{role}"']
    path = folder / "cocbot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _mail(sender: tuple[str, str], to: list[str], subject: str, body: str, *,
          cc: list[str] | None = None, in_reply_to: str | None = None,
          headers: dict[str, str] | None = None) -> tuple[EmailMessage, str]:
    msg = EmailMessage()
    name, addr = sender
    domain = addr.split("@", 1)[1]
    msg["From"] = f"{name} <{addr}>"
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    mid = make_msgid(domain=domain)
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        msg["References"] = f"<{in_reply_to}>"
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg, mid.strip("<>")


def _deliver(maildir: Path, msg: EmailMessage) -> None:
    box = mailbox.Maildir(str(maildir), factory=None, create=True)
    box.add(msg.as_bytes())
    box.close()


class Narrator:
    """Turns what happened since the last step (events, captured mail) into plain words."""

    def __init__(self, app: App, mail: MailSystem) -> None:
        self.app = app
        self.mail = mail
        self.last_event = 0
        self.last_mail = 0
        self.totals = {"cases": 0, "sent": 0, "suppressed": 0}

    def _code(self, session: Session, case_id: int | None) -> str:
        case = session.get(Case, case_id) if case_id else None
        return f'"{case.code}"' if case else "(no case)"

    def report(self) -> list[str]:
        """Lines describing everything since the previous call."""
        lines: list[str] = []
        with Session(self.app.engine) as session:
            events = session.exec(select(Event).where(col(Event.id) > self.last_event)
                                   .order_by(col(Event.id))).all()
            for ev in events:
                self.last_event = max(self.last_event, ev.id or 0)
                line = self._describe(session, ev)
                if line:
                    lines.append(line)
        with self.mail.lock:
            fresh = self.mail.captured[self.last_mail:]
            self.last_mail = len(self.mail.captured)
        for item in fresh:
            msg = email.message_from_bytes(item.content, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            lines.append(f"sent mail: To: {msg['To']}"
                         + (f", Cc: {msg['Cc']}" if msg["Cc"] else "")
                         + f"\n     Subject: {msg['Subject']}"
                         + f"\n     Auto-Submitted: {msg['Auto-Submitted']}")
            part = msg.get_body(("plain",))
            if part is not None:
                text = str(part.get_content()).replace("\r\n", "\n").rstrip()
                lines.append("the text:\n" + "\n".join(f"     | {t}" for t in text.split("\n")))
            self.totals["sent"] += 1
        return lines

    def _describe(self, session: Session, ev: Event) -> str | None:
        code = self._code(session, ev.case_id)
        data = ev.data
        if ev.kind == EventKind.CASE_OPENED:
            self.totals["cases"] += 1
            return f"opened case {code} ({data.get('how', 'new report')})"
        if ev.case_id is None and ev.kind != EventKind.QUARANTINED:
            return None  # start-up housekeeping (roster sync), not about this message
        if ev.kind == EventKind.MESSAGE_FILED:
            what = FILED_AS.get(str(data.get("filed_as")), "a message")
            return f"filed the message into case {code} as {what}"
        if ev.kind == EventKind.SENT_COPY_FILED:
            return f"filed the bot's own copy into case {code} as sent mail (not a new report)"
        if ev.kind == EventKind.ACKNOWLEDGEMENT_QUEUED:
            return f"queued an acknowledgement to the reporter ({data.get('template')})"
        if ev.kind == EventKind.ACKNOWLEDGEMENT_SUPPRESSED:
            self.totals["suppressed"] += 1
            return f"sent no acknowledgement: {data.get('reason')} [rule {data.get('rule')}]"
        if ev.kind in (EventKind.MAIL_QUEUED, EventKind.MAIL_SENT):
            return None
        return f"recorded {ev.kind.replace('_', ' ')} in case {code}"


def run_demo(folder: Path, echo: Any = click.echo) -> dict[str, int]:
    """Play the scripted exchange in `folder`; returns totals (cases, sent, suppressed)."""
    from bot.service.runner import run_once

    maildir = folder / "inbox"
    mailbox.Maildir(str(maildir), factory=None, create=True).close()
    mail = MailSystem(maildir)
    mail.start()
    try:
        config_path = write_demo_config(folder, mail.port)
        config = load_config(config_path)
        logmod.configure(config.log.level, config.log.format)
        upgrade(config.database.url)
        app = build_app(config, make_engine(config.database.url))
        narrator = Narrator(app, mail)
        echo("cocbot demo: a scripted exchange through the real pipeline")
        echo(f"  SQLite database, a Maildir inbox for {CONDUCT} and a local SMTP server on "
             f"127.0.0.1:{mail.port}\n")

        def step(title: str, msg: EmailMessage | None = None) -> None:
            echo(title)
            if msg is not None:
                _deliver(maildir, msg)
            run_once(app)
            for line in narrator.report() or ["nothing to do"]:
                echo(f"   - {line}")
            echo("")

        report, report_id = _mail(
            REPORTER, [CONDUCT], "Harassment at the Django meetup",
            "Hello,\n\nAt last night's meetup another attendee kept making remarks about my "
            "accent after I asked them to stop.\n\nJo\n")
        step(f"1. A report arrives from {REPORTER[0]} <{REPORTER[1]}>:", report)
        step("2. The bot's acknowledgement was Cc'd to the conduct address; its copy comes "
             "back:")
        away, _ = _mail(AWAY, [CONDUCT], "Out of Office: back on Monday",
                        "I am travelling until Monday with limited access to email.\n",
                        headers={"Auto-Submitted": "auto-replied"})
        step(f"3. An out-of-office auto-reply arrives from {AWAY[1]}:", away)
        reply, _ = _mail(
            CHAIR, [REPORTER[1]], "Re: Harassment at the Django meetup",
            "Hi Jo,\n\nThank you for writing to us. I'm your point of contact for this "
            "report.\n\nMaya\n", cc=[CONDUCT], in_reply_to=report_id,
            headers={"Authentication-Results":
                     f"{AUTHSERV}; dkim=pass header.d=demo.example; "
                     "dmarc=pass header.from=demo.example"})
        step(f"4. {CHAIR[0]} (chair) replies to the reporter, copying the conduct address:",
             reply)
        command, _ = _mail(
            MEMBER, [CONDUCT], "Re: Harassment at the Django meetup #contact Maya #safety no",
            "[- Jo]\nMaya is on it; noting the record.\n", in_reply_to=report_id,
            headers={"Authentication-Results":
                     f"{AUTHSERV}; dkim=pass header.d=demo.example; "
                     "dmarc=pass header.from=demo.example"})
        step(f"5. {MEMBER[0]} steers the case with #tags in the subject (to the group only):",
             command)
        totals = narrator.totals
        echo(f"Done: {totals['cases']} case(s) opened, {totals['sent']} mail(s) sent, "
             f"{totals['suppressed']} automatic reply(ies) suppressed.")
        app.engine.dispose()
        return totals
    finally:
        mail.stop()
