"""Threading: which case does a message belong to?

Best evidence first:
1. one of the bot's own Message-IDs (case id under a keyed MAC), in the
   message's own id or among the ids it cites;
2. any id in In-Reply-To / References already known to a case (every cited id
   is remembered, so a reply citing a message the bot never saw still lands
   right, and a parent arriving after its reply finds it); when the cited ids
   point at two cases, this message ties them and they are merged;
3. the case code name in the subject (``[CoC home-shelf]``), but only from an
   authenticated member, or from a participant of that case whose From is not a
   member's address (a forged member From is a stranger's mail).

Only an authenticated member's mail may merge cases, and only a tie of its own
(`_may_merge`).  A stranger's mail whose
cited ids point at two cases is filed into one of them (the one the sender
takes part in, else the oldest) and the others are returned as possible links,
for members to look at and ``#merge`` if right.
Ids without an ``@`` were already dropped by the parser and link nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from bot.core.events import EventKind
from bot.mail.message import ParsedMessage
from bot.mail.msgids import own_case_id
from bot.store.codenames import find_code_in_subject
from bot.store.models import Case, CaseMessage, Event
from bot.store.records import find_case, is_participant, live_case, merge_cases


@dataclass
class ThreadMatch:
    """The case found for a message and why."""

    case: Case | None
    how: str  # own-id | references | subject | none
    merged: list[str]
    # Cases a stranger's mail tied to this one (not merged; shown to members).
    links: list[Case] = field(default_factory=list)


def _cases_for_ids(session: Session, ids: list[str]) -> dict[int, Case]:
    if not ids:
        return {}
    rows = session.exec(select(CaseMessage).where(col(CaseMessage.message_id).in_(ids))).all()
    found: dict[int, Case] = {}
    for row in rows:
        case = live_case(session, row.case_id)
        if case is not None and case.id is not None:
            found[case.id] = case
    return found


def match_case(
    session: Session, pm: ParsedMessage, secret: str, *, sender_is_member: bool,
    claims_member: bool = False, trust_own_id: bool = True,
) -> ThreadMatch:
    """Find the case for `pm`; merge two cases it ties only for an authenticated member.

    - sender_is_member: the sender is an authenticated member (may merge, may
      thread by subject tag);
    - claims_member: From shows a member's address (authenticated or not); a
      claim that did not authenticate never threads by subject tag;
    - trust_own_id: the message's own id may be taken as one of ours (False
      when it carries our id but does not match what the outbox sent).
    """
    cited = pm.cited_ids
    merged: list[str] = []

    for mid in [pm.message_id if trust_own_id else None, *cited]:
        cid = own_case_id(secret, mid)
        if cid:
            case = live_case(session, cid)
            if case is not None:
                return ThreadMatch(case, "own-id", merged)

    # The message's own id counts too: a reply that arrived first already cited it.
    own = [pm.message_id] if pm.message_id and trust_own_id else []
    candidates = _cases_for_ids(session, [*own, *cited])
    if candidates:
        ordered = sorted(candidates.values(), key=lambda c: (c.date_reported, c.id or 0))
        keep = ordered[0]
        if sender_is_member and _may_merge(session, pm, secret, ordered):
            for other in ordered[1:]:
                merge_cases(session, keep, other, message_id=pm.message_id)
                merged.append(other.code)
            return ThreadMatch(keep, "references", merged)
        sender = pm.first_from
        theirs = [c for c in ordered
                  if is_participant(session, c, sender.addr if sender else None)]
        if len(theirs) == 1:
            keep = theirs[0]
        return ThreadMatch(keep, "references", merged,
                           links=[c for c in ordered if c.id != keep.id])

    code = find_code_in_subject(pm.subject)
    if code:
        case = find_case(session, code)
        sender = pm.first_from
        if case is not None and (sender_is_member or (
                not claims_member
                and is_participant(session, case, sender.addr if sender else None))):
            return ThreadMatch(case, "subject", merged)

    return ThreadMatch(None, "none", merged)


def _may_merge(session: Session, pm: ParsedMessage, secret: str, cases: list[Case]) -> bool:
    """Whether an authenticated member's mail that ties `cases` merges them by itself.

    Not when the ids it cites were handed down by someone else: its parent is a
    message the bot never saw (a stranger may have written to the member
    directly, with other cases' ids in References), or a stranger already tied
    these cases (the member's reply-all inherits the tie).  Then the link stays
    a possible one, and ``#merge CODE`` merges.
    """
    parent = pm.in_reply_to[0] if pm.in_reply_to else (pm.references[-1] if pm.references
                                                          else None)
    if parent is None:
        return False
    if own_case_id(secret, parent) is None and session.exec(select(CaseMessage.id).where(
            CaseMessage.message_id == parent, CaseMessage.seen == True)).first() is None:  # noqa: E712
        return False
    ids = [c.id for c in cases if c.id is not None]
    codes = {c.code for c in cases}
    links = session.exec(select(Event).where(
        Event.kind == EventKind.POSSIBLE_LINK, col(Event.case_id).in_(ids))).all()
    return not any(str(e.data.get("other")) in codes for e in links)


def remember_ids(
    session: Session, case: Case, pm: ParsedMessage, *, inbound_id: int | None,
    own_id: str | None = None,
) -> None:
    """Link the message's id (seen) and every id it cites (not seen) to `case`."""
    mid = own_id or pm.message_id
    if mid:
        row = session.exec(select(CaseMessage).where(CaseMessage.message_id == mid)).first()
        if row is None:
            session.add(CaseMessage(message_id=mid, case_id=case.id or 0, seen=True,
                                    inbound_id=inbound_id))
        else:
            row.seen = True
            row.inbound_id = row.inbound_id or inbound_id
            row.case_id = case.id or 0
            session.add(row)
    existing = set(
        session.exec(
            select(CaseMessage.message_id).where(col(CaseMessage.message_id).in_(pm.cited_ids))
        ).all()
    ) if pm.cited_ids else set()
    for cited in pm.cited_ids:
        if cited not in existing and cited != mid:
            session.add(CaseMessage(message_id=cited, case_id=case.id or 0, seen=False))
            existing.add(cited)
    session.flush()
