"""Header-based rule kinds."""

from __future__ import annotations

import re

from bot.filing.context import MessageContext
from bot.mail.grouprelay import header_fields, is_conduct_list
from bot.rules.base import RuleHit, RuleKind, rule_kind
from bot.rules.policies import HeaderMatchPolicy


@rule_kind
class HeaderMatch(RuleKind):
    """Matches when a header is present, or when one of its values matches a pattern."""

    kind = "header_match"
    policy_model = HeaderMatchPolicy

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Look at every value of the header."""
        policy = self.policy
        assert isinstance(policy, HeaderMatchPolicy)
        values = ctx.pm.header_all(policy.header)
        if not values:
            return None
        if policy.except_conduct_list and is_conduct_list(
                header_fields(ctx.inbound.raw), ctx.app.config.intake.conduct_list_id):
            return None
        if not policy.pattern:
            return self.hit()
        flags = re.IGNORECASE if policy.ignore_case else 0
        for value in values:
            if re.search(policy.pattern, value.strip(), flags):
                return self.hit()
        return None
