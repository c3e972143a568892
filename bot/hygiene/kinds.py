"""Thread-hygiene rule kinds: the recipient-change convention and the cc-conduct rule.

The communications guidelines ask two things no mail system enforces: note any
change of recipients at the top of a message (``[+ Name]`` / ``[- Name]``), and
always copy the conduct address (or forward replies that lost it).  They also
forbid disclosing a reporter's identity outside the group.  Four kinds check that:

- ``recipient_change``: a message's To+Cc against what reply-all to its parent
  would have had, and the notes at the top of its body;
- ``cc_conduct_missing``: the message reached the bot although the conduct address
  is in neither To nor Cc (Bcc, a redirect or a forward from someone's mailbox);
- ``unseen_citation``: the message cites, after a message the bot knows, one it
  never received: someone's reply left the conduct address out;
- ``reporter_leak``: a member's message going outside the group carries the
  reporter's name, address or username.

A check returns a `RuleHit` whose ``data["finding"]`` is a `bot.hygiene.findings.Finding`;
the hygiene handler (`bot.handlers.hygiene`) decides from the rule's policy who is
told.  The pure parts live in `bot.hygiene`: `addresses` (address comparison and
notes), `citations` (gaps in References), `identity` (the reporter's identity) and
`policies` (the kinds' policy models).
"""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, select

from bot.filing.context import MessageContext
from bot.hygiene.addresses import (
    AddressBook,
    display,
    message_notes,
    recipient_display,
    recipient_for,
    reply_all_diff,
    suggested_note,
)
from bot.hygiene.citations import (
    SUBJECT_LIMIT,
    citation_gaps,
    find_parent,
    known_subject,
    seen_ids,
    thread_root,
)
from bot.hygiene.draftcheck import case_facts, copied_runs
from bot.hygiene.findings import Finding, message_context, signature_of
from bot.hygiene.identity import (
    OWN_TEXT,
    SUBJECT,
    WHOLE_TEXT,
    find_identity,
    fold,
    identity_patterns,
    message_texts,
    reporter_identities,
)
from bot.hygiene.policies import (
    CcConductPolicy,
    HygienePolicy,
    RecipientChangePolicy,
    ReporterLeakPolicy,
    UnseenCitationPolicy,
)
from bot.mail.annotations import Discrepancy, Recipient, check_annotations
from bot.mail.message import Address, ParsedMessage
from bot.mail.msgids import own_case_id
from bot.outbound.render import clean_header
from bot.rules.base import RuleHit, RuleKind, rule_kind
from bot.store.models import Case, Participant

# Kinds of filed message the checks look at: replies and forwards within a case.
CHECKED_KINDS = frozenset({"inbound", "forwarded"})
_AUTO_PRECEDENCE_RE = re.compile(r"^\s*(bulk|junk|list)\b", re.IGNORECASE)


def is_automatic(pm: ParsedMessage) -> bool:
    """Bounces, auto-replies and list mail: nobody chose their recipients."""
    auto = (pm.header("Auto-Submitted") or "no").strip().lower()
    return (pm.is_dsn or not auto.startswith("no") or pm.header("List-Id") is not None
            or bool(_AUTO_PRECEDENCE_RE.match(pm.header("Precedence") or "")))


def _policy(rule: RuleKind, cls: type[HygienePolicy]) -> Any:
    policy = rule.policy
    assert isinstance(policy, cls)
    return policy


def case_names(session: Session, case: Case) -> dict[str, str]:
    """Display names recorded for the case's participants, by address."""
    rows = session.exec(select(Participant).where(Participant.case_id == case.id)).all()
    return {p.address: p.name for p in rows if p.name}


@rule_kind
class RecipientChange(RuleKind):
    """Recipients changed against reply-all to the parent, without matching notes."""

    kind = "recipient_change"
    policy_model = RecipientChangePolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Compare To+Cc with reply-all to the parent and the notes at the top."""
        policy: RecipientChangePolicy = _policy(self, RecipientChangePolicy)
        pm = ctx.pm
        if ctx.inbound.kind != "inbound" or is_automatic(pm):
            return None  # a forward starts a new conversation; reporter_leak covers it
        parent = find_parent(ctx.session, ctx.app.secret, pm)
        if parent is None:
            return None
        config = ctx.app.config
        book = AddressBook.build(config, policy, policy.free_addresses)
        members = {m.email for m in config.members}
        if policy.internal_exempt and set(book.keys(pm.recipients)) <= members:
            return None  # only the group can read it: nothing can be shared by mistake
        diff = reply_all_diff(book, parent, pm)
        if ctx.sender_member is None and not policy.notice_member_changes:
            diff.added = {k: a for k, a in diff.added.items() if k not in members}
            diff.removed = {k: a for k, a in diff.removed.items() if k not in members}
        if not diff.changed:
            return None
        seen_names = case_names(ctx.session, ctx.case)

        def recipients(found: dict[str, Address]) -> list[Recipient]:
            out = []
            for key, address in found.items():
                names = [a.name for m in (pm, parent)
                         for a in [*m.from_, *m.to, *m.cc, *m.reply_to]
                         if a.name and book.canonical(a.addr) == key]
                names.append(seen_names.get(address.key, ""))
                out.append(recipient_for(key, address, names, config.member_for(key)))
            return out

        added, removed = recipients(diff.added), recipients(diff.removed)
        notes = message_notes(pm)
        result = check_annotations(added, removed, notes)
        sender = pm.first_from
        sender_key = book.canonical(sender.addr) if sender else ""
        if ctx.sender_member is not None and result.ok:
            return None
        base = message_context(ctx, pm)
        record: dict[str, Any] = {
            "added": sorted(diff.added), "removed": sorted(diff.removed),
            "noted": result.ok,
        }
        signature = signature_of(sender_key, [f"+{k}" for k in diff.added],
                                 [f"-{k}" for k in diff.removed],
                                 _problem_tokens(result))
        context = {**base, **_discrepancy_context(result)}
        # Member-only mail carries code names, dates and fixed text: who was added
        # or removed is in the message itself, which every member received.
        outsider_context = {
            **base,
            "added_count": len(diff.added),
            "removed_count": len(diff.removed),
            "noted": result.ok,
        }
        return self.hit(finding=Finding(thread=thread_root(pm), signature=signature,
                                        context=context, outsider_context=outsider_context,
                                        record=record))


def _problem_tokens(result: Discrepancy) -> list[str]:
    return [*(f"?+{fold(t)}" for t in result.extra_added),
            *(f"?-{fold(t)}" for t in result.extra_removed)]


def _discrepancy_context(result: Discrepancy) -> dict[str, Any]:
    return {
        "missing_added": [recipient_display(r) for r in result.unannounced_added],
        "missing_removed": [recipient_display(r) for r in result.unannounced_removed],
        "extra_added": [clean_header(t, limit=100) for t in result.extra_added],
        "extra_removed": [clean_header(t, limit=100) for t in result.extra_removed],
        "suggested_notes": [*(suggested_note("+", r) for r in result.unannounced_added),
                            *(suggested_note("-", r) for r in result.unannounced_removed)],
    }


@rule_kind
class CcConductMissing(RuleKind):
    """The message reached the bot though the conduct address is in neither To nor Cc."""

    kind = "cc_conduct_missing"
    policy_model = CcConductPolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Look for the conduct address (or an alias) among To and Cc."""
        policy: CcConductPolicy = _policy(self, CcConductPolicy)
        if ctx.inbound.kind not in CHECKED_KINDS or is_automatic(ctx.pm):
            return None
        config = ctx.app.config
        book = AddressBook.build(config, policy)
        conduct = {book.canonical(config.conduct_address),
                   *(book.canonical(a) for a in policy.conduct_aliases if not a.startswith("@"))}
        domains = {a[1:] for a in policy.conduct_aliases if a.startswith("@")}
        for a in ctx.pm.recipients:
            key = book.canonical(a.addr)
            if key in conduct or key.rpartition("@")[2] in domains:
                return None
        pm = ctx.pm
        sender = pm.first_from
        redirected = bool(pm.header("Resent-From") or pm.header("Resent-To"))
        base = message_context(ctx, pm)
        return self.hit(finding=Finding(
            thread=thread_root(pm),
            signature=signature_of(book.canonical(sender.addr) if sender else ""),
            context={**base, "redirected": redirected},
            outsider_context={**base, "redirected": redirected},
            record={"redirected": redirected},
        ))


@rule_kind
class UnseenCitation(RuleKind):
    """The message cites, after a known message, one the bot never received."""

    kind = "unseen_citation"
    policy_model = UnseenCitationPolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Find unseen ids after the first known one in References / In-Reply-To."""
        if ctx.inbound.kind not in CHECKED_KINDS:
            return None
        source = ctx.forwarded if ctx.inbound.kind == "forwarded" and ctx.forwarded else ctx.pm
        cited = source.cited_ids
        if not cited:
            return None
        secret = ctx.app.secret
        seen = seen_ids(ctx.session, cited)
        known = seen | {m for m in cited if own_case_id(secret, m) is not None}
        unseen = {m for m in cited if m not in known}
        gaps = citation_gaps(source.references, source.in_reply_to, known, unseen)
        if not gaps:
            return None
        order = [*source.references, *source.in_reply_to]
        before = [m for m in order[: order.index(gaps[0])] if m in known]
        subject = ""
        for mid in reversed(before):
            subject = known_subject(ctx.session, secret, mid)
            if subject:
                break
        base = message_context(ctx, source)
        fallback = clean_header(source.subject, limit=SUBJECT_LIMIT) or "(no subject)"
        context = {**base, "thread_subject": subject or fallback,
                   "missing_count": len(gaps)}
        return self.hit(finding=Finding(
            thread=thread_root(source), signature=signature_of(gaps), context=context,
            outsider_context=context, record={"unseen": gaps},
        ))


# How the warning names copied phrasing ("the reporter's: - words ...").
COPIED = "words, copied from their own mail"


@rule_kind
class ReporterLeak(RuleKind):
    """A member's message going outside the group names or addresses the reporter."""

    kind = "reporter_leak"
    policy_model = ReporterLeakPolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Search the message for the reporter's identity when outsiders receive it."""
        policy: ReporterLeakPolicy = _policy(self, ReporterLeakPolicy)
        if ctx.sender_member is None or ctx.inbound.kind not in CHECKED_KINDS:
            return None
        config = ctx.app.config
        member_emails = {m.email for m in config.members}
        found: dict[str, list[str]] = {}
        outsiders: dict[str, Address] = {}
        texts = message_texts(ctx.pm)
        identities = reporter_identities(ctx.session, ctx.case)
        # Each reporter on their own: another reporter of a merged case is an
        # outsider to this reporter's identity.
        for identity in identities:
            book = AddressBook.build(config, policy, [*policy.trusted_addresses,
                                                      *identity.addresses])
            theirs = {k: a for k, a in book.keys(ctx.pm.recipients).items()
                      if k not in member_emails}
            if not theirs:
                continue
            patterns = identity_patterns(identity, min_name_part=policy.min_name_part,
                                         ignore_words=policy.ignore_words)
            hit = False
            for where, text in texts:
                for what in find_identity(text, patterns):
                    hit = True
                    found.setdefault(what, [])
                    if where not in found[what]:
                        found[what].append(where)
            if hit:
                outsiders.update(theirs)
        # The draft check's other leak: the reporters' own phrasing, copied into
        # what this member wrote to someone who is not a reporter (a quote of the
        # report below their text is the identity check's business).
        own = "\n".join(text for where, text in texts if where in (SUBJECT, OWN_TEXT))
        reporter_texts = case_facts(ctx.session, ctx.case, min_name_part=policy.min_name_part,
                                    ignore_words=policy.ignore_words).reporter_texts
        if copied_runs(own, reporter_texts):
            every_reporter = [a for identity in identities for a in identity.addresses]
            book = AddressBook.build(config, policy, [*policy.trusted_addresses,
                                                      *every_reporter])
            theirs = {k: a for k, a in book.keys(ctx.pm.recipients).items()
                      if k not in member_emails}
            if theirs:
                found[COPIED] = [OWN_TEXT]
                outsiders.update(theirs)
        if not found:
            return None
        book = AddressBook.build(config, policy, policy.trusted_addresses)
        # The text they wrote also sits inside the whole body; say the specific place.
        for places in found.values():
            if OWN_TEXT in places and WHOLE_TEXT in places:
                places.remove(WHOLE_TEXT)
        base = message_context(ctx, ctx.pm)
        sender = ctx.pm.first_from
        return self.hit(finding=Finding(
            thread=thread_root(ctx.pm),
            signature=signature_of(book.canonical(sender.addr) if sender else "",
                                   list(found), list(outsiders)),
            context={**base, "found": [{"what": w, "where": p} for w, p in found.items()],
                     "outsiders": [display(a) for a in outsiders.values()]},
            record={"found": sorted(found), "outsiders": len(outsiders)},
        ))
