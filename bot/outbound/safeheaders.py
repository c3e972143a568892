"""Header fields the bot writes, built so that no text from a mail becomes header syntax.

Why this exists: assigning a string to ``EmailMessage["Subject"]`` makes the email
package *parse* it (decoding any RFC 2047 encoded-words it finds) and fold it again
on output.  A subject whose encoded-word decodes to another encoded-word carrying
CR/LF was therefore cleaned once and decoded a second time, and unpatched Pythons
(CPython CVE-2024-6923) wrote the CR/LF out as a real header line.

So every value here goes through three steps, and the email package never sees
text it could decode:

1. `plain_text`: decode encoded-words again and again until nothing changes (to a
   fixed point, bounded), turning every control, format and line-separator
   character into a space after each round;
2. encode it ourselves (`encode_unstructured`, `encode_mailbox`): plain printable
   ASCII is folded at spaces, anything else becomes base64 UTF-8 encoded-words;
3. hand the finished, folded text to the message as a `PreparedHeader`, which the
   email package copies verbatim (a header object with a ``name`` and ``fold`` is
   never re-parsed, on every Python since 3.3).

`check_header_block` re-parses the rendered bytes and refuses anything but the
intended header set; `bot.outbound.outbox` quarantines the row when it fails.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "HeaderCheckError",
    "PreparedHeader",
    "check_header_block",
    "encode_mailbox",
    "encode_unstructured",
    "plain_text",
    "safe_msgid",
]

MAX_ROUNDS = 10
LINE_LIMIT = 76
# Lenient on purpose: whatever some reader might decode is decoded here first.
_EW_RE = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?([^?]*)\?=")
_EW_GAP_RE = re.compile(r"(=\?[^?\s]*\?[bBqQ]\?[^?]*\?=)\s+(?==\?[^?\s]*\?[bBqQ]\?[^?]*\?=)")
_SPACE_RE = re.compile(r"\s+")
_ATEXT_PHRASE_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ .-]*$")
# A Message-ID the bot repeats: dot-atom-ish left and right, no encoded-word, bounded.
_MSGID_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=^_`{|}~.-]{1,200}@[A-Za-z0-9.\-\[\]:_]{1,200}$")
_ADDR_RE = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class HeaderCheckError(ValueError):
    """A rendered message's header block is not exactly the one intended."""


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, payload = match.group(1), match.group(2).lower(), match.group(3)
    charset = charset.split("*", 1)[0] or "utf-8"  # RFC 2231 language suffix
    try:
        if encoding == "b":
            data = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)
        else:
            data = quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"),
                                       header=True)
    except (binascii.Error, ValueError):
        return " "
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _controls_to_space(text: str) -> str:
    out = []
    for ch in text:
        if ch in "\r\n\t" or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            out.append(" ")
        else:
            out.append(ch)
    return _SPACE_RE.sub(" ", "".join(out))


def plain_text(value: object, *, limit: int = 500) -> str:
    """`value` decoded to a fixed point and stripped of every control character.

    Encoded-words are decoded repeatedly (at most `MAX_ROUNDS` times) until the
    text stops changing; after the last round any encoded-word still left is
    defused (``=?`` becomes ``= ?``) so that no later reader can decode it.
    """
    text = _controls_to_space(str(value or ""))
    for _ in range(MAX_ROUNDS):
        joined = _EW_GAP_RE.sub(r"\1", text)
        decoded = _controls_to_space(_EW_RE.sub(_decode_word, joined))
        if decoded == text:
            break
        text = decoded
    text = text.replace("=?", "= ?")
    return text.strip()[:limit].rstrip()


def hides_controls(value: object) -> bool:
    """True when `value`, decoded to a fixed point, carries a line break or control.

    Such text was built to look like header syntax somewhere; callers that only
    want a plain name (a greeting) do without it.
    """
    text = str(value or "")
    for _ in range(MAX_ROUNDS):
        if any(ch in "\r\n" or unicodedata.category(ch) in ("Cc", "Zl", "Zp")
               for ch in text.replace("\t", " ")):
            return True
        decoded = _EW_RE.sub(_decode_word, _EW_GAP_RE.sub(r"\1", text))
        if decoded == text:
            return False
        text = decoded
    return True


def _chunks(text: str, room: int) -> Iterable[str]:
    """Pieces of `text` whose base64 UTF-8 encoded-word fits in `room` characters."""
    piece = ""
    for ch in text:
        candidate = piece + ch
        if len(base64.b64encode(candidate.encode("utf-8"))) > room and piece:
            yield piece
            piece = ch
        else:
            piece = candidate
    if piece:
        yield piece


def _encoded_words(text: str) -> list[str]:
    room = LINE_LIMIT - len("=?utf-8?b??=") - 1
    return [f"=?utf-8?b?{base64.b64encode(p.encode('utf-8')).decode('ascii')}?="
            for p in _chunks(text, room)]


def _fold_words(words: Sequence[str], first_room: int) -> str:
    """Join `words` with spaces, breaking lines (CRLF SP) before `LINE_LIMIT`."""
    lines: list[str] = []
    line = ""
    room = first_room
    for word in words:
        if line and len(line) + 1 + len(word) > room:
            lines.append(line)
            line, room = word, LINE_LIMIT - 1
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n ".join(lines)


def _needs_encoding(text: str) -> bool:
    return (not text.isascii() or "=?" in text or "?=" in text
            or any(len(w) > LINE_LIMIT - 20 for w in text.split(" "))
            or any(not ch.isprintable() for ch in text))


def encode_unstructured(name: str, value: object, *, limit: int = 500) -> str:
    """The folded, ASCII-only value of unstructured header `name` (e.g. Subject)."""
    text = plain_text(value, limit=limit)
    first_room = LINE_LIMIT - len(name) - 2
    if not _needs_encoding(text):
        return _fold_words(text.split(" "), first_room) if text else ""
    return _fold_words(_encoded_words(text), first_room)


def usable_address(address: str | None) -> bool:
    """A plain addr-spec we may write: no display name, no encoded-word look-alike."""
    return (bool(address) and _ADDR_RE.match(address or "") is not None
            and "=?" not in (address or "") and len(address or "") <= 254)


def encode_mailbox(name: str, display_name: object, address: str) -> str:
    """``Display Name <address>`` with the display name quoted or encoded by us."""
    if not usable_address(address):
        raise HeaderCheckError(f"{name}: not a usable address")
    display = plain_text(display_name, limit=100)
    if not display:
        return address
    if _ATEXT_PHRASE_RE.match(display) and not _needs_encoding(display):
        phrase = display if re.fullmatch(r"[A-Za-z0-9 ]+", display) else \
            '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words = [*phrase.split(" "), f"<{address}>"]
    else:
        words = [*_encoded_words(display), f"<{address}>"]
    return _fold_words(words, LINE_LIMIT - len(name) - 2)


def encode_addresses(name: str, addresses: Sequence[str]) -> str:
    """A comma-separated address list of plain, validated addresses."""
    for addr in addresses:
        if not usable_address(addr):
            raise HeaderCheckError(f"{name}: not a usable address")
    words = [f"{a}," for a in addresses[:-1]] + list(addresses[-1:])
    return _fold_words(words, LINE_LIMIT - len(name) - 2)


def safe_msgid(value: str | None) -> bool:
    """True when `value` (without brackets) may be repeated in an id header."""
    return bool(value) and _MSGID_RE.match(value or "") is not None and "=?" not in (value or "")


def encode_msgids(name: str, ids: Sequence[str]) -> str:
    """``<id> <id> ...`` of ids that passed `safe_msgid`."""
    for mid in ids:
        if not safe_msgid(mid):
            raise HeaderCheckError(f"{name}: not a usable message id")
    return _fold_words([f"<{m}>" for m in ids], LINE_LIMIT - len(name) - 2)


class PreparedHeader(str):
    """A header value we encoded and folded ourselves; the email package copies it."""

    name: str
    folded: str

    def __new__(cls, name: str, folded: str) -> PreparedHeader:
        """`folded` is ASCII, lines joined by CRLF SP; anything else is refused."""
        if not folded.isascii() or re.search(r"\r(?!\n )|(?<!\r)\n|\n(?! )", folded) or \
                any(ord(c) < 32 and c not in "\r\n" for c in folded) or "\x7f" in folded:
            raise HeaderCheckError(f"{name}: value is not a clean folded header")
        self = super().__new__(cls, folded.replace("\r\n ", " "))
        self.name = name
        self.folded = folded
        return self

    def fold(self, *, policy: Any) -> str:
        """The header line(s) as the generator writes them."""
        return f"{self.name}: {self.folded}".replace("\r\n", policy.linesep) + policy.linesep


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """The (name, unfolded value) pairs of `raw`'s header block, read strictly."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError as exc:
        raise HeaderCheckError("header block is not ASCII") from exc
    fields: list[tuple[str, list[str]]] = []
    for line in text.split("\r\n"):
        if "\r" in line or "\n" in line:
            raise HeaderCheckError("bare CR or LF in the header block")
        if line[:1] in (" ", "\t"):
            if not fields:
                raise HeaderCheckError("header block starts with a continuation")
            fields[-1][1].append(line)
            continue
        name, colon, value = line.partition(":")
        if not colon or not re.fullmatch(r"[\x21-\x39\x3b-\x7e]+", name):
            raise HeaderCheckError("malformed header line")
        fields.append((name, [value]))
    return [(n, "".join(v).strip()) for n, v in fields]


def check_header_block(raw: bytes, intended: Sequence[str]) -> None:
    """Refuse `raw` unless its header names are exactly `intended` (each once) plus
    the MIME headers the email package adds, and no value decodes to a line break."""
    fields = header_fields(raw)
    names = [n.lower() for n, _ in fields]
    mime = {"mime-version", "content-type", "content-transfer-encoding"}
    wanted = [n.lower() for n in intended]
    extra = [n for n in names if n not in wanted and n not in mime]
    if extra:
        raise HeaderCheckError("unexpected header field in the rendered mail")
    if sorted(n for n in names if n not in mime) != sorted(n for n in wanted if n not in mime):
        raise HeaderCheckError("the rendered mail lacks or repeats a header field")
    if len(names) != len(set(names)):
        raise HeaderCheckError("a header field appears more than once")
    for _name, value in fields:
        decoded = _EW_RE.sub(_decode_word, _EW_GAP_RE.sub(r"\1", value))
        if any(ch in decoded for ch in "\r\n\x00") or _EW_RE.search(decoded):
            raise HeaderCheckError("a header value decodes to header syntax")
