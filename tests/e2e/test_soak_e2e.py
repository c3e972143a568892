"""Soak: a mixed mail stream through the real `cocbot run`, with crashes and an SMTP outage.

Intake (IMAP IDLE), the outbox sender and the scheduler all run, on one SQLite file, while
a stream of reports, replies, members' commands, auto-replies, junk and duplicates arrives.
The bot is SIGKILLed and restarted mid-stream; afterwards every message must be filed or
quarantined exactly once and every mail the pipeline decided to send delivered once.  The
one tolerated repeat is delivery's documented crash window: the SMTP server accepted the
message but the process died before marking the row sent (same bytes, same Message-ID).

Also here: a hostile message (a 2000-character subject of encoded CR/LF/NUL, a NUL byte in
the body) neither stops the bot nor holds up the next message, and mail queued while the
SMTP server is down for 10 s goes out once when it is back.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.botproc import BotProcess, db_rows, e2e_config, run_cli, wait_until
from tests.helpers import ALEX, CONDUCT, MAYA, SAM, make_mail, write_config
from tests.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.e2e

MAX_BYTES = 60_000
SEED = 20261121  # the stream and the crash moments; timing still varies run to run
MEMBERS = (MAYA, ALEX, SAM)
REPORT_ID = re.compile(r"r\d+-0@reporters\.example")


@dataclass
class Mail:
    """One message of the stream and what should become of it."""

    raw: bytes
    message_id: str
    fate: str  # filed | quarantined | repeat (exact bytes of an earlier message)


@dataclass
class Stream:
    """The stream in arrival order, and the case state its commands call for."""

    mails: list[Mail] = field(default_factory=list)
    resolved: set[str] = field(default_factory=set)  # report Message-IDs
    safety: set[str] = field(default_factory=set)
    contact: set[str] = field(default_factory=set)
    commands: int = 0  # distinct command mails (one transcript each)

    def unique(self, fate: str) -> list[Mail]:
        """Distinct messages expected to end `fate`."""
        return [m for m in self.mails if m.fate == fate]


def _report(i: int, n: int = 0) -> Mail:
    mid = f"r{i}-{n}@reporters.example"
    raw = make_mail(sender=f"s{i}@reporters.example", sender_name=f"Reporter {i}",
                    subject=f"Report {i}.{n} about a meetup", message_id=mid,
                    body=f"Report {i}.{n}: someone was unkind to me at the meetup.")
    return Mail(raw, mid, "filed")


def _reply(i: int, k: int) -> Mail:
    mid = f"reply{i}-{k}@reporters.example"
    parent = f"r{i}-0@reporters.example"
    raw = make_mail(sender=f"s{i}@reporters.example", sender_name=f"Reporter {i}",
                    subject=f"Re: Report {i}.0 about a meetup", message_id=mid,
                    in_reply_to=parent, references=[parent], body=f"More details ({k}).")
    return Mail(raw, mid, "filed")


def _member(i: int, k: int, tags: str, member: str) -> Mail:
    mid = f"m{i}-{k}@{member.split('@')[1]}"
    parent = f"r{i}-0@reporters.example"
    raw = make_mail(sender=member, sender_name="", to=[CONDUCT],
                    subject=f"Re: Report {i}.0 about a meetup {tags}".strip(),
                    message_id=mid, in_reply_to=parent, references=[parent],
                    body="Looked into it.")
    return Mail(raw, mid, "filed")


def _auto_reply(i: int, parent: str | None) -> Mail:
    mid = f"ooo{i}@away.example"
    raw = make_mail(sender=f"ooo{i}@away.example", sender_name="", message_id=mid,
                    subject="Automatic reply: Out of Office", in_reply_to=parent,
                    references=[parent] if parent else (),
                    headers={"Auto-Submitted": "auto-replied"}, body="I am away this week.")
    return Mail(raw, mid, "filed")


def build_stream(rng: random.Random) -> Stream:
    """~150 messages in three waves; causes (reports) always precede their effects."""
    s = Stream()
    first = [_report(i) for i in range(30)]
    first += [_auto_reply(i, None) for i in range(6)]
    first.append(Mail(b"This is not an e-mail message at all.\r\nJust text.\r\n",
                      "", "quarantined"))
    second = [_report(i, 1) for i in range(10)]  # within the per-sender window: no ack
    second += [_reply(i, k) for i in range(30) for k in range(2 if i < 14 else 1)]
    second += [_auto_reply(i, f"r{i - 6}-0@reporters.example") for i in range(6, 12)]
    big = make_mail(message_id="big@reporters.example", body="x" * (MAX_BYTES * 2))
    second.append(Mail(big, "big@reporters.example", "quarantined"))
    for i in range(18):
        parent = f"r{i}-0@reporters.example"
        member = MEMBERS[i % 3]
        if i < 8:
            s.resolved.add(parent)
            second.append(_member(i, 0, "#resolve", member))
        elif i < 13:
            s.safety.add(parent)
            second.append(_member(i, 0, "#safety yes", member))
        else:
            s.contact.add(parent)
            second.append(_member(i, 0, "#contact Maya", member))
        s.commands += 1
    third = [_member(i, 1, "", MEMBERS[i % 3]) for i in range(18, 28)]
    # Resolving again changes nothing and says so.
    third += [_member(i, 2, "#resolve", MEMBERS[(i + 1) % 3]) for i in range(4)]
    s.commands += 4
    rng.shuffle(first)
    rng.shuffle(second)
    earlier = first + second
    repeats = [Mail(m.raw, m.message_id, "repeat") for m in rng.sample(earlier, 18)]
    # Junk arriving twice is quarantined once.
    repeats += [Mail(m.raw, m.message_id, "repeat") for m in earlier if m.fate == "quarantined"]
    third += repeats
    rng.shuffle(third)
    # Member commands must come after the report they answer; the waves see to that.
    s.mails = first + second + third
    return s


class Appender(threading.Thread):
    """Appends the stream to the INBOX over one IMAP connection, at a steady pace."""

    def __init__(self, dovecot: Dovecot, mails: list[Mail], seconds: float) -> None:
        super().__init__(name="appender", daemon=True)
        self.dovecot = dovecot
        self.mails = mails
        self.pause = seconds / max(1, len(mails))
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.cancel = threading.Event()  # set by a failing test: the next one gets no strays

    def run(self) -> None:
        try:
            client = self.dovecot.connect()
            try:
                for mail in self.mails:
                    if self.cancel.is_set():
                        return
                    client.append("INBOX", mail.raw)
                    time.sleep(self.pause)
            finally:
                client.logout()
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.done.set()


@dataclass
class CrashWindow:
    """What was true right after one SIGKILL: captured Message-IDs, unsent rows."""

    captured: set[str]
    unsent: set[str]


def captured_ids(smtp: SmtpSink) -> list[str]:
    """The Message-IDs of everything the sink accepted, in order."""
    return [str(m.message["Message-ID"]).strip().strip("<>") for m in smtp.messages]


def outbox(config: Path) -> list[Any]:
    return db_rows(config, "select message_id, status, kind, raw from outbox")


def wait_running(bot: BotProcess, since: int = 0) -> None:
    """Until this run's IMAP intake is connected (the log is shared by every run)."""
    assert wait_until(lambda: "imap connected" in bot.log_text()[since:] or not bot.alive(),
                      20), bot.log_text()[since:]
    assert bot.alive(), bot.log_text()[since:]


def settled(config: Path, smtp: SmtpSink, expected: int) -> Callable[[], bool]:
    """All mail handled, nothing queued, everything the outbox holds captured."""
    def check() -> bool:
        handled = db_rows(config, "select (select count(*) from inboundmessage) + "
                                  "(select count(*) from quarantine)")[0][0]
        if handled < expected:
            return False
        rows = outbox(config)
        if any(status == "queued" for _mid, status, _k, _r in rows):
            return False
        return {mid for mid, *_ in rows} <= set(captured_ids(smtp))
    return check


def pending(config: Path, smtp: SmtpSink) -> list[tuple[str, str, str]]:
    """Outbox rows not yet sent or not captured: (message_id, status, kind)."""
    captured = set(captured_ids(smtp))
    return [(mid, status, kind) for mid, status, kind, _r in outbox(config)
            if status != "sent" or mid not in captured]


def soak_config(tmp_path: Path, dovecot: Dovecot, smtp: SmtpSink) -> Path:
    config = e2e_config(
        tmp_path, dovecot, smtp,
        intake={"backfill_before": "2000-01-01", "max_message_bytes": MAX_BYTES},
        acknowledgement={"global_cap_per_hour": 1000},
        # Due at once, sent even when empty: every restart's scheduler run checks the claim.
        schedule={"digest_time": "00:00", "digest_when_empty": True},
        log={"level": "info", "format": "json"},
    )
    # e2e_config's `smtp` parameter is the sink; its section is amended here.
    data = tomllib.loads(config.read_text())
    data["smtp"]["timeout"] = 2.0
    write_config(config, data)
    run_cli(config, "db", "upgrade")
    return config


def assert_clean_log(bot: BotProcess) -> None:
    log = bot.log_text()
    assert "database is locked" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def cases_by_report(config: Path) -> dict[str, dict[str, Any]]:
    """Each case (with its events) keyed by the report Message-ID that opened it."""
    out: dict[str, dict[str, Any]] = {}
    for case in json.loads(run_cli(config, "cases", "--json").stdout):
        for mid in case["message_ids"]:
            if REPORT_ID.fullmatch(mid):
                out[mid] = case
    return out


def changes(config: Path) -> Counter[tuple[int, str]]:
    """How often each case saw each state-changing event."""
    return Counter((cid, kind) for cid, kind in db_rows(
        config, "select case_id, kind from event where kind in "
                "('resolved', 'safety_risk_set', 'point_of_contact_set')"))


def test_mixed_stream_with_three_crashes(tmp_path: Path, fresh_inbox: Dovecot,
                                         smtp_sink: SmtpSink) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    stream = build_stream(rng)
    assert 140 <= len(stream.mails) <= 170
    config = soak_config(tmp_path, fresh_inbox, smtp_sink)

    appender = Appender(fresh_inbox, stream.mails, seconds=12.0)
    bot = BotProcess(config).start()
    try:
        wait_running(bot)
        appender.start()
        windows: list[CrashWindow] = []
        for third in range(3):
            time.sleep(rng.uniform(1.0, 3.5) if third else rng.uniform(0.5, 2.5))
            if third == 1:
                # Aim one crash at the sender: right after the SMTP server accepted a message,
                # often before the row is marked sent.
                seen = len(smtp_sink.messages)
                wait_until(lambda n=seen: len(smtp_sink.messages) > n, 5, interval=0.001)
            assert bot.alive(), bot.log_text()[-3000:]
            bot.kill()
            windows.append(CrashWindow(
                captured=set(captured_ids(smtp_sink)),
                unsent={mid for mid, status, _k, _r in outbox(config) if status != "sent"}))
            time.sleep(rng.uniform(0.1, 1.0))
            offset = len(bot.log_text())
            bot = BotProcess(config).start()
            wait_running(bot, offset)
        assert appender.done.wait(30) and appender.error is None, appender.error

        unique = [m for m in stream.mails if m.fate != "repeat"]
        assert wait_until(settled(config, smtp_sink, len(unique)), 30, interval=0.25), (
            f"not settled: {pending(config, smtp_sink)}\n{bot.log_text()[-3000:]}")
        assert bot.stop() == 0, bot.log_text()[-3000:]
    finally:
        appender.cancel.set()
        bot.stop()  # also when an assertion failed: never leave a bot running
    assert_clean_log(bot)

    # Every message filed or quarantined exactly once.
    filed = [mid for (mid,) in db_rows(config, "select message_id from inboundmessage")]
    assert Counter(filed) == Counter(m.message_id for m in stream.unique("filed"))
    quarantined = db_rows(config, "select kind from quarantine order by kind")
    assert [k for (k,) in quarantined] == ["oversize", "unparsable"]

    # Every decided mail delivered exactly once; repeats only from the crash window.
    rows = outbox(config)
    assert rows and all(status == "sent" for _m, status, _k, _r in rows), pending(
        config, smtp_sink)
    sent = Counter(captured_ids(smtp_sink))
    raw_of = {mid: raw for mid, _s, _k, raw in rows}
    assert set(sent) == set(raw_of)
    repeated = {mid for mid, n in sent.items() if n > 1}
    for mid in repeated:
        assert any(mid in w.captured and mid in w.unsent for w in windows), (
            f"{mid} delivered {sent[mid]} times outside a crash window")
        copies = {m.content for m in smtp_sink.messages
                  if str(m.message["Message-ID"]).strip("<> ") == mid}
        assert len(copies) == 1, f"{mid}: the repeat differs from the first copy"
    assert len(repeated) <= 3, repeated  # at most one per crash

    kinds = Counter(kind for _m, _s, kind, _r in rows)
    assert kinds["acknowledgement"] == 30  # first reports only; second ones fall in the window
    assert kinds["transcript"] == stream.commands
    assert kinds["digest"] == 1

    # Case states follow the commands, each change made once.
    cases = cases_by_report(config)
    assert len(cases) == 30
    case_of = dict(db_rows(config, "select message_id, case_id from inboundmessage"))
    counted = changes(config)
    for mid, case in cases.items():
        cid = case_of[mid]
        assert case["status"] == ("Resolved" if mid in stream.resolved else "Ongoing"), mid
        assert counted[cid, "resolved"] == (mid in stream.resolved), mid
        assert counted[cid, "safety_risk_set"] == (mid in stream.safety), mid
        assert counted[cid, "point_of_contact_set"] == (mid in stream.contact), mid
        if mid in stream.safety:
            assert case["safety_risk"] == "Yes"
        if mid in stream.contact:
            assert case["point_of_contact"] == MAYA
    assert time.monotonic() - started < 60


# --------------------------------------------------------------------------- hostile mail

ENCODED_CRLF = "=?utf-8?q?x=0D=0ABcc:_attacker@evil.example=0D=0A=00?="


def hostile_mail() -> bytes:
    """A 2000-character subject of encoded CR/LF/NUL, and a NUL byte in the body."""
    subject = " ".join([ENCODED_CRLF] * 40)[:2000]
    assert len(subject) == 2000
    return (f"From: Someone <someone@forum.example>\r\nTo: {CONDUCT}\r\n"
            f"Subject: {subject}\r\nMessage-ID: <hostile@forum.example>\r\n"
            "Date: Sat, 21 Nov 2026 06:00:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n").encode() + \
        b"Before the NUL \x00 after it.\r\n"


def handled(config: Path, message_id: str) -> int:
    """How often `message_id` was filed, plus quarantine entries holding it."""
    filed = db_rows(config, "select count(*) from inboundmessage where message_id = "
                            f"'{message_id}'")[0][0]
    held = [raw for (raw,) in db_rows(config, "select raw from quarantine")
            if f"<{message_id}>".encode() in raw]
    return int(filed) + len(held)


@pytest.mark.parametrize("source", ["imap", "maildir"])
def test_hostile_subject_and_nul_byte_do_not_stop_the_bot(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink, source: str
) -> None:
    # Dovecot turns a NUL into 0x80 on APPEND; the Maildir hands the bot the real byte.
    intake: dict[str, Any] = {"backfill_before": "2000-01-01"}
    if source == "maildir":
        intake.update(source="maildir", maildir="inbox")
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink, intake=intake)
    run_cli(config, "db", "upgrade")

    def deliver(raw: bytes, name: str) -> None:
        if source == "imap":
            fresh_inbox.append(raw)
            return
        inbox = tmp_path / "inbox"
        (inbox / "tmp" / name).write_bytes(raw)
        (inbox / "tmp" / name).rename(inbox / "new" / name)

    with BotProcess(config) as bot:
        if source == "imap":
            wait_running(bot)
        else:
            assert wait_until(lambda: (tmp_path / "inbox" / "new").is_dir(), 20), \
                bot.log_text()
        deliver(hostile_mail(), "1.hostile")
        assert wait_until(lambda: handled(config, "hostile@forum.example"), 10), \
            bot.log_text()[-3000:]
        deliver(make_mail(message_id="after@mail.example"), "2.after")
        assert wait_until(lambda: handled(config, "after@mail.example"), 5), \
            bot.log_text()[-3000:]
        assert bot.alive()
        smtp_sink.wait_for(2, timeout=10)  # both acknowledged
        assert wait_until(lambda: not db_rows(
            config, "select id from outbox where status != 'sent'"), 10)
    assert handled(config, "hostile@forum.example") == 1
    assert_clean_log(bot)
    for captured in smtp_sink.messages:
        assert not any("evil.example" in r for r in captured.rcpt_tos)
        assert "Bcc" not in captured.message
        assert "\n" not in str(captured.message["Subject"])


# --------------------------------------------------------------------------- SMTP outage

def test_smtp_outage_mid_stream_delivers_everything_once(
    tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    started = time.monotonic()
    config = soak_config(tmp_path, fresh_inbox, smtp_sink)
    reports = [_report(i) for i in range(24)]
    appender = Appender(fresh_inbox, reports, seconds=14.0)
    with BotProcess(config) as bot:
        try:
            wait_running(bot)
            smtp_sink.wait_for(1, timeout=10)  # the day's digest: the sink works
            appender.start()
            time.sleep(2.0)
            smtp_sink.stop()
            down = len(captured_ids(smtp_sink))

            def queued() -> set[str]:
                return {mid for mid, status, _k, _r in outbox(config) if status == "queued"}

            # The outage lasts until ten or more acknowledgements wait in the queue.
            assert wait_until(lambda: len(queued()) >= 10, 20, interval=0.25), \
                pending(config, smtp_sink)
            assert len(captured_ids(smtp_sink)) == down
            smtp_sink.start()
            assert appender.done.wait(15) and appender.error is None, appender.error
            assert wait_until(settled(config, smtp_sink, len(reports)), 15, interval=0.25), \
                bot.log_text()[-3000:]
        finally:
            appender.cancel.set()
    assert_clean_log(bot)
    rows = outbox(config)
    assert all(status == "sent" for _m, status, _k, _r in rows)
    assert Counter(captured_ids(smtp_sink)) == Counter({mid: 1 for mid, *_ in rows})
    assert sum(1 for _m, _s, kind, _r in rows if kind == "acknowledgement") == len(reports)
    retried = db_rows(config, "select count(*) from outbox where attempts >= 2")[0][0]
    assert retried >= 10  # the outage was felt: rows failed, then went out
    assert time.monotonic() - started < 60
