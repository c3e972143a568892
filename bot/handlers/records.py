"""Keep reported people's identities out of the stored copy of every new message.

Once a person is recorded in a case (`#person`), later mail on the thread
often quotes their name or address; this handler replaces them with the
person's code name in the stored copy (`bot.records.scrub`).  Without the
identity key the bot cannot know the names, and the message stays as it came.
"""

from __future__ import annotations

from sqlmodel import col, select

from bot.core.log import get_logger
from bot.filing.context import MessageContext
from bot.records.identitykey import IdentityKeyError, load_key
from bot.records.scrub import scrub_case
from bot.store.models import Case
from bot.store.people import CasePerson

log = get_logger("records")


def handle(ctx: MessageContext) -> None:
    """Scrub recorded people's identities from the message just filed."""
    ids = [ctx.case.id, *ctx.session.exec(
        select(Case.id).where(Case.merged_into == ctx.case.id)).all()]
    if ctx.session.exec(select(CasePerson.id).where(col(CasePerson.case_id).in_(ids))
                        ).first() is None:
        return
    try:
        key = load_key(ctx.app.config)
    except IdentityKeyError as exc:
        log.warning("identity key unusable; message not scrubbed", case=ctx.case.code,
                    error=str(exc))
        return
    if key is None:
        return
    changed = scrub_case(ctx.session, key, ctx.case, only=ctx.inbound)
    if changed:
        log.info("identities scrubbed", case=ctx.case.code, message_id=ctx.pm.message_id,
                 rows=changed)
