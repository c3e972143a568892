"""OAuth2 logins (XOAUTH2 / OAUTHBEARER) against real servers and a local token endpoint.

Dovecot checks tokens with its oauth2 passdb against the test authority's
introspection endpoint; an aiosmtpd handler checks them in-process.  The bot
gets its tokens from the authority's token endpoint: a stored refresh token, a
Google service account's signed JWT, or Microsoft's client credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.app import App
from bot.core.oauth2 import OAuth2Error, forget_tokens, token_source
from bot.intake.imap import connect
from bot.intake.imap import run_once as imap_run_once
from bot.outbound.sender import deliver_due
from tests.dbtemplate import fresh_sqlite_url
from tests.helpers import file, make_app, make_mail
from tests.oauthserver import (
    REVOKED_WORDS,
    Authority,
    OAuthServer,
    OAuthSmtpHandler,
    enable_dovecot_oauth2,
)
from tests.servers import Dovecot, dovecot_binary, free_port

pytestmark = pytest.mark.e2e
USER = "conduct@example.org"


@pytest.fixture(scope="module")
def oauth() -> Iterator[tuple[Authority, OAuthServer]]:
    authority = Authority(user=USER)
    with OAuthServer(authority) as server:
        yield authority, server


@pytest.fixture(scope="module")
def oauth_dovecot(oauth: tuple[Authority, OAuthServer]) -> Iterator[Dovecot]:
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed")
    server = Dovecot(user=USER)
    enable_dovecot_oauth2(server.root, oauth[1].introspection_url)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(autouse=True)
def _fresh_authority(oauth: tuple[Authority, OAuthServer]) -> Iterator[None]:
    authority = oauth[0]
    authority.revoked.clear()
    authority.grants.clear()
    authority.expires_in = 3600
    forget_tokens()
    yield
    forget_tokens()


def refresh_oauth2(server: OAuthServer, **extra: Any) -> dict[str, Any]:
    return {"provider": "refresh_token", "token_url": server.token_url,
            "client_id": "client-id", "refresh_token": "refresh-secret", **extra}


def imap_app(tmp_path: Path, dovecot: Dovecot, method: str, oauth2: dict[str, Any]) -> App:
    imap = {"host": "127.0.0.1", "port": dovecot.port, "security": "none",
            "username": USER, "auth_method": method, "oauth2": oauth2}
    return make_app(fresh_sqlite_url(tmp_path), imap=imap)


@pytest.mark.parametrize("method", ["xoauth2", "oauthbearer"])
def test_imap_oauth2_login_reads_the_inbox(tmp_path: Path, oauth_dovecot: Dovecot,
                                           oauth: tuple[Authority, OAuthServer],
                                           method: str) -> None:
    oauth_dovecot.reset()
    oauth_dovecot.append(make_mail(subject="OAuth report"))
    app = imap_app(tmp_path, oauth_dovecot, method, refresh_oauth2(oauth[1]))
    assert imap_run_once(app) == 1
    assert oauth[0].grants == ["refresh_token"]
    assert f"method={method.upper()}" in oauth_dovecot.log_path.read_text()


def test_expired_token_is_refreshed(tmp_path: Path, oauth_dovecot: Dovecot,
                                    oauth: tuple[Authority, OAuthServer]) -> None:
    authority, server = oauth
    app = imap_app(tmp_path, oauth_dovecot, "xoauth2", refresh_oauth2(server))
    connect(app).logout()
    connect(app).logout()
    assert authority.grants == ["refresh_token"]  # cached while valid
    # The token runs out on the server's side while the bot still holds it: the
    # refusal drops it and the login succeeds with a fresh one.
    authority.expire_all()
    connect(app).logout()
    assert authority.grants == ["refresh_token", "refresh_token"]
    # A token that would expire within the margin is renewed before it is used.
    authority.expires_in = 60  # below the default 300 s margin
    forget_tokens()
    connect(app).logout()
    connect(app).logout()
    assert len(authority.grants) == 4


def test_revoked_refresh_token_is_one_clear_line(tmp_path: Path, oauth_dovecot: Dovecot,
                                                 oauth: tuple[Authority, OAuthServer]) -> None:
    from bot.service.runner import IntakeFailed, run_once

    authority, server = oauth
    authority.revoke()
    app = imap_app(tmp_path, oauth_dovecot, "xoauth2", refresh_oauth2(server))
    with pytest.raises(OAuth2Error) as caught:
        connect(app)
    message = str(caught.value)
    assert message == (f"IMAP OAuth2: the token endpoint 127.0.0.1 refused: "
                       f"invalid_grant: {REVOKED_WORDS}")
    # What `cocbot run --once` prints (exit 4): the same words, on one line.
    with pytest.raises(IntakeFailed) as failed:
        run_once(app)
    assert message in str(failed.value) and "\n" not in str(failed.value)
    assert "refresh-secret" not in str(failed.value)


def _smtp_app(tmp_path: Path, port: int, method: str, oauth2: dict[str, Any]) -> App:
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "username": USER,
            "auth_method": method, "oauth2": oauth2}
    return make_app(fresh_sqlite_url(tmp_path), smtp=smtp)


@pytest.fixture
def oauth_smtp(oauth: tuple[Authority, OAuthServer]) -> Iterator[tuple[OAuthSmtpHandler, int]]:
    from aiosmtpd.controller import Controller

    handler = OAuthSmtpHandler(oauth[0])
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, auth_require_tls=False)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.mark.parametrize("method", ["xoauth2", "oauthbearer"])
def test_smtp_oauth2_login_delivers(tmp_path: Path, oauth: tuple[Authority, OAuthServer],
                                    oauth_smtp: tuple[OAuthSmtpHandler, int],
                                    method: str) -> None:
    handler, port = oauth_smtp
    app = _smtp_app(tmp_path, port, method, refresh_oauth2(oauth[1]))
    file(app, make_mail(subject="report 1"))
    assert deliver_due(app) == 1
    assert handler.logins == [(method.upper(), USER)]
    # Expired on the server's side: refused once, refreshed, delivered.
    oauth[0].expire_all()
    file(app, make_mail(subject="report 2", sender="other@mail.example"))
    assert deliver_due(app) == 1
    assert len(oauth[0].grants) == 2 and len(handler.messages) == 2


def test_smtp_revoked_token_keeps_the_mail_queued_with_the_reason(
        tmp_path: Path, oauth: tuple[Authority, OAuthServer],
        oauth_smtp: tuple[OAuthSmtpHandler, int]) -> None:
    from sqlmodel import Session, select

    from bot.store.models import Outbox

    handler, port = oauth_smtp
    oauth[0].revoke()
    app = _smtp_app(tmp_path, port, "xoauth2", refresh_oauth2(oauth[1]))
    file(app, make_mail(subject="report"))
    assert deliver_due(app) == 0
    with Session(app.engine) as session:
        [row] = session.exec(select(Outbox)).all()
    assert row.status == "queued" and f"invalid_grant: {REVOKED_WORDS}" in (row.last_error or "")
    assert handler.messages == []


def test_google_service_account_and_microsoft_client_credentials(
        tmp_path: Path, oauth: tuple[Authority, OAuthServer], oauth_dovecot: Dovecot,
        oauth_smtp: tuple[OAuthSmtpHandler, int]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    authority, server = oauth
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    authority.public_key_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps({
        "type": "service_account", "client_email": "cocbot@project.iam.gserviceaccount.com",
        "private_key_id": "k1", "token_uri": server.token_url,
        "private_key": key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode()}))
    app = imap_app(tmp_path, oauth_dovecot, "xoauth2",
                   {"provider": "google_service_account", "service_account_file": str(key_file)})
    connect(app).logout()
    assert authority.grants == ["jwt-bearer"]  # the authority checked the JWT's signature

    handler, port = oauth_smtp
    ms = {"provider": "microsoft_client_credentials", "token_url": server.token_url,
          "tenant": "contoso.onmicrosoft.com", "client_id": "client-id",
          "client_secret": "client-secret"}
    smtp_app = _smtp_app(tmp_path / "ms", port, "xoauth2", ms)
    file(smtp_app, make_mail(subject="report"))
    assert deliver_due(smtp_app) == 1
    assert authority.grants[-1] == "client_credentials" and len(handler.messages) == 1

    wrong = token_source(_with(ms, client_secret="wrong"), user=USER, label="SMTP")
    with pytest.raises(OAuth2Error, match="AADSTS7000215: Invalid client secret"):
        wrong.token()


def _with(section: dict[str, Any], **changes: Any) -> Any:
    from bot.core.config import OAuth2Section

    return OAuth2Section(**{**section, **changes})


def test_refused_fresh_token_and_missing_mechanism_are_plain_errors(
        tmp_path: Path, oauth: tuple[Authority, OAuthServer], oauth_dovecot: Dovecot) -> None:
    from imapclient.exceptions import LoginError
    from sqlmodel import Session, select

    from bot.store.models import Outbox
    from tests.servers import SmtpSink

    # The token is for another mailbox than the one logging in: Dovecot refuses it.
    imap = {"host": "127.0.0.1", "port": oauth_dovecot.port, "security": "none",
            "username": "other@example.org", "auth_method": "xoauth2",
            "oauth2": refresh_oauth2(oauth[1])}
    app = make_app(fresh_sqlite_url(tmp_path), imap=imap)
    with pytest.raises(LoginError, match=r"^IMAP XOAUTH2 login refused by 127\.0\.0\.1: "):
        connect(app)
    assert oauth[0].grants == ["refresh_token"]  # a fresh token refused: no second try

    # An SMTP server without AUTH XOAUTH2 says so, and the mail stays queued.
    with SmtpSink(username="u", password="p") as sink:
        smtp_app = _smtp_app(tmp_path / "s", sink.port, "xoauth2", refresh_oauth2(oauth[1]))
        file(smtp_app, make_mail(subject="report"))
        assert deliver_due(smtp_app) == 0
        with Session(smtp_app.engine) as session:
            [row] = session.exec(select(Outbox)).all()
        assert "does not offer AUTH XOAUTH2 (offers: LOGIN PLAIN)" in (row.last_error or "")
        assert sink.messages == []
