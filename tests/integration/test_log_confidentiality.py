"""Logs at info level and above carry code names, message ids and counts: nothing else.

A report, a member's reply with commands that also went to an outsider (transcript,
private warning, hygiene warnings), an unauthenticated command (held), an
unparsable message, an internal error whose message holds an address (as
SQLAlchemy's errors hold their statement parameters), a delivery the server
refuses naming the recipient, reminders days later and the daily digest.  The
logs are captured as the bot writes them (`bot.core.log.configure`, JSON, including
rendered tracebacks), and every line at info or above is searched for every
address, name, subject and body fragment involved.  The digest's dry run (an
operator's view) is checked for the same, except for the line naming the member
it is for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import structlog

import bot.handlers.hygiene
from bot.clocks.scheduler import run_due
from bot.core import log as botlog
from bot.core.app import App
from bot.filing.context import MessageContext, Origin
from bot.intake.filer import file_raw
from bot.outbound.sender import deliver_due
from bot.store.codenames import subject_tag
from tests.helpers import (
    ALEX,
    CONDUCT,
    MAYA,
    MEMBERS,
    REPORTER,
    cocbot,
    config_dict,
    make_app,
    make_mail,
    write_config,
)
from tests.integration.clocks import moment, set_clock
from tests.servers import SmtpSink

OUTSIDER = "quinn.outsider@forum.example"
BROKEN_SENDER = "rowan.crash@mail.example"
SUBJECT = "Harassment by Pat at DjangoCon"
BODY = "Pat Person kept messaging me after the keynote."
SECRETS = [
    REPORTER, "jo.reporter", "Jo Reporter", SUBJECT, "Harassment", "Pat Person", "keynote",
    MAYA, ALEX, CONDUCT, "Maya Chen", "Alex Smith", OUTSIDER, "quinn.outsider", "Quinn Outsider",
    BROKEN_SENDER, "rowan.crash", "Rowan Crash", "Crash report subject", "orphaned bytes",
    "unparsable words", "spoke to the organiser", "patperson42", "looking into it",
]


@pytest.fixture
def restore_logging() -> Any:
    """Put structlog back as it was: the test configures it the way `cocbot run` does."""
    saved = {k: (list(v) if isinstance(v, list) else v)
             for k, v in structlog.get_config().items()}
    yield
    structlog.configure(**saved)


def _lines(err: str) -> list[dict[str, Any]]:
    out = []
    for line in err.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_logs_at_info_and_above_name_no_one(
    db_url: str, smtp_sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, restore_logging: Any,
) -> None:
    smtp = {"host": smtp_sink.host, "port": smtp_sink.port, "security": "none",
            "timeout": 5.0}
    app: App = make_app(db_url, smtp=smtp)
    botlog.configure("debug", "json")
    smtp_sink.refuse(REPORTER, f"550 5.1.1 <{REPORTER}> Jo Reporter: no such user")

    def file(raw: bytes, when: Any) -> str | None:
        set_clock(app, when)
        return file_raw(app, raw, Origin(source="test", received_at=when)).case_code

    def boom(ctx: MessageContext) -> None:
        first = ctx.pm.first_from
        if first is not None and first.key == BROKEN_SENDER:
            # What a database error says: the statement's parameters, i.e. case content.
            raise RuntimeError(f"INSERT failed [parameters: ({first.key!r}, {first.name!r}, "
                               f"{ctx.pm.subject!r})]")

    original = bot.handlers.hygiene.handle

    def hygiene_then_boom(ctx: MessageContext) -> None:
        original(ctx)
        boom(ctx)

    monkeypatch.setattr(bot.handlers.hygiene, "handle", hygiene_then_boom)

    code = file(make_mail(sender=REPORTER, sender_name="Jo Reporter", subject=SUBJECT,
                          body=BODY, message_id="r1@mail.example"), moment(2, 10))
    assert code is not None
    tag = subject_tag(code)
    # The chair answers on the thread, copying an outsider (no [+ note]), naming the
    # reporter, with commands in the subject and a note that is case content.
    file(make_mail(sender=MAYA, sender_name="Maya Chen", to=[CONDUCT],
                   cc=[f"Quinn Outsider <{OUTSIDER}>"],
                   subject=f"Re: {SUBJECT} {tag} #contact #safety no #note spoke to the organiser"
                           " #username patperson42 #resolv",
                   body="Jo Reporter told us about Pat Person; looking into it.",
                   message_id="m1@example.org", in_reply_to="r1@mail.example",
                   references=["r1@mail.example"], date=moment(2, 11)), moment(2, 11))
    # A command nobody can vouch for: held, and the chair is told.
    file(make_mail(sender=ALEX, sender_name="Alex Smith", authenticated=False,
                   subject=f"Re: {SUBJECT} {tag} #resolve", message_id="a1@example.org",
                   in_reply_to="r1@mail.example", references=["r1@mail.example"],
                   body="looking into it"), moment(2, 12))
    # No header block at all: quarantined.
    file(b"unparsable words and orphaned bytes from Jo Reporter\r\n", moment(2, 13))
    # A bug (or a database error) while filing: quarantined, the error logged.
    assert file(make_mail(sender=BROKEN_SENDER, sender_name="Rowan Crash",
                          subject="Crash report subject", message_id="x1@mail.example"),
                moment(2, 14)) is None
    deliver_due(app)  # the acknowledgement is refused, naming the reporter
    # Days later: reminders, then the next morning's digest.
    for when in (moment(10, 10), moment(11, 8, 30)):
        set_clock(app, when)
        run_due(app)
        deliver_due(app)

    records = _lines(capsys.readouterr().err)
    loud = [r for r in records if r.get("level") in ("info", "warning", "error", "critical")]
    events = {r.get("event") for r in loud}
    for expected in ("acknowledgement queued", "commands processed", "command held",
                     "hygiene problem", "message quarantined", "reminder queued",
                     "digest queued", "mail sent", "mail failed"):
        assert expected in events, (expected, sorted(map(str, events)))
    # The internal error is logged with its traceback, less the message that quotes mail.
    [error] = [r for r in loud if r.get("level") == "error"]
    assert "RuntimeError" in error["exception"] and "in boom" in error["exception"]
    text = json.dumps(loud).lower()
    assert code in text
    for secret in SECRETS:
        assert secret.lower() not in text, secret

    # The operator's dry run of the digest: code names, dates and labels only.
    config = write_config(tmp_path / "cocbot.toml", config_dict(db_url, smtp=smtp))
    out = cocbot("digest", "--dry-run", "--now", "2026-11-12T08:30:00Z", config=config).stdout
    assert code in out
    shown = "\n".join(line for line in out.splitlines() if not line.startswith("To: "))
    for secret in [*SECRETS, *(m["name"] for m in MEMBERS), *(m["email"] for m in MEMBERS)]:
        assert secret.lower() not in shown.lower(), secret
    assert "@" not in shown

