"""IMAP and SMTP over TLS (implicit and STARTTLS) with a private CA named by tls.ca_file.

A throwaway CA signs the servers' certificates; the bot trusts it only through
``[tls] ca_file``.  Without it every connection fails certificate verification.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.app import App
from bot.intake.imap import connect
from bot.outbound.sender import deliver_due
from tests.dbtemplate import fresh_sqlite_url
from tests.helpers import REPORTER, file, make_app, make_mail
from tests.servers import Dovecot, SmtpSink, dovecot_binary, free_port
from tests.tlsca import ThrowawayCA, make_ca

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCA:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def tls_dovecot(ca: ThrowawayCA) -> Iterator[tuple[Dovecot, int]]:
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed")
    server = Dovecot()
    imaps = free_port()
    # Certificates beside the server's other files, where its processes can read them.
    cert, key = server.root / "srv.pem", server.root / "srv.key"
    cert.write_bytes(ca.cert_pem.read_bytes())
    key.write_bytes(ca.key_pem.read_bytes())
    cert.chmod(0o644)
    key.chmod(0o644)
    conf = server.root / "dovecot.conf"
    text = conf.read_text().replace("ssl = no", f"ssl = yes\nssl_cert = <{cert}\n"
                                               f"ssl_key = <{key}")
    listener = f"inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps}\n  }}"
    text = text.replace("inet_listener imaps {\n    port = 0\n  }", listener)
    conf.write_text(text)
    try:
        server.start()
        yield server, imaps
    finally:
        server.cleanup()


def _app(tmp_path: Path, **sections: Any) -> App:
    return make_app(fresh_sqlite_url(tmp_path), **sections)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_imap_over_tls_with_the_private_ca(tmp_path: Path, ca: ThrowawayCA,
                                           tls_dovecot: tuple[Dovecot, int],
                                           security: str) -> None:
    server, imaps = tls_dovecot
    imap = {"host": "127.0.0.1", "port": imaps if security == "ssl" else server.port,
            "security": security, "username": server.user, "password": server.password}
    app = _app(tmp_path, imap=imap, tls={"ca_file": str(ca.ca_pem)})
    client = connect(app)
    try:
        assert client.select_folder("INBOX", readonly=True)
        assert client.socket().version() is not None  # the session is encrypted
    finally:
        client.logout()
    no_ca = _app(tmp_path / "n", imap=imap)
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(no_ca)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_smtp_over_tls_with_the_private_ca(tmp_path: Path, ca: ThrowawayCA, security: str) -> None:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()  # not started: its handler, behind a TLS controller, records mail
    port = free_port()
    kwargs: dict[str, Any] = (
        {"ssl_context": ca.server_context(), "server_hostname": "localhost"}
        if security == "ssl" else
        {"tls_context": ca.server_context(), "require_starttls": True})
    from tests.servers import _SinkHandler

    controller = Controller(_SinkHandler(sink._state), hostname="127.0.0.1",
                            port=port, **kwargs)
    controller.start()
    try:
        smtp = {"host": "127.0.0.1", "port": port, "security": security}
        app = _app(tmp_path, smtp=smtp, tls={"ca_file": str(ca.ca_pem)})
        file(app, make_mail(subject="TLS report"))
        assert deliver_due(app) == 1
        [got] = sink.messages
        assert REPORTER in got.rcpt_tos
        # Without the CA the same delivery fails verification and stays queued.
        other = _app(tmp_path / "n", smtp=smtp)
        file(other, make_mail(subject="TLS report 2"))
        assert deliver_due(other) == 0
        assert len(sink.messages) == 1
    finally:
        controller.stop()
