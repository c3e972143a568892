"""Reviewed outbound mail: drafts, their findings, approval and sending.

A draft is a member's message filed in a case with ``#draft`` in the subject
(see `bot.mail.drafts` for its form).  Its state is read from the case's
append-only history, so nothing here needs a table of its own:

- ``draft_filed``  (message_id = the draft's Message-ID, actor = its author)
- ``draft_revised`` (data.draft = that Message-ID): sent back, closed
- ``draft_approved`` then ``draft_sent``: approved by a second member, queued

Nothing reaches the recipients without a second member's ``#approve``: the
author's own approval, a member shut out of the case, and a draft with open
findings without ``#approve override REASON`` are all refused.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.commands.base import CommandContext, CommandError
from bot.core.config import Config, Member
from bot.core.events import EventKind
from bot.governance.review import DRAFT_KINDS, DraftState
from bot.governance.review import draft_states as review_states
from bot.hygiene.draftcheck import CaseFacts, Finding, case_facts, check_draft
from bot.hygiene.policies import ReporterLeakPolicy
from bot.mail.drafts import Draft, DraftError, parse_draft, strip_tags
from bot.mail.message import ParsedMessage
from bot.mail.parse import ParseError, parse_message
from bot.mail.quoting import html_to_text
from bot.outbound.outbox import queue_mail
from bot.rules.loader import load_rules
from bot.store.models import Case, Event, InboundMessage
from bot.store.records import add_event
from bot.store.recusal import is_shut_out, shut_out

SEND_TEMPLATE = "draft_outgoing"


def draft_states(session: Session, case: Case) -> list[DraftState]:
    """Every draft filed in `case`, oldest first, with its current status."""
    events = session.exec(select(Event).where(
        Event.case_id == case.id, col(Event.kind).in_(DRAFT_KINDS))
        .order_by(col(Event.id))).all()
    return review_states(events)


def target_draft(session: Session, case: Case, pm: ParsedMessage) -> DraftState:
    """The draft an #approve/#revise in `pm` is about.

    The draft the message replies to (In-Reply-To, then References); else the
    case's only pending draft.  Several pending drafts and no reply: an error.
    """
    states = {s.message_id: s for s in draft_states(session, case)}
    for mid in [*pm.in_reply_to, *reversed(pm.references)]:
        if mid in states:
            return states[mid]
    pending = [s for s in states.values() if s.status == "pending"]
    if not pending:
        raise CommandError("no draft waits for review in this case")
    if len(pending) > 1:
        raise CommandError(f"{len(pending)} drafts wait for review; reply to the one you mean")
    return pending[0]


def draft_message(session: Session, case: Case, message_id: str,
                  author: list[str] | None = None) -> ParsedMessage:
    """The filed draft with `message_id` in `case`, parsed.

    With `author` (their addresses), only a copy sent from one of them counts:
    another message reusing the draft's Message-ID is never what gets sent.
    """
    rows = session.exec(select(InboundMessage).where(
        InboundMessage.case_id == case.id, InboundMessage.message_id == message_id)
        .order_by(col(InboundMessage.id))).all()
    if author is not None:
        rows = [r for r in rows if (r.from_address or "").lower() in author]
    row = rows[0] if rows else None
    if row is None:
        raise CommandError("the draft is no longer filed in this case")
    try:
        return parse_message(row.raw)
    except ParseError as exc:
        raise CommandError("the draft cannot be read") from exc


def draft_of(pm: ParsedMessage) -> Draft:
    """The draft in `pm` (its plain text, or its HTML flattened), or a CommandError."""
    text = pm.text_body or ""
    if not text.strip() and pm.html_body:
        text = html_to_text(pm.html_body)
    try:
        return parse_draft(pm.subject, text)
    except DraftError as exc:
        raise CommandError(str(exc)) from exc


def _identity_policy(config: Config) -> ReporterLeakPolicy:
    for rule in load_rules(config):
        if isinstance(rule.policy, ReporterLeakPolicy) and rule.policy.enabled:
            return rule.policy
    return ReporterLeakPolicy(name="reporter-identity", kind="reporter_leak",
                              description="reporter's identity")


def facts_for(session: Session, config: Config, case: Case) -> CaseFacts:
    """The case's facts with the identity policy of the hygiene rules."""
    policy = _identity_policy(config)
    return case_facts(session, case, min_name_part=policy.min_name_part,
                      ignore_words=policy.ignore_words)


def _known_people(config: Config, facts: CaseFacts) -> set[str]:
    """Everyone a draft may go to who is not the reported party."""
    known = {a.lower() for a in facts.reporter.addresses}
    for w in facts.witnesses:
        known.update(a.lower() for a in w.addresses)
    for m in config.members:
        known.update(m.addresses)
    known.update(r.email for r in config.local_representatives)
    known.add(config.conduct_address)
    known.update(a for a in (config.board.address, config.board.liaison) if a)
    return known


def check_recipients(session: Session, config: Config, case: Case, draft: Draft) -> None:
    """Refuse recipients the bot must never write to about this case."""
    excluded = shut_out(session, config, case)
    for addr in draft.recipients:
        if addr in excluded:
            raise CommandError("a recipient is shut out of this case (recused or excluded); "
                               "the bot sends nothing about the case to them")
        if addr == config.conduct_address:
            raise CommandError("the conduct address is copied on every draft; list only the "
                               "real recipients in Draft-To/Draft-Cc")


def review(session: Session, config: Config, case: Case, pm: ParsedMessage, draft: Draft,
           mode: str = "") -> list[Finding]:
    """Every finding for `draft` (filed as `pm`) in `case`.

    `mode` is the #draft argument: "reported" (a letter to the reported party:
    the four parts are required), "info" (to organisers or moderators: not), or
    "" to decide by the recipients (anyone the case does not know is taken to
    be the reported party).
    """
    facts = facts_for(session, config, case)
    recipients = {a.lower() for a in draft.recipients}
    to_reporter_only = bool(recipients) and recipients <= facts.reporter_addresses
    if mode == "reported":
        reported = True
    elif mode == "info":
        reported = False
    else:
        known = _known_people(config, facts)
        reported = any(a not in known for a in recipients)
    findings = check_draft(pm, draft.body, facts, to_reporter_only=to_reporter_only,
                           to_reported_party=reported)
    if not to_reporter_only and _repeats_reporter_subject(session, case, facts, draft.subject):
        findings.append(Finding("copied", "the subject repeats the subject of the reporter's "
                                "mail"))
    return findings


def _bare(subject: str) -> str:
    text = strip_tags(subject).lower()
    while True:
        for prefix in ("re:", "fwd:", "fw:", "aw:", "sv:", "tr:", "wg:"):
            if text.startswith(prefix):
                text = text[len(prefix):].strip()
                break
        else:
            return text


def _repeats_reporter_subject(session: Session, case: Case, facts: CaseFacts,
                              subject: str) -> bool:
    mine = _bare(subject)
    if len(mine) < 8:
        return False
    rows = session.exec(select(InboundMessage.subject, InboundMessage.from_address).where(
        InboundMessage.case_id == case.id)).all()
    return any((frm or "").lower() in facts.reporter_addresses and _bare(subj) == mine
               for subj, frm in rows)


def mode_of(args: str) -> str:
    """The #draft argument as a mode ("reported", "info" or "")."""
    word = args.strip().split(" ", 1)[0].lower() if args.strip() else ""
    if word in ("reported", "reported-party", "party"):
        return "reported"
    if word in ("info", "organiser", "organizer", "moderator", "board"):
        return "info"
    return ""


def filed_mode(session: Session, case: Case, message_id: str) -> str:
    """The mode the draft was filed with."""
    ev = session.exec(select(Event).where(
        Event.case_id == case.id, Event.kind == EventKind.DRAFT_FILED,
        Event.message_id == message_id).order_by(col(Event.id).desc())).first()
    return str(ev.data.get("mode") or "") if ev is not None else ""


def _thread_parent(session: Session, case: Case, pm: ParsedMessage,
                   draft: Draft) -> ParsedMessage | None:
    """The recipient's own message the draft answers, if it answers one.

    Only a filed message *from one of the recipients* is replied to: anyone
    else's Message-ID (a reporter's, say) could tell the recipient who wrote.
    """
    wanted = set(draft.recipients)
    for mid in [*pm.in_reply_to, *reversed(pm.references)]:
        row = session.exec(select(InboundMessage).where(
            InboundMessage.case_id == case.id, InboundMessage.message_id == mid)).first()
        if row is not None and (row.from_address or "").lower() in wanted:
            try:
                return parse_message(row.raw)
            except ParseError:
                return None
    return None


def send_draft(cc: CommandContext, state: DraftState, pm: ParsedMessage, draft: Draft,
               *, override: str | None, findings: list[Finding]) -> str:
    """Queue the approved draft to its recipients and record who wrote and approved it."""
    session, app, case = cc.session, cc.app, cc.case
    parent = _thread_parent(session, case, pm, draft)
    row = queue_mail(
        session, app, kind="draft", template=SEND_TEMPLATE, to=list(draft.to),
        cc=[*draft.cc, app.config.conduct_address], case=case,
        context={"subject": draft.subject or "A message from the Code of Conduct Working Group",
                 "body": draft.body},
        reply_to=parent, auto_submitted="no", tag_subject=False,
    )
    now = app.now_utc()
    base = {"draft": state.message_id, "author": state.author, "approver": cc.member.email}
    add_event(session, case, EventKind.DRAFT_APPROVED, actor=cc.member.email,
              message_id=cc.msg.pm.message_id, at=now, override=override,
              findings=sorted({f.kind for f in findings}), **base)
    add_event(session, case, EventKind.DRAFT_SENT, actor=cc.member.email,
              message_id=cc.msg.pm.message_id, at=now, outbox_message_id=row.message_id,
              to=list(draft.to), copy=list(draft.cc), **base)
    return row.message_id


def same_member(config: Config, address: str, member: Member) -> bool:
    """True when `address` is one of `member`'s addresses."""
    owner = config.member_for(address)
    return owner is not None and owner.email == member.email


def author_shut_out(session: Session, config: Config, case: Case, author: str) -> bool:
    """True when the draft's author is now shut out of `case`."""
    member = config.member_for(author)
    return member is not None and is_shut_out(session, config, case, member)
