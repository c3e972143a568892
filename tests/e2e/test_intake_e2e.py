"""IMAP intake against a real Dovecot: nothing lost, nothing twice, never deaf."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.botproc import BotProcess, db_rows, e2e_config, run_cli, wait_until
from tests.helpers import make_mail
from tests.servers import Dovecot, SilentDropProxy, SmtpSink

pytestmark = pytest.mark.e2e


def filed_ids(config: Path) -> list[str]:
    return [r[0] for r in db_rows(config, "select message_id from inboundmessage")]


# `run --once` exits non-zero when it cannot send, so every test here has an SMTP server.
_SINK: list[SmtpSink] = []


@pytest.fixture(autouse=True)
def _sink(smtp_sink: SmtpSink) -> Iterator[None]:
    _SINK.append(smtp_sink)
    yield
    _SINK.clear()


def setup(tmp_path: Path, dovecot: Dovecot, **overrides: object) -> Path:
    config = e2e_config(tmp_path, dovecot, _SINK[0], **overrides)  # type: ignore[arg-type]
    run_cli(config, "db", "upgrade")
    return config


def test_run_refuses_out_of_date_schema(tmp_path: Path, fresh_inbox: Dovecot) -> None:
    config = e2e_config(tmp_path, fresh_inbox)
    result = run_cli(config, "run", "--once", check=False)
    assert result.returncode != 0
    assert "cocbot db upgrade" in result.stderr


def test_bad_config_names_the_key(tmp_path: Path, fresh_inbox: Dovecot) -> None:
    config = e2e_config(tmp_path, fresh_inbox, imap={"prot": 143})
    result = run_cli(config, "check-config", check=False)
    assert result.returncode == 2
    assert "imap.prot" in result.stderr


def test_run_once_twice_files_nothing_twice(tmp_path: Path, fresh_inbox: Dovecot) -> None:
    config = setup(tmp_path, fresh_inbox)
    for i in range(3):
        fresh_inbox.append(make_mail(message_id=f"r{i}@mail.example", sender=f"p{i}@x.example"))
    run_cli(config, "run", "--once")
    run_cli(config, "run", "--once")
    assert sorted(filed_ids(config)) == ["r0@mail.example", "r1@mail.example", "r2@mail.example"]
    cases = json.loads(run_cli(config, "cases", "--json").stdout)
    assert len(cases) == 3
    # The old last UID returned by `UID n:*` is not reprocessed: the cursor is exact.
    [(last_uid,)] = db_rows(config, "select last_uid from imapcursor")
    assert last_uid == max(fresh_inbox.uids())


def test_flags_are_never_touched(tmp_path: Path, fresh_inbox: Dovecot) -> None:
    config = setup(tmp_path, fresh_inbox)
    fresh_inbox.append(make_mail(message_id="r1@mail.example"))
    run_cli(config, "run", "--once")
    client = fresh_inbox.connect()
    try:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
    finally:
        client.logout()
    assert all(b"\\Seen" not in f for f in flags.values())


def test_uidvalidity_change_resyncs_without_duplicates(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    config = setup(tmp_path, fresh_inbox)
    raws = [make_mail(message_id=f"r{i}@mail.example", sender=f"p{i}@x.example")
            for i in range(3)]
    for raw in raws:
        fresh_inbox.append(raw)
    run_cli(config, "run", "--once")
    fresh_inbox.recreate_mailbox()
    for raw in raws:
        fresh_inbox.append(raw)
    fresh_inbox.append(make_mail(message_id="new@mail.example"))
    run_cli(config, "run", "--once")
    ids = filed_ids(config)
    assert sorted(ids) == sorted([f"r{i}@mail.example" for i in range(3)] + ["new@mail.example"])


def test_oversize_mail_is_quarantined_with_headers(tmp_path: Path, fresh_inbox: Dovecot) -> None:
    config = setup(tmp_path, fresh_inbox, intake={"max_message_bytes": 5000})
    fresh_inbox.append(make_mail(message_id="big@mail.example", body="x" * 20000))
    fresh_inbox.append(make_mail(message_id="small@mail.example"))
    run_cli(config, "run", "--once")
    assert filed_ids(config) == ["small@mail.example"]
    [(kind, reason, headers_only, raw)] = db_rows(
        config, "select kind, reason, headers_only, raw from quarantine")
    assert kind == "oversize" and headers_only and "too large" in reason
    assert b"big@mail.example" in raw and b"xxxx" not in raw
    listing = run_cli(config, "quarantine").stdout
    assert "oversize" in listing


def test_oversize_mail_is_quarantined_once_however_often_it_is_seen(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    config = setup(tmp_path, fresh_inbox, intake={"max_message_bytes": 5000})
    big = make_mail(message_id="big@mail.example", body="x" * 20000)
    anonymous = b"Subject: no id\r\nFrom: a@x.example\r\n\r\n" + b"y" * 20000 + b"\r\n"
    for raw in (big, anonymous, big, anonymous):  # delivered twice
        fresh_inbox.append(raw)
    run_cli(config, "run", "--once")
    fresh_inbox.recreate_mailbox()  # a UIDVALIDITY change makes intake rescan
    fresh_inbox.append(big)
    fresh_inbox.append(anonymous)
    run_cli(config, "run", "--once")
    kinds = [k for (k,) in db_rows(config, "select kind from quarantine")]
    assert kinds == ["oversize", "oversize"]


def test_mail_appended_while_idling_is_filed_within_two_seconds(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    config = setup(tmp_path, fresh_inbox)
    with BotProcess(config) as bot:
        # Wait until the bot is connected and idling (it logs that it connected).
        assert wait_until(lambda: "imap connected" in bot.log_text(), 15), bot.log_text()
        time.sleep(0.5)
        fresh_inbox.append(make_mail(message_id="live@mail.example"))
        start = time.monotonic()
        assert wait_until(lambda: filed_ids(config), 5), bot.log_text()
        assert time.monotonic() - start < 2.0
        assert bot.alive()


def test_server_killed_mid_idle_reconnects(tmp_path: Path, fresh_inbox: Dovecot) -> None:
    config = setup(tmp_path, fresh_inbox)
    with BotProcess(config) as bot:
        assert wait_until(lambda: "imap connected" in bot.log_text(), 15)
        time.sleep(0.5)
        fresh_inbox.kill()
        time.sleep(1.0)
        fresh_inbox.restart()
        fresh_inbox.append(make_mail(message_id="after@mail.example"))
        assert wait_until(lambda: filed_ids(config), 20), bot.log_text()
        assert bot.alive()
        assert bot.log_text().count("imap connected") >= 2


def test_server_bye_mid_idle_reconnects_without_spinning(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    config = setup(tmp_path, fresh_inbox)
    with BotProcess(config) as bot:
        assert wait_until(lambda: "imap connected" in bot.log_text(), 15)
        time.sleep(0.5)
        fresh_inbox.kick()  # the server sends BYE and closes
        fresh_inbox.append(make_mail(message_id="after-bye@mail.example"))
        assert wait_until(lambda: filed_ids(config), 20), bot.log_text()
        # A busy loop would log reconnects by the hundred.
        assert bot.log_text().count("imap connected") < 10


def test_silent_drop_leads_to_reconnect(tmp_path: Path, fresh_inbox: Dovecot) -> None:
    with SilentDropProxy(fresh_inbox.host, fresh_inbox.port) as proxy:
        config = setup(tmp_path, fresh_inbox, imap={"port": proxy.port, "idle_seconds": 2,
                                                    "socket_timeout": 2})
        with BotProcess(config) as bot:
            assert wait_until(lambda: "imap connected" in bot.log_text(), 15)
            proxy.blackhole()
            time.sleep(1)
            fresh_inbox.append(make_mail(message_id="dropped@mail.example"))
            time.sleep(1)
            proxy.restore()
            assert wait_until(lambda: filed_ids(config), 30), bot.log_text()
            assert "reconnecting" in bot.log_text()


def test_sigkill_during_intake_files_everything_exactly_once(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    config = setup(tmp_path, fresh_inbox)
    n = 300
    for i in range(n):
        fresh_inbox.append(make_mail(message_id=f"k{i}@mail.example", sender=f"p{i}@x.example"))
    rng = random.Random(7)
    for _round in range(6):
        bot = BotProcess(config).start()
        time.sleep(rng.uniform(0.7, 1.3))
        bot.kill()
    run_cli(config, "run", "--once")
    ids = filed_ids(config)
    assert len(ids) == n
    assert len(set(ids)) == n
    cases = json.loads(run_cli(config, "cases", "--json").stdout)
    assert sum(len(c["message_ids"]) for c in cases) == n


def test_polls_when_server_has_no_idle(tmp_path: Path) -> None:
    # A server advertising no IDLE: the bot must fall back to polling, not go deaf.
    with Dovecot(extra_config='\nimap_capability = "IMAP4rev1 LITERAL+ UIDPLUS"\n') as server:
        client = server.connect()
        try:
            assert not client.has_capability("IDLE")
        finally:
            client.logout()
        config = setup(tmp_path, server, imap={"poll_seconds": 1})
        with BotProcess(config) as bot:
            assert wait_until(lambda: "imap connected" in bot.log_text(), 15)
            server.append(make_mail(message_id="polled@mail.example"))
            assert wait_until(lambda: filed_ids(config), 10), bot.log_text()
            assert '"idle": false' in bot.log_text()


def _backfill_flags(config: Path) -> dict[str, bool]:
    rows = db_rows(config, "select message_id, data from event where kind = 'message_filed'")
    return {mid: json.loads(data)["backfill"] for mid, data in rows}


def test_first_run_files_old_mail_silently_and_new_mail_normally(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    from datetime import UTC, datetime, timedelta

    config = setup(tmp_path, fresh_inbox)
    client = fresh_inbox.connect()
    try:
        client.append("INBOX", make_mail(message_id="old@mail.example"),
                      msg_time=datetime.now(UTC) - timedelta(days=30))
    finally:
        client.logout()
    fresh_inbox.append(make_mail(message_id="recent@mail.example", sender="b@x.example"))
    run_cli(config, "run", "--once")
    fresh_inbox.append(make_mail(message_id="later@mail.example", sender="c@x.example"))
    run_cli(config, "run", "--once")
    assert _backfill_flags(config) == {"old@mail.example": True, "recent@mail.example": False,
                                       "later@mail.example": False}


def test_first_run_on_empty_inbox_then_mail_is_not_backfill(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    config = setup(tmp_path, fresh_inbox, intake={"backfill_grace_minutes": 0})
    run_cli(config, "run", "--once")
    fresh_inbox.append(make_mail(message_id="first@mail.example"))
    run_cli(config, "run", "--once")
    assert _backfill_flags(config) == {"first@mail.example": False}


def test_run_once_reports_an_unreachable_or_refusing_server(
    tmp_path: Path, fresh_inbox: Dovecot
) -> None:
    from tests.servers import free_port

    config = setup(tmp_path, fresh_inbox, imap={"port": free_port()})
    result = run_cli(config, "run", "--once", check=False)
    assert result.returncode == 4
    assert "could not read the imap inbox" in result.stderr
    assert "Traceback" not in result.stderr
    config = setup(tmp_path, fresh_inbox, imap={"password": "wrong-Pa55word"})
    result = run_cli(config, "run", "--once", check=False)
    assert result.returncode == 4 and "Traceback" not in result.stderr
    assert "wrong-Pa55word" not in result.stderr + result.stdout
