"""Authentication-Results readers: RFC 8601, Microsoft 365's id-less form, ARC first hop.

Microsoft's forms are the ones its documentation shows ("Anti-spam message
headers", "Email authentication in Microsoft 365"), including the odd ones: no
space after ``;``, ``action=`` and ``reason=`` words, a bare domain between
semicolons, ``dmarc=bestguesspass``.
"""

from __future__ import annotations

import pytest

from bot.core.config import parse_config
from bot.mail.arc import first_hop
from bot.mail.auth import verify_member
from bot.mail.authresults import domain_verdict, parse_microsoft, parse_standard, trusted_results
from bot.mail.grouprelay import header_fields
from tests.helpers import config_dict

MS_PASS = ("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.org; dkim=pass "
           "(signature was verified) header.d=example.org;dmarc=pass action=none "
           "header.from=example.org;compauth=pass reason=100")
MS_FAIL = ("spf=fail (sender IP is 192.0.2.1) smtp.mailfrom=example.org; dkim=fail (body hash "
           "did not verify) header.d=example.org;dmarc=fail action=oreject "
           "header.from=example.org;compauth=fail reason=000")
MS_IMPLICIT = ("spf=none (sender IP is 192.0.2.7) smtp.mailfrom=example.org; example.org; "
               "dkim=none (message not signed) header.d=none;example.org; dmarc=none "
               "action=none header.from=example.org;compauth=fail reason=001")
MS_BESTGUESS = ("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.org; dkim=none "
                "(message not signed) header.d=none;dmarc=bestguesspass action=none "
                "header.from=example.org;compauth=pass reason=109")
MS_HOST = "protection.outlook.com"
RECEIVED = ("from mail.example.org (192.0.2.1) by "
            "BN8NAM11FT066.mail.protection.outlook.com (10.13.177.1) with Microsoft SMTP "
            "Server id 15.20.7 via Frontend Transport; Mon, 6 May 2024 10:00:00 +0000")


@pytest.mark.parametrize(("value", "status"), [
    (MS_PASS, "pass"), (MS_FAIL, "fail"), (MS_IMPLICIT, "fail"), (MS_BESTGUESS, "none"),
])
def test_microsoft_documented_forms(value: str, status: str) -> None:
    results = parse_microsoft(value)
    assert results is not None and results.authserv_id == ""
    assert domain_verdict(results, "example.org").status == status


def test_rfc8601_parser_refuses_microsofts_form_and_vice_versa() -> None:
    assert parse_standard(MS_PASS) is None
    assert parse_microsoft("mx.example.org; dmarc=pass header.from=example.org") is None
    assert parse_microsoft("spf=pass (unbalanced smtp.mailfrom=x.org") is None


def _fields(ar: str, received: str = RECEIVED) -> list[tuple[str, str]]:
    return [("Authentication-Results", ar), ("Received-SPF", "Pass (protection.outlook.com)"),
            ("Received", received), ("From", "Maya <maya@example.org>")]


def test_microsoft_header_is_trusted_only_from_the_configured_receiving_host() -> None:
    results, why = trusted_results(_fields(MS_PASS), "", MS_HOST)
    assert results is not None and why == "trusted"
    other = RECEIVED.replace("mail.protection.outlook.com", "mx.evil.example")
    results, why = trusted_results(_fields(MS_PASS, other), "", MS_HOST)
    assert results is None and "receiving host" in why
    # Not configured: no id-less header is trusted.
    assert trusted_results(_fields(MS_PASS), "mx.example.org", "")[0] is None


def test_only_the_topmost_authentication_results_counts() -> None:
    forged = ("mx.example.org; dmarc=pass header.from=example.org", )
    fields = [("Authentication-Results", "mx.example.org; dmarc=fail header.from=example.org"),
              ("Authentication-Results", forged[0])]
    results, _ = trusted_results(fields, "mx.example.org")
    assert results is not None and domain_verdict(results, "example.org").status == "fail"


@pytest.mark.parametrize(("ar", "status"), [
    ("mx.example.org; dmarc=pass header.from=example.org", "pass"),
    ("mx.example.org; dkim=pass header.i=@example.org", "pass"),
    ("mx.example.org; dkim=pass header.d=ample.org", "none"),
    ("mx.example.org; dmarc=pass header.from=other.example", "fail"),
    ("mx.example.org; spf=fail smtp.mailfrom=bounce@example.org", "fail"),
    ("mx.example.org; spf=fail smtp.mailfrom=bounce@example.org; dkim=pass header.d=example.org",
     "pass"),
    ("mx.example.org; spf=fail smtp.mailfrom=bounce@unrelated.example", "none"),
])
def test_domain_verdict(ar: str, status: str) -> None:
    results = parse_standard(ar)
    assert results is not None
    assert domain_verdict(results, "example.org").status == status


def _microsoft_member_mail(ar: str, received: str = RECEIVED) -> bytes:
    return (f"Received: from x by y.prod.outlook.com with HTTPS\r\n"
            f"Authentication-Results: {ar}\r\nReceived-SPF: Pass\r\nReceived: {received}\r\n"
            "From: Maya Chen <maya@example.org>\r\nTo: conduct@example.org\r\n"
            "Subject: Re: x #resolve\r\nMessage-ID: <m1@example.org>\r\n\r\nbody\r\n").encode()


def test_microsoft_365_member_authenticates_only_with_the_setting() -> None:
    raw = _microsoft_member_mail(MS_PASS)
    plain = parse_config(config_dict("sqlite://", auth={"authserv_id": "mx.example.org"}),
                         environ={})
    assert not verify_member(raw, plain).ok
    ms = parse_config(config_dict("sqlite://", auth={"authserv_id": "",
                                                     "microsoft_receiving_host": MS_HOST}),
                      environ={})
    verdict = verify_member(raw, ms)
    assert verdict.ok and "Microsoft 365" in verdict.reason
    assert not verify_member(_microsoft_member_mail(MS_FAIL), ms).ok
    assert not verify_member(_microsoft_member_mail(MS_BESTGUESS), ms).ok
    elsewhere = RECEIVED.replace("mail.protection.outlook.com", "relay.evil.example")
    assert not verify_member(_microsoft_member_mail(MS_PASS, elsewhere), ms).ok


def test_arc_first_hop_needs_exactly_one_i1_set_from_a_trusted_sealer() -> None:
    top = "mx.google.com; arc=pass (i=1); dmarc=fail header.from=example.org"
    aar = "i=1; mx.google.com; dmarc=pass header.from=example.org"
    seal = "i=1; a=rsa-sha256; t=1; cv=none; d=google.com; s=arc; b=abc"
    trusted = parse_standard(top)
    assert trusted is not None
    base = [("Authentication-Results", top), ("ARC-Seal", seal),
            ("ARC-Authentication-Results", aar)]
    hop, why = first_hop(base, trusted, ["mx.google.com"])
    assert hop is not None and domain_verdict(hop, "example.org").status == "pass", why
    doubled = [*base, ("ARC-Authentication-Results", aar)]
    assert first_hop(doubled, trusted, ["mx.google.com"])[0] is None
    assert first_hop(base, trusted, [])[0] is None
    assert first_hop(base, trusted, ["mx.other.example"])[0] is None
    bad_cv = [(n, v.replace("cv=none", "cv=pass")) for n, v in base]
    assert first_hop(bad_cv, trusted, ["mx.google.com"])[0] is None


def test_header_fields_unfold_and_keep_order() -> None:
    raw = (b"Authentication-Results: mx.example.org;\r\n dmarc=pass\r\n header.from=x.org\r\n"
           b"From: a@x.org\r\n\r\nbody")
    assert header_fields(raw) == [
        ("Authentication-Results", "mx.example.org; dmarc=pass header.from=x.org"),
        ("From", "a@x.org")]
