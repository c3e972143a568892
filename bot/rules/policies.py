"""The policy models of the general rule kinds: what a rule table may say.

Kept apart from the kinds' checks so that validating `rules/*.toml` (as
`cocbot check-config` does) needs only pydantic, not the mail and database
machinery the checks use.  `POLICY_MODELS` maps each kind name to its model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from bot.rules import validators
from bot.rules.base import Policy


class AddressMatchPolicy(Policy):
    """Which headers to look at and which local parts (regexes) count as machines."""

    headers: list[str] = Field(default_factory=lambda: ["From", "Return-Path", "Sender"])
    local_parts: list[str] = Field(default_factory=list)
    match_empty: bool = True

    @field_validator("local_parts")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        return validators.regexes(v)


class OutOfOfficePolicy(Policy):
    """Headers whose presence marks an auto-reply, and subject patterns that do."""

    headers: list[str] = Field(default_factory=list)
    subject_patterns: list[str] = Field(default_factory=list)

    @field_validator("subject_patterns")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        return validators.regexes(v)


class RateLimitPolicy(Policy):
    """``sender``: acknowledgement.per_sender_window_minutes per address;
    ``global``: acknowledgement.global_cap_per_hour over everyone."""

    scope: Literal["sender", "global"]


PhraseField = Literal["subject", "body"]
ALL_FIELDS: tuple[PhraseField, ...] = ("subject", "body")


class PhraseMatchPolicy(Policy):
    """A list of phrases, matched case-insensitively as whole words anywhere in `fields`."""

    phrases: list[str]
    fields: list[PhraseField] = Field(default_factory=lambda: list(ALL_FIELDS))

    @field_validator("phrases")
    @classmethod
    def _not_empty(cls, v: list[str]) -> list[str]:
        cleaned = [" ".join(p.split()) for p in v]
        if not cleaned or any(not p for p in cleaned):
            raise ValueError("must be a non-empty list of non-empty phrases")
        return cleaned


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


class GroupNoticePolicy(Policy):
    """Google's notification senders, as ``local@domain`` (compared lower-cased)."""

    notification_senders: list[str] = Field(default_factory=lambda: [
        "noreply@google.com", "groups-noreply@google.com", "noreply@googlegroups.com",
        "groups-noreply@googlegroups.com"])


POLICY_MODELS: dict[str, type[Policy]] = {
    "address_match": AddressMatchPolicy,
    "dsn": Policy,
    "out_of_office": OutOfOfficePolicy,
    "own_mail": Policy,
    "member_sender": Policy,
    "ack_rate_limit": RateLimitPolicy,
    "phrase_match": PhraseMatchPolicy,
    "header_match": HeaderMatchPolicy,
    "group_notice": GroupNoticePolicy,
    "sender_auth_failed": Policy,
}
