"""Mail relayed by the Google Group that is the conduct address.

When the conduct address is a Google Group and the bot reads a mailbox that is
a member of it, every message arrives relayed: the group adds ``List-Id:
<conduct.djangoproject.com>``, ``Precedence: list``, ``Mailing-list``,
``X-Original-Sender`` and its own DKIM signature and envelope sender
(``conduct+bnc...@djangoproject.com``).  For an author whose domain publishes
DMARC p=reject or p=quarantine it also rewrites From::

    From: 'Sam Strict' via Conduct <conduct@djangoproject.com>
    Reply-To: Sam Strict <sam@strict.example.com>
    X-Original-From: Sam Strict <sam@strict.example.com>

Here the bot decides, from headers alone (pure functions):

* `is_conduct_list`: the message claims to come through *our* group (exactly one
  List-Id, equal to ``intake.conduct_list_id``).  That only turns off the
  "list mail" reasons not to acknowledge; it proves nothing;
* `relay_proven`: the trusted receiving server saw the group's own signature or
  envelope (an aligned dkim=pass, dmarc=pass or spf=pass for the conduct
  address's domain) on a message claiming our List-Id;
* `recovered_author`: for a rewritten From on a proven relay, the real author
  from X-Original-From (exactly one, one clean mailbox), else from Reply-To.
  Anything less (a stranger writing the rewritten form themselves, two
  X-Original-From fields, an address list) recovers nobody;
* `author_verdict`: whether the author's domain failed authentication, judged
  by what the trusted ARC sealer saw at the first hop when there is such a
  verdict, never by the relay's own changes (see `bot.mail.arc`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import TYPE_CHECKING

from bot.mail.addresses import split_addresses
from bot.mail.arc import first_hop
from bot.mail.authresults import (
    AuthResults,
    DomainVerdict,
    Fields,
    dkim_aligned_pass,
    domain_verdict,
    normalise_domain,
    trusted_results,
)
from bot.mail.headers import has_bad_bytes, unfold
from bot.mail.message import Address

if TYPE_CHECKING:
    from bot.core.config import Config

__all__ = [
    "author_verdict",
    "header_fields",
    "is_conduct_list",
    "recovered_author",
    "relay_proven",
    "rewritten_from",
]

_LIST_ID_RE = re.compile(r"<([^<>\s]+)>\s*$")
# Google writes the author's name in single quotes: "'Sam Strict' via Conduct".
_VIA_RE = re.compile(r"\svia\s+\S", re.IGNORECASE)
_QUOTED_VIA_RE = re.compile(r'"\'([^"\\<>]*)\' via [^"\\<>@]+"\s*<([^<>\s"]+)>',
                            re.IGNORECASE)


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """Every header field of `raw` in order, unfolded but not decoded (lenient)."""
    try:
        msg = BytesHeaderParser(policy=policy.compat32).parsebytes(raw.lstrip(b"\r\n"))
    except Exception:
        return []
    return [(name, unfold(str(value)).strip()) for name, value in msg.raw_items()]


def _values(fields: Fields, name: str) -> list[str]:
    return [value for key, value in fields if key.lower() == name]


def is_conduct_list(fields: Fields, list_id: str) -> bool:
    """True when the one List-Id of the message is the configured group's."""
    if not list_id:
        return False
    values = _values(fields, "list-id")
    if len(values) != 1:
        return False
    match = _LIST_ID_RE.search(values[0])
    return match is not None and match.group(1).strip().lower() == list_id.lower()


def _one_mailbox(value: str) -> Address | None:
    """The single clean mailbox of a header value, or None."""
    if has_bad_bytes(value):
        return None
    found, suspicious = split_addresses(value)
    if suspicious or len(found) != 1 or "@" not in found[0].addr:
        return None
    return found[0]


def rewritten_from(fields: Fields, conduct_address: str) -> bool:
    """True when From is the group's rewritten form: "'Name' via Group <conduct@...>".

    For an author without a display name Google writes the address itself into
    the quoted name ("'sam@strict.example.com' via Conduct"), which the address
    parser rightly calls suspicious; that one shape is read here directly.
    """
    values = _values(fields, "from")
    if len(values) != 1:
        return False
    mailbox = _one_mailbox(values[0])
    if mailbox is not None:
        return (mailbox.key == conduct_address.lower()
                and _VIA_RE.search(mailbox.name) is not None)
    match = _QUOTED_VIA_RE.fullmatch(values[0].strip())
    return match is not None and match.group(2).lower() == conduct_address.lower()


def relay_proven(fields: Fields, trusted: AuthResults, config: Config) -> bool:
    """The message claims our List-Id and the trusted server saw the group send it."""
    if not is_conduct_list(fields, config.intake.conduct_list_id):
        return False
    domain = config.conduct_address.rpartition("@")[2]
    if dkim_aligned_pass(trusted, domain):
        return True
    if domain_verdict(trusted, domain).status == "pass":
        return True
    for res in trusted.of("spf"):
        mailfrom = [v.rpartition("@")[2] for v in res.values("smtp.mailfrom")]
        if res.result == "pass" and mailfrom and all(
                normalise_domain(m) == domain for m in mailfrom):
            return True
    return False


def _trusted(fields: Fields, config: Config) -> tuple[AuthResults | None, str]:
    auth = config.auth
    return trusted_results(fields, auth.authserv_id, auth.microsoft_receiving_host)


def recovered_author(fields: Fields, config: Config) -> Address | None:
    """The real author of a message the group relayed with a rewritten From, or None."""
    if not config.intake.conduct_list_id:
        return None
    if not rewritten_from(fields, config.conduct_address):
        return None
    trusted, _why = _trusted(fields, config)
    if trusted is None or not relay_proven(fields, trusted, config):
        return None
    originals = _values(fields, "x-original-from")
    if len(originals) > 1:
        return None
    if originals:
        candidate = _one_mailbox(originals[0])
    else:
        reply_to = _values(fields, "reply-to")
        candidate = _one_mailbox(reply_to[0]) if len(reply_to) == 1 else None
    if candidate is None or candidate.key == config.conduct_address.lower():
        return None
    return candidate


@dataclass(frozen=True)
class AuthorVerdict:
    """`author_verdict`'s answer: the verdict and which results it came from."""

    status: str  # pass | fail | none
    reason: str
    source: str  # "first hop (<sealer>)", "receiving server", or "none"


def author_verdict(fields: Fields, config: Config, author: str) -> AuthorVerdict:
    """Did the author's domain fail authentication where the bot can trust it?

    The first hop of a trusted ARC sealer wins when there is one (for relayed
    mail the group's own changes may have broken the author's signature, which
    is not the author's fault).  A relayed message without such a verdict has
    none (the relay's results are about the relay).  Other mail is judged by
    the topmost trusted Authentication-Results.  Results about another From
    domain than `author`'s count as a failure: the address the bot would answer
    is not the one that was checked.
    """
    domain = author.rpartition("@")[2]
    trusted, why = _trusted(fields, config)
    if trusted is None:
        return AuthorVerdict("none", why, "none")
    hop, _why = first_hop(fields, trusted, config.auth.trusted_arc_sealers)
    if hop is not None:
        verdict = domain_verdict(hop, domain)
        return AuthorVerdict(verdict.status, verdict.reason, f"first hop ({hop.authserv_id})")
    if relay_proven(fields, trusted, config):
        return AuthorVerdict("none", "relayed by the group without a trusted first-hop "
                             "verdict", "none")
    direct: DomainVerdict = domain_verdict(trusted, domain)
    return AuthorVerdict(direct.status, direct.reason, "receiving server")
