"""The case's extra record fields: where it happened, kinds of behaviour, documents."""

from __future__ import annotations

from sqlmodel import Session

from bot.store.models import Case
from bot.store.people import CaseExtra

# The manual's scope, as the places a report can be about.
SPACES = ("forum", "discord", "mailing list", "github", "social media", "event", "other")
SPACE_ALIASES: dict[str, str] = {
    "forum": "forum", "django forum": "forum", "discord": "discord",
    "mailing list": "mailing list", "mailing lists": "mailing list", "list": "mailing list",
    "email": "mailing list", "github": "github", "gh": "github", "issue tracker": "github",
    "social media": "social media", "social": "social media", "twitter": "social media",
    "mastodon": "social media", "event": "event", "conference": "event",
    "djangocon": "event", "meetup": "event", "sprint": "event", "other": "other",
    "slack": "other",
}


def extra_for(session: Session, case: Case) -> CaseExtra:
    """The case's extra row, created (unsaved until flush) when missing."""
    row = session.get(CaseExtra, case.id)
    if row is None:
        row = CaseExtra(case_id=case.id or 0)
        session.add(row)
    return row


def space_for(text: str) -> str | None:
    """The space `text` names, or None."""
    return SPACE_ALIASES.get(" ".join(text.lower().replace("-", " ").split()))
