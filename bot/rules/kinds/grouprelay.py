"""Rule kinds for mail through the conduct group, and for senders who fail authentication.

- ``group_notice``: mail the Google Group sends on its own (moderation notices,
  digests, "message pending" and membership mail): From the group's address or a
  ``+tag`` form of it (``conduct+msgappr@...``, ``conduct+owners@...``), or from
  Google's own notification senders.  A relayed report whose From the group
  rewrote has already been given back its author (`bot.filing.relay`), so it
  does not match.
- ``sender_auth_failed``: the author's domain failed DMARC (or SPF failed with no
  aligned DKIM pass) where the bot can trust the verdict: the topmost
  Authentication-Results of its own receiving server, or, for mail relayed by
  the group, what the trusted ARC sealer saw at the first hop
  (`bot.mail.grouprelay.author_verdict`).  An acknowledgement would go to an
  address someone else may have forged, so none is sent; the report is filed
  and the chair's digest counts it.
"""

from __future__ import annotations

from bot.filing.context import MessageContext
from bot.mail.grouprelay import author_verdict, header_fields, is_conduct_list, rewritten_from
from bot.rules.base import RuleHit, RuleKind, rule_kind
from bot.rules.policies import GroupNoticePolicy


@rule_kind
class GroupNotice(RuleKind):
    """Matches mail the conduct group itself sends (not mail it relays)."""

    kind = "group_notice"
    policy_model = GroupNoticePolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """From the group's own address forms, or Google's notification senders."""
        policy = self.policy
        assert isinstance(policy, GroupNoticePolicy)
        conduct = ctx.app.config.conduct_address
        local, _, domain = conduct.partition("@")
        senders = {s.strip().lower() for s in policy.notification_senders}
        for addr in ctx.pm.from_:
            key = addr.key
            a_local, _, a_domain = key.rpartition("@")
            if a_domain == domain and a_local.startswith(local + "+"):
                return self.hit(f"{self.description} (From the group's +tag address)")
            if key in senders:
                return self.hit(f"{self.description} (Google notification sender)")
        fields = header_fields(ctx.inbound.raw)
        if (ctx.pm.sender is not None and ctx.pm.sender.key == conduct
                and is_conduct_list(fields, ctx.app.config.intake.conduct_list_id)
                and not rewritten_from(fields, conduct)):
            return self.hit(f"{self.description} (From the group's address)")
        return None


@rule_kind
class SenderAuthFailed(RuleKind):
    """Matches when the author's domain failed authentication at a trusted server."""

    kind = "sender_auth_failed"

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Judge the (recovered) author by the trusted verdict; see the module doc."""
        # The address an acknowledgement would go to (the case's reporter).
        sender = ctx.pm.first_from
        if sender is None or "@" not in sender.key:
            return None
        verdict = author_verdict(header_fields(ctx.inbound.raw), ctx.app.config, sender.key)
        if verdict.status != "fail":
            return None
        return self.hit(f"{self.description} ({verdict.reason}, {verdict.source})",
                        sender_failed_authentication=True)
