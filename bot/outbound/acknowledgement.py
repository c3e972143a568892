"""The mail a new report causes: the reporter's acknowledgement.

Queued here (inside the message's transaction) by the acknowledge handler and
by members' commands (``#onfile``); what to send and when not to is decided by
the handler and its rule chains.
"""

from __future__ import annotations

import re
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
from bot.store.recusal import excluded, shut_out

log = get_logger("acknowledge")

TEMPLATE_DECISION_NEEDED = "ack_decision_needed"
TEMPLATE_ON_FILE = "ack_on_file"
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


# Titles and particles that are not a first name ("Dr Maya Chen" greets "Hi Maya").
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "mx", "miss", "prof", "sir", "dame"})
# Google Groups rewrites a DMARC-strict sender to "'Maya Chen' via Conduct".
_VIA_RE = re.compile(r"^['\"]?(.+?)['\"]?\s+via\s+.+$", re.IGNORECASE)


def first_name(name: str | None) -> str:
    """The first name to greet a reporter by, or "" when it is not safe to guess.

    Only a name that passes `greeting_name` is used; its first word counts when it
    is capitalised, at least two letters long and not a title or an initial.  A
    single word is used only when it looks like a given name (capitalised,
    letters only).  All-capitals, lower-case or "Surname, Given" forms greet "Hi,".
    """
    if hides_controls(name):
        # Line breaks or controls inside a name are an attack, not a name.
        return ""
    raw = clean_header(name or "", limit=200)
    via = _VIA_RE.match(raw)
    if via:
        raw = via.group(1)
    full = greeting_name(raw)
    words = [w.strip(".'’") for w in full.split()]
    words = [w for w in words if w and w.lower().rstrip(".") not in _TITLES]
    if not words:
        return ""
    first = words[0]
    letters = [ch for ch in first if unicodedata.category(ch)[0] == "L"]
    if len(letters) < 2 or not first[0].isupper() or first.isupper():
        return ""
    return first


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
    # The copy to the conduct address reaches every member, the excluded ones too:
    # when the report is about a member, the reply is not copied there.
    cc = [] if excluded(session, app.config, case) else [app.config.conduct_address]
    row = queue_mail(
        session, app, kind="acknowledgement", template=template, to=[to],
        cc=cc, case=case, reply_to=report,
        # A fixed subject of our own, no code name: nothing of the incoming mail is
        # echoed to an address anyone can forge.  Replies thread by our Message-ID.
        auto_submitted="auto-replied", tag_subject=False,
        context={
            "greeting_name": first_name(sender.name if sender else case.reporter_name),
            "contact_name": first_name(contact_name(app, case)),
            "team_page": app.config.acknowledgement.team_page,
            "danger": danger,
        },
    )
    add_event(session, case, EventKind.ACKNOWLEDGEMENT_QUEUED, actor=actor,
              message_id=report.message_id, outbox_message_id=row.message_id,
              template=template, danger=danger)
    log.info("acknowledgement queued", case=case.code, message_id=row.message_id,
             template=template)
    return row.message_id


def lead_for(session: Session, app: App, case: Case) -> tuple[str, bool]:
    """Who takes the lead on `case`: (name, is the point of contact).

    The point of contact when one is set, else the chair(s) by name ("" when no
    chair is left in the case: the template then says "the chair").  Members shut
    out of the case are never named: the notice goes to the others.
    """
    shut = shut_out(session, app.config, case)
    contact = app.config.member_for(case.point_of_contact)
    if contact is not None and contact.email not in shut:
        return contact.name, True
    return " and ".join(m.name for m in app.config.chairs if m.email not in shut), False
