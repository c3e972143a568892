"""The red-team suite: hostile mail through a real Dovecot inbox and SMTP sink.

One Dovecot, one SMTP sink and one bot database for the module.  Wave 0 sets the
scene (two victims' reports, the attacker's own report, a genuine signed member
command) in one `cocbot run --once` a day back (``--now``).  Then every attack
goes into the inbox at once (those needing another attack's effect after it:
intake files mail in arrival order) for one more run, which also sends the next
digest.  Every attack's check then runs as its own test, and the
confidentiality sweep reads every mail the bot sent.
"""

from __future__ import annotations

import email
import email.policy
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store.db import upgrade
from tests.e2e.botproc import db_rows, e2e_config, run_cli
from tests.helpers import MAYA, MEMBERS, REPORTER
from tests.security.attacks import ATTACKS, V1, V2, setup_mail
from tests.security.redteam import (
    ATTACKER,
    ATTACKER_NAME,
    JO_NAME,
    KIM,
    KIM_NAME,
    MEMBER_ADDRESSES,
    PHISH,
    PHRASE_A0,
    PHRASE_V1,
    PHRASE_V2,
    Attack,
    Outcome,
    World,
    check_headers,
    decoded_text,
)
from tests.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.e2e


def _deliver(dovecot: Dovecot, mails: list[bytes]) -> None:
    with dovecot.connect() as client:
        for raw in mails:
            client.append("INBOX", raw)


def _subject(captured: object) -> str:
    msg = email.message_from_bytes(captured.content,  # type: ignore[attr-defined]
                                   policy=email.policy.default)
    return str(msg["Subject"])


def _id(captured: object) -> str:
    msg = email.message_from_bytes(captured.content,  # type: ignore[attr-defined]
                                   policy=email.policy.default)
    return str(msg["Message-ID"]).strip().strip("<>")


def _world(config: Path, sink: SmtpSink) -> World:
    world = World()
    for mid, code in db_rows(config, "select m.message_id, c.code from casemessage m "
                                     "join 'case' c on c.id = m.case_id"):
        world.codes[mid] = code
    for mail in sink.messages:
        subject = _subject(mail)
        rcpts = [r.lower() for r in mail.rcpt_tos]
        if subject.startswith("Your report"):
            world.ack_ids[rcpts[0]] = _id(mail)
        elif "digest" in subject.lower() and MAYA in rcpts:
            world.digest_id = _id(mail)
        elif "Commands processed" in subject:
            world.transcript_id = _id(mail)
    return world


@pytest.fixture(scope="module")
def outcome(dovecot: Dovecot) -> Iterator[Outcome]:
    """Run every wave once; the checks then only read."""
    if not dovecot.running:
        dovecot.start()
    dovecot.reset()
    tmp = Path(tempfile.mkdtemp(prefix="cocbot-redteam-"))
    with SmtpSink() as sink:
        config = e2e_config(
            tmp, dovecot, sink, intake={"backfill_before": "2000-01-01"},
            acknowledgement={"global_cap_per_hour": 1000},
            schedule={"digest_time": "00:00"})
        upgrade(f"sqlite:///{tmp / 'cocbot.db'}")
        _deliver(dovecot, setup_mail())
        yesterday = datetime.now(UTC) - timedelta(days=1)
        run_cli(config, "run", "--once", "--now", yesterday.isoformat())
        world = _world(config, sink)
        # Wave 2 needs what wave 1 did; intake files mail in arrival order, so both
        # go in one batch and one run, which also sends today's digest.
        batch: list[bytes] = []
        for attack in sorted(ATTACKS, key=lambda a: a.wave):
            if attack.build is None:
                continue
            attack.raw = attack.build(world).replace(b"<MID>", f"<{attack.mid}>".encode())
            batch.append(attack.raw)
        _deliver(dovecot, batch)
        run_cli(config, "run", "--once")
        yield Outcome.load(config, world, sink.messages)


def test_suite_is_large_enough() -> None:
    classes = {a.cls for a in ATTACKS}
    assert len(ATTACKS) >= 60
    assert {"1", "2", "4", "5", "6", "7", "8", "F", "A", "Q", "R"} <= classes


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: f"{a.cls}-{a.name}")
def test_attack_fails(outcome: Outcome, attack: Attack) -> None:
    attack.check(outcome, attack)


def test_victims_cases_untouched(outcome: Outcome) -> None:
    for report in (V1, V2):
        cid = outcome.case_id(report)
        _code, status, merged = outcome.cases[cid]
        assert status == "Ongoing" and merged is None
    assert outcome.case_id(V1) != outcome.case_id(V2)


def test_digest_shows_the_possible_link(outcome: Outcome) -> None:
    digests = [m for m in outcome.mails_to(MAYA) if "digest" in _subject(m).lower()]
    assert len(digests) >= 2
    text = decoded_text(digests[-1].content)
    assert "possible link" in text and outcome.world.codes[V1] in text


def test_every_sent_mail_has_exactly_the_bots_headers(outcome: Outcome) -> None:
    assert len(outcome.sent) > 30
    for mail in outcome.sent:
        check_headers(mail.content)
        assert PHISH not in [r.lower() for r in mail.rcpt_tos]
    assert all(status != "quarantined" for _m, _k, status in outcome.outbox)


def _people() -> dict[str, list[str]]:
    """Everyone whose identity must not travel: address -> what identifies them."""
    people = {
        REPORTER: [REPORTER, JO_NAME, PHRASE_V1],
        KIM: [KIM, KIM_NAME, PHRASE_V2],
        ATTACKER: [ATTACKER, ATTACKER_NAME, PHRASE_A0],
    }
    for m in MEMBERS:
        people[m["email"]] = [m["email"], *m.get("aliases", [])]
    return people


def test_confidentiality_sweep(outcome: Outcome) -> None:
    """Mail to non-members names nobody else; member-only mail names no one at all."""
    people = _people()
    reporters = [REPORTER, KIM, ATTACKER]
    hits: list[str] = []
    for mail in outcome.sent:
        rcpts = {r.lower() for r in mail.rcpt_tos}
        text = decoded_text(mail.content).lower()
        outsiders = rcpts - MEMBER_ADDRESSES - {"conduct@example.org"}
        if outsiders:
            for person, marks in people.items():
                if person in outsiders:
                    continue
                hits += [f"{sorted(outsiders)} ({_subject(mail)}) <- {mark}" for mark in marks
                         if mark.lower() in text]
        else:
            # Member-only mail: code names, dates and fixed text; no reporter at all,
            # nothing any outsider wrote.
            subject = _subject(mail)
            for person in reporters:
                hits += [f"members ({subject}) <- {mark}" for mark in people[person]
                         if mark.lower() in text]
            hits += [f"members ({subject}) <- {w}"
                     for w in ("phish", "evil.example", "accomplice") if w in text]
    assert hits == [], "\n".join(hits)
