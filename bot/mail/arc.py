"""What a trusted ARC sealer saw at the first hop (RFC 8617, ARC set i=1).

A Google Group re-sends every message, and its changes (a footer, a subject
tag, a rewritten From) can break the author's own DKIM signature.  Before it
does, the group's receiving server records what it saw in an ARC set: i=1's
ARC-Authentication-Results says whether the author's mail passed DMARC when it
arrived.  The bot's own receiving server verifies the whole ARC chain and says
``arc=pass`` in its topmost Authentication-Results.

The first hop counts only when all of this holds, else there is no first-hop
verdict at all:

* the trusted topmost Authentication-Results has exactly one ``arc`` result, and
  it is ``pass`` (the chain's seals verify and nothing broke it);
* there is exactly one ARC-Seal and exactly one ARC-Authentication-Results with
  ``i=1`` (duplicates are what a forger would add, and verifiers disagree on
  which one they read), and the seal says ``cv=none``;
* that ARC-Authentication-Results carries an authserv-id listed in
  ``[auth] trusted_arc_sealers`` and reads strictly;
* the i=1 ARC-Seal is signed (``d=``) by that sealer's domain or a parent of it
  (mx.google.com seals as google.com).  ``arc=pass`` only says the seals are
  valid, not whose they are: anyone can seal a chain with their own key and
  claim any authserv-id in it, which the signing domain gives away.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.mail.authresults import AuthResults, Fields, aligned, parse_standard

_INSTANCE_RE = re.compile(r"^\s*i\s*=\s*(\d+)\s*;", re.ASCII)
_TAG_RE = re.compile(r"\s*([a-z]+)\s*=\s*([^;]*)", re.ASCII)


def instance(value: str) -> int | None:
    """The ``i=`` instance an ARC header value starts with, or None."""
    match = _INSTANCE_RE.match(value)
    return int(match.group(1)) if match else None


def _tags(value: str) -> dict[str, str]:
    """The tag=value list of an ARC-Seal (whitespace removed from values)."""
    tags: dict[str, str] = {}
    for part in value.split(";"):
        match = _TAG_RE.fullmatch(part)
        if match:
            tags[match.group(1)] = "".join(match.group(2).split())
    return tags


def _values(fields: Fields, name: str) -> list[str]:
    return [value for key, value in fields if key.lower() == name]


def first_hop(fields: Fields, trusted: AuthResults,
              sealers: Sequence[str]) -> tuple[AuthResults | None, str]:
    """The i=1 results of a trusted sealer, or (None, why not)."""
    if not sealers:
        return None, "no trusted ARC sealers configured"
    arc = trusted.of("arc")
    if len(arc) != 1 or arc[0].result != "pass":
        return None, "the receiving server did not report arc=pass"
    aars = [v for v in _values(fields, "arc-authentication-results") if instance(v) == 1]
    seals = [v for v in _values(fields, "arc-seal") if instance(v) == 1]
    if len(aars) != 1 or len(seals) != 1:
        return None, "not exactly one ARC set with i=1"
    body = _INSTANCE_RE.sub("", aars[0], count=1)
    results = parse_standard(body)
    if results is None:
        return None, "the first-hop ARC-Authentication-Results does not parse"
    if results.authserv_id not in {s.lower() for s in sealers}:
        return None, "the first ARC sealer is not a trusted sealer"
    tags = _tags(seals[0])
    if tags.get("cv", "").lower() != "none":
        return None, "the first ARC-Seal is malformed"
    if not aligned(tags.get("d", ""), results.authserv_id):
        return None, "the first ARC-Seal is not signed by the trusted sealer's domain"
    return results, "trusted"
