"""Decode bytes that claim some MIME charset into text, whatever they really are.

Shared by header decoding (RFC 2047 encoded words) and MIME body parts: both carry
a declared charset that is often wrong, unknown or a narrower label for what is
really a superset encoding.
"""

from __future__ import annotations

import codecs

__all__ = ["decode_bytes"]


# Labels that mail clients use for what is really a superset encoding (the same
# mapping browsers apply): decoding with the superset loses nothing.
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-cn": "gb18030",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "iso-8859-9": "cp1254", "ks_c_5601-1987": "cp949", "euc-kr": "cp949",
    "shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "big5": "big5hkscs",
    "tis-620": "cp874", "iso-8859-11": "cp874",
}  # fmt: skip


def decode_bytes(data: bytes, charset: str | None) -> str:
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
