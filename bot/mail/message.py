"""The parsed view of one mail message that every later stage works from.

`bot.mail.parse.parse_message` builds it from raw bytes; nothing downstream reads raw
bytes again except to store them.  Message-IDs are kept without angle brackets
and only when they contain an ``@`` (ids like ``<yes>`` link nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Address:
    """One mailbox: display name (decoded) and address as written."""

    name: str
    addr: str

    @property
    def key(self) -> str:
        """The address lower-cased, for comparisons and lookups."""
        return self.addr.strip().lower()

    def __str__(self) -> str:
        return self.addr


@dataclass
class ParsedMessage:
    """Everything the pipeline needs to know about one message."""

    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_: list[Address]
    from_header_count: int
    to: list[Address]
    cc: list[Address]
    reply_to: list[Address]
    date: datetime | None
    headers: list[tuple[str, str]]
    text_body: str
    html_body: str | None
    content_type: str
    is_dsn: bool = False
    attached_messages: list[bytes] = field(default_factory=list)
    attachments: list[tuple[str, str, int]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    from_defects: bool = False

    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """Every header called `name`, in order of appearance."""
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    @property
    def sender(self) -> Address | None:
        """The single From mailbox, or None when there is not exactly one."""
        if self.from_header_count == 1 and len(self.from_) == 1:
            return self.from_[0]
        return None

    @property
    def first_from(self) -> Address | None:
        """The first From mailbox, if any (for filing, not for trust)."""
        return self.from_[0] if self.from_ else None

    @property
    def cited_ids(self) -> list[str]:
        """All ids this message points at: In-Reply-To first, then References."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen

    @property
    def recipients(self) -> list[Address]:
        """To then Cc."""
        return [*self.to, *self.cc]
