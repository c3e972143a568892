"""Rule kinds for "when not to send" an automatic reply, and for phrase lists.

Used by the ``acknowledge`` chain (rules/acknowledge.toml: a hit suppresses the
acknowledgement) and by the ``danger`` / ``action_taken`` chains (a hit changes
what is sent).  Reasons name the rule and the header or phrase *kind*, never
an address or the text that matched, because they end up in the case history
and in logs.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from sqlmodel import col, select

from bot.filing.context import MessageContext
from bot.filing.senders import claims_member
from bot.mail.msgids import is_own
from bot.mail.quoting import html_to_text
from bot.rules.base import Policy, RuleHit, RuleKind, rule_kind
from bot.rules.policies import (
    AddressMatchPolicy,
    OutOfOfficePolicy,
    PhraseMatchPolicy,
    RateLimitPolicy,
)
from bot.store.models import Outbox


def normalise_address(addr: str | None) -> str:
    """Lower-cased address without a ``+tag`` sub-address: one sender, one key."""
    key = (addr or "").strip().strip("<>").lower()
    local, at, domain = key.rpartition("@")
    if not at:
        return key
    return f"{local.split('+', 1)[0] or local}@{domain}"


def _addresses(ctx: MessageContext, header: str) -> list[str] | None:
    """The addresses in `header` ("" for an empty one), or None when it is absent."""
    name = header.lower()
    if name == "from":
        if ctx.pm.from_header_count == 0:
            return None
        return [a.key for a in ctx.pm.from_] or [""]
    values = ctx.pm.header_all(header)
    if not values:
        return None
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            match = re.search(r"<([^<>]*)>", part)
            addr = (match.group(1) if match else part).strip().lower()
            found.append(addr)
    return found


@rule_kind
class AddressMatch(RuleKind):
    """Matches an empty address (``<>``) or a local part such as mailer-daemon / noreply."""

    kind = "address_match"
    policy_model = AddressMatchPolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Look at every address in the configured headers."""
        policy = self.policy
        assert isinstance(policy, AddressMatchPolicy)
        for header in policy.headers:
            addrs = _addresses(ctx, header)
            if addrs is None:
                continue
            for addr in addrs:
                if not addr:
                    if policy.match_empty:
                        return self.hit(f"{self.description} (empty {header})")
                    continue
                local = addr.rpartition("@")[0] or addr
                for pattern in policy.local_parts:
                    if re.fullmatch(pattern, local, re.IGNORECASE):
                        return self.hit(f"{self.description} ({header})")
        return None


@rule_kind
class Dsn(RuleKind):
    """Matches delivery status notifications (bounces, delay and delivery reports)."""

    kind = "dsn"

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """A multipart/report DSN or MDN, as recognised by the parser."""
        ctype = (ctx.pm.content_type or "").lower()
        if ctx.pm.is_dsn or ("multipart/report" in ctype and (
                "delivery-status" in ctype or "disposition-notification" in ctype)):
            return self.hit()
        return None


@rule_kind
class OutOfOffice(RuleKind):
    """Matches vacation / out-of-office replies by header or by subject."""

    kind = "out_of_office"
    policy_model = OutOfOfficePolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Any listed header present, or the subject matching a pattern."""
        policy = self.policy
        assert isinstance(policy, OutOfOfficePolicy)
        for header in policy.headers:
            if ctx.pm.header_all(header):
                return self.hit(f"{self.description} ({header} header)")
        subject = unicodedata.normalize("NFKC", ctx.pm.subject or "")
        for pattern in policy.subject_patterns:
            if re.search(pattern, subject, re.IGNORECASE):
                return self.hit(f"{self.description} (subject)")
        return None


@rule_kind
class OwnMail(RuleKind):
    """Matches the bot's own mail: its Message-ID form, or From the conduct address."""

    kind = "own_mail"

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Own Message-ID, or a From/Sender that is the conduct address itself."""
        if is_own(ctx.app.secret, ctx.pm.message_id):
            return self.hit(f"{self.description} (own Message-ID)")
        conduct = ctx.app.config.conduct_address
        if any(a.key == conduct for a in ctx.pm.from_):
            return self.hit(f"{self.description} (From is the conduct address)")
        return None


@rule_kind
class MemberSender(RuleKind):
    """Matches mail from a member of the working group (any of their addresses)."""

    kind = "member_sender"

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """True when the From address belongs to a member.

        Also for a forged member From: such mail is a stranger's, but an
        acknowledgement would only go to the real member's address.
        """
        if ctx.sender_member is not None or claims_member(ctx.pm, ctx.app.config):
            return self.hit()
        return None


@rule_kind
class AckRateLimit(RuleKind):
    """Matches when another acknowledgement would exceed the configured limits.

    Counts the outbox rows of kind "acknowledgement" (whatever their status),
    so the limits hold across restarts and across several processes.
    """

    kind = "ack_rate_limit"
    policy_model = RateLimitPolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Compare recent acknowledgements with the configured limits."""
        policy = self.policy
        assert isinstance(policy, RateLimitPolicy)
        limits = ctx.app.config.acknowledgement
        now = ctx.app.now_utc()
        if policy.scope == "global":
            since = now - timedelta(hours=1)
            rows = ctx.session.exec(
                select(Outbox.id).where(Outbox.kind == "acknowledgement",
                                        col(Outbox.created_at) > since)
            ).all()
            if len(rows) >= limits.global_cap_per_hour:
                return self.hit(f"{self.description} ({limits.global_cap_per_hour} per hour)")
            return None
        sender = ctx.pm.first_from
        key = normalise_address(sender.key if sender else "")
        since = now - timedelta(minutes=limits.per_sender_window_minutes)
        recent = ctx.session.exec(
            select(Outbox.recipients).where(Outbox.kind == "acknowledgement",
                                            col(Outbox.created_at) > since)
        ).all()
        for recipients in recent:
            if any(normalise_address(r) == key for r in recipients):
                return self.hit(f"{self.description} (one per "
                                f"{limits.per_sender_window_minutes:g} minutes)")
        return None


def _words(text: str) -> str:
    # Fold case, width and accents' composed forms, and any run of whitespace
    # (including line breaks inside a phrase) to one space.
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@rule_kind
class PhraseMatch(RuleKind):
    """Matches when the subject or body contains one of the listed phrases."""

    kind = "phrase_match"
    policy_model = PhraseMatchPolicy

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        assert isinstance(policy, PhraseMatchPolicy)
        alternatives = "|".join(re.escape(_words(p)) for p in policy.phrases)
        self._regex = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Search the message (the forwarded report's text is part of the body)."""
        policy = self.policy
        assert isinstance(policy, PhraseMatchPolicy)
        parts: list[str] = []
        if "subject" in policy.fields:
            parts.append(ctx.pm.subject or "")
        if "body" in policy.fields:
            parts.append(ctx.pm.text_body or "")
            if ctx.pm.html_body and not (ctx.pm.text_body or "").strip():
                parts.append(html_to_text(ctx.pm.html_body))
        if self._regex.search(_words("\n".join(parts))):
            return self.hit()
        return None
