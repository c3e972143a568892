"""Shutting a reported member out of a case, and sending the group to the board.

"If a report concerns a possible violation by a current working group member,
that member must be excluded from the response process" and "If a report
concerns all current chairs of the working group, reports should be sent
directly to the DSF board" (manual, "Conflicts of Interest").

- `name_members`: a new report that names a member shuts them out at once
  (`member_named`); the chairs not named (or, when every chair is, the other
  members) are asked to confirm with `#exclude NAME`.
- `mention_members`: later mail from outside the group (the reporter adding
  to their report, a witness) that names a member shuts nobody out (an
  outsider must not change a case), but the members who would confirm an
  exclusion are told once per member (`member_mentioned`), so they can `#exclude`.
- `exclude`: a confirmed exclusion (`excluded`).
- `refer_to_board_if_needed`: once every chair is recused or excluded, the
  other members are told (once per case) to take the report to the board.

Everything that tells anyone about it goes to members not shut out of the case.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.core.app import App
from bot.core.config import Member
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.outbound.outbox import queue_mail, valid_address
from bot.store.models import Case
from bot.store.records import add_event, case_events
from bot.store.recusal import is_shut_out, members_in, shut_out

log = get_logger("exclusion")

TEMPLATE_CONFIRM = "exclusion_confirm"
TEMPLATE_BOARD = "board_referral"


def chairs_out(session: Session, app: App, case: Case) -> bool:
    """True when the group has chairs and every one of them is shut out of `case`."""
    chairs = app.config.chairs
    out = shut_out(session, app.config, case)
    return bool(chairs) and all(not out.isdisjoint(c.addresses) for c in chairs)


def confirmers(session: Session, app: App, case: Case) -> list[Member]:
    """Who confirms an exclusion: the chairs in the case, else every member in it."""
    inside = members_in(session, app.config, case)
    chairs = [m for m in inside if m.role == "chair"]
    return chairs or inside


def _clear_contact(session: Session, case: Case, member: Member, at_actor: str | None,
                   now_reason: str) -> None:
    if case.point_of_contact and case.point_of_contact.lower() in member.addresses:
        add_event(session, case, EventKind.POINT_OF_CONTACT_CLEARED, actor=at_actor,
                  old=case.point_of_contact, reason=now_reason)
        case.point_of_contact = None
        session.add(case)


def name_members(session: Session, app: App, case: Case, named: list[Member], *,
                 message_id: str | None, quiet: bool) -> None:
    """Shut out the members a new report names, and ask for confirmation (module doc)."""
    fresh = [m for m in named if not is_shut_out(session, app.config, case, m)]
    if not fresh:
        return
    left = [m for m in members_in(session, app.config, case) if m not in fresh]
    if not left:
        # A report naming every member would otherwise shut everyone out and
        # silence its own alarm: nobody is shut out, everyone is asked to decide.
        _everyone_named(session, app, case, fresh, message_id=message_id, quiet=quiet)
        return
    for member in fresh:
        add_event(session, case, EventKind.MEMBER_NAMED, message_id=message_id,
                  member=member.email)
        _clear_contact(session, case, member, None, "named in the report")
    session.flush()
    log.warning("report names a member: shut out until confirmed", case=case.code,
                message_id=message_id, members=len(fresh))
    if quiet:
        return
    to = [m.email for m in confirmers(session, app, case) if valid_address(m.email)]
    if not to:
        log.warning("no member left to confirm an exclusion", case=case.code)
        return
    board = chairs_out(session, app, case)
    queue_mail(session, app, kind="exclusion", template=TEMPLATE_CONFIRM, to=to, case=case,
               context={"named": [m.name for m in fresh],
                        "chairs_named": board, "everyone_named": False,
                        "board_address": app.config.board.address})
    add_event(session, case, EventKind.EXCLUSION_CONFIRM_ASKED, message_id=message_id,
              to=to, members=[m.email for m in fresh])
    if board:
        # The confirmation request carries the board instruction: record it as given.
        add_event(session, case, EventKind.BOARD_REFERRAL, message_id=message_id, to=to,
                  board=app.config.board.address, reason="report names every chair")


def _everyone_named(session: Session, app: App, case: Case, named: list[Member], *,
                    message_id: str | None, quiet: bool) -> None:
    log.warning("report names every member in the case: nobody shut out automatically",
                case=case.code, message_id=message_id)
    to = [m.email for m in named if valid_address(m.email)]
    add_event(session, case, EventKind.EXCLUSION_CONFIRM_ASKED, message_id=message_id, to=to,
              members=[m.email for m in named], everyone=True)
    if quiet or not to:
        return
    queue_mail(session, app, kind="exclusion", template=TEMPLATE_CONFIRM, to=to, case=case,
               context={"named": [m.name for m in named], "chairs_named": True,
                        "everyone_named": True, "board_address": app.config.board.address})


TEMPLATE_MENTIONED = "member_mentioned"


def mention_members(session: Session, app: App, case: Case, named: list[Member], *,
                    message_id: str | None) -> list[Member]:
    """Tell the confirmers (never the named) that outside mail in `case` names members.

    Once per member and case; members already shut out are left alone.  Returns
    the members the notice was about.
    """
    told = {str(e.data.get("member") or "") for e in case_events(session, case)
            if e.kind == EventKind.MEMBER_MENTIONED}
    fresh = [m for m in named if m.email not in told
             and not is_shut_out(session, app.config, case, m)]
    if not fresh:
        return []
    mentioned = {a for m in fresh for a in m.addresses}
    # The chairs not named; when every chair is, the other members in the case.
    others = [m for m in members_in(session, app.config, case)
              if mentioned.isdisjoint(m.addresses)]
    to = [m.email for m in ([m for m in others if m.role == "chair"] or others)
          if valid_address(m.email)]
    for member in fresh:
        add_event(session, case, EventKind.MEMBER_MENTIONED, message_id=message_id,
                  member=member.email, to=to)
    log.warning("mail from outside the group names a member; confirmers told", case=case.code,
                message_id=message_id, members=len(fresh), notified=len(to))
    if to:
        queue_mail(session, app, kind="exclusion", template=TEMPLATE_MENTIONED, to=to, case=case,
                   context={"named": [m.name for m in fresh]})
    return fresh


def exclude(session: Session, app: App, case: Case, member: Member, *, actor: str,
            message_id: str | None, by: list[str]) -> None:
    """Record `member`'s confirmed exclusion from `case` (by the members in `by`)."""
    add_event(session, case, EventKind.EXCLUDED, actor=actor, message_id=message_id,
              member=member.email, by=by)
    _clear_contact(session, case, member, actor, "excluded")
    session.flush()
    log.info("member excluded from case", case=case.code, message_id=message_id)


def is_confirmed(session: Session, case: Case, member: Member) -> bool:
    """True when `member`'s exclusion from `case` was confirmed (and not lifted since)."""
    confirmed = False
    for ev in case_events(session, case):
        if str(ev.data.get("member")) != member.email:
            continue
        if ev.kind == EventKind.EXCLUDED:
            confirmed = True
        elif ev.kind == EventKind.EXCLUSION_LIFTED:
            confirmed = False
    return confirmed


def refer_to_board_if_needed(session: Session, app: App, case: Case, *,
                             message_id: str | None, quiet: bool = False) -> bool:
    """Tell the members in `case` to go to the board when every chair is out (once)."""
    if not chairs_out(session, app, case):
        return False
    if any(ev.kind == EventKind.BOARD_REFERRAL for ev in case_events(session, case)):
        return False
    to = [m.email for m in members_in(session, app.config, case) if valid_address(m.email)]
    add_event(session, case, EventKind.BOARD_REFERRAL, message_id=message_id, to=to,
              board=app.config.board.address, reason="every chair is recused or excluded")
    log.warning("every chair is shut out: members told to go to the board", case=case.code)
    if quiet or not to:
        return True
    queue_mail(session, app, kind="board", template=TEMPLATE_BOARD, to=to, case=case,
               context={"board_address": app.config.board.address})
    return True
