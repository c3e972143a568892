"""Decide whether a message may carry working-group commands.

Members steer cases with ``#tags`` in subjects, so a forged command could close
or reassign a case.  Everything here fails closed: any doubt about who sent a
message means "not authenticated", and the caller treats its tags as plain text.

A command counts only when:

* the header block is well formed, with exactly one From and no field that RFC 5322
  allows once (Message-ID, In-Reply-To, References, Date, From, Sender, To, Cc,
  Subject, Reply-To, Bcc) repeated: a prepended copy above a signed mail keeps
  ``dkim=pass``, because verifiers sign the bottom-most instance;
* From holds exactly one mailbox, parsed without defects, with no comments, group
  syntax, address-like display name or encoded-word hiding an ``@``;
* that mailbox is a member address or alias (case-insensitive);
* the *topmost* Authentication-Results header carries our authserv-id and reports
  ``dmarc=pass`` for the From domain, or ``dkim=pass`` with a ``header.d`` equal
  to the From domain or a parent of it.

Only the topmost Authentication-Results header is trusted because our MX
prepends its own; anything below it may have been written by the sender.  The
functions are pure: no database, no network, and no other message parser.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header
from typing import TYPE_CHECKING, Any

import authres

if TYPE_CHECKING:
    from bot.core.config import Config
import authres.core

__all__ = ["AuthVerdict", "authenticate", "from_domain_aligned"]


@dataclass(frozen=True)
class AuthVerdict:
    """Outcome of `authenticate`.

    `reason` is a short phrase for operators and the chair; it never contains the
    sender's address.  `address` is the lower-cased From address whenever From
    parsed to one clean mailbox (even if the verdict is negative), else None.
    """

    ok: bool
    reason: str
    address: str | None


class _Reject(Exception):
    """Internal short-cut carrying the reason a message is not authenticated."""

    def __init__(self, reason: str, address: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.address = address


# RFC 5322 ftext.  Deliberately no whitespace before the colon: the obsolete
# "From :" form is read differently by different parsers (stdlib skips it as a
# misplaced mbox line), and a disagreement about which From counts is exactly
# what a forger needs.
_FIELD_NAME_RE = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_LINE_BREAK_RE = re.compile(r"(\r\n|\n|\r)")
# Same shape as the stdlib's lenient encoded-word pattern, so anything some
# reader might decode gets looked at.
_ENCODED_WORD_RE = re.compile(r"=\?[^?]*\?[bBqQ]\?.*?\?=")
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PRINTABLE_ID_RE = re.compile(r"[a-z0-9._-]{1,64}")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


class _StrictAuthResHeader(authres.core.AuthenticationResultsHeader):  # type: ignore[misc]
    """authres header class that raises on malformed result properties.

    By default authres swallows errors inside a result's property list and
    skips ahead, so ``dkim=fail header.d=x dmarc=pass`` (missing ``;``) parses
    as one dkim result and trailing junk is ignored.  The constructor's
    ``strict`` flag turns that off, but the parse entry points never pass it,
    hence this subclass.  A header our MX writes in a shape authres cannot read
    strictly is then "not authenticated", which is the safe side.
    """

    def __init__(self, feature_context: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["strict"] = True
        super().__init__(feature_context, *args, **kwargs)


def from_domain_aligned(d: str, from_domain: str) -> bool:
    """True when DKIM signing domain `d` equals `from_domain` or is a parent of it.

    Both must be plain ASCII host names with at least two labels, so a bare
    top-level domain (``org``) never aligns, and matching is by whole labels
    (``ample.org`` does not cover ``example.org``).  A trailing root dot and
    letter case are ignored.
    """
    signer = _normalise_domain(d)
    author = _normalise_domain(from_domain)
    if signer is None or author is None:
        return False
    return author == signer or author.endswith("." + signer)


def authenticate(
    raw_headers: bytes | str,
    members: Mapping[str, str] | Collection[str],
    authserv_id: str,
) -> AuthVerdict:
    """Decide whether the message's sender is an authenticated member.

    `raw_headers` is the raw header block or the whole raw message; parsing
    stops at the first empty line.  `members` maps lower-cased addresses
    (aliases included) to member ids, or is a collection of such addresses.
    `authserv_id` is the id our MX writes into Authentication-Results.
    """
    address: str | None = None
    try:
        fields = _header_fields(_to_text(raw_headers))
        _check_singletons(fields)
        from_value = _single_from(fields)
        address, domain = _parse_from(from_value)
        member_keys = {key.strip().lower() for key in members}
        if address not in member_keys:
            raise _Reject("not a member")
        method = _check_authentication_results(fields, authserv_id, domain)
    except _Reject as rejection:
        return AuthVerdict(ok=False, reason=rejection.reason, address=address)
    return AuthVerdict(ok=True, reason=method, address=address)


def _to_text(raw: bytes | str) -> str:
    """Turn the input into text without losing track of undecodable bytes."""
    if isinstance(raw, bytes):
        # surrogateescape keeps 8-bit junk in unrelated headers from failing
        # the whole message; From is checked for leftover surrogates later.
        return raw.decode("utf-8", errors="surrogateescape")
    return raw


def _iter_lines(text: str) -> Iterator[tuple[str, str]]:
    """Yield (line, line ending) pairs; the final line may have an empty ending."""
    parts = _LINE_BREAK_RE.split(text)
    for index in range(0, len(parts), 2):
        ending = parts[index + 1] if index + 1 < len(parts) else ""
        yield parts[index], ending


def _header_fields(text: str) -> list[tuple[str, str]]:
    """Split the header block into (name, unfolded value) pairs, strictly.

    Any line we cannot read unambiguously rejects the whole message rather
    than being skipped, because skipping is where parsers start to disagree.
    """
    fields: list[tuple[str, list[str]]] = []
    for line, ending in _iter_lines(text):
        if line == "":
            break
        if ending == "\r":
            # Bare CR is a line break to some parsers and header text to others.
            raise _Reject("bare CR in header block")
        if line[0] in " \t":
            if not fields:
                raise _Reject("header block starts with a continuation line")
            fields[-1][1].append(line)
            continue
        name, colon, value = line.partition(":")
        if not colon or not _FIELD_NAME_RE.fullmatch(name):
            raise _Reject("malformed header line")
        fields.append((name, [value]))
    # Unfolding is just dropping the line breaks; continuation lines keep their
    # leading whitespace.
    return [(name, "".join(pieces).strip(" \t")) for name, pieces in fields]


def _count(fields: list[tuple[str, str]], name: str) -> int:
    """How many header fields are called `name` (lower-case)."""
    return sum(1 for field_name, _ in fields if field_name.lower() == name)


# RFC 5322 section 3.6: fields that may occur at most once.  DKIM verifiers sign
# the bottom-most instance, so a copy prepended above a genuinely signed mail
# keeps dkim=pass while readers (and we) see the forged one: never trust such mail.
SINGLETON_FIELDS = ("message-id", "in-reply-to", "references", "date", "from", "sender",
                    "to", "cc", "subject", "reply-to", "bcc")


def _check_singletons(fields: list[tuple[str, str]]) -> None:
    """Reject a header block that repeats any field RFC 5322 allows once."""
    for name in SINGLETON_FIELDS:
        if _count(fields, name) > 1:
            raise _Reject(f"more than one {_DISPLAY_NAMES.get(name, name.title())} header")


_DISPLAY_NAMES = {"message-id": "Message-ID", "in-reply-to": "In-Reply-To",
                  "reply-to": "Reply-To", "cc": "Cc", "bcc": "Bcc", "to": "To"}


def _single_from(fields: list[tuple[str, str]]) -> str:
    """The value of the one From header, or a rejection."""
    values = [value for name, value in fields if name.lower() == "from"]
    if not values:
        raise _Reject("no From header")
    if len(values) > 1:
        raise _Reject("more than one From header")
    return values[0]


def _parse_from(value: str) -> tuple[str, str]:
    """Return (lower-cased address, lower-cased domain) of a strictly clean From."""
    if _SURROGATE_RE.search(value):
        raise _Reject("From is not valid UTF-8")
    _check_encoded_words(value)

    try:
        header: Any = policy.default.header_factory("From", value)
    except (ValueError, TypeError, IndexError, HeaderParseError) as exc:
        # e.g. an encoded-word decoding to CR/LF inside a display name.
        raise _Reject("From has parse defects") from exc
    if header.defects:
        raise _Reject("From has parse defects")
    groups = header.groups
    if any(group.display_name is not None for group in groups):
        raise _Reject("From uses group syntax")
    addresses = [addr for group in groups for addr in group.addresses]
    if len(addresses) != 1:
        raise _Reject("From does not hold exactly one mailbox")
    # The stdlib drops comments and tolerates a stray trailing comma without
    # reporting a defect, so look at the raw text too.
    _check_lexical_shape(value)

    mailbox = addresses[0]
    if not mailbox.domain:
        raise _Reject("From address has no domain")
    if "@" in mailbox.username:
        raise _Reject("From local part contains '@'")
    domain = _normalise_domain(mailbox.domain)
    if domain is None or domain != mailbox.domain.lower():
        # Domain literals, non-ASCII and trailing-dot domains cannot be matched
        # against DKIM/DMARC results reliably.
        raise _Reject("From domain is not a plain host name")
    address = str(mailbox.addr_spec).lower()

    display = unicodedata.normalize("NFKC", mailbox.display_name or "")
    # NFKC folds look-alikes such as FULLWIDTH COMMERCIAL AT into "@".  A
    # display name that merely repeats the real address is harmless (some
    # clients write it that way); anything else with an "@" is spoofing.
    if "@" in display and display.strip().lower() != address:
        raise _Reject("From display name contains an address")
    return address, domain


def _check_encoded_words(value: str) -> None:
    """Reject From values whose encoded-words hide an address or do not decode."""
    for word in _ENCODED_WORD_RE.findall(value):
        try:
            decoded = "".join(
                chunk.decode(charset or "ascii") if isinstance(chunk, bytes) else chunk
                for chunk, charset in decode_header(word)
            )
        except (HeaderParseError, LookupError, ValueError) as exc:
            raise _Reject("From has an undecodable encoded-word") from exc
        if "@" in unicodedata.normalize("NFKC", decoded):
            raise _Reject("From has an encoded-word containing '@'")


def _check_lexical_shape(value: str) -> None:
    """Reject comments and list punctuation outside quoted strings.

    A single mailbox never needs an unquoted ``(``, ``,``, ``;`` or ``:``;
    they mean comments, address lists, groups or source routes, each of which
    lets what a person sees differ from what we (or the MX) authenticate.
    """
    in_quotes = False
    escaped = False
    for char in value:
        if in_quotes:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_quotes = False
            continue
        if char == '"':
            in_quotes = True
        elif char == "(":
            raise _Reject("From has a comment")
        elif char == "\\":
            raise _Reject("From has parse defects")
        elif char in ",;:":
            raise _Reject("From does not hold exactly one mailbox")


def _normalise_domain(domain: str) -> str | None:
    """Lower-case an ASCII host name of two or more labels, or return None."""
    name = domain.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii() or len(name) > 253:
        return None
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        return None
    return name


def _printable_id(authserv_id: str) -> str:
    """An authserv-id safe to put in a log line, or a placeholder."""
    lowered = authserv_id.lower()
    return lowered if _PRINTABLE_ID_RE.fullmatch(lowered) else "unprintable"


def _check_authentication_results(
    fields: list[tuple[str, str]], authserv_id: str, from_domain: str
) -> str:
    """Return the passing method from the topmost Authentication-Results, or reject."""
    wanted_id = authserv_id.strip().lower()
    if not wanted_id:
        raise _Reject("no authserv-id configured")
    topmost = next(
        (value for name, value in fields if name.lower() == "authentication-results"), None
    )
    if topmost is None:
        raise _Reject("no Authentication-Results")
    if _SURROGATE_RE.search(topmost):
        raise _Reject("topmost Authentication-Results does not parse")
    try:
        header = _StrictAuthResHeader.parse_value(authres.core_features(), topmost)
    except Exception as exc:
        # authres raises its own SyntaxError, UnsupportedVersionError and, on
        # odd input, whatever its regex juggling trips over; all mean "cannot
        # trust this".  The message is not logged: it may quote the sender.
        raise _Reject("topmost Authentication-Results does not parse") from exc
    found_id = str(header.authserv_id or "")
    if found_id.lower() != wanted_id:
        raise _Reject(
            f"topmost Authentication-Results is from another authserv-id "
            f"({_printable_id(found_id)})"
        )

    results = list(header.results)
    dmarc = [result for result in results if result.method == "dmarc"]
    for result in dmarc:
        header_from = _property_values(result, "header", "from")
        if any(_normalise_domain(value) != from_domain for value in header_from):
            # The MX evaluated DMARC on a different From than we parsed: the
            # two parsers disagree about the message, so trust neither path.
            raise _Reject("dmarc header.from does not match the From domain")
        if result.result == "fail":
            # A domain owner's strict-alignment policy can fail DMARC even when
            # a parent-domain DKIM signature passes; the owner's "no" wins.
            raise _Reject("dmarc=fail")
    if (
        len(dmarc) == 1
        and dmarc[0].result == "pass"
        and len(_property_values(dmarc[0], "header", "from")) == 1
    ):
        return "dmarc=pass"

    for result in results:
        if result.method != "dkim" or result.result != "pass":
            continue
        signers = _property_values(result, "header", "d")
        if len(signers) == 1 and from_domain_aligned(signers[0], from_domain):
            return "aligned dkim=pass"
    raise _Reject("no dmarc=pass or aligned dkim=pass")


def _property_values(result: Any, ptype: str, name: str) -> list[str]:
    """All values of the `ptype`.`name` property of one authres result."""
    return [
        str(prop.value)
        for prop in result.properties
        if prop.type == ptype and prop.name == name and prop.value is not None
    ]


def verify_member(raw: bytes | str, config: Config) -> AuthVerdict:
    """`authenticate` against the configured roster and authserv-id (the one rule).

    Where the configuration allows it, a message that fails only for want of a
    trusted RFC 8601 verdict gets a second look: Microsoft 365's id-less header
    from the configured receiving host, and a member's mail relayed by the
    group, judged by what a trusted ARC sealer saw at the first hop
    (`_verify_beyond_authserv`).
    """
    verdict = authenticate(raw, config.member_address_map, config.auth.authserv_id)
    if verdict.ok or not (config.auth.microsoft_receiving_host
                          or config.auth.trusted_arc_sealers):
        return verdict
    if not verdict.reason.startswith(_SECOND_LOOK_REASONS):
        return verdict
    return _verify_beyond_authserv(raw, config, verdict)


# Reasons `authenticate` gives that are about the Authentication-Results (or, for
# the group's rewritten From, about who the sender is): only these get a second
# look.  Anything about the shape of the message stays a rejection.
_SECOND_LOOK_REASONS = (
    "not a member",
    "From display name contains an address",  # Google's rewrite of a name-less author
    "no authserv-id configured",
    "topmost Authentication-Results",
    "dmarc=fail",
    "no dmarc=pass or aligned dkim=pass",
)


def _verify_beyond_authserv(raw: bytes | str, config: Config,
                            first: AuthVerdict) -> AuthVerdict:
    """The Microsoft 365 and group (ARC first hop) paths of `verify_member`."""
    from bot.mail.arc import first_hop
    from bot.mail.authresults import domain_verdict, trusted_results
    from bot.mail.grouprelay import rewritten_from

    address: str | None = first.address
    try:
        fields = _header_fields(_to_text(raw))
        from_value = _single_from(fields)
        via_group = rewritten_from(fields, config.conduct_address)
        if via_group:
            # The group rewrote From; the member is the one X-Original-From.
            originals = [v for n, v in fields if n.lower() == "x-original-from"]
            if len(originals) != 1:
                raise _Reject("rewritten From without exactly one X-Original-From")
            address, domain = _parse_from(originals[0])
        else:
            address, domain = _parse_from(from_value)
        if address not in config.member_address_map:
            raise _Reject("not a member")
        trusted, why = trusted_results(fields, config.auth.authserv_id,
                                       config.auth.microsoft_receiving_host)
        if trusted is None:
            raise _Reject(why)
        no_hop = first.reason
        if not via_group and not trusted.authserv_id:
            # Microsoft 365's own header, written by the configured receiving host.
            direct = domain_verdict(trusted, domain)
            if direct.status == "pass":
                return AuthVerdict(ok=True, reason=f"{direct.reason} (Microsoft 365)",
                                   address=address)
            no_hop = f"{direct.reason} (Microsoft 365)"
        hop, why = first_hop(fields, trusted, config.auth.trusted_arc_sealers)
        if hop is None:
            raise _Reject(why if via_group else no_hop)
        verdict = domain_verdict(hop, domain)
        if verdict.status != "pass":
            raise _Reject(f"first hop ({hop.authserv_id}): {verdict.reason}")
    except _Reject as rejection:
        return AuthVerdict(ok=False, reason=rejection.reason, address=address)
    return AuthVerdict(ok=True, reason=f"first hop {verdict.reason} (ARC, {hop.authserv_id})",
                       address=address)
