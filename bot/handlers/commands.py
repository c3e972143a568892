"""Member commands: `#tags` in a member's reply steer the case.

Order of checks for every filed message (all inside the message's transaction):

1. Only mail that claims to come from a member is looked at: a member address
   in From (also hidden in a display name or an encoded-word, which is how
   spoofs look).  Anyone else's tags are plain text: nothing happens.
2. Replies to the bot's digest are never commands.
3. Only new tags count: subject tags not already in the parent's subject, and
   tags on their own lines at the top of the body (`bot.commands.tags`).
   Subject tags of a reply to a message the bot never saw are held (the
   subject may be someone else's); the transcript asks for them in the body.
4. The sender must authenticate (`bot.mail.auth.authenticate`, fail closed).  If not,
   the command is held: nothing changes, a "command_held" event records why,
   and the chairs get a short notice naming the case code only.  So is an
   authenticated command mail dated more than ``auth.command_max_age_days``
   ago or in the future, and one whose signed content was seen before under
   another Message-ID (a replay, `bot.store.signed`).
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
from datetime import UTC, datetime, timedelta
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
    Tag,
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
from bot.filing.senders import claims_member, sender_verdict
from bot.mail.drafts import has_draft_lines
from bot.mail.message import ParsedMessage
from bot.mail.parse import extract_forwarded
from bot.mail.quoting import top_text
from bot.outbound.outbox import queue_mail, valid_address
from bot.store.models import Case, Event, InboundMessage, Outbox
from bot.store.records import add_event, find_case, live_case
from bot.store.recusal import is_excluded, is_shut_out, shut_out
from bot.store.signed import fingerprints, seen_under_other_id

if TYPE_CHECKING:
    from bot.core.app import App
    from bot.filing.context import MessageContext, Origin

log = get_logger("commands")

# Chair notices about held commands are automatic mail an outsider can trigger:
# bound them so that a flood of forgeries cannot flood the chairs.
MAX_HELD_NOTICES_PER_HOUR = 10
# Clock skew allowed before a command mail counts as dated in the future.
FUTURE_SKEW = timedelta(minutes=15)
HELD_SUBJECT_REASON = "subject tags in a reply to a message the bot never saw"
HELD_SUBJECT_TEXT = ("held: this tag is in the subject of a reply to a message the bot never "
                     "saw, so the subject may be someone else's. If you meant it, repeat it "
                     "on its own line at the top of your message.")
DIGEST_KIND = "digest"
DIGEST_TEMPLATE = "digest.txt.j2"

_PREFIX_RE = re.compile(r"^\s*((re|fwd?|aw|wg|sv|vs|antw|tr|r|rif|odp)\s*(\[\d+\])?\s*:\s*)+",
                        re.IGNORECASE)

load_commands()


# --------------------------------------------------------------------------
# Who is this from?
# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# Which tags are new?
# --------------------------------------------------------------------------

def _outbox_subject(raw: bytes) -> str:
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    return str(headers.get("Subject", ""))


def _known_subject(session: Session, message_id: str) -> str | None:
    """The subject of a message the bot filed or sent, or None when it has neither."""
    row = session.exec(
        select(InboundMessage.subject).where(InboundMessage.message_id == message_id)
    ).first()
    if row is not None:
        return row
    sent = session.exec(select(Outbox.raw).where(Outbox.message_id == message_id)).first()
    if sent is not None:
        return _outbox_subject(sent)
    return None


def parent_id(pm: ParsedMessage) -> str | None:
    """The message `pm` answers: In-Reply-To, else the last of References."""
    if pm.in_reply_to:
        return pm.in_reply_to[0]
    return pm.references[-1] if pm.references else None


def parent_subject(session: Session, pm: ParsedMessage, case: Case,
                   exclude_inbound_id: int | None) -> str | None:
    """The subject the tags are compared with.

    The parent is the filed (or sent) message `pm` answers.  Only a message
    that answers nothing compares with the case's most recent filed message;
    for a parent the bot never saw this returns None (see `command_plan`).
    """
    parent = parent_id(pm)
    if parent is not None:
        return _known_subject(session, parent)
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
    """The new tags of `pm`, sorted into commands, unknown tags and held ones.

    Subject tags count only against a parent the bot has: in a reply to a
    message it never saw (someone may have mailed the member directly with
    commands in the subject), they are held, and only the body's top lines count.
    """
    in_subject = subject_tags(pm.subject)
    own = top_text(pm.text_body, pm.html_body)
    in_body = body_tags(own)
    if not in_subject and not in_body:
        return TagPlan()
    held: list[Tag] = []
    parent = parent_id(pm)
    if in_subject and parent is not None and _known_subject(session, parent) is None:
        held = [t for t in in_subject if t.name in REGISTRY]
        in_subject = []
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
    plan = plan_tags(fresh, REGISTRY)
    body_keys = {t.key for t in in_body}
    plan.held = [t for t in held if t.key not in body_keys]
    return plan


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
    commands += [tag.name for tag in plan.held if tag.name not in commands]
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


def date_problem(pm: ParsedMessage, now: datetime, max_age_days: float) -> str | None:
    """Why a command mail's Date makes it unusable (too old, in the future, missing)."""
    if pm.date is None:
        return "the command mail has no usable Date"
    when = pm.date if pm.date.tzinfo is not None else pm.date.replace(tzinfo=UTC)
    if when > now + FUTURE_SKEW:
        return "the command mail is dated in the future"
    if now - when > timedelta(days=max_age_days):
        return f"the command mail is dated more than {max_age_days:g} days ago"
    return None


def _reference_time(ctx: MessageContext) -> datetime:
    """Now (or `--now`); for old mail filed silently, when it arrived."""
    if ctx.origin.backfill:
        return (ctx.origin.received_at or ctx.pm.date or ctx.app.now_utc()).astimezone(UTC)
    return ctx.app.now_utc()


def possible_links(session: Session, config: Config, case: Case, member: Member) -> list[str]:
    """Code names of cases a stranger's mail tied to `case`, still separate, that
    `member` may see (recorded by filing as ``possible_link`` events)."""
    out: list[str] = []
    for ev in session.exec(select(Event).where(Event.case_id == case.id,
                                               Event.kind == EventKind.POSSIBLE_LINK)).all():
        other = find_case(session, str(ev.data.get("other") or ""))
        if other is None:
            continue
        other = live_case(session, other.id or 0)
        if other is None or other.id == case.id or other.code in out:
            continue
        if is_shut_out(session, config, other, member):
            continue
        out.append(other.code)
    return out


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
    if not (plan.has_command or plan.stopped or plan.held
            or any(i.suggestion for i in plan.unknown)):
        # Only hashtags that look like no command (#DjangoCon): prose, not commands.
        return
    verdict = sender_verdict(ctx.inbound.raw, config)
    member = config.member_for(verdict.address) if verdict.ok else None
    if member is None or verdict.address is None:
        if plan.has_command or plan.held:
            hold(ctx.app, ctx.session, pm, ctx.case, plan, quiet=ctx.quiet,
                 reason=verdict.reason if not verdict.ok else "sender is not a member")
        return
    if plan.has_command:
        problem = date_problem(pm, _reference_time(ctx), config.auth.command_max_age_days)
        if problem is None and seen_under_other_id(ctx.session, fingerprints(pm),
                                                   pm.message_id):
            add_event(ctx.session, ctx.case, EventKind.CONTENT_REPLAYED,
                      message_id=pm.message_id, at=ctx.app.now_utc())
            hold(ctx.app, ctx.session, pm, ctx.case, plan, quiet=ctx.quiet, replay=True,
                 reason="the same signed content was seen before under another Message-ID")
            return
        if problem is not None:
            hold(ctx.app, ctx.session, pm, ctx.case, plan, quiet=ctx.quiet, reason=problem)
            return
    if plan.held:
        add_event(ctx.session, ctx.case, EventKind.COMMAND_HELD, message_id=pm.message_id,
                  at=ctx.app.now_utc(), reason=HELD_SUBJECT_REASON, replay=False,
                  commands=[tag.name for tag in plan.held])

    if is_excluded(ctx.session, config, ctx.case, member):
        refuse_silently(ctx, member, plan)
        return
    lines = [run_one(ctx, member, item) for item in plan.items]
    lines += [Line(f"#{tag.name}", False, HELD_SUBJECT_TEXT, {}, {}) for tag in plan.held]
    recused = is_shut_out(ctx.session, ctx.app.config, ctx.case, member)
    errors = sum(1 for line in lines if not line.ok)
    outside = outside_recipients(pm, config)
    if plan.items:
        # With only held subject tags nothing was processed (the transcript says so).
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
                        "member_name": member.name, "new_case": ctx.is_new_case,
                        "links": possible_links(ctx.session, config, ctx.case, member)})
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
