"""Checks for rule policy fields, shared by the kinds' pydantic validators.

Each takes the field's value and returns it (cleaned where said) or raises
`ValueError`, which pydantic turns into an error naming the rule and key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TEMPLATE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")


def regex(pattern: str) -> str:
    """`pattern`, unchanged, once it is known to compile as a regular expression."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
    return pattern


def regexes(patterns: list[str]) -> list[str]:
    """`patterns`, unchanged, once each is known to compile (see `regex`)."""
    for pattern in patterns:
        regex(pattern)
    return patterns


def template_name(name: str | None) -> str | None:
    """`name` when it names a file in templates/ (no path, no suffix), or None."""
    if name is not None and not _TEMPLATE_NAME_RE.match(name):
        raise ValueError("a template name (file in templates/ without .txt.j2)")
    return name


def domains(values: Iterable[str]) -> list[str]:
    """Domain names, lower-cased and without a trailing dot."""
    out = [d.strip().lower().rstrip(".") for d in values]
    for d in out:
        if not _DOMAIN_RE.match(d) or "." not in d:
            raise ValueError(f"not a domain: {d!r}")
    return out


def addresses_or_domains(values: Iterable[str]) -> list[str]:
    """Addresses or ``@domain`` entries, lower-cased."""
    out = []
    for value in values:
        v = value.strip().lower()
        local, at, domain = v.rpartition("@")
        if not at or not domain or not _DOMAIN_RE.match(domain) or " " in v:
            raise ValueError(f"not an address or @domain: {value!r}")
        out.append(v if local else f"@{domain}")
    return out
