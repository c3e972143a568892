"""The TLS context IMAP and SMTP connections use.

The system's CA store by default; ``[tls] ca_file`` names a PEM file of CA
certificates to trust instead (a private CA in front of a self-hosted mail
server).  Host names are always checked.
"""

from __future__ import annotations

import ssl

from bot.core.config import Config


class TlsSetupError(OSError):
    """The configured CA file cannot be used; the message names the key."""


def client_context(config: Config) -> ssl.SSLContext:
    """A client context verifying certificates against the system or `tls.ca_file`."""
    ca_file = config.tls.ca_file
    if not ca_file:
        return ssl.create_default_context()
    path = config.resolve_path(ca_file)
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise TlsSetupError(f"tls.ca_file: cannot use {path.name}: {reason}") from None
