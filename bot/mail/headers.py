"""Header values as text: 8-bit bytes, RFC 2047 encoded words, folding, controls.

Values come from the stdlib parser with ``policy.compat32``, which never
interprets them, so raw 8-bit bytes arrive as surrogates.  These helpers turn
such a raw value into one clean line of text; the other header readers
(addresses, Message-IDs, dates) build on them.
"""

from __future__ import annotations

import binascii
import re
from email.errors import HeaderParseError
from email.header import decode_header

from bot.mail.charsets import decode_bytes

__all__ = [
    "CONTROL_RE",
    "bytes_to_text",
    "decode_words",
    "has_bad_bytes",
    "header_text",
    "single_line",
    "unfold",
]


# Everything str.splitlines() would split on, other C0/C1 controls and DEL: none of
# them may survive in a header value, where a line break would let a value
# masquerade as another header when it is written back out or shown.
CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x80-\x9f\u2028\u2029]")
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
_SPACES_RE = re.compile(r"[ \t]{2,}")

# Encoded-word decoding works on pieces of at most about this many characters.
_DECODE_CHUNK = 4096


def bytes_to_text(value: str) -> str:
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


def has_bad_bytes(value: str) -> bool:
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


def single_line(value: str) -> str:
    """A single-line, control-free, trimmed version of `value`."""
    value = CONTROL_RE.sub(" ", value.replace("\t", " "))
    return _SPACES_RE.sub(" ", value).strip()


def unfold(value: str) -> str:
    """Undo RFC 5322 folding; stray CR/LF left over are dealt with by `single_line`."""
    return _FOLD_RE.sub("", value)


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
            out.append(decode_bytes(data, charset.split("*", 1)[0]))
    return "".join(out)


def header_text(raw: str) -> str:
    """The display form of a raw header value: unfolded, decoded, single line."""
    return single_line(decode_words(unfold(bytes_to_text(raw))))
