"""Does a report name a member of the working group?  Pure text search, no database.

"If a report concerns a possible violation by a current working group member,
that member must be excluded from the response process" (manual, "Conflicts of
Interest").  The bot cannot judge what a report is about, so it errs towards
shutting a member out: a member whose full name or any of whose addresses
appears in the report's subject, text, or attachments counts as named.  The
chairs then confirm with `#exclude`.

Header-like lines inside the text ("To: Maya Chen <maya@...>" in an inline
forward) are skipped: a report sent to the chair directly, as the reporting
guide suggests, names the chair in its headers without being about her.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from email import message_from_bytes, policy

from bot.core.config import Member
from bot.mail.message import ParsedMessage
from bot.mail.quoting import html_to_text

# "From:", "To:", "Sent:"... at the start of a (possibly quoted) line: a forwarded
# message's header block, in the languages mail clients commonly write.
_HEADER_LINE_RE = re.compile(
    r"^[\s>]*(from|to|cc|bcc|sent|date|subject|reply-to|von|an|gesendet|betreff|de|"
    r"para|à|envoyé|objet|asunto|enviado|da|a|oggetto|inviato)\s*:", re.IGNORECASE)
MAX_ATTACHMENT_CHARS = 200_000


def _fold(text: str) -> str:
    """Case-, width- and whitespace-folded text for matching."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def without_header_lines(text: str) -> str:
    """`text` without lines that look like a forwarded message's header block."""
    return "\n".join(line for line in text.splitlines() if not _HEADER_LINE_RE.match(line))


def attachment_texts(raw: bytes) -> list[str]:
    """Text of attached text parts and the names of all attachments (never headers)."""
    out: list[str] = []
    try:
        msg = message_from_bytes(raw, policy=policy.default)
    except Exception:  # a broken message has no attachments to read
        return out
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if filename:
            out.append(str(filename))
        if disposition != "attachment" and not filename:
            continue
        if part.get_content_maintype() != "text":
            continue
        try:
            content = part.get_content()
        except Exception:  # an undecodable part is skipped, not fatal
            continue
        if isinstance(content, str):
            out.append(content[:MAX_ATTACHMENT_CHARS])
    return out


def report_text(pm: ParsedMessage, raw: bytes, inner: ParsedMessage | None = None) -> str:
    """Everything a report says: subjects, bodies (text and HTML), attachments."""
    parts: list[str] = []
    for m in (pm, inner):
        if m is None:
            continue
        parts.append(m.subject or "")
        parts.append(m.text_body or "")
        if m.html_body:
            parts.append(html_to_text(m.html_body))
    parts.extend(attachment_texts(raw))
    return without_header_lines("\n".join(parts))


def _name_pattern(name: str) -> re.Pattern[str] | None:
    words = _fold(name).split()
    if len(words) < 2:
        # A single word ("Sam") is too common to shut anyone out on.
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)")


def _address_pattern(addr: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.+-])" + re.escape(addr.lower()) + r"(?![\w-])")


def members_named(text: str, members: Sequence[Member],
                  skip: Iterable[str] = ()) -> list[Member]:
    """The members whose full name or any address appears in `text` (roster order).

    `skip` holds addresses of members who cannot be "named" by this text (the
    member who wrote or forwarded it signs with their own name).
    """
    skipped = {s.lower() for s in skip}
    folded = _fold(text)
    found: list[Member] = []
    for member in members:
        if skipped.intersection(member.addresses):
            continue
        pattern = _name_pattern(member.name)
        hit = pattern is not None and pattern.search(folded) is not None
        if not hit:
            hit = any(_address_pattern(a).search(folded) for a in member.addresses)
        if hit:
            found.append(member)
    return found


def member_by_name(members: Sequence[Member], text: str) -> Member | None:
    """The member `text` stands for: an address, the full name, or a unique first word."""
    wanted = _fold(text.strip().strip("<>\"'"))
    if not wanted:
        return None
    for member in members:
        if wanted in member.addresses or wanted == _fold(member.name):
            return member
    first = [m for m in members if _fold(m.name).split()[:1] == [wanted]]
    return first[0] if len(first) == 1 else None
