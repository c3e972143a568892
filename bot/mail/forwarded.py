"""Read a forwarded message out of the text of a forward (inline forward blocks).

Gmail, Apple Mail, Outlook and Thunderbird each print the forwarded message's
header lines below a separator of their own; the block is found, unquoted and
turned into a `ParsedMessage` carrying only what the client printed.  Attached
message/rfc822 forwards are handled by `bot.mail.parse.extract_forwarded`.
"""

from __future__ import annotations

import re

from bot.mail.addresses import EMAILISH_RE, split_addresses
from bot.mail.dates import parse_loose_date
from bot.mail.headers import decode_words, single_line
from bot.mail.idheaders import normalise_msgid
from bot.mail.message import Address, ParsedMessage

__all__ = ["inline_forward"]


# How many forward separators to try, and how many header lines a forward block
# may have: bounds on the work hostile text can cause.
_MAX_FORWARD_MARKERS = 20
_MAX_FORWARD_HEADER_LINES = 200

# Forward separators.  The optional ">" prefix matters: HTML-to-text renders
# Gmail's forward container as a quote, so the whole block arrives quoted.
_FORWARD_MARKER_RE = re.compile(
    r"^(?P<quote>(?:[ \t]*>)*)[ \t]*(?:"
    r"-{2,}[ \t]*(?:Forwarded message|Original Message)[ \t]*-{2,}"
    r"|Begin forwarded message:"
    r"|_{10,}"
    r")[ \t]*$",
    re.I | re.M,
)
_FWD_HEADER_RE = re.compile(
    r"^\**[ \t]*(From|Sent|Date|Subject|To|Cc|Message-ID|Reply-To)[ \t]*\**[ \t]*:[ \t]*\**(.*)$",
    re.I,
)
_MAILTO_RE = re.compile(r"(?:<mailto:[^<>]*>|\[mailto:[^\[\]]*\])", re.I)


def _strip_levels(line: str, depth: int) -> tuple[str, int]:
    """`line` with up to `depth` levels of ">" quoting removed, and how many went."""
    for level in range(depth):
        stripped = line.lstrip(" \t")
        if not stripped.startswith(">"):
            return line, level
        line = stripped[2:] if stripped.startswith("> ") else stripped[1:]
    return line, depth


def _quote_depth(lines: list[str], depth: int) -> int:
    """The quoting depth of a forward block below a marker quoted `depth` deep.

    One more than `depth` when the block is quoted once more than its marker:
    Apple Mail quotes the forwarded block in its plain-text part.
    """
    for line in lines:
        text, levels = _strip_levels(line, depth)
        if text.strip():
            return depth + 1 if levels == depth and text.lstrip().startswith(">") else depth
    return depth


def _forward_address(value: str) -> tuple[list[Address], bool]:
    """Mailboxes from a forwarded block's From/To line, tolerating client mangling."""
    shown = _MAILTO_RE.sub("", value).replace("*", "")
    addresses, suspicious = split_addresses(shown)
    if not addresses:
        # Outlook prints 'Maya Chen [mailto:maya@example.org]' or a bare name.
        # Only when the line names exactly one address: with two, which one is
        # the sender is a guess an attacker could steer.
        found = EMAILISH_RE.findall(value)
        if len({addr.lower() for addr in found}) == 1:
            name = single_line(shown.replace(found[0], "").strip(" <>\"'"))
            addresses = [Address(name=name, addr=found[0])]
            suspicious = False
    return addresses, suspicious


def inline_forward(text: str) -> ParsedMessage | None:
    """The first forward block in `text` as a ParsedMessage, or None."""
    lines = text.split("\n")
    tried = 0
    for start, line in enumerate(lines):
        marker = _FORWARD_MARKER_RE.match(line)
        if marker is None:
            continue
        tried += 1
        if tried > _MAX_FORWARD_MARKERS:
            break
        # Only a window is looked at for the header block, so that many separator
        # lines cannot make this quadratic.  Mailers re-wrap quoted lines without
        # the ">", so lines are unquoted one by one and an unquoted one is kept.
        window = lines[start + 1 : start + 1 + _MAX_FORWARD_HEADER_LINES]
        depth = _quote_depth(window, marker.group("quote").count(">"))
        fields, used = _forward_fields([_strip_levels(raw, depth)[0] for raw in window])
        if not any(name == "from" for name, _ in fields):
            continue  # a separator line, or a reply quote without a header block
        # Unquoted leniently too: a re-wrapped line must not cut the body short.
        body = [_strip_levels(raw, depth)[0] for raw in lines[start + 1 + used :]]
        return _forward_message(fields, "\n".join(body).strip("\n"))
    return None


def _field_follows(lines: list[str], index: int) -> bool:
    """True when `lines[index]` is still inside the header block.

    That is when a field line comes after it before any blank line, or it is the
    last line before the blank line that every client puts after the block.
    """
    following = lines[index + 1 :]
    if not following or not following[0].strip():
        return True
    for line in following:
        if not line.strip():
            return False
        if _FWD_HEADER_RE.match(line.strip()):
            return True
    return False


def _forward_fields(lines: list[str]) -> tuple[list[tuple[str, str]], int]:
    """The header lines at the top of a forward block and how many lines they use.

    A line that is no field continues the field above (a long Cc list or Subject
    re-wrapped by a mailer) when it is indented or still inside the block, see
    `_field_follows`.
    """
    fields: list[tuple[str, str]] = []
    index = 0
    # Thunderbird and Apple Mail leave a blank line after the marker.
    while index < len(lines) and not lines[index].strip():
        index += 1
    while index < len(lines):
        line = lines[index]
        match = _FWD_HEADER_RE.match(line.strip())
        if match:
            fields.append((match.group(1).lower(), match.group(2).strip()))
        elif fields and line.strip() and (line[:1] in (" ", "\t") or _field_follows(lines, index)):
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
        else:
            break
        index += 1
    return fields, index


def _forward_message(fields: list[tuple[str, str]], body: str) -> ParsedMessage:
    """Build a ParsedMessage from a forward block's header lines and body text."""

    def first(*names: str) -> str | None:
        for key, value in fields:
            if key in names:
                return value
        return None

    from_: list[Address] = []
    from_defects = False
    from_count = 0
    for key, value in fields:
        if key == "from":
            from_count += 1
            found, suspicious = _forward_address(value)
            from_.extend(found)
            from_defects = from_defects or suspicious or not found

    def addresses(name: str) -> list[Address]:
        out: list[Address] = []
        for key, value in fields:
            if key == name:
                out.extend(_forward_address(value)[0])
        return out

    canonical = {"sent": "Date", "message-id": "Message-ID", "reply-to": "Reply-To", "cc": "Cc"}
    headers = [(canonical.get(key, key.capitalize()), single_line(value)) for key, value in fields]
    msgid = first("message-id")
    return ParsedMessage(
        message_id=normalise_msgid(msgid) if msgid else None,
        in_reply_to=[],
        references=[],
        subject=single_line(decode_words(first("subject") or "")),
        from_=from_,
        from_header_count=from_count,
        to=addresses("to"),
        cc=addresses("cc"),
        reply_to=addresses("reply-to"),
        date=parse_loose_date(first("date", "sent")),
        headers=headers,
        text_body=body,
        html_body=None,
        content_type="text/plain",
        from_defects=from_defects,
    )
