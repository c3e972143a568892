"""The mail a new report causes: the reporter's acknowledgement and the members' urgent notice.

Queued here (inside the message's transaction) by the acknowledge handler and
by members' commands (``#onfile``); what to send and when not to is decided by
the handler and its rule chains.
"""

from __future__ import annotations

import unicodedata

from sqlmodel import Session

from bot.core.app import App
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.mail.message import ParsedMessage
from bot.outbound.outbox import queue_mail, valid_address
from bot.outbound.render import clean_header
from bot.outbound.safeheaders import hides_controls
from bot.store.models import Case
from bot.store.records import add_event

log = get_logger("acknowledge")

TEMPLATE_DECISION_NEEDED = "ack_decision_needed"
TEMPLATE_ON_FILE = "ack_on_file"
TEMPLATE_URGENT = "urgent_notice"
# A greeting name longer than this (or with more words) is not used: a display
# name is attacker-controlled text and must not become a message to a third party.
MAX_GREETING_CHARS = 40
MAX_GREETING_WORDS = 4


def greeting_name(name: str | None) -> str:
    """The reporter's display name if it looks like a name, else "" (greet "Hi,").

    Only letters, combining marks, spaces, hyphens, apostrophes and dots are
    accepted, at most a few words: a display name can be chosen by anyone, and
    an acknowledgement must not carry a URL or a sentence to a forged sender.
    """
    if hides_controls(name):
        return ""
    text = clean_header(name or "", limit=200).strip(" \"'")
    if not text or len(text) > MAX_GREETING_CHARS or len(text.split()) > MAX_GREETING_WORDS:
        return ""
    for ch in text:
        if ch in " -'.’" or unicodedata.category(ch)[0] in ("L", "M"):
            continue
        return ""
    return text


def contact_name(app: App, case: Case) -> str:
    """The point of contact's name once one is assigned, else "" (sign as the group)."""
    member = app.config.member_for(case.point_of_contact)
    return member.name if member is not None else ""


def queue_acknowledgement(
    session: Session,
    app: App,
    case: Case,
    report: ParsedMessage,
    *,
    template: str = TEMPLATE_DECISION_NEEDED,
    danger: bool = False,
    actor: str | None = None,
) -> str | None:
    """Queue `template` to the reporter of `case`, in reply to `report`.

    Returns the queued Message-ID, or None (with a suppression event) when the
    reporter's address cannot be used.  Also for members' later requests (e.g.
    the "kept on file" acknowledgement).
    """
    to = case.reporter_address
    if not valid_address(to):
        add_event(session, case, EventKind.ACKNOWLEDGEMENT_SUPPRESSED, actor=actor,
                  message_id=report.message_id, rule="reporter-address",
                  reason="the reporter's address cannot be used for a reply")
        return None
    assert to is not None
    sender = report.first_from
    row = queue_mail(
        session, app, kind="acknowledgement", template=template, to=[to],
        cc=[app.config.conduct_address], case=case, reply_to=report,
        # A fixed subject of our own, no code name: nothing of the incoming mail is
        # echoed to an address anyone can forge.  Replies thread by our Message-ID.
        auto_submitted="auto-replied", tag_subject=False,
        context={
            "greeting_name": greeting_name(sender.name if sender else case.reporter_name),
            "contact_name": contact_name(app, case),
            "danger": danger,
        },
    )
    add_event(session, case, EventKind.ACKNOWLEDGEMENT_QUEUED, actor=actor,
              message_id=report.message_id, outbox_message_id=row.message_id,
              template=template, danger=danger)
    log.info("acknowledgement queued", case=case.code, message_id=row.message_id,
             template=template)
    return row.message_id


def queue_urgent_notice(session: Session, app: App, case: Case, *, reason: str) -> None:
    """Tell every member at once that `case` may involve physical danger (code name only)."""
    members = [m.email for m in app.config.members]
    if not members:
        return
    row = queue_mail(session, app, kind="urgent", template=TEMPLATE_URGENT, to=members,
                     case=case, auto_submitted="auto-generated")
    add_event(session, case, EventKind.URGENT_NOTICE_QUEUED, outbox_message_id=row.message_id,
              reason=reason, recipients=len(members))
    log.warning("urgent notice queued", case=case.code, message_id=row.message_id)
