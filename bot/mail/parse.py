"""Turn raw mail bytes into a `ParsedMessage`, tolerating what real mail looks like.

Who parses what:

* The stdlib `email` package (``BytesParser`` with ``policy.compat32``) builds the
  MIME tree once, here.  compat32 never interprets header values while parsing, so
  odd headers (``To: unlisted-recipients:;``, 8-bit bytes, duplicates) cannot break
  it, and ``raw_items()`` keeps every header field in order, including a second
  From.  Two header-block faults that would make it drop all later headers are
  repaired first (blanks before a colon, one junk line between fields).
* Header values are read by `bot.mail.headers` (text, encoded words),
  `bot.mail.addresses` (mailboxes and `from_defects`, with mail-parser's structural
  scanner), `bot.mail.idheaders` (Message-IDs) and `bot.mail.dates` (dates).
* Bodies and attachments come from `bot.mail.mimebody`'s walk over the message's own
  MIME tree; inline forward blocks are read by `bot.mail.forwarded`.

The ParseError rule: `parse_message` raises `ParseError` only when there is no
header block to read: the input is not bytes, is empty or blank, its first line
is not a header field (binary junk, an Outlook .msg file, plain text), or none of
the fields is one that mail messages carry (From, Sender, Date, Subject,
Message-ID, To, Cc, Received, MIME-Version, ...).  Everything after the headers
degrades instead: MIME nesting too deep for the stdlib parser yields the headers
with an empty body, an unreadable part is skipped, and either is recorded in
`ParsedMessage.defects`.
"""

from __future__ import annotations

import re
from email import policy
from email.message import Message
from email.parser import BytesParser

from bot.mail.addresses import address_list, split_addresses
from bot.mail.dates import parse_date
from bot.mail.forwarded import inline_forward
from bot.mail.headers import has_bad_bytes, header_text, single_line
from bot.mail.idheaders import normalise_msgid, parse_msgid_list
from bot.mail.message import Address, ParsedMessage
from bot.mail.mimebody import MimeBody, collect_body, html_text

__all__ = [
    "ParseError",
    "extract_forwarded",
    "normalise_msgid",
    "parse_message",
    "parse_msgid_list",
]


class ParseError(Exception):
    """The bytes are not a mail message; `reason` says why (shown to operators)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


# Header fields of which every real message carries at least one; a "header
# block" with none of them is text that merely happens to start with "word:".
_MESSAGE_FIELDS = frozenset(
    {
        "from", "sender", "reply-to", "to", "cc", "bcc", "date", "subject",
        "message-id", "in-reply-to", "references", "received", "return-path",
        "mime-version", "content-type", "delivered-to", "resent-from", "resent-date",
        "resent-message-id", "x-mailer", "user-agent", "dkim-signature",
        "arc-seal", "authentication-results", "list-id",
    }
)  # fmt: skip

# A header field line (RFC 5322 4.5 obsolete syntax allows blanks before the colon,
# which the stdlib does not) and the blank line that ends the header block.
_FIELD_LINE_RE = re.compile(rb"([!-9;-~]+)[ \t]*:")
_OBS_FIELD_RE = re.compile(rb"([!-9;-~]+)[ \t]+:")
_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")


def _repair_header_block(data: bytes) -> bytes:
    """Fix two header-block faults that make the stdlib drop every later header.

    The stdlib ends the header block at the first line that is not a field, so
    ``Subject : x`` (obsolete but legal) or one junk line between fields would
    turn From, Date and Message-ID into body text.  Blanks before the colon are
    removed; a junk line followed by a field is folded into the field above it,
    which keeps its bytes.  A junk line followed by more text is left alone: that
    is a body without the blank separator line.
    """
    end_match = _HEADER_END_RE.search(data)
    end = end_match.start() if end_match else len(data)
    lines = data[:end].split(b"\n")
    changed = False
    for index, line in enumerate(lines):
        if not line or line[0] in b" \t" or _FIELD_LINE_RE.match(line) is None:
            if line and line[0] not in b" \t" and index > 0 and not line.startswith(b"From "):
                following = lines[index + 1] if index + 1 < len(lines) else b""
                if _FIELD_LINE_RE.match(following):
                    lines[index] = b" " + line
                    changed = True
            continue
        obsolete = _OBS_FIELD_RE.match(line)
        if obsolete:
            lines[index] = obsolete.group(1) + b":" + line[obsolete.end() :]
            changed = True
    if not changed:
        return data
    return b"\n".join(lines) + data[end:]


def _parse_tree(raw: bytes) -> tuple[Message, bool]:
    """The compat32 MIME tree of `raw` and whether only its headers could be read.

    ParseError when there is no header block.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise ParseError(f"input is {type(raw).__name__}, not bytes")
    data = bytes(raw)
    # Some tools prepend blank lines; the header block starts after them.
    data = data.lstrip(b"\r\n")
    if not data.strip():
        raise ParseError("empty input: no header block")
    data = _repair_header_block(data)
    headers_only = False
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(data)
    except Exception:
        # Absurd MIME nesting exhausts the stdlib parser's recursion; the header
        # block alone still parses, and headers are what filing needs.
        headers_only = True
        try:
            msg = BytesParser(policy=policy.compat32).parsebytes(data, headersonly=True)
        except Exception as exc:
            raise ParseError(f"mail parser failed: {type(exc).__name__}: {exc}") from exc
    names = [name.lower() for name in msg]
    if not names:
        raise ParseError(f"no header block: first line is not a header field: {data[:32]!r}")
    if not _MESSAGE_FIELDS.intersection(names):
        shown = ", ".join(sorted(set(names))[:5])
        raise ParseError(f"no message header fields (From, Date, Subject, ...); found: {shown}")
    return msg, headers_only


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse raw RFC 5322 bytes into a ParsedMessage.

    Raises ParseError (and nothing else) when there is no header block at all;
    see the module docstring for the rule.  Everything else degrades.
    """
    try:
        return _parse_message(raw)
    except ParseError:
        raise
    except RecursionError as exc:
        raise ParseError("message nested too deeply to parse (RecursionError)") from exc
    except Exception as exc:  # the contract: only ParseError escapes
        raise ParseError(f"cannot parse: {type(exc).__name__}: {exc}") from exc


def _parse_message(raw: bytes) -> ParsedMessage:
    """`parse_message` without the exception wrapper."""
    msg, headers_only = _parse_tree(raw)
    raw_headers: list[tuple[str, str]] = [(name, str(value)) for name, value in msg.raw_items()]
    headers = [(single_line(name), header_text(value)) for name, value in raw_headers]

    def raw_all(name: str) -> list[str]:
        return [value for key, value in raw_headers if key.lower() == name]

    from_values = raw_all("from")
    from_: list[Address] = []
    from_defects = False
    for value in from_values:
        found, suspicious = split_addresses(value)
        from_.extend(found)
        from_defects = from_defects or suspicious or not found or has_bad_bytes(value)

    message_ids = raw_all("message-id")
    dates = raw_all("date")
    subjects = [value for key, value in headers if key.lower() == "subject"]

    defects: list[str] = []
    if headers_only:
        body = MimeBody()
        body.defects.append("BodyNotParsed:TooDeeplyNested")
    else:
        try:
            body = collect_body(msg)
        except Exception as exc:  # headers are still worth having
            body = MimeBody()
            body.defects.append(f"BodyError:{type(exc).__name__}")
    defects.extend(body.defects)

    text_body = "\n".join(body.plain)
    if not body.plain and body.html is not None:
        try:
            text_body = html_text(body.html)
        except Exception as exc:
            defects.append(f"HtmlToTextError:{type(exc).__name__}")

    return ParsedMessage(
        message_id=normalise_msgid(message_ids[0]) if message_ids else None,
        in_reply_to=parse_msgid_list(" ".join(raw_all("in-reply-to"))),
        references=parse_msgid_list(" ".join(raw_all("references"))),
        subject=subjects[0] if subjects else "",
        from_=from_,
        from_header_count=len(from_values),
        to=address_list(raw_all("to")),
        cc=address_list(raw_all("cc")),
        reply_to=address_list(raw_all("reply-to")),
        date=parse_date(dates[0]) if dates else None,
        headers=headers,
        text_body=text_body,
        html_body=body.html,
        content_type=msg.get_content_type(),
        is_dsn=body.is_dsn,
        attached_messages=body.attached,
        attachments=body.attachments,
        defects=defects,
        from_defects=from_defects,
    )


def extract_forwarded(pm: ParsedMessage) -> ParsedMessage | None:
    """The message forwarded inside `pm`, or None when there is none.

    An attached message/rfc822 wins (parsed with `parse_message`); otherwise the
    first inline forward block in the text body (Gmail, Apple Mail, Outlook,
    Thunderbird styles) whose header lines include From.  Inline forwards carry
    only what the client printed: no ids unless shown, a best-effort date.
    Callers deciding about bounces should check `pm.is_dsn` first: a DSN's
    returned message is attached the same way.
    """
    for data in pm.attached_messages:
        try:
            return parse_message(data)
        except ParseError:
            continue
    try:
        return inline_forward(pm.text_body or "")
    except Exception:  # a forward we cannot read is no forward
        return None
