"""Attaching a file to a mail already rendered into the outbox (e.g. the records CSV)."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from bot.store.models import Outbox


def attach(row: Outbox, data: bytes, *, filename: str, maintype: str, subtype: str) -> None:
    """Add an attachment to the queued mail `row` (same headers, same Message-ID)."""
    msg = BytesParser(policy=policy.default).parsebytes(row.raw)
    assert isinstance(msg, EmailMessage)
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    row.raw = msg.as_bytes(policy=policy.SMTP)
