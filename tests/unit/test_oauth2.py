"""OAuth2 token sources: the SASL strings, renewal before expiry, plain errors."""

from __future__ import annotations

from bot.core.config import OAuth2Section
from bot.core.oauth2 import OAuth2Error, TokenSource, oauthbearer_string, xoauth2_string
from tests.oauthserver import Authority, OAuthServer
from tests.servers import free_port


def test_sasl_initial_responses() -> None:
    assert xoauth2_string("u@example.org", "T") == "user=u@example.org\x01auth=Bearer T\x01\x01"
    assert oauthbearer_string("a,b=c@example.org", "T", "imap.example.org", 993) == (
        "n,a=a=2Cb=3Dc@example.org,\x01host=imap.example.org\x01port=993\x01"
        "auth=Bearer T\x01\x01")


def test_token_is_renewed_within_the_margin_before_expiry() -> None:
    authority = Authority(user="u@example.org", expires_in=3600)
    now = [1000.0]
    with OAuthServer(authority) as server:
        section = OAuth2Section(provider="refresh_token", token_url=server.token_url,
                                client_id="client-id", refresh_token="refresh-secret",
                                refresh_margin_seconds=300)
        source = TokenSource(section, user="u@example.org", label="IMAP",
                             clock=lambda: now[0])
        first = source.token()
        now[0] += 3600 - 301  # still outside the margin: cached
        assert source.token() == first and source.fetches == 1
        now[0] += 2  # inside the margin: renewed before it runs out
        second = source.token()
        assert second != first and source.fetches == 2
        assert authority.check(second)


def test_unreachable_token_endpoint_is_one_plain_line() -> None:
    section = OAuth2Section(provider="refresh_token",
                            token_url=f"http://127.0.0.1:{free_port()}/token",
                            client_id="c", refresh_token="secret-refresh", timeout=2)
    source = TokenSource(section, user="u@example.org", label="SMTP")
    try:
        source.token()
    except OAuth2Error as exc:
        text = str(exc)
    else:
        raise AssertionError("no error")
    assert text.startswith("SMTP OAuth2: cannot reach the token endpoint 127.0.0.1: ")
    assert "\n" not in text and "secret-refresh" not in text
