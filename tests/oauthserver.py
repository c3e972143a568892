"""A local OAuth2 authority for tests: token endpoint and token introspection on loopback.

* ``POST /token``: the refresh-token, client-credentials and JWT-bearer grants
  (the JWT's RS256 signature is checked against the service account's public key);
* ``POST /introspect``: RFC 7662 introspection, which Dovecot's oauth2 passdb
  calls to check the token a client presents;
* `check` does the same in-process, for the aiosmtpd authenticator.

`expire_all` makes every issued access token invalid (as if it ran out),
`revoke` refuses a refresh token from then on (``invalid_grant``, Google's words).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import LOOPBACK

REVOKED_WORDS = "Token has been expired or revoked."


@dataclass
class Authority:
    """The state behind the endpoints; thread-safe."""

    user: str
    refresh_token: str = "refresh-secret"
    client_id: str = "client-id"
    client_secret: str = "client-secret"
    expires_in: int = 3600
    public_key_pem: bytes | None = None
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (server clock)
    grants: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _issue(self, grant: str) -> dict[str, Any]:
        token = "at-" + secrets.token_urlsafe(16)
        with self.lock:
            self.tokens[token] = time.time() + self.expires_in
            self.grants.append(grant)
        return {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}

    def grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (HTTP status, JSON body)."""
        kind = form.get("grant_type", "")
        if kind == "refresh_token":
            if form.get("refresh_token") in self.revoked or \
                    form.get("refresh_token") != self.refresh_token:
                return 400, {"error": "invalid_grant", "error_description": REVOKED_WORDS}
            if form.get("client_id") != self.client_id:
                return 401, {"error": "invalid_client"}
            return 200, self._issue(kind)
        if kind == "client_credentials":
            if (form.get("client_id"), form.get("client_secret")) != (
                    self.client_id, self.client_secret):
                return 401, {"error": "invalid_client",
                             "error_description": "AADSTS7000215: Invalid client secret."}
            if form.get("scope") != "https://outlook.office365.com/.default":
                return 400, {"error": "invalid_scope"}
            return 200, self._issue(kind)
        if kind == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            problem = self._check_jwt(form.get("assertion", ""))
            if problem:
                return 400, {"error": "invalid_grant", "error_description": problem}
            return 200, self._issue("jwt-bearer")
        return 400, {"error": "unsupported_grant_type"}

    def _check_jwt(self, assertion: str) -> str | None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        try:
            head, body, sig = assertion.split(".")
            claims = json.loads(_unb64(body))
            header = json.loads(_unb64(head))
        except ValueError:
            return "malformed assertion"
        if header.get("alg") != "RS256" or self.public_key_pem is None:
            return "bad alg"
        key = serialization.load_pem_public_key(self.public_key_pem)
        assert isinstance(key, rsa.RSAPublicKey)
        try:
            key.verify(_unb64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(),
                       hashes.SHA256())
        except InvalidSignature:
            return "Invalid JWT Signature."
        if claims.get("sub") != self.user or claims.get("scope") != "https://mail.google.com/":
            return "Unauthorized client or scope in request."
        if not claims.get("iat", 0) <= time.time() < claims.get("exp", 0):
            return "Invalid JWT: Token must be a short-lived token"
        return None

    def check(self, token: str) -> bool:
        """True when `token` is an access token issued here and not yet expired."""
        with self.lock:
            expiry = self.tokens.get(token)
        return expiry is not None and time.time() < expiry

    def expire_all(self) -> None:
        """Every access token issued so far stops working."""
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def revoke(self, refresh_token: str | None = None) -> None:
        """Refuse this refresh token from now on."""
        with self.lock:
            self.revoked.add(refresh_token or self.refresh_token)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OAuthServer:
    """The authority's HTTP endpoints on a free loopback port (a context manager)."""

    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if self.path == "/token":
                    status, body = outer.authority.grant(form)
                elif self.path == "/introspect":
                    token = form.get("token", "")
                    status = 200
                    body = ({"active": True, "username": outer.authority.user}
                            if outer.authority.check(token) else {"active": False})
                else:
                    status, body = 404, {"error": "not_found"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def token_url(self) -> str:
        """Where clients get tokens."""
        return f"http://{LOOPBACK}:{self.port}/token"

    @property
    def introspection_url(self) -> str:
        """Where Dovecot checks tokens."""
        return f"http://{LOOPBACK}:{self.port}/introspect"

    def __enter__(self) -> OAuthServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class OAuthSmtpHandler:
    """aiosmtpd handler offering AUTH XOAUTH2 and OAUTHBEARER checked by the authority."""

    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.messages: list[bytes] = []
        self.logins: list[tuple[str, str]] = []

    async def _check(self, server: Any, mechanism: str, args: list[str]) -> Any:
        from aiosmtpd.smtp import AuthResult

        if len(args) < 2:
            return AuthResult(success=False, handled=False)
        text = base64.b64decode(args[1]).decode()
        parts = dict(p.split("=", 1) for p in text.split("\x01") if "=" in p)
        user = parts.get("user") or text.split(",")[1].removeprefix("a=")
        token = parts.get("auth", "").removeprefix("Bearer ")
        if user == self.authority.user and self.authority.check(token):
            self.logins.append((mechanism, user))
            return AuthResult(success=True, auth_data=user)
        # Google's way: an error challenge, then 535 after the client's answer.
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "mail"})
        await server.challenge_auth(error)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not accepted")

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
        return await self._check(server, "XOAUTH2", args)

    async def auth_OAUTHBEARER(self, server: Any, args: list[str]) -> Any:
        return await self._check(server, "OAUTHBEARER", args)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.original_content or envelope.content))
        return "250 OK"


DOVECOT_OAUTH2 = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
"""


def enable_dovecot_oauth2(dovecot_root: Any, introspection_url: str) -> None:
    """Rewrite a not-yet-started test Dovecot's config to accept XOAUTH2 / OAUTHBEARER."""
    conf = dovecot_root / "dovecot.conf"
    ext = dovecot_root / "dovecot-oauth2.conf.ext"
    ext.write_text(DOVECOT_OAUTH2.format(url=introspection_url))
    ext.chmod(0o644)
    text = conf.read_text()
    text = text.replace("auth_mechanisms = plain login",
                        "auth_mechanisms = plain login xoauth2 oauthbearer")
    text = text.replace("passdb {\n  driver = passwd-file\n",
                        "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                        f"  args = {ext}\n}}\npassdb {{\n  driver = passwd-file\n"
                        "  mechanisms = plain login\n")
    conf.write_text(text)
