"""Smoke tests for the test servers in ``tests/servers.py``.

If these fail, every end-to-end test built on the helpers is suspect, so they check the
behaviour other tests rely on: what Dovecot stores, how faults look to a client, what the
SMTP sink records and refuses.
"""

from __future__ import annotations

import imaplib
import smtplib
import socket
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from imapclient import IMAPClient

from tests.servers import Dovecot, SilentDropProxy, SmtpSink, free_port

RAW = (
    b"From: Reporter <reporter@example.net>\r\n"
    b"To: conduct@example.org\r\n"
    b"Subject: smoke test\r\n"
    b"Message-ID: <smoke-1@example.net>\r\n"
    b"\r\n"
    b"Hello, 8-bit body: caf\xc3\xa9.\r\n"
)

# Errors a client sees on a dead or reset IMAP connection, depending on timing.
CONNECTION_ERRORS = (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError)


def _message(to: str = "conduct@example.org", subject: str = "hello") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "bot@example.org"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Body text.\n")
    return msg


# --------------------------------------------------------------------------- Dovecot


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_dovecot_append_and_read_back(fresh_inbox: Dovecot) -> None:
    uid = fresh_inbox.append(RAW)
    assert uid == 1
    with IMAPClient(fresh_inbox.host, port=fresh_inbox.port, ssl=False, timeout=10) as client:
        client.login(fresh_inbox.user, fresh_inbox.password)
        assert b"IDLE" in client.capabilities()
        client.select_folder("INBOX", readonly=True)
        assert client.search("ALL") == [1]
        data = client.fetch([1], [b"BODY.PEEK[]"])
    assert data[1][b"BODY[]"] == RAW
    assert fresh_inbox.uids() == [1]
    assert fresh_inbox.fetch_all() == {1: RAW}


def test_dovecot_rewrites_nul_bytes(fresh_inbox: Dovecot) -> None:
    # Worth knowing when comparing fetched mail with what was appended.
    fresh_inbox.append(RAW.replace(b"8-bit", b"\x00-bit"))
    assert fresh_inbox.fetch_all()[1] == RAW.replace(b"8-bit", b"\x80-bit")


def test_dovecot_other_folders_and_users(fresh_inbox: Dovecot) -> None:
    assert fresh_inbox.append(RAW, folder="Archive") == 1
    assert fresh_inbox.uids("Archive") == [1]
    assert fresh_inbox.uids() == []
    fresh_inbox.add_user("maya@example.org", "pw")
    assert fresh_inbox.append(RAW, user="maya@example.org") == 1
    assert fresh_inbox.uids(user="maya@example.org") == [1]


def test_fresh_inbox_starts_empty(fresh_inbox: Dovecot) -> None:
    # Runs after tests that filled INBOX and Archive: the fixture must have emptied both.
    with fresh_inbox.connect() as client:
        names = [name for _flags, _sep, name in client.list_folders()]
    assert names == ["INBOX"]
    assert fresh_inbox.uids() == []


def test_uidvalidity_changes_after_recreate(fresh_inbox: Dovecot) -> None:
    fresh_inbox.append(RAW)
    fresh_inbox.append(RAW)
    before = fresh_inbox.uidvalidity()
    held = fresh_inbox.connect()
    held.select_folder("INBOX")

    fresh_inbox.recreate_mailbox()

    # A session that had INBOX open is told BYE; its next command fails.
    with pytest.raises(CONNECTION_ERRORS):
        held.noop()
        held.noop()
    after = fresh_inbox.uidvalidity()
    assert after != before
    assert fresh_inbox.uids() == []
    # UIDs restart, so a client that ignores UIDVALIDITY would confuse old and new mail.
    assert fresh_inbox.append(RAW) == 1


def test_recreate_other_folder(fresh_inbox: Dovecot) -> None:
    fresh_inbox.append(RAW, folder="Archive")
    before = fresh_inbox.uidvalidity("Archive")
    fresh_inbox.recreate_mailbox("Archive")
    assert fresh_inbox.uidvalidity("Archive") != before
    assert fresh_inbox.uids("Archive") == []


def test_dovecot_kill_and_restart_on_same_port(fresh_inbox: Dovecot) -> None:
    fresh_inbox.append(RAW)
    port = fresh_inbox.port
    held = fresh_inbox.connect()
    held.select_folder("INBOX")

    fresh_inbox.kill()
    assert not fresh_inbox.running
    with pytest.raises(CONNECTION_ERRORS):
        held.noop()
    with pytest.raises(OSError):
        socket.create_connection((fresh_inbox.host, port), timeout=2).close()

    fresh_inbox.start()
    assert fresh_inbox.port == port
    assert fresh_inbox.uids() == [1]  # the mail store survives a crash

    fresh_inbox.restart()  # the graceful variant
    assert fresh_inbox.uids() == [1]


# --------------------------------------------------------------------------- PostgreSQL


def test_postgres_create_database_and_query(pg_url: str) -> None:
    assert pg_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            assert (
                conn.execute(sa.text("select current_database()")).scalar()
                == (pg_url.rsplit("/", 1)[1])
            )
            conn.execute(sa.text("create table raw (id serial primary key, body bytea)"))
            conn.execute(sa.text("insert into raw (body) values (:b)"), {"b": b"a\x00b"})
        with engine.connect() as conn:
            assert conn.execute(sa.text("select body from raw")).scalar() == b"a\x00b"
    finally:
        engine.dispose()


@pytest.mark.storage
def test_db_url_works_on_each_backend(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar() == 1
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- SMTP


def test_smtp_sink_captures_message(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        refused = smtp.send_message(_message(subject="captured"))
    assert refused == {}
    (got,) = smtp_sink.wait_for(1)
    assert got.mail_from == "bot@example.org"
    assert got.rcpt_tos == ["conduct@example.org"]
    assert got.message["Subject"] == "captured"
    assert b"Body text." in got.content
    assert isinstance(got.message, EmailMessage)


def test_smtp_sink_refuses_one_recipient(smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse("gone@example.org", "550 no such user")
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        refused = smtp.sendmail(
            "bot@example.org",
            ["conduct@example.org", "gone@example.org"],
            _message().as_bytes(),
        )
    assert refused == {"gone@example.org": (550, b"no such user")}
    (got,) = smtp_sink.wait_for(1)
    assert got.rcpt_tos == ["conduct@example.org"]


def test_smtp_sink_fails_data(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_data("451 try again later")
    with (
        smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp,
        pytest.raises(smtplib.SMTPDataError) as info,
    ):
        smtp.send_message(_message())
    assert info.value.smtp_code == 451
    assert smtp_sink.messages == []
    smtp_sink.fail_data(None)
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        smtp.send_message(_message())
    assert len(smtp_sink.wait_for(1)) == 1


def test_smtp_sink_outage_on_same_port(smtp_sink: SmtpSink) -> None:
    port = smtp_sink.port
    smtp_sink.stop()
    with pytest.raises(OSError):
        smtplib.SMTP(smtp_sink.host, port, timeout=2)
    smtp_sink.start()
    assert smtp_sink.port == port
    with smtplib.SMTP(smtp_sink.host, port, timeout=10) as smtp:
        smtp.send_message(_message())
    assert len(smtp_sink.wait_for(1)) == 1
    with pytest.raises(TimeoutError):
        smtp_sink.wait_for(2, timeout=0.2)


def test_smtp_sink_with_auth() -> None:
    with SmtpSink(username="bot", password="pw") as sink:
        with (
            smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp,
            pytest.raises(smtplib.SMTPAuthenticationError),
        ):
            smtp.login("bot", "wrong")
        with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPSenderRefused) as info:
                smtp.send_message(_message())
            assert info.value.smtp_code == 530
        with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
            smtp.login("bot", "pw")
            smtp.send_message(_message())
        (got,) = sink.wait_for(1)
        assert got.login == "bot"


# --------------------------------------------------------------------------- silent drop


def test_silent_drop_proxy_blackhole_and_reset(fresh_inbox: Dovecot) -> None:
    with SilentDropProxy(fresh_inbox.host, fresh_inbox.port) as proxy:
        client = IMAPClient(proxy.host, port=proxy.port, ssl=False, timeout=1)
        client.login(fresh_inbox.user, fresh_inbox.password)
        client.select_folder("INBOX")
        client.noop()

        proxy.blackhole()
        # The socket stays open, so only the timeout reveals the drop.
        with pytest.raises(TimeoutError):
            client.noop()
        client.shutdown()

        # New connections during the outage hang too (no greeting), rather than failing.
        with pytest.raises(TimeoutError):
            IMAPClient(proxy.host, port=proxy.port, ssl=False, timeout=1)

        proxy.restore()
        again = IMAPClient(proxy.host, port=proxy.port, ssl=False, timeout=5)
        again.login(fresh_inbox.user, fresh_inbox.password)
        again.noop()

        proxy.close_all()
        with pytest.raises(CONNECTION_ERRORS):
            again.noop()
