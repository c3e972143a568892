"""Rule kinds, rule instances and chains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from bot.rules.chains import Chain

if TYPE_CHECKING:
    from bot.filing.context import MessageContext


class Policy(BaseModel):
    """Parameters every rule has; kinds subclass this with their own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: str
    chain: Chain
    description: str
    enabled: bool = True
    template: str | None = None
    notify: list[str] = []


@dataclass(frozen=True)
class RuleHit:
    """A rule matched: which one, and why (operator-readable, no personal data)."""

    rule: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


class RuleKind:
    """Base class of a rule kind: a policy model and one check."""

    kind: ClassVar[str]
    policy_model: ClassVar[type[Policy]] = Policy

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    @property
    def name(self) -> str:
        """The rule's name from its policy."""
        return self.policy.name

    @property
    def description(self) -> str:
        """The rule's description from its policy."""
        return self.policy.description

    def check(self, ctx: MessageContext) -> RuleHit | None:
        """Return a hit when the rule matches the message, else None."""
        raise NotImplementedError

    def hit(self, reason: str | None = None, **data: Any) -> RuleHit:
        """A hit for this rule (reason defaults to the description)."""
        return RuleHit(self.name, reason or self.description, data)


KINDS: dict[str, type[RuleKind]] = {}


def rule_kind(cls: type[RuleKind]) -> type[RuleKind]:
    """Class decorator registering a rule kind under `cls.kind`."""
    KINDS[cls.kind] = cls
    return cls


def run_chain(rules: list[RuleKind], chain: Chain, ctx: MessageContext,
              *, first_only: bool = False) -> list[RuleHit]:
    """Check every enabled rule of `chain`; return the hits in order."""
    hits: list[RuleHit] = []
    for rule in rules:
        if rule.policy.chain != chain or not rule.policy.enabled:
            continue
        result = rule.check(ctx)
        if result is not None:
            hits.append(result)
            if first_only:
                break
    return hits


