"""The pydantic policy models of the hygiene rule kinds (keys of rules/hygiene.toml).

`HygienePolicy` holds what every hygiene rule has (who is told, with which
template, how provider addresses compare); each kind adds its own keys.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from bot.rules import validators
from bot.rules.base import Policy
from bot.rules.chains import Chain

# Who a rule's `notify` / `outsider_notify` may name.  Every one resolves to members
# only: warnings never go to a reporter or anyone outside the group.
AUDIENCES = ("sender", "point_of_contact", "chairs")


class HygienePolicy(Policy):
    """Keys every hygiene rule has.

    - notify: who gets `template` ("sender": the sender when a member;
      "point_of_contact": the case's point of contact, else the chairs; "chairs").
    - outsider_notify / outsider_template: who is told, and with what, when the
      sender is not a member (outsiders are never lectured; empty: only the case
      history records it).
    - dotless_domains / plus_domains: providers where dots / ``+tags`` in the local
      part do not change the mailbox (e.g. gmail.com).
    """

    chain: Chain = Chain.HYGIENE
    template: str
    notify: list[str] = Field(default_factory=lambda: ["sender"])
    outsider_template: str | None = None
    outsider_notify: list[str] = Field(default_factory=list)
    dotless_domains: list[str] = Field(default_factory=list)
    plus_domains: list[str] = Field(default_factory=list)

    @field_validator("chain")
    @classmethod
    def _hygiene_chain(cls, v: Chain) -> Chain:
        if v != Chain.HYGIENE:
            raise ValueError(f"hygiene rules run in the {Chain.HYGIENE.value!r} chain")
        return v

    @field_validator("notify", "outsider_notify")
    @classmethod
    def _known_audiences(cls, v: list[str], info: ValidationInfo) -> list[str]:
        for who in v:
            if who not in AUDIENCES:
                raise ValueError(f"unknown audience {who!r} (use {', '.join(AUDIENCES)})")
        if v and info.field_name == "outsider_notify" and not info.data.get("outsider_template"):
            raise ValueError("needs an outsider_template")
        return v

    @field_validator("template", "outsider_template")
    @classmethod
    def _template_name(cls, v: str | None) -> str | None:
        return validators.template_name(v)

    @field_validator("dotless_domains", "plus_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        return validators.domains(v)


class RecipientChangePolicy(HygienePolicy):
    """Keys of ``recipient_change``.

    - free_addresses: addresses (or ``@domain``) that may be added or removed freely.
    - internal_exempt: a message whose recipients are all members (besides the
      conduct address) needs no notes: it cannot share anything by mistake, and
      members often take a discussion off the reporter's thread that way.
    - notice_member_changes: whether an outsider adding or dropping a member is
      worth telling the point of contact (members get the thread through the
      conduct address anyway, so by default it is not).
    """

    template: str = "warn_recipients"
    outsider_template: str | None = "notice_outsider_recipients"
    outsider_notify: list[str] = Field(default_factory=lambda: ["point_of_contact"])
    free_addresses: list[str] = Field(default_factory=list)
    internal_exempt: bool = True
    notice_member_changes: bool = False

    @field_validator("free_addresses")
    @classmethod
    def _free(cls, v: list[str]) -> list[str]:
        return validators.addresses_or_domains(v)


class CcConductPolicy(HygienePolicy):
    """`conduct_aliases`: other addresses that deliver to the conduct address."""

    template: str = "warn_cc_conduct"
    conduct_aliases: list[str] = Field(default_factory=list)

    @field_validator("conduct_aliases")
    @classmethod
    def _aliases(cls, v: list[str]) -> list[str]:
        return validators.addresses_or_domains(v)


class UnseenCitationPolicy(HygienePolicy):
    """Tells the point of contact (by default) which thread lost a message."""

    template: str = "alert_unseen_reply"
    notify: list[str] = Field(default_factory=lambda: ["point_of_contact"])


class ReporterLeakPolicy(HygienePolicy):
    """How the reporter's identity is looked for.

    - min_name_part: shortest part of the reporter's name searched on its own
      (the full name is always searched).
    - ignore_words: name parts and address local parts too common to search alone
      ("will", "info", ...), compared case-insensitively.
    - trusted_addresses: recipients (address or ``@domain``) that do not count as
      outside the group (e.g. the DSF board's address).
    """

    template: str = "warn_reporter_leak"
    min_name_part: int = 3
    ignore_words: list[str] = Field(default_factory=list)
    trusted_addresses: list[str] = Field(default_factory=list)

    @field_validator("trusted_addresses")
    @classmethod
    def _trusted(cls, v: list[str]) -> list[str]:
        return validators.addresses_or_domains(v)

    @field_validator("min_name_part")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v


POLICY_MODELS: dict[str, type[Policy]] = {
    "recipient_change": RecipientChangePolicy,
    "cc_conduct_missing": CcConductPolicy,
    "unseen_citation": UnseenCitationPolicy,
    "reporter_leak": ReporterLeakPolicy,
}
