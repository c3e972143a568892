"""What a hygiene check reports: a `Finding`, its dedupe signature, its template variables.

A check returns a `RuleHit` whose ``data["finding"]`` is a `Finding`; the hygiene
handler (`bot.handlers.hygiene`) records it and sends the warnings its rule's
policy asks for, at most one per problem, thread and recipient.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.config import Config
from bot.filing.context import MessageContext
from bot.mail.message import ParsedMessage


@dataclass
class Finding:
    """What a hygiene rule found in one message.

    - thread: root Message-ID of the sub-thread (first of References);
    - signature: the problem, stable across replies in the thread (dedupe key part);
    - context: template variables for the warning (member-only mail);
    - outsider_context: template variables for `outsider_template`;
    - record: data for the case-history event.
    """

    thread: str
    signature: str
    context: dict[str, Any] = field(default_factory=dict)
    outsider_context: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


def signature_of(*parts: Iterable[str] | str) -> str:
    """A short stable hash of `parts` (keeps addresses out of dedupe keys)."""
    h = hashlib.sha256()
    for part in parts:
        items = [part] if isinstance(part, str) else sorted(part)
        for item in items:
            h.update(item.encode("utf-8", "replace"))
            h.update(b"\x00")
        h.update(b"\x01")
    return h.hexdigest()[:32]


def when(config: Config, moment: datetime | None) -> str:
    """A date for a warning, in the group's time zone."""
    if moment is None:
        return "(no date)"
    return moment.astimezone(config.schedule.zone).strftime("%Y-%m-%d %H:%M %Z")


def message_context(ctx: MessageContext, pm: ParsedMessage) -> dict[str, Any]:
    """Template variables describing `pm`: its date and sender (never its subject or text:
    warnings quote nothing of the case).

    The sender is named only when a member (by the member's roster name);
    anyone else is "someone outside the group": member-only mail carries code
    names, dates and fixed text, never a reporter's (or anyone's) identity.
    """
    sender = pm.first_from
    member = ctx.app.config.member_for(sender.addr if sender else None)
    return {
        "message_date": when(ctx.app.config, pm.date or ctx.inbound.received_at),
        "message_sender": member.name if member is not None
        else "someone outside the group",
    }
