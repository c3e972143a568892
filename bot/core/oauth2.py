"""OAuth2 access tokens for IMAP and SMTP (XOAUTH2 / OAUTHBEARER), kept fresh.

Google Workspace no longer accepts passwords for IMAP/SMTP (except app
passwords) and Microsoft 365 needs OAuth2.  Three ways to get a token
(``[imap.oauth2]`` / ``[smtp.oauth2]`` ``provider``):

* ``google_service_account``: a service account with domain-wide delegation signs
  a JWT (RS256) naming the mailbox as its subject and trades it for a token
  (RFC 7523 ``jwt-bearer`` grant) at the key file's ``token_uri``;
* ``refresh_token``: a stored refresh token traded at ``token_url`` (default
  Google's) with the client id and secret;
* ``microsoft_client_credentials``: an Entra (Azure AD) application's client id
  and secret for the tenant, scope ``https://outlook.office365.com/.default``.

A `TokenSource` caches its token and fetches a new one once the cached one is
within ``refresh_margin_seconds`` of expiring, so a long IMAP session or a
sender batch never presents a stale one; `invalidate` drops it after a server
refused it.  Every failure is an `OAuth2Error` with one plain line naming the
protocol, the token endpoint's host and what it said (``invalid_grant: Token
has been expired or revoked.``), never the secret.  `OAuth2Error` is an
`OSError`, so intake and sender treat it like an unreachable server: retried,
and logged with the reason.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.core.config import OAuth2Section

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_SCOPE = "https://mail.google.com/"
MICROSOFT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
JWT_LIFETIME = 3600
# A token endpoint that names no lifetime: assume a short one.
DEFAULT_EXPIRES_IN = 600.0


class OAuth2Error(OSError):
    """An access token could not be had; the message is one line for operators."""


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(str(text).split())[:limit]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def xoauth2_string(user: str, token: str) -> str:
    """The XOAUTH2 initial client response (before base64)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer_string(user: str, token: str, host: str, port: int) -> str:
    """The OAUTHBEARER (RFC 7628) initial client response (before base64)."""
    identity = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={identity},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"


class TokenSource:
    """Hands out a valid access token for one account, fetching a new one when due."""

    def __init__(self, section: OAuth2Section, *, user: str, label: str,
                 base_dir: str = ".", clock: Callable[[], float] = time.time) -> None:
        self.section = section
        self.user = user
        self.label = label
        self.base_dir = base_dir
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0

    def token(self) -> str:
        """A token valid for at least the refresh margin (fetched when needed)."""
        return self.get()[0]

    def get(self) -> tuple[str, bool]:
        """(token, whether it was fetched just now); see `token`."""
        with self._lock:
            fresh = False
            if self._token is None or self.clock() >= (
                    self._expires_at - self.section.refresh_margin_seconds):
                self._token, lifetime = self._fetch()
                self._expires_at = self.clock() + lifetime
                self.fetches += 1
                fresh = True
            return self._token, fresh

    def invalidate(self) -> None:
        """Forget the cached token (a server refused it); the next call fetches anew."""
        with self._lock:
            self._token = None

    # -- the grants ---------------------------------------------------------------------
    def _fetch(self) -> tuple[str, float]:
        sec = self.section
        if sec.provider == "refresh_token":
            url = sec.token_url or GOOGLE_TOKEN_URL
            form = {"grant_type": "refresh_token", "refresh_token": sec.refresh_token,
                    "client_id": sec.client_id}
            if sec.client_secret:
                form["client_secret"] = sec.client_secret
            if sec.scope:
                form["scope"] = sec.scope
        elif sec.provider == "microsoft_client_credentials":
            url = sec.token_url or MICROSOFT_TOKEN_URL.format(
                tenant=urllib.parse.quote(sec.tenant, safe=""))
            form = {"grant_type": "client_credentials", "client_id": sec.client_id,
                    "client_secret": sec.client_secret, "scope": sec.scope or MICROSOFT_SCOPE}
        else:
            key = self._service_account_key()
            url = sec.token_url or str(key.get("token_uri") or GOOGLE_TOKEN_URL)
            form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": self._signed_jwt(key, url)}
        return self._post(url, form)

    def _service_account_key(self) -> dict[str, Any]:
        path = Path(self.section.service_account_file)
        if not path.is_absolute():
            path = Path(self.base_dir) / path
        try:
            key = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise OAuth2Error(f"{self.label} OAuth2: cannot read the service account key "
                              f"{path.name}: {exc.strerror}") from None
        except ValueError:
            raise OAuth2Error(f"{self.label} OAuth2: the service account key {path.name} "
                              "is not JSON") from None
        if not isinstance(key, dict) or not key.get("client_email") or not key.get(
                "private_key"):
            raise OAuth2Error(f"{self.label} OAuth2: the service account key {path.name} "
                              "has no client_email or private_key")
        return key

    def _signed_jwt(self, key: dict[str, Any], audience: str) -> str:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        now = int(self.clock())
        header = {"alg": "RS256", "typ": "JWT"}
        if key.get("private_key_id"):
            header["kid"] = str(key["private_key_id"])
        claims = {"iss": key["client_email"], "sub": self.user,
                  "scope": self.section.scope or GOOGLE_SCOPE, "aud": audience,
                  "iat": now, "exp": now + JWT_LIFETIME}
        signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode())
                                 for part in (header, claims))
        try:
            private = serialization.load_pem_private_key(
                str(key["private_key"]).encode(), password=None)
        except (ValueError, TypeError):
            raise OAuth2Error(f"{self.label} OAuth2: the service account's private_key "
                              "cannot be read") from None
        if not isinstance(private, rsa.RSAPrivateKey):
            raise OAuth2Error(f"{self.label} OAuth2: the service account key is not RSA")
        signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def _post(self, url: str, form: dict[str, str]) -> tuple[str, float]:
        host = urllib.parse.urlsplit(url).hostname or url
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(form).encode(), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.section.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise OAuth2Error(f"{self.label} OAuth2: the token endpoint {host} refused: "
                              f"{_error_words(exc)}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OAuth2Error(f"{self.label} OAuth2: cannot reach the token endpoint "
                              f"{host}: {_one_line(str(reason))}") from None
        try:
            data = json.loads(body)
            token = str(data["access_token"])
        except (ValueError, KeyError, TypeError):
            raise OAuth2Error(f"{self.label} OAuth2: the token endpoint {host} answered "
                              "without an access_token") from None
        try:
            lifetime = float(data.get("expires_in", DEFAULT_EXPIRES_IN))
        except (TypeError, ValueError):
            lifetime = DEFAULT_EXPIRES_IN
        return token, lifetime


def _error_words(exc: urllib.error.HTTPError) -> str:
    """The endpoint's own words: ``error: error_description``, else the HTTP status."""
    try:
        data = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        data = {}
    if isinstance(data, dict) and data.get("error"):
        words = str(data["error"])
        if data.get("error_description"):
            words += f": {data['error_description']}"
        return _one_line(words)
    return f"HTTP {exc.code} {_one_line(exc.reason or '')}".strip()


_SOURCES: dict[tuple[str, str, str], TokenSource] = {}
_SOURCES_LOCK = threading.Lock()


def token_source(section: OAuth2Section, *, user: str, label: str,
                 base_dir: str = ".") -> TokenSource:
    """The shared TokenSource for this account (one per protocol, settings and user)."""
    key = (label, section.model_dump_json(), user)
    with _SOURCES_LOCK:
        source = _SOURCES.get(key)
        if source is None:
            source = _SOURCES[key] = TokenSource(section, user=user, label=label,
                                                 base_dir=base_dir)
        return source


def forget_tokens() -> None:
    """Drop every cached token source (a configuration reload; tests)."""
    with _SOURCES_LOCK:
        _SOURCES.clear()
