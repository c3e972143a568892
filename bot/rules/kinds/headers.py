"""Header-based rule kinds."""

from __future__ import annotations

import re

from pydantic import field_validator

from bot.filing.context import MessageContext
from bot.mail.grouprelay import header_fields, is_conduct_list
from bot.rules import validators
from bot.rules.base import Policy, RuleHit, RuleKind, rule_kind


class HeaderMatchPolicy(Policy):
    """`header` present (when `pattern` is empty) or any value matching `pattern`."""

    header: str
    pattern: str = ""
    ignore_case: bool = True
    # Mail relayed by the conduct group itself (List-Id = intake.conduct_list_id)
    # does not match: the group's List-Id and Precedence are not the sender's.
    except_conduct_list: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        return validators.regex(v)


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
