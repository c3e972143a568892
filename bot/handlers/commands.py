"""Member commands: `#tags` in a member's reply steer the case.

Order of checks for every filed message (all inside the message's transaction):

1. Only mail that claims to come from a member is looked at: a member address
   in From (also hidden in a display name or an encoded-word, which is how
   spoofs look).  Anyone else's tags are plain text: nothing happens.
2. Replies to the bot's digest are never commands.
3. Only new tags count: subject tags not already in the parent's subject, and
   tags on their own lines at the top of the body (`bot.commands.tags`).
4. The sender must authenticate (`bot.mail.auth.authenticate`, fail closed).  If not,
   the command is held: nothing changes, a "command_held" event records why,
   and the chairs get a short notice naming the case code only.
5. A member excluded from the case (the report concerns them) gets nothing at
   all: every command is refused with an event, and no transcript or warning
   goes out, since any answer would tell them the case exists.
6. Each command runs (refused for a member recused from the case, except
   #help), then exactly one transcript goes to the sender only, plus a private
   warning when the message also went to people outside the group.

A Message-ID seen before with different bytes (`replay_commands`) never runs
again; when it carries commands, the chairs are told it was held.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from bot.commands import load_commands
from bot.commands.base import REGISTRY, CommandContext, CommandError, CommandResult
from bot.commands.tags import (
    MAX_UNKNOWN,
    PlannedTag,
    TagPlan,
    body_tags,
    new_tags,
    plan_tags,
    subject_tags,
)
from bot.core.config import Config, Member
from bot.core.events import EventKind
from bot.core.log import get_logger
from bot.core.resources import templates_dir
from bot.mail.auth import verify_member
from bot.mail.drafts import has_draft_lines
from bot.mail.message import ParsedMessage
from bot.mail.parse import extract_forwarded
from bot.mail.quoting import top_text
from bot.outbound.outbox import queue_mail, valid_address
from bot.store.models import Case, InboundMessage, Outbox
from bot.store.records import add_event
from bot.store.recusal import is_excluded, is_shut_out, shut_out

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.filing.context import MessageContext, Origin

log = get_logger("commands")

# Chair notices about held commands are automatic mail an outsider can trigger:
# bound them so that a flood of forgeries cannot flood the chairs.
MAX_HELD_NOTICES_PER_HOUR = 10
DIGEST_KIND = "digest"
DIGEST_TEMPLATE = "digest.txt.j2"

_PREFIX_RE = re.compile(r"^\s*((re|fwd?|aw|wg|sv|vs|antw|tr|r|rif|odp)\s*(\[\d+\])?\s*:\s*)+",
                        re.IGNORECASE)

load_commands()


# --------------------------------------------------------------------------
# Who is this from?
# --------------------------------------------------------------------------

def claims_member(pm: ParsedMessage, config: Config) -> bool:
    """True when the From header(s) show a member address anywhere, honestly or not.

    Besides the parsed mailboxes this looks at the decoded From text, so that
    ``"maya@example.org" <evil@attacker.example>`` or an encoded-word spelling
    a member's address still counts as a (failed) claim to be that member.
    """
    addresses = config.member_address_map
    if any(a.key in addresses for a in pm.from_):
        return True
    texts = [v.lower() for v in pm.header_all("From")]
    for addr in addresses:
        pattern = re.compile(r"(?<![\w.+-])" + re.escape(addr) + r"(?![\w-])")
        if any(pattern.search(text) for text in texts):
            return True
    return False


# --------------------------------------------------------------------------
# Which tags are new?
# --------------------------------------------------------------------------

def _outbox_subject(raw: bytes) -> str:
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    return str(headers.get("Subject", ""))


def parent_subject(session: Session, pm: ParsedMessage, case: Case,
                   exclude_inbound_id: int | None) -> str | None:
    """The subject the tags are compared with.

    The parent is the filed (or sent) message named in In-Reply-To; when the
    bot never saw it, the case's most recent filed message stands in.
    """
    for parent_id in pm.in_reply_to[:1]:
        row = session.exec(
            select(InboundMessage.subject).where(InboundMessage.message_id == parent_id)
        ).first()
        if row is not None:
            return row
        sent = session.exec(select(Outbox.raw).where(Outbox.message_id == parent_id)).first()
        if sent is not None:
            return _outbox_subject(sent)
    query = select(InboundMessage.subject).where(InboundMessage.case_id == case.id)
    if exclude_inbound_id is not None:
        query = query.where(InboundMessage.id != exclude_inbound_id)
    if pm.message_id:
        # Never compare a message with itself (an earlier copy of it, on a replay).
        query = query.where(or_(col(InboundMessage.message_id).is_(None),
                                col(InboundMessage.message_id) != pm.message_id))
    return session.exec(
        query.order_by(col(InboundMessage.received_at).desc(), col(InboundMessage.id).desc())
    ).first()


def command_plan(session: Session, pm: ParsedMessage, case: Case, *,
                 exclude_inbound_id: int | None,
                 forwarded: ParsedMessage | None = None) -> TagPlan:
    """The new tags of `pm`, sorted into commands and unknown tags."""
    in_subject = subject_tags(pm.subject)
    own = top_text(pm.text_body, pm.html_body)
    in_body = body_tags(own)
    if not in_subject and not in_body:
        return TagPlan()
    baseline = [parent_subject(session, pm, case, exclude_inbound_id)]
    if in_subject:
        # "Fwd: <their subject>" carries the forwarded message's tags, not the member's.
        inner = forwarded or extract_forwarded(pm)
        if inner is not None:
            baseline.append(inner.subject)
    fresh = new_tags([*in_subject, *in_body], baseline)
    # A new version of a draft keeps the subject of the last one; its Draft-To
    # line, not the tag's novelty, is what makes it a draft (a reply-all to a
    # draft has no Draft-To line of its own).
    if not any(t.name == "draft" for t in fresh) and has_draft_lines(own):
        fresh = [*[t for t in in_subject if t.name == "draft"][:1], *fresh]
    return plan_tags(fresh, REGISTRY)


# --------------------------------------------------------------------------
# Digest replies
# --------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _template_subject_prefix(path: str) -> str:
    """The literal start of a template's Subject line (before any jinja markup)."""
    try:
        first = Path(path).read_text(encoding="utf-8").split("\n", 1)[0]
    except OSError:
        return ""
    if not first.startswith("Subject:"):
        return ""
    literal = re.split(r"\{[{%#]", first[len("Subject:"):], maxsplit=1)[0]
    return literal.strip()


def is_digest_reply(session: Session, config: Config, pm: ParsedMessage) -> bool:
    """True when `pm` answers one of the bot's digests (never a command)."""
    if pm.in_reply_to:
        kind = session.exec(
            select(Outbox.kind).where(col(Outbox.message_id).in_(pm.in_reply_to))
        ).first()
        if kind == DIGEST_KIND:
            return True
    prefix = _template_subject_prefix(str(templates_dir(config) / DIGEST_TEMPLATE))
    if len(prefix) < 4:
        return False
    subject = _PREFIX_RE.sub("", pm.subject or "").strip().lower()
    return subject.startswith(prefix.lower())


# --------------------------------------------------------------------------
# Held commands
# --------------------------------------------------------------------------

def _notice_recipients(config: Config, out: set[str] | None = None) -> list[str]:
    """The chairs not shut out of the case (else the members who are not)."""
    out = out or set()
    inside = [m for m in config.members if out.isdisjoint(m.addresses)]
    chairs = [m for m in inside if m.role == "chair"] or inside
    return [m.email for m in chairs if valid_address(m.email)]


def _notices_last_hour(session: Session, app: App) -> int:
    since = app.now_utc() - timedelta(hours=1)
    count = session.exec(
        select(func.count()).select_from(Outbox).where(
            Outbox.kind == "command_held", col(Outbox.created_at) >= since)
    ).one()
    return int(count)


def hold(app: App, session: Session, pm: ParsedMessage, case: Case, plan: TagPlan, *,
         reason: str, quiet: bool, replay: bool = False) -> None:
    """Record that `pm`'s commands were not carried out, and tell the chairs."""
    commands = [item.tag.name for item in plan.items if item.known]
    add_event(session, case, EventKind.COMMAND_HELD, message_id=pm.message_id, at=app.now_utc(),
              reason=reason, commands=commands, replay=replay)
    log.warning("command held", case=case.code, message_id=pm.message_id, reason=reason)
    # A forged command on a case about a member must not tell that member of the case.
    recipients = _notice_recipients(app.config, shut_out(session, app.config, case))
    if quiet or not recipients:
        return
    if _notices_last_hour(session, app) >= MAX_HELD_NOTICES_PER_HOUR:
        add_event(session, case, EventKind.COMMAND_HELD_NOTICE_SUPPRESSED, message_id=pm.message_id,
                  at=app.now_utc(), limit=MAX_HELD_NOTICES_PER_HOUR)
        return
    queue_mail(session, app, kind="command_held", template="command_held", to=recipients,
               case=case, context={"reason": reason, "commands": commands, "replay": replay})


# --------------------------------------------------------------------------
# Running commands
# --------------------------------------------------------------------------

@dataclass
class Line:
    """One transcript entry: the command as echoed and what came of it."""

    echo: str
    ok: bool
    text: str
    changed: dict[str, Any]
    data: dict[str, Any]


def _echo(item: PlannedTag) -> str:
    """The tag as the transcript repeats it (never text that could be case content)."""
    tag = item.tag
    if not item.known or not REGISTRY[tag.name].echo_arguments:
        # An unknown tag's "argument" is just the rest of the subject, and some
        # commands' arguments (a note, a username) are case content.
        return f"#{tag.name}"
    return str(tag)


def run_one(ctx: MessageContext, member: Member, item: PlannedTag) -> Line:
    """Carry out one planned tag and describe the result."""
    tag = item.tag
    if not item.known:
        hint = f"; did you mean #{item.suggestion}?" if item.suggestion else ""
        return Line(_echo(item), False, f"unknown command #{tag.name}{hint}", {}, {})
    cmd = REGISTRY[tag.name]
    # Checked per command: "#recuse #resolve" must not resolve.
    if not cmd.allowed_when_recused and is_shut_out(ctx.session, ctx.app.config, ctx.case, member):
        add_event(ctx.session, ctx.case, EventKind.COMMAND_REFUSED, actor=member.email,
                  message_id=ctx.pm.message_id, at=ctx.app.now_utc(), command=tag.name,
                  reason="recused")
        return Line(_echo(item), False, "refused: you are recused from this case", {}, {})
    cc = CommandContext(msg=ctx, member=member, case=ctx.case, args=tag.args)
    try:
        result: CommandResult = cmd.run(cc)
    except CommandError as exc:
        return Line(_echo(item), False, f"error: {exc}", {}, {})
    return Line(_echo(item), result.ok, result.text, result.changed, result.data)


def refuse_silently(ctx: MessageContext, member: Member, plan: TagPlan) -> None:
    """An excluded member's commands: refused, recorded, and never answered."""
    for item in plan.items:
        if item.known:
            add_event(ctx.session, ctx.case, EventKind.COMMAND_REFUSED, actor=member.email,
                      message_id=ctx.pm.message_id, at=ctx.app.now_utc(),
                      command=item.tag.name, reason="excluded")
    log.warning("commands of an excluded member refused", case=ctx.case.code,
                message_id=ctx.pm.message_id)


def outside_recipients(pm: ParsedMessage, config: Config) -> int:
    """How many To/Cc recipients are neither members nor the conduct address."""
    return sum(1 for a in pm.recipients
               if a.key and a.key != config.conduct_address and config.member_for(a.key) is None)


def handle_commands(ctx: MessageContext) -> None:
    """The handler: find new tags in a member's message and act on them (module doc)."""
    if ctx.inbound.kind == "own":
        return
    config = ctx.app.config
    pm = ctx.pm
    if not claims_member(pm, config) or is_digest_reply(ctx.session, config, pm):
        return
    plan = command_plan(ctx.session, pm, ctx.case, exclude_inbound_id=ctx.inbound.id,
                        forwarded=ctx.forwarded)
    if not (plan.has_command or plan.stopped or any(i.suggestion for i in plan.unknown)):
        # Only hashtags that look like no command (#DjangoCon): prose, not commands.
        return
    verdict = verify_member(ctx.inbound.raw, config)
    member = config.member_for(verdict.address) if verdict.ok else None
    if member is None or verdict.address is None:
        if plan.has_command:
            hold(ctx.app, ctx.session, pm, ctx.case, plan, quiet=ctx.quiet,
                 reason=verdict.reason if not verdict.ok else "sender is not a member")
        return

    if is_excluded(ctx.session, config, ctx.case, member):
        refuse_silently(ctx, member, plan)
        return
    lines = [run_one(ctx, member, item) for item in plan.items]
    recused = is_shut_out(ctx.session, ctx.app.config, ctx.case, member)
    errors = sum(1 for line in lines if not line.ok)
    outside = outside_recipients(pm, config)
    add_event(ctx.session, ctx.case, EventKind.COMMANDS_PROCESSED, actor=member.email,
              message_id=pm.message_id, at=ctx.app.now_utc(),
              commands=[item.tag.name for item in plan.items if item.known],
              unknown=[item.tag.name for item in plan.unknown], errors=errors,
              stopped=plan.stopped, recused=recused, outside_recipients=outside)
    log.info("commands processed", case=ctx.case.code, message_id=pm.message_id,
             commands=len(lines), errors=errors)
    if ctx.quiet:
        return
    queue_mail(ctx.session, ctx.app, kind="transcript", template="transcript",
               to=[verdict.address], case=ctx.case, reply_to=pm,
               auto_submitted="auto-replied",
               context={"lines": [vars(line) for line in lines], "errors": errors,
                        "processed": len(lines), "stopped": plan.stopped,
                        "max_unknown": MAX_UNKNOWN, "recused": recused,
                        "member_name": member.name, "new_case": ctx.is_new_case})
    if outside:
        add_event(ctx.session, ctx.case, EventKind.COMMANDS_VISIBLE_WARNING, actor=member.email,
                  message_id=pm.message_id, at=ctx.app.now_utc(), outside_recipients=outside)
        queue_mail(ctx.session, ctx.app, kind="warning", template="commands_visible_warning",
                   to=[verdict.address], case=ctx.case, reply_to=pm,
                   auto_submitted="auto-replied",
                   context={"outside": outside, "member_name": member.name})


def replay_commands(app: App, session: Session, pm: ParsedMessage, case: Case | None,
                    origin: Origin) -> None:
    """A Message-ID seen before came back with other bytes: never act twice, tell the chairs."""
    if case is None or not claims_member(pm, app.config) or \
            is_digest_reply(session, app.config, pm):
        return
    plan = command_plan(session, pm, case, exclude_inbound_id=None)
    if plan.has_command:
        hold(app, session, pm, case, plan, quiet=origin.backfill, replay=True,
             reason="a message with this Message-ID was already processed; "
                    "the copy with different content was not acted on")


handle = handle_commands
replay = replay_commands
