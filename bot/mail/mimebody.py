"""Bodies, attachments and attached messages from a message's own MIME tree.

This is our own walk, not ``MailParser``'s: that flattens every part, including
those of attached message/rfc822 messages, so an HTML-only mail with a message
attached got the *attached* message's text as its plain body; it also raises
AttributeError on some malformed multiparts.  The walk keeps attached messages
apart (they are what `bot.mail.parse.extract_forwarded` looks at) and picks text parts
as RFC 8621 4.1.4 does: every inline text/plain part, but one branch of a
multipart/alternative.  An unreadable part is skipped and recorded as a defect.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator
from email import policy
from email.message import Message

from bot.mail.charsets import decode_bytes
from bot.mail.headers import bytes_to_text, decode_words, single_line
from bot.mail.quoting import html_to_text

__all__ = ["MimeBody", "collect_body", "html_text"]

# Parts walked per message: a bound on the work pathological input can cause.
_MAX_PARTS = 5000


# Where a part sits below its nearest multipart/alternative: (id of that
# multipart, index of the branch), or None outside any alternative.
_Branch = tuple[int, int] | None


def _walk_own(msg: Message) -> Iterator[tuple[Message, _Branch]]:
    """Parts of the message's own MIME tree as (part, alternative branch).

    Does not descend into message/* parts: those are other messages.  Iterative,
    so deep nesting cannot blow the stack, and capped at `_MAX_PARTS`.
    """
    stack: list[tuple[Message, _Branch]] = [(msg, None)]
    seen = 0
    while stack and seen < _MAX_PARTS:
        part, branch = stack.pop()
        seen += 1
        yield part, branch
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            children = part.get_payload()
            if not isinstance(children, list):
                continue
            is_alternative = part.get_content_subtype() == "alternative"
            parts = [child for child in children if isinstance(child, Message)]
            for index in range(len(parts) - 1, -1, -1):
                stack.append((parts[index], (id(part), index) if is_alternative else branch))


def _disposition(part: Message) -> str:
    """The part's Content-Disposition type, lower-cased ("" when absent)."""
    return (part.get_content_disposition() or "").lower()


def _filename(part: Message) -> str:
    """The part's file name (Content-Disposition, then Content-Type name), decoded."""
    name = part.get_filename() or part.get_param("name") or ""
    if isinstance(name, tuple):  # RFC 2231 value the stdlib could not collapse
        name = str(name[2] or "")
    return single_line(decode_words(bytes_to_text(str(name))))


def _payload_bytes(part: Message) -> bytes:
    """The part's body with its transfer encoding undone (raw bytes)."""
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    return b""


def _part_text(part: Message) -> str:
    """The part's body as text: charset-decoded, LF line ends, no NULs."""
    text = decode_bytes(_payload_bytes(part), part.get_content_charset())
    # NUL cannot be stored in PostgreSQL text columns and is never meaningful here.
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _message_bytes(part: Message) -> bytes | None:
    """The bytes of the message inside a message/rfc822 part, or None."""
    payload = part.get_payload()
    if isinstance(payload, list):
        if not payload or not isinstance(payload[0], Message):
            return None
        data = payload[0].as_bytes(policy=policy.compat32)
    elif isinstance(payload, str):
        data = _payload_bytes(part)
    else:
        return None
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64" and isinstance(payload, list):
        # Not allowed for message/rfc822 but sent anyway: the parser read the
        # base64 text as a message; undo that.
        with contextlib.suppress(binascii.Error, ValueError):
            data = base64.b64decode(data)
    data = data.lstrip(b"\r\n")
    return data or None


class MimeBody:
    """What the walk over a message's own MIME tree found."""

    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html: str | None = None
        self.is_dsn = False
        self.attached: list[bytes] = []
        self.attachments: list[tuple[str, str, int]] = []
        self.defects: list[str] = []


def collect_body(msg: Message) -> MimeBody:
    """Bodies, attachments, attached messages, DSN flag and defects of `msg`."""
    body = MimeBody()
    alternatives_used: dict[int, int] = {}
    walked = 0
    for part, branch in _walk_own(msg):
        walked += 1
        if walked == _MAX_PARTS:
            body.defects.append("TooManyParts")
        for defect in part.defects:
            name = type(defect).__name__
            if name not in body.defects:
                body.defects.append(name)
        ctype = part.get_content_type()
        if ctype == "multipart/report":
            report_type = str(part.get_param("report-type") or "").lower()
            if report_type == "delivery-status":
                body.is_dsn = True
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            body.is_dsn = True
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            continue
        try:
            _collect_part(part, ctype, branch, alternatives_used, body, is_root=part is msg)
        except Exception as exc:  # one bad part must not lose the rest
            name = f"PartError:{type(exc).__name__}"
            if name not in body.defects:
                body.defects.append(name)
    return body


def _collect_part(
    part: Message,
    ctype: str,
    branch: _Branch,
    alternatives_used: dict[int, int],
    body: MimeBody,
    *,
    is_root: bool,
) -> None:
    """File one leaf part of the MIME tree under body text, HTML or attachments."""
    disposition = _disposition(part)
    filename = _filename(part)
    if ctype in ("message/rfc822", "message/global"):
        data = _message_bytes(part)
        if data is not None:
            body.attached.append(data)
        body.attachments.append((filename, ctype, len(data or b"")))
        return
    # A single-part message is its own body whatever its disposition says.
    inline = is_root or (disposition != "attachment" and (not filename or disposition == "inline"))
    # All inline plain parts are text, as a mail client shows them (and as RFC 8621
    # 4.1.4 picks them), except that of a multipart/alternative only the first
    # branch with plain text counts.
    if (
        inline
        and ctype == "text/plain"
        and (branch is None or alternatives_used.setdefault(branch[0], branch[1]) == branch[1])
    ):
        body.plain.append(_part_text(part))
        return
    if inline and ctype == "text/html" and body.html is None:
        body.html = _part_text(part)
        return
    if part.get_content_maintype() == "multipart":
        # A multipart without a usable boundary: its text is all there is.
        if not body.plain and not part.is_multipart():
            body.plain.append(_part_text(part))
        return
    if inline and ctype in ("text/plain", "text/html"):
        return  # an alternative rendering we did not pick; not an attachment
    body.attachments.append((filename, ctype, len(_payload_bytes(part))))


def html_text(html: str) -> str:
    """Text from HTML, as the quote stripper reads it (`bot.mail.quoting.html_to_text`)."""
    return html_to_text(html)
