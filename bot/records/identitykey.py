"""The Person Identity Key's key: encryption of real identities and the blind index.

The manual keeps real names in "a separate, highly restricted spreadsheet".
Here they live in the database only encrypted (Fernet: AES-128-CBC with an
HMAC-SHA256 tag) under a key that is never stored in the database: it comes
from the environment variable ``COCBOT_IDENTITY_KEY`` (the key itself), or
from a file named by ``COCBOT_IDENTITY_KEY_FILE`` or ``identity.key_file``.

One key file holds one 32-byte secret (urlsafe base64, as `generate_key`
writes it); two independent subkeys are derived from it with HKDF:

- the encryption key for identity tokens, and
- the blind-index key: an HMAC-SHA256 of each *normalised* address and name,
  so a second report about "Q.Quibble+forum@Example.org" finds the person
  recorded as "qquibble@example.org" without the database holding either.

A check value (an HMAC of a fixed label under the index key) is stored in the
`Setting` table the first time a key is used, so a wrong key is refused
instead of silently recording everybody as a new person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.core.config import Config

ENV_KEY = "COCBOT_IDENTITY_KEY"
ENV_KEY_FILE = "COCBOT_IDENTITY_KEY_FILE"
CHECK_SETTING = "identity_key_check"
_CHECK_LABEL = b"cocbot identity key check v1"
_NAME_PUNCT_RE = re.compile(r"[^\w\s]+")
_SPACE_RE = re.compile(r"\s+")


class IdentityKeyError(Exception):
    """The identity key is missing, malformed, or not the key the records were made with."""


def generate_key() -> str:
    """A new random key in the form key files and ``COCBOT_IDENTITY_KEY`` hold."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def _decode(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise IdentityKeyError("the identity key is not valid base64") from None
    if len(raw) != 32:
        raise IdentityKeyError("the identity key must be 32 bytes (urlsafe base64)")
    return raw


def _hkdf(secret: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"cocbot identity",
                info=info).derive(secret)


def normalise_address(address: str) -> str:
    """The form of an address that matching compares: lower case, no plus tag, no dots.

    "Q.Quibble+forum@Example.ORG" and "qquibble@example.org" are one address:
    many providers ignore dots and deliver plus-tagged mail to the same box, and
    someone writing from a throw-away tag is still the same person.
    """
    text = unicodedata.normalize("NFKC", address).strip().strip("<>").lower()
    local, _, domain = text.rpartition("@")
    if not local:
        return text
    local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain.strip('.')}"


def normalise_name(name: str) -> str:
    """The form of a name that matching compares: case-folded words, no punctuation."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _NAME_PUNCT_RE.sub(" ", text)
    return _SPACE_RE.sub(" ", text).strip()


@dataclass(frozen=True)
class Identity:
    """A person's real identity as the identity key holds it."""

    names: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()

    def merged(self, other: Identity) -> Identity:
        """This identity with `other`'s names and addresses added (no repeats)."""
        names = list(self.names)
        for n in other.names:
            if normalise_name(n) not in {normalise_name(x) for x in names}:
                names.append(n)
        addresses = list(self.addresses)
        for a in other.addresses:
            if a.lower() not in {x.lower() for x in addresses}:
                addresses.append(a)
        return Identity(tuple(names), tuple(addresses))

    @property
    def label(self) -> str:
        """"Name <address>, other address" for the key listing."""
        name = self.names[0] if self.names else ""
        addrs = ", ".join(self.addresses)
        if name and addrs:
            return f"{name} <{addrs}>"
        return name or addrs


class IdentityKey:
    """Encrypts identities and computes blind-index digests with one secret."""

    def __init__(self, secret_text: str) -> None:
        from cryptography.fernet import Fernet

        secret = _decode(secret_text)
        self._fernet = Fernet(base64.urlsafe_b64encode(_hkdf(secret, b"encrypt")))
        self._index_key = _hkdf(secret, b"blind index")

    def check_value(self) -> str:
        """The value stored once so that a different key is recognised as wrong."""
        return hmac.new(self._index_key, _CHECK_LABEL, hashlib.sha256).hexdigest()

    def digest(self, kind: str, normalised: str) -> str:
        """The blind-index digest of one normalised address or name."""
        return hmac.new(self._index_key, f"{kind}:{normalised}".encode(),
                        hashlib.sha256).hexdigest()

    def digests(self, identity: Identity) -> list[tuple[str, str]]:
        """(kind, digest) for every address and name of `identity`."""
        out: list[tuple[str, str]] = []
        for a in identity.addresses:
            out.append(("address", self.digest("address", normalise_address(a))))
        for n in identity.names:
            if normalise_name(n):
                out.append(("name", self.digest("name", normalise_name(n))))
        return list(dict.fromkeys(out))

    def encrypt(self, identity: Identity) -> str:
        """`identity` as an encrypted token (text)."""
        data = json.dumps({"names": list(identity.names),
                           "addresses": list(identity.addresses)})
        return self._fernet.encrypt(data.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> Identity:
        """The identity in `token`; IdentityKeyError when this key did not make it."""
        from cryptography.fernet import InvalidToken

        try:
            data = json.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError):
            raise IdentityKeyError("an identity cannot be read with this key") from None
        return Identity(tuple(data.get("names", [])), tuple(data.get("addresses", [])))


def key_text_from(config: Config | None, environ: dict[str, str] | None = None) -> str | None:
    """The identity key's text from the environment or the key file, or None when unset."""
    env = dict(os.environ) if environ is None else environ
    if env.get(ENV_KEY):
        return env[ENV_KEY]
    path_text = env.get(ENV_KEY_FILE) or (config.identity.key_file if config else None)
    if not path_text:
        return None
    path = config.resolve_path(path_text) if config else Path(path_text)
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise IdentityKeyError(f"cannot read the identity key file {path.name}") from None


def load_key(config: Config | None, environ: dict[str, str] | None = None) -> IdentityKey | None:
    """The configured identity key, or None when none is configured."""
    text = key_text_from(config, environ)
    return IdentityKey(text) if text else None


def verify_key(session: Session, key: IdentityKey) -> None:
    """Refuse a key other than the one the records were made with (store its check once)."""
    from bot.store.models import Setting

    row = session.get(Setting, CHECK_SETTING)
    if row is None:
        session.add(Setting(key=CHECK_SETTING, value=key.check_value()))
        session.flush()
        return
    if not hmac.compare_digest(row.value, key.check_value()):
        raise IdentityKeyError("the identity key is not the one these records were made with")


def write_key_file(path: Path, text: str) -> None:
    """Write a key file readable by its owner only (refuses to overwrite one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text + "\n")
