"""Building blocks of the red-team suite: hostile mail, the world it attacks, checks.

Every attack is an `Attack`: a name, its class, the wave it is delivered in, a
builder (raw bytes, from what earlier waves left behind) and a check that
raises when the attack worked.  `tests/security/test_redteam_e2e.py` delivers
all of them through a real Dovecot inbox to `cocbot run --once` processes that
send through a real SMTP sink, then runs every check.
"""

from __future__ import annotations

import base64
import email
import email.policy
import quopri
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from tests.e2e.botproc import db_rows
from tests.helpers import AUTHSERV, CONDUCT, MEMBERS

ATTACKER = "mallory@attacker.example"
ATTACKER_NAME = "Mallory Mayhem"
KIM = "kim@victim.example"
KIM_NAME = "Kim Victim"
JO_NAME = "Jo Reporter"
PHISH = "victim@phish.example"
MARK = "PHISHMARK"
PAYLOAD = (f"x\r\nBcc: {PHISH}\r\nReply-To: evil@phish.example\r\nX-Evil: 1\r\n\r\n"
           f"<a href=https://phish.example>{MARK}</a>")
SUBJECT_V1 = "Harassment at the meetup"
SUBJECT_V2 = "Threats in the chat"
SUBJECT_A0 = "Complaint about moderators"
PHRASE_V1 = "Zanzibar interruption at the sprint table"
PHRASE_V2 = "Quixotic threats in the voice channel"
PHRASE_A0 = "Moderators were unfair to me"
GENUINE_DKIM_B = "b=Gq7Xs0cCk1lR5cG9qL3Xm5yQ0bQhY2tQmZJ3k1c2V0ZWQ" + "A" * 40
BOT_HEADERS = {"from", "to", "cc", "subject", "date", "message-id", "in-reply-to",
               "references", "auto-submitted", "x-auto-response-suppress", "mime-version",
               "content-type", "content-transfer-encoding"}
MEMBER_ADDRESSES = ({m["email"] for m in MEMBERS}
                    | {a for m in MEMBERS for a in m.get("aliases", [])})
ACK_SUBJECT = "Your report to the Django Code of Conduct Working Group"


# ---------------------------------------------------------------- encodings

def ew(text: str, enc: str = "b") -> str:
    """`text` as one RFC 2047 encoded-word (UTF-8, base64 or Q)."""
    data = text.encode("utf-8")
    if enc == "b":
        return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="
    q = quopri.encodestring(data, header=True).decode("ascii").replace("=\n", "")
    q = q.replace("?", "=3F").replace(" ", "_").replace("\t", "=09")
    return f"=?utf-8?q?{q}?="


def nest(text: str, levels: int, encs: str = "b") -> str:
    """`text` encoded `levels` times (each level's encoding from `encs`, cycled)."""
    for i in range(levels):
        text = ew(text, encs[i % len(encs)])
    return text


def folded(text: str, levels: int, encs: str = "b") -> str:
    """Like `nest`, with the outermost level split into two words on folded lines."""
    inner = nest(text, levels - 1, encs) if levels > 1 else text
    half = len(inner) // 2
    outer = encs[(levels - 1) % len(encs)]
    return f"{ew(inner[:half], outer)}\r\n {ew(inner[half:], outer)}"


# ---------------------------------------------------------------- mail

def auth_results(domain: str = "example.org", result: str = "pass",
                 authserv: str = AUTHSERV) -> str:
    """What our MX would prepend for mail from `domain`."""
    return f"{authserv}; dkim={result} header.d={domain}; dmarc={result} header.from={domain}"


def raw_mail(headers: Iterable[tuple[str, str]], body: str = "Hello.\n",
             *, date: datetime | None = None, extra_mime: str | None = None) -> bytes:
    """A message exactly as written: `headers` in order, then defaults for missing
    Date/MIME headers, then `body` (or a multipart with `extra_mime`)."""
    lines = [f"{k}: {v}" for k, v in headers]
    names = {k.lower() for k, _ in headers}
    if "date" not in names:
        lines.append(f"Date: {format_datetime(date or datetime.now(UTC))}")
    lines.append("MIME-Version: 1.0")
    if extra_mime is None:
        lines += ["Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: 8bit", "", *body.split("\n")]
    else:
        lines += ['Content-Type: multipart/mixed; boundary="BOUND"', "", "--BOUND",
                  "Content-Type: text/plain; charset=utf-8", "", *body.split("\n"),
                  "--BOUND", extra_mime, "", "aGVsbG8=", "--BOUND--"]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def member_mail(sender: str, name: str, subject: str, mid: str, *, body: str = "Thanks.\n",
                in_reply_to: str | None = None, references: Iterable[str] = (),
                to: str = CONDUCT, date: datetime | None = None,
                authenticated: bool = True, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """A member's mail, with our MX's Authentication-Results on top when `authenticated`."""
    headers: list[tuple[str, str]] = []
    if authenticated:
        headers.append(("Authentication-Results", auth_results(sender.split("@")[1])))
    headers += [("From", f"{name} <{sender}>"), ("To", to), ("Subject", subject),
                ("Message-ID", f"<{mid}>")]
    if in_reply_to:
        headers.append(("In-Reply-To", f"<{in_reply_to}>"))
    refs = list(references) or ([in_reply_to] if in_reply_to else [])
    if refs:
        headers.append(("References", " ".join(f"<{r}>" for r in refs)))
    headers += list(extra)
    return raw_mail(headers, body, date=date)


# ---------------------------------------------------------------- the world

@dataclass
class World:
    """What earlier waves left behind: case codes, ids the bot sent, genuine mail."""

    codes: dict[str, str] = field(default_factory=dict)  # report id -> case code
    ack_ids: dict[str, str] = field(default_factory=dict)  # reporter -> ack Message-ID
    digest_id: str = ""
    transcript_id: str = ""
    genuine: bytes = b""

    def tag(self, report_id: str) -> str:
        """``[CoC home-shelf]`` for the case `report_id` opened."""
        return f"[CoC {self.codes[report_id].replace(' ', '-')}]"


@dataclass
class Outcome:
    """Everything the checks look at after all waves."""

    config: Path
    world: World
    sent: list[Any]  # CapturedMessage
    events: list[tuple[str, str | None, int | None, str]]
    cases: dict[int, tuple[str, str, int | None]]  # id -> (code, status, merged_into)
    participants: list[tuple[int, str]]
    inbound: dict[str, tuple[str, int | None]]  # message id -> (kind, case id)
    outbox: list[tuple[str, str, str]]  # (message id, kind, status)

    @classmethod
    def load(cls, config: Path, world: World, sent: list[Any]) -> Outcome:
        """Read the bot's database beside `config`."""
        return cls(
            config=config, world=world, sent=sent,
            events=[(r[0], r[1], r[2], r[3] or "") for r in db_rows(
                config, "select kind, message_id, case_id, data from event")],
            cases={r[0]: (r[1], r[2], r[3]) for r in db_rows(
                config, "select id, code, status, merged_into from 'case'")},
            participants=[(r[0], r[1]) for r in db_rows(
                config, "select case_id, address from participant")],
            inbound={r[0]: (r[1], r[2]) for r in db_rows(
                config, "select message_id, kind, case_id from inboundmessage")},
            outbox=[(r[0], r[1], r[2]) for r in db_rows(
                config, "select message_id, kind, status from outbox")],
        )

    def case_id(self, report_id: str) -> int:
        """The id of the case `report_id` opened."""
        code = self.world.codes[report_id]
        return next(cid for cid, (c, _s, _m) in self.cases.items() if c == code)

    def status(self, report_id: str) -> str:
        """Status of the case `report_id` opened."""
        return self.cases[self.case_id(report_id)][1]

    def kinds_for(self, mid: str) -> list[str]:
        """Event kinds recorded with Message-ID `mid`."""
        return [k for k, m, _c, _d in self.events if m == mid]

    def assert_no_effect(self, mid: str) -> None:
        """`mid` ran no command and merged nothing."""
        kinds = self.kinds_for(mid)
        assert mid in self.inbound or "duplicate_message_id" in kinds or \
            any(m == mid for _k, m, _c, _d in self.events), f"{mid} never arrived"
        for bad in ("commands_processed", "resolved", "case_merged", "merged_into",
                    "point_of_contact_set", "recused", "safety_risk_set", "sent_copy_filed"):
            assert bad not in kinds, (mid, bad, kinds)

    def assert_held(self, mid: str) -> None:
        """`mid` carried commands that were held."""
        self.assert_no_effect(mid)
        assert "command_held" in self.kinds_for(mid), (mid, self.kinds_for(mid))

    def mails_to(self, address: str) -> list[Any]:
        """Everything the sink accepted for `address`."""
        return [m for m in self.sent if address.lower() in [r.lower() for r in m.rcpt_tos]]


def decoded_text(content: bytes) -> str:
    """Headers (decoded) and every text part of a sent mail, for searching."""
    msg = email.message_from_bytes(content, policy=email.policy.default)
    parts = [f"{k}: {v}" for k, v in msg.items()]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(str(part.get_content()))
    return "\n".join(parts)


def check_headers(content: bytes) -> None:
    """The header block of a sent mail holds exactly the bot's own fields, each once."""
    head = content.split(b"\r\n\r\n", 1)[0]
    names: list[str] = []
    for line in head.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line and len(line) <= 998
        if line[:1] in (b" ", b"\t"):
            continue
        name, sep, _value = line.partition(b":")
        assert sep, line
        names.append(name.decode("ascii").lower())
    assert set(names) <= BOT_HEADERS, names
    assert len(names) == len(set(names)), names
    msg = email.message_from_bytes(content, policy=email.policy.default)
    for key, value in msg.items():
        text = str(value)
        assert not re.search(r"[\x00-\x1f\x7f]", text), (key, text)
        assert "=?" not in text, (key, text)  # nothing left for a reader to decode again


Check = Callable[[Outcome, "Attack"], None]


@dataclass
class Attack:
    """One hostile mail and how to tell that it failed."""

    name: str
    cls: str
    build: Callable[[World], bytes] | None
    check: Check
    wave: int = 1
    mid: str = ""
    raw: bytes = b""

    def __post_init__(self) -> None:
        if not self.mid:
            self.mid = f"{re.sub(r'[^a-z0-9]+', '-', self.name.lower())}@attacker.example"


def old(days: float) -> datetime:
    """A moment `days` ago (negative: in the future)."""
    return datetime.now(UTC) - timedelta(days=days)
