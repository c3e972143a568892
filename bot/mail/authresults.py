"""Read Authentication-Results headers the bot may trust, and judge a domain by them.

Three shapes reach the bot:

* RFC 8601 headers with an authserv-id (``mx.example.org; dkim=pass ...``), read
  strictly with authres (a header our MX writes in a shape authres cannot read
  strictly is not trusted);
* Microsoft 365 / Exchange Online headers, which carry no authserv-id and add
  ``action=`` / ``reason=`` words and a ``compauth`` result::

      spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=contoso.com; dkim=pass
      (signature was verified) header.d=contoso.com;dmarc=pass action=none
      header.from=contoso.com;compauth=pass reason=100

  An RFC 8601 parser refuses them, so they are read by a small tolerant reader
  here, and trusted only when ``[auth] microsoft_receiving_host`` is set and the
  Received field just below the header was written ``by`` that host (or a host
  below it), which is where Exchange Online puts its own header;
* ARC-Authentication-Results (``i=1; mx.google.com; ...``), read as the first
  kind after their instance tag (see `bot.mail.arc`).

Only the *topmost* Authentication-Results field is ever trusted: the receiving
server prepends its own, so anything below it may have been written by the
sender.  The functions are pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import authres
import authres.core

Fields = Sequence[tuple[str, str]]
Status = Literal["pass", "fail", "none"]

_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MS_TOKEN_RE = re.compile(r"([A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)?)=(\S*)")
_RECEIVED_BY_RE = re.compile(r"\bby\s+([A-Za-z0-9.-]+)", re.IGNORECASE)
# Methods Exchange Online writes; a header naming none of them is not one of its own.
_MS_METHODS = frozenset({"spf", "dkim", "dmarc", "compauth", "arc", "bimi"})


@dataclass(frozen=True)
class Result:
    """One ``method=result`` with its properties (``header.from`` -> values)."""

    method: str
    result: str
    props: dict[str, list[str]] = field(default_factory=dict)

    def values(self, name: str) -> list[str]:
        """The values of property `name` (e.g. ``header.d``), lower-cased."""
        return [v.lower() for v in self.props.get(name, [])]


@dataclass(frozen=True)
class AuthResults:
    """The results of one header; `authserv_id` is "" for Microsoft's form."""

    authserv_id: str
    results: tuple[Result, ...]

    def of(self, method: str) -> list[Result]:
        """The results of one method."""
        return [r for r in self.results if r.method == method]


@dataclass(frozen=True)
class DomainVerdict:
    """What trusted results say about one author domain, with a reason for people."""

    status: Status
    reason: str


class _StrictHeader(authres.core.AuthenticationResultsHeader):  # type: ignore[misc]
    """authres with malformed result properties raising instead of being skipped."""

    def __init__(self, feature_context: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["strict"] = True
        super().__init__(feature_context, *args, **kwargs)


def normalise_domain(domain: str) -> str | None:
    """Lower-case an ASCII host name of two or more labels, or None."""
    name = domain.strip().lower().removesuffix(".")
    if not name.isascii() or len(name) > 253:
        return None
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        return None
    return name


def aligned(d: str, author: str) -> bool:
    """True when `d` is `author` or a parent of it (whole labels; no bare TLD)."""
    signer, domain = normalise_domain(d), normalise_domain(author)
    if signer is None or domain is None:
        return False
    return domain == signer or domain.endswith("." + signer)


def related(a: str, b: str) -> bool:
    """True when one domain is the other or a parent of it."""
    return aligned(a, b) or aligned(b, a)


def _domain_of(value: str) -> str:
    """The domain of ``user@domain`` or ``@domain``; the value itself otherwise."""
    return value.rpartition("@")[2] if "@" in value else value


def parse_standard(value: str) -> AuthResults | None:
    """An RFC 8601 header value, read strictly; None when it does not parse."""
    if re.search("[\ud800-\udfff]", value):
        return None
    try:
        header = _StrictHeader.parse_value(authres.all_features(), value)
    except Exception:
        # authres raises its own errors and, on odd input, whatever its regex
        # juggling trips over; all of them mean "cannot trust this".
        return None
    results = []
    for res in header.results:
        props: dict[str, list[str]] = {}
        for prop in res.properties:
            if prop.value is not None:
                props.setdefault(f"{prop.type}.{prop.name}", []).append(str(prop.value))
        results.append(Result(str(res.method).lower(), str(res.result).lower(), props))
    return AuthResults(str(header.authserv_id or "").lower(), tuple(results))


def _strip_comments(value: str) -> str | None:
    """`value` without (nested) comments; None when parentheses do not balance."""
    out: list[str] = []
    depth = 0
    in_quotes = False
    for char in value:
        if in_quotes:
            if depth == 0:
                out.append(char)
            if char == '"':
                in_quotes = False
            continue
        if char == "(":
            depth += 1
            continue
        if char == ")":
            depth -= 1
            if depth < 0:
                return None
            out.append(" ")
            continue
        if depth == 0:
            if char == '"':
                in_quotes = True
            out.append(char)
    return "".join(out) if depth == 0 and not in_quotes else None


def parse_microsoft(value: str) -> AuthResults | None:
    """Exchange Online's id-less header value; None when it is not of that shape.

    A value whose first element is a bare word (an authserv-id) is an RFC 8601
    header, not Microsoft's.  Elements that are not ``method=result`` (Microsoft
    sometimes repeats a bare domain between semicolons) are skipped.
    """
    text = _strip_comments(value)
    if text is None:
        return None
    results: list[Result] = []
    for index, segment in enumerate(text.split(";")):
        tokens = segment.split()
        if not tokens:
            continue
        head = _MS_TOKEN_RE.fullmatch(tokens[0])
        if head is None or "." in head.group(1):
            if index == 0:
                return None  # an authserv-id (or junk) first: not Microsoft's form
            continue
        method, result = head.group(1).lower(), head.group(2).lower()
        props: dict[str, list[str]] = {}
        for token in tokens[1:]:
            match = _MS_TOKEN_RE.fullmatch(token)
            if match is None:
                return None
            props.setdefault(match.group(1).lower(), []).append(match.group(2))
        results.append(Result(method, result, props))
    if not results or not any(r.method in _MS_METHODS for r in results):
        return None
    return AuthResults("", tuple(results))


def _received_by(fields: Fields, after: int) -> str | None:
    """The ``by`` host of the first Received field below position `after`."""
    for name, value in fields[after + 1:]:
        if name.lower() == "received":
            match = _RECEIVED_BY_RE.search(value)
            return normalise_domain(match.group(1)) if match else None
    return None


def trusted_results(fields: Fields, authserv_id: str,
                    microsoft_host: str = "") -> tuple[AuthResults | None, str]:
    """The topmost Authentication-Results, if the configuration trusts it.

    Returns (results, reason): results is None when nothing can be trusted, and
    the reason then says why in words fit for a log line or the chair.
    """
    index = next((i for i, (name, _) in enumerate(fields)
                  if name.lower() == "authentication-results"), None)
    if index is None:
        return None, "no Authentication-Results"
    value = fields[index][1]
    wanted = authserv_id.strip().lower()
    standard = parse_standard(value)
    if standard is not None and wanted and standard.authserv_id == wanted:
        return standard, "trusted"
    if microsoft_host:
        ms = parse_microsoft(value)
        if ms is not None:
            host = _received_by(fields, index)
            if host is not None and aligned(microsoft_host, host):
                return ms, "trusted"
            return None, ("topmost Authentication-Results has no authserv-id and was "
                          "not written by the configured receiving host")
    if not wanted and not microsoft_host:
        return None, "no authserv-id configured"
    if standard is None:
        return None, "topmost Authentication-Results does not parse"
    return None, "topmost Authentication-Results is from another authserv-id"


def dkim_aligned_pass(results: AuthResults, domain: str) -> bool:
    """A dkim=pass whose signing domain (header.d, else header.i) aligns with `domain`."""
    for res in results.of("dkim"):
        if res.result != "pass":
            continue
        signers = res.values("header.d") or [_domain_of(v) for v in res.values("header.i")]
        if len(signers) == 1 and aligned(signers[0], domain):
            return True
    return False


def domain_verdict(results: AuthResults, domain: str) -> DomainVerdict:
    """Whether `results` say mail from `domain` passed, failed or said nothing.

    fail: dmarc=fail for the domain; compauth=fail (Microsoft's verdict that the
    From is spoofed); or spf=fail for an envelope domain related to it with no
    aligned dkim=pass, or dmarc results only about another From domain (the
    writer judged a different From than the one we read).  pass: dmarc=pass for
    the domain, or an aligned dkim=pass.
    """
    author = normalise_domain(domain)
    if author is None:
        return DomainVerdict("none", "the From domain is not a plain host name")
    dmarc = results.of("dmarc")
    ours = [r for r in dmarc if author in {normalise_domain(v) for v in
                                          r.values("header.from")}]
    others = [r for r in dmarc if r not in ours]
    if others and not ours:
        # The writer read another From than we did (or the one we would answer is
        # not the one it checked): the address in hand is not authenticated.
        return DomainVerdict("fail", "dmarc was evaluated for another From domain")
    if any(r.result == "fail" for r in ours):
        return DomainVerdict("fail", "dmarc=fail")
    if any(r.result == "fail" for r in results.of("compauth")):
        return DomainVerdict("fail", "compauth=fail")
    dkim_ok = dkim_aligned_pass(results, author)
    for res in results.of("spf"):
        if res.result != "fail" or dkim_ok:
            continue
        envelope = [_domain_of(v) for v in res.values("smtp.mailfrom")]
        if any(related(e, author) for e in envelope):
            return DomainVerdict("fail", "spf=fail and no aligned dkim=pass")
    if any(r.result == "pass" for r in ours):
        return DomainVerdict("pass", "dmarc=pass")
    if dkim_ok:
        return DomainVerdict("pass", "aligned dkim=pass")
    return DomainVerdict("none", "no dmarc or aligned dkim result")
