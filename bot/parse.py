"""Turn raw mail bytes into a `ParsedMessage`, tolerating what real mail looks like.

Who parses what:

* The stdlib `email` package (``BytesParser`` with ``policy.compat32``) builds the
  MIME tree once.  compat32 never interprets header values while parsing, so odd
  headers (``To: unlisted-recipients:;``, 8-bit bytes, duplicates) cannot break it,
  and ``raw_items()`` keeps every header field in order, including a second From.
  Two header-block faults that would make it drop all later headers are repaired
  first (blanks before a colon, one junk line between fields).
* mail-parser's structural address scanner (`mailparser.utils.get_addresses`)
  splits address headers.  It refuses to promote ambiguous text such as
  ``<a@attacker.example>maya@example.org`` to a mailbox and reports why, which
  (with display names that carry another address) decides `from_defects`.  Its
  strict RFC 5322 date reader is the first try for dates in forwarded blocks.
* Bodies and attachments come from our own walk over the message's own MIME tree,
  not from ``MailParser``: that flattens every part, including those of attached
  message/rfc822 messages, so an HTML-only mail with a message attached got the
  *attached* message's text as its plain body; it also raises AttributeError on
  some malformed multiparts.  The walk keeps attached messages apart (they are
  what `extract_forwarded` looks at) and picks text parts as RFC 8621 4.1.4 does:
  every inline text/plain part, but one branch of a multipart/alternative.

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

import base64
import binascii
import codecs
import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from mailparser.dates import parse_mail_date
from mailparser.utils import get_addresses

from bot.message import Address, ParsedMessage

__all__ = [
    "ParseError",
    "decode_words",
    "extract_forwarded",
    "header_text",
    "normalise_msgid",
    "parse_date",
    "parse_loose_date",
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


# --------------------------------------------------------------------------
# Small text helpers
# --------------------------------------------------------------------------

# Everything str.splitlines() would split on, other C0/C1 controls and DEL: none of
# them may survive in a header value, where a line break would let a value
# masquerade as another header when it is written back out or shown.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x80-\x9f\u2028\u2029]")
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
_SPACES_RE = re.compile(r"[ \t]{2,}")

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

# Limits against pathological input: parts walked per message and length of a
# Message-ID (RFC 5322 caps a line at 998 octets).
_MAX_PARTS = 5000
_DECODE_CHUNK = 4096
_MAX_MSGID = 998


def _bytes_to_text(value: str) -> str:
    """Turn a compat32 header value (8-bit bytes as surrogates) into real text.

    RFC 6532 allows raw UTF-8 in headers; older mail has raw Latin-1/cp1252.
    """
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that never were bytes
        return value.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _has_bad_bytes(value: str) -> bool:
    """True when a compat32 header value carries bytes that are not UTF-8."""
    try:
        value.encode("utf-8")
        return False
    except UnicodeEncodeError:
        pass
    try:
        value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return True
    return False


def _clean(value: str) -> str:
    """A single-line, control-free, trimmed version of `value`."""
    value = _CONTROL_RE.sub(" ", value.replace("\t", " "))
    return _SPACES_RE.sub(" ", value).strip()


def _unfold(value: str) -> str:
    """Undo RFC 5322 folding; stray CR/LF left over are dealt with by `_clean`."""
    return _FOLD_RE.sub("", value)


# Labels that mail clients use for what is really a superset encoding (the same
# mapping browsers apply): decoding with the superset loses nothing.
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-cn": "gb18030",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "iso-8859-9": "cp1254", "ks_c_5601-1987": "cp949", "euc-kr": "cp949",
    "shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "big5": "big5hkscs",
    "tis-620": "cp874", "iso-8859-11": "cp874",
}  # fmt: skip


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode `data` as `charset` says, falling back to UTF-8; never fails.

    Order: the declared charset's superset, the declared charset, UTF-8 (often
    sent under a wrong label), then the declared charset with replacement
    characters (cp1252 when none usable was declared).
    """
    declared = (charset or "").strip().strip('"').lower()
    names: list[str] = []
    for candidate in (_SUPERSETS.get(declared), declared, "utf-8"):
        name = _codec_name(candidate) if candidate else None
        if name is not None and name not in names:
            names.append(name)
    for name in names:
        try:
            text = data.decode(name)
            # Some codecs (utf-16 on odd input) yield lone surrogates, which are not
            # text and break every UTF-8 sink downstream.
            text.encode("utf-8")
            return text
        except (UnicodeError, LookupError):
            continue
    fallback = names[0] if names[0] not in ("ascii", "utf-8") else "cp1252"
    try:
        text = data.decode(fallback, "replace")
        text.encode("utf-8")
        return text
    except (UnicodeError, LookupError):
        return data.decode("cp1252", "replace")


def _codec_name(charset: str) -> str | None:
    """The Python codec for a MIME charset name, or None when it is unknown/not text."""
    name = charset.strip().strip('"').lower()
    if name in ("", "unknown-8bit", "x-unknown", "unknown", "default", "8bit", "binary"):
        return None
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words in `value`; leave the text alone if that fails."""
    if "=?" not in value:
        return value
    if len(value) > _DECODE_CHUNK:
        # The stdlib decoder is quadratic in the number of words; decode a huge
        # value in pieces cut at a blank or after "?=", never inside an encoded word.
        pieces: list[str] = []
        start = 0
        while start < len(value):
            cuts = [value.find(" ", start + _DECODE_CHUNK), value.find("?=", start + _DECODE_CHUNK)]
            cuts = [cut + (2 if value.startswith("?=", cut) else 0) for cut in cuts if cut >= 0]
            end = min(cuts, default=len(value))
            pieces.append(_decode_words(value[start:end]))
            start = end
        return "".join(pieces)
    return _decode_words(value)


def _decode_words(value: str) -> str:
    """`decode_words` for one piece of bounded length."""
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError, binascii.Error, LookupError, UnicodeError):
        return value
    out: list[str] = []
    for data, charset in chunks:
        if isinstance(data, str):
            out.append(data)
        elif charset is None:
            # decode_header hands back the unencoded stretches this way.
            out.append(data.decode("raw-unicode-escape", "replace"))
        else:
            out.append(_decode_bytes(data, charset.split("*", 1)[0]))
    return "".join(out)


def header_text(raw: str) -> str:
    """The display form of a raw header value: unfolded, decoded, single line."""
    return _clean(decode_words(_unfold(_bytes_to_text(raw))))


# --------------------------------------------------------------------------
# Message-IDs
# --------------------------------------------------------------------------

_BRACKETED_RE = re.compile(r"<([^<>]*)>")
_COMMENT_RE = re.compile(r"\([^()]*\)")
_BARE_ID_RE = re.compile(r"[A-Za-z0-9!#$%&*+/=?^_`{|}~.\-]+@[A-Za-z0-9!#$%&*+/=?^_`{|}~.\-\[\]:]+")
_WS_RE = re.compile(r"\s+")


def _valid_id(candidate: str) -> str | None:
    """`candidate` without whitespace/brackets when it is a usable id, else None."""
    candidate = _WS_RE.sub("", candidate).strip("<>")
    if not candidate or len(candidate) > _MAX_MSGID:
        return None
    local, at, domain = candidate.rpartition("@")
    if not at or not local or not domain:
        return None
    if any(ch in candidate for ch in '<>"()') or _CONTROL_RE.search(candidate):
        return None
    return candidate


def normalise_msgid(value: str) -> str | None:
    """The Message-ID in `value` without angle brackets and whitespace, or None.

    Only ids containing ``@`` count: ``<yes>`` and other placeholders link nothing.
    When `value` has a bracketed id the first one wins; otherwise the whole value
    (less comments) is taken as a bare id.
    """
    if not value:
        return None
    value = _unfold(_bytes_to_text(value))
    match = _BRACKETED_RE.search(value)
    if match:
        return _valid_id(match.group(1))
    return _valid_id(_COMMENT_RE.sub(" ", value))


def parse_msgid_list(value: str) -> list[str]:
    """The ids in an In-Reply-To/References value, in order, without duplicates.

    Bracketed ids win: when there are any, text between them (commas, comments,
    "Your message of ...") is ignored, because that text often holds email
    addresses that must not be taken for ids.  Without any brackets the value is
    split on whitespace/commas and every token shaped like ``local@domain`` counts.
    """
    if not value:
        return []
    value = _unfold(_bytes_to_text(value))
    found: dict[str, None] = {}  # ordered set: a References list can be long
    bracketed = _BRACKETED_RE.findall(value)
    candidates = bracketed or _BARE_ID_RE.findall(_COMMENT_RE.sub(" ", value))
    for candidate in candidates:
        mid = _valid_id(candidate.rstrip(".,;:") if not bracketed else candidate)
        if mid is not None:
            found.setdefault(mid)
    return list(found)


# --------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date as tz-aware UTC, or None when it cannot be read.

    ``-0000`` (and zone-less dates) are taken as UTC: there is nothing better.
    """
    if not value:
        return None
    try:
        when = parsedate_to_datetime(_clean(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


_ZONE_OFFSETS = {
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 60, "IST": 60, "WEST": 60,
    "CET": 60, "CEST": 120, "MET": 60, "MEST": 120, "EET": 120, "EEST": 180,
    "MSK": 180, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420,
    "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480,
    "HST": -600, "AEST": 600, "AEDT": 660, "JST": 540, "KST": 540, "NZST": 720,
    "NZDT": 780,
}  # fmt: skip
_WEEKDAY_RE = re.compile(
    r"\b(?:mon|tue|wed|thu|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\b\.?,?", re.I
)
_OFFSET_RE = re.compile(r"(?:\b(?:GMT|UTC)\s*)?([+-])(\d{1,2}):?(\d{2})?\s*$", re.I)
_ZONE_RE = re.compile(r"\s([A-Za-z]{1,5})\s*$")
_AT_RE = re.compile(r"\s(?:at|um|à|a las|alle|om)\s", re.I)
_LOOSE_FORMATS = (
    "%b %d %Y %I:%M %p",
    "%b %d %Y %I:%M:%S %p",
    "%B %d %Y %I:%M %p",
    "%B %d %Y %I:%M:%S %p",
    "%d %B %Y %H:%M:%S",
    "%d %B %Y %H:%M",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y %H:%M",
    "%B %d %Y %H:%M:%S",
    "%B %d %Y %H:%M",
    "%b %d %Y %H:%M",
    "%d %B %Y %I:%M %p",
    "%d %b %Y %I:%M %p",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%y %H:%M",
)


def parse_loose_date(value: str | None) -> datetime | None:
    """Best-effort date from a forwarded-message header block, as tz-aware UTC.

    Mail clients print dates for people ("Mon, Nov 2, 2026 at 10:15 AM",
    "2 November 2026 at 10:15:00 CET"); RFC 5322 dates are tried first.  A date
    without any zone is taken as UTC.  None when no known shape matches.
    """
    if not value:
        return None
    # Gmail puts U+202F before "AM"; every Unicode space is a plain space here.
    text = " ".join(value.split())
    # A strict RFC 5322 reading first: the stdlib's lenient one would ignore "PM"
    # or "GMT+01:00" and be wrong by hours.
    strict = parse_mail_date(text).value
    if isinstance(strict, datetime):
        return strict.astimezone(UTC)
    text = _AT_RE.sub(" ", f" {text} ")
    text = _WEEKDAY_RE.sub(" ", text)
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"\b([AP])\.?M\.?\b", lambda m: m.group(1).upper() + "M", text, flags=re.I)
    text = " ".join(text.replace(",", " ").split())
    offset: int | None = None
    match = _OFFSET_RE.search(text)
    if match and ":" in text[: match.start()]:
        minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
        offset = minutes if match.group(1) == "+" else -minutes
        text = text[: match.start()].strip()
    else:
        zone = _ZONE_RE.search(text)
        if zone and zone.group(1).upper() in _ZONE_OFFSETS:
            offset = _ZONE_OFFSETS[zone.group(1).upper()]
            text = text[: zone.start()].strip()
    for fmt in _LOOSE_FORMATS:
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        tz = timezone(timedelta(minutes=offset)) if offset is not None else UTC
        return naive.replace(tzinfo=tz).astimezone(UTC)
    return None


# --------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------

_EMAILISH_RE = re.compile(r"[^\s@<>()\"',;:\[\]]+@[^\s@<>()\"',;:\[\]]+\.[^\s@<>()\"',;:\[\]]+")


# mail-parser diagnostics that say nothing about who sent the message: an encoded
# word longer than RFC 2047's 75 characters is everyday mail.
_BENIGN_ADDRESS_REASONS = frozenset({"", "overlong-encoded-word"})


def _stdlib_addresses(value: str, diagnostics: list[dict[str, object]]) -> list[tuple[str, str]]:
    """Fallback splitter (stdlib) used when mail-parser's is missing or fails."""
    pairs = getaddresses([value])
    out: list[tuple[str, str]] = []
    for name, addr in pairs:
        if not addr:
            continue
        if "@" not in addr:
            diagnostics.append({"reason": "missing-at", "raw": addr})
            continue
        out.append((decode_words(name), addr))
    return out


def _mailparser_addresses(
    value: str, diagnostics: list[dict[str, object]]
) -> list[tuple[str, str]]:
    """mail-parser's structural splitter, which reports ambiguous items."""
    pairs = get_addresses(value, defects=diagnostics, decode_names=True)
    return [(name, addr) for name, addr in pairs if addr]


def _split_addresses(value: str) -> tuple[list[Address], bool]:
    """Mailboxes in one raw address header value and whether it looked tampered with.

    "Tampered" means the splitter had to guess or drop text, a mailbox has no
    ``@``, or a display name (possibly decoded from an encoded word) carries an
    address other than the mailbox's own, as in ``"boss@example.org" <x@evil>``.
    """
    text = _unfold(_bytes_to_text(value))
    diagnostics: list[dict[str, object]] = []
    try:
        pairs = _mailparser_addresses(text, diagnostics)
    except Exception:  # any failure there means: use the stdlib
        diagnostics = [{"reason": "mail-parser-failed"}]
        try:
            pairs = _stdlib_addresses(text, diagnostics)
        except Exception:
            pairs = []
    suspicious = any(
        set(str(item.get("reason", "")).split(",")) - _BENIGN_ADDRESS_REASONS
        for item in diagnostics
    )
    addresses: list[Address] = []
    for name, addr in pairs:
        clean_name = _clean(name)
        clean_addr = _clean(addr)
        if "@" not in clean_addr:
            suspicious = True
            continue
        others = [m for m in _EMAILISH_RE.findall(clean_name) if m.lower() != clean_addr.lower()]
        if others:
            suspicious = True
        addresses.append(Address(name=clean_name, addr=clean_addr))
    return addresses, suspicious


def _address_list(values: list[str]) -> list[Address]:
    """All mailboxes in several values of one address header."""
    out: list[Address] = []
    for value in values:
        out.extend(_split_addresses(value)[0])
    return out


# --------------------------------------------------------------------------
# MIME tree
# --------------------------------------------------------------------------


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
    return _clean(decode_words(_bytes_to_text(str(name))))


def _payload_bytes(part: Message) -> bytes:
    """The part's body with its transfer encoding undone (raw bytes)."""
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    return b""


def _part_text(part: Message) -> str:
    """The part's body as text: charset-decoded, LF line ends, no NULs."""
    text = _decode_bytes(_payload_bytes(part), part.get_content_charset())
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


class _Body:
    """What the walk over a message's own MIME tree found."""

    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html: str | None = None
        self.is_dsn = False
        self.attached: list[bytes] = []
        self.attachments: list[tuple[str, str, int]] = []
        self.defects: list[str] = []


def _collect_body(msg: Message) -> _Body:
    """Bodies, attachments, attached messages, DSN flag and defects of `msg`."""
    body = _Body()
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
    body: _Body,
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


class _TextOnly(HTMLParser):
    """Minimal HTML-to-text used only when `bot.quoting` is unavailable."""

    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note skipped elements and line breaks."""
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        """Leave skipped elements and end blocks with a line break."""
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        """Keep visible text."""
        if not self._skip:
            self.out.append(data)


def _html_to_text(html: str) -> str:
    """Text from HTML: `bot.quoting.html_to_text`, or a minimal stdlib fallback."""
    try:
        from bot.quoting import html_to_text
    except ImportError:
        pass
    else:
        return html_to_text(html)
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------
# parse_message
# --------------------------------------------------------------------------


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
    headers = [(_clean(name), header_text(value)) for name, value in raw_headers]

    def raw_all(name: str) -> list[str]:
        return [value for key, value in raw_headers if key.lower() == name]

    from_values = raw_all("from")
    from_: list[Address] = []
    from_defects = False
    for value in from_values:
        found, suspicious = _split_addresses(value)
        from_.extend(found)
        from_defects = from_defects or suspicious or not found or _has_bad_bytes(value)

    message_ids = raw_all("message-id")
    dates = raw_all("date")
    subjects = [value for key, value in headers if key.lower() == "subject"]

    defects: list[str] = []
    if headers_only:
        body = _Body()
        body.defects.append("BodyNotParsed:TooDeeplyNested")
    else:
        try:
            body = _collect_body(msg)
        except Exception as exc:  # headers are still worth having
            body = _Body()
            body.defects.append(f"BodyError:{type(exc).__name__}")
    defects.extend(body.defects)

    text_body = "\n".join(body.plain)
    if not body.plain and body.html is not None:
        try:
            text_body = _html_to_text(body.html)
        except Exception as exc:
            defects.append(f"HtmlToTextError:{type(exc).__name__}")

    return ParsedMessage(
        message_id=normalise_msgid(message_ids[0]) if message_ids else None,
        in_reply_to=parse_msgid_list(" ".join(raw_all("in-reply-to"))),
        references=parse_msgid_list(" ".join(raw_all("references"))),
        subject=subjects[0] if subjects else "",
        from_=from_,
        from_header_count=len(from_values),
        to=_address_list(raw_all("to")),
        cc=_address_list(raw_all("cc")),
        reply_to=_address_list(raw_all("reply-to")),
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


# --------------------------------------------------------------------------
# Forwarded messages
# --------------------------------------------------------------------------

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
    addresses, suspicious = _split_addresses(shown)
    if not addresses:
        # Outlook prints 'Maya Chen [mailto:maya@example.org]' or a bare name.
        # Only when the line names exactly one address: with two, which one is
        # the sender is a guess an attacker could steer.
        found = _EMAILISH_RE.findall(value)
        if len({addr.lower() for addr in found}) == 1:
            name = _clean(shown.replace(found[0], "").strip(" <>\"'"))
            addresses = [Address(name=name, addr=found[0])]
            suspicious = False
    return addresses, suspicious


def _inline_forward(text: str) -> ParsedMessage | None:
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
    headers = [(canonical.get(key, key.capitalize()), _clean(value)) for key, value in fields]
    msgid = first("message-id")
    return ParsedMessage(
        message_id=normalise_msgid(msgid) if msgid else None,
        in_reply_to=[],
        references=[],
        subject=_clean(decode_words(first("subject") or "")),
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
        return _inline_forward(pm.text_body or "")
    except Exception:  # a forward we cannot read is no forward
        return None
