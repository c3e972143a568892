"""Helpers shared by the command modules: dates, events, choosing from a list."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from bot.commands.base import CommandContext, CommandError, CommandResult
from bot.core.events import EventKind
from bot.store.models import Event
from bot.store.records import add_event

_NORMALISE_RE = re.compile(r"[^a-z0-9]+")


def moment(cc: CommandContext) -> datetime:
    """When the command takes effect: now, or the message's arrival for backfilled mail."""
    if cc.msg.quiet:
        return cc.msg.inbound.received_at
    return cc.app.now()


def today(cc: CommandContext) -> date:
    """The date the command takes effect, in the configured time zone."""
    return moment(cc).astimezone(cc.app.config.schedule.zone).date()


def without_identities(cc: CommandContext, text: str) -> str:
    """`text` with recorded people's real names and addresses replaced by their code names.

    Free text the records keep (notes, proposals, feedback, suspension
    conditions) must not hold a reported person's identity in clear: the
    identity key is the only place for it.  Without the key the bot cannot know
    the names, and the text stays as written.
    """
    from bot.records.identitykey import IdentityKeyError, load_key
    from bot.records.scrub import scrub_text

    try:
        key = load_key(cc.app.config)
    except IdentityKeyError:
        return text
    return scrub_text(cc.session, key, cc.case, text) if key is not None else text


def record_event(cc: CommandContext, kind: EventKind, **data: Any) -> Event:
    """Add a `kind` event to the case, by the member, for this message."""
    return add_event(cc.session, cc.case, kind, actor=cc.member.email,
                     message_id=cc.msg.pm.message_id, at=cc.app.now_utc(), **data)


def normalise(text: str) -> str:
    """Lower-case words without punctuation: "Local-Event reps." -> "local event reps"."""
    return _NORMALISE_RE.sub(" ", text.lower()).strip()


def choose(value: str, choices: Mapping[str, str], valid: Sequence[str], what: str) -> str:
    """The canonical value `value` stands for in `choices`, or a CommandError naming `valid`."""
    found = choices.get(normalise(value))
    if found is None:
        raise CommandError(f"unknown {what} {value!r}; use one of: {', '.join(valid)}")
    return found


def set_field(cc: CommandContext, field: str, label: str, value: str, event_kind: EventKind) -> \
        CommandResult:
    """Set one record field on the case (idempotent), with an event when it changes."""
    old = getattr(cc.case, field)
    if old == value:
        return CommandResult(f"{label} is already {value}; nothing changed")
    setattr(cc.case, field, value)
    cc.session.add(cc.case)
    record_event(cc, event_kind, field=field, old=old, new=value)
    return CommandResult(f"{label} set to {value}", changed={field: value})
