"""Test mail as a Google Group relays it, and the configuration that reads it.

The header forms follow what Google documents and what public tools show of
relayed group mail: the group's List-ID / Precedence / Mailing-list /
X-Original-Sender, its own DKIM signature (``header.i=@<group domain>``) and
envelope (``conduct+bnc...@``), the rewritten From for strict-DMARC authors
(``'Name' via Conduct <conduct@...>`` with Reply-To and X-Original-From), and
the ARC set (i=1, sealed by google.com, results by mx.google.com) under the
receiving server's topmost Authentication-Results.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from typing import Any

from tests.helpers import CONDUCT

GOOGLE = "mx.google.com"
LIST_ID = "conduct.example.org"
GROUP_DOMAIN = CONDUCT.split("@")[1]
BOUNCE = "conduct+bncBDX3ZQ2WQUFRBPWX4KQMGQEXAMPLE@" + GROUP_DOMAIN


def group_sections(**extra: Any) -> dict[str, Any]:
    """make_app / config_dict keyword arguments for a bot reading the group's relay."""
    sections: dict[str, Any] = {
        "auth": {"authserv_id": GOOGLE, "trusted_arc_sealers": [GOOGLE]},
        "intake": {"conduct_list_id": LIST_ID},
    }
    sections.update(extra)
    return sections


def first_hop_results(author_domain: str, result: str = "pass", sealer: str = GOOGLE) -> str:
    """The i=1 ARC-Authentication-Results value: what the group's MX saw."""
    return (f"i=1; {sealer}; dkim={result} header.i=@{author_domain} header.s=s2024 "
            f"header.b=Xy12ab; spf={result} (google.com: domain of someone@{author_domain} "
            f"designates 192.0.2.10 as permitted sender) smtp.mailfrom=someone@{author_domain}; "
            f"dmarc={result} (p=REJECT sp=REJECT dis=NONE) header.from={author_domain}")


def relayed(
    *,
    author: str,
    author_name: str = "Sam Strict",
    subject: str = "Something happened at the sprint",
    body: str = "Someone at the sprint was rude to me repeatedly.",
    rewritten: bool = False,
    first_hop: str | None = "pass",
    arc: str = "pass",
    topmost_dmarc: str | None = None,
    seal_domain: str = "google.com",
    sealer: str = GOOGLE,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    extra_top: list[tuple[str, str]] | None = None,
    extra: list[tuple[str, str]] | None = None,
    x_original_from: list[str] | None = None,
    list_headers: bool = True,
) -> bytes:
    """One message as the bot's mailbox receives it from the conduct group."""
    author_domain = author.split("@")[1]
    from_domain = GROUP_DOMAIN if rewritten else author_domain
    dmarc = topmost_dmarc or ("pass" if rewritten else "fail")
    top = (f"{GOOGLE}; dkim=pass header.i=@{GROUP_DOMAIN} header.s=google header.b=Gr0up; "
           f"arc={arc} (i=1 spf=pass spfdomain={author_domain} dkim=pass "
           f"dkdomain={author_domain} dmarc=pass fromdomain={author_domain}); "
           f"spf=pass (google.com: domain of {BOUNCE} designates 209.85.220.69 as permitted "
           f"sender) smtp.mailfrom={BOUNCE}; "
           f"dmarc={dmarc} (p=NONE sp=NONE dis=NONE) header.from={from_domain}")
    headers: list[tuple[str, str]] = [*(extra_top or []), ("Authentication-Results", top)]
    if first_hop is not None:
        headers += [
            ("ARC-Seal", f"i=1; a=rsa-sha256; t=1767000000; cv=none; d={seal_domain}; "
                         "s=arc-20240605; b=c2VhbA=="),
            ("ARC-Message-Signature", f"i=1; a=rsa-sha256; c=relaxed/relaxed; "
                                      f"d={seal_domain}; s=arc-20240605; h=from:to:subject; "
                                      "bh=Ym9keQ==; b=c2ln"),
            ("ARC-Authentication-Results", first_hop_results(author_domain, first_hop, sealer)),
        ]
    headers.append(("Return-Path", f"<{BOUNCE}>"))
    # An author without a display name: Google puts the address in the quoted name.
    mailbox = f"{author_name} <{author}>" if author_name else author
    if rewritten:
        headers += [("From", f"\"'{author_name or author}' via Conduct\" <{CONDUCT}>"),
                    ("Reply-To", mailbox)]
        for value in (x_original_from if x_original_from is not None else [mailbox]):
            headers.append(("X-Original-From", value))
    else:
        headers.append(("From", mailbox))
        for value in x_original_from or []:
            headers.append(("X-Original-From", value))
    headers += [
        ("To", CONDUCT),
        ("Subject", subject),
        ("Date", format_datetime(datetime.now(UTC))),
        ("Message-ID", f"<{message_id}>" if message_id else make_msgid(domain="mail.example")),
    ]
    if in_reply_to:
        headers += [("In-Reply-To", f"<{in_reply_to}>"), ("References", f"<{in_reply_to}>")]
    if list_headers:
        headers += [
            ("Precedence", "list"),
            ("Mailing-list", f"list {CONDUCT}; contact conduct+owners@{GROUP_DOMAIN}"),
            ("List-ID", f"<{LIST_ID}>"),
            ("X-Google-Group-Id", "123456789012"),
            ("List-Post", f"<mailto:{CONDUCT}>"),
            ("List-Help", f"<mailto:conduct+help@{GROUP_DOMAIN}>"),
            ("List-Unsubscribe", "<mailto:googlegroups-manage+123456789012+unsubscribe@"
                                 "googlegroups.com>"),
            ("X-Original-Sender", author),
        ]
    headers += extra or []
    text = "".join(f"{name}: {value}\r\n" for name, value in headers)
    text += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    return (text + body + "\r\n").encode()


def group_notice(subject: str = "Message Pending [{A1b2C3}]",
                 sender: str = "conduct+msgappr@" + GROUP_DOMAIN) -> bytes:
    """A mail the group sends on its own (a moderation notice)."""
    top = (f"{GOOGLE}; dkim=pass header.i=@{GROUP_DOMAIN} header.s=google; "
           f"spf=pass smtp.mailfrom={BOUNCE}; dmarc=pass (p=NONE) header.from={GROUP_DOMAIN}")
    text = (f"Authentication-Results: {top}\r\nFrom: Conduct <{sender}>\r\nTo: {CONDUCT}\r\n"
            f"Subject: {subject}\r\nDate: {format_datetime(datetime.now(UTC))}\r\n"
            f"Message-ID: {make_msgid(domain='google.com')}\r\nList-ID: <{LIST_ID}>\r\n"
            "X-Google-Group-Id: 123456789012\r\nPrecedence: list\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "A message is waiting for approval.\r\n")
    return text.encode()
