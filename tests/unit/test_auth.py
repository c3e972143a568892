"""Tests for `bot.mail.auth`: who may steer cases with #tags.

Every case also checks that the verdict's reason never quotes an address, since
reasons go to logs and to the chair.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping

import pytest

from bot.mail.auth import AuthVerdict, authenticate, from_domain_aligned

AUTHSERV = "mx.test.example"
MEMBER = "maya@example.org"
ATTACKER = "evil@attacker.example"
MEMBERS = {MEMBER: "maya", "maya.alias@example.org": "maya", "omar@lists.example.org": "omar"}

GOOD_AR = (
    "Authentication-Results: mx.test.example; dkim=pass header.d=example.org; "
    "dmarc=pass header.from=example.org"
)


def build(
    from_: str | list[str] = MEMBER,
    ars: list[str] | None = None,
    subjects: list[str] | None = None,
) -> str:
    """A raw message: Authentication-Results on top, as our MX would leave them."""
    lines = [GOOD_AR] if ars is None else list(ars)
    lines.append(
        "Received: from out.example.org by mx.test.example; Mon, 1 Jan 2024 00:00:00 +0000"
    )
    for value in [from_] if isinstance(from_, str) else from_:
        lines.append(f"From: {value}")
    lines.append("To: conduct@djangoproject.example")
    for subject in ["Re: [case] #close"] if subjects is None else subjects:
        lines.append(f"Subject: {subject}")
    lines.append("Message-ID: <1@example.org>")
    return "\r\n".join(lines) + "\r\n\r\nbody\r\nFrom: evil@attacker.example\r\n"


def check(verdict: AuthVerdict, ok: bool) -> AuthVerdict:
    """Assert the outcome and that no address leaked into the reason."""
    assert verdict.ok is ok, verdict.reason
    assert verdict.reason
    for address in (MEMBER, ATTACKER, "a@attacker.example", "maya.alias@example.org"):
        assert address not in verdict.reason.lower()
    assert "@" not in verdict.reason.replace("'@'", "")
    return verdict


def run(raw: str | bytes, members: Mapping[str, str] | Collection[str] = MEMBERS) -> AuthVerdict:
    """authenticate() with the test authserv-id."""
    return authenticate(raw, members, AUTHSERV)


def test_dmarc_pass() -> None:
    ar = "Authentication-Results: mx.test.example; dmarc=pass header.from=example.org"
    verdict = check(run(build(ars=[ar])), ok=True)
    assert verdict.reason == "dmarc=pass"
    assert verdict.address == MEMBER


def test_dkim_pass_same_domain() -> None:
    ar = "Authentication-Results: mx.test.example; dkim=pass header.d=example.org"
    assert check(run(build(ars=[ar])), ok=True).reason == "aligned dkim=pass"


def test_dkim_pass_parent_domain() -> None:
    ar = "Authentication-Results: mx.test.example; dkim=pass header.d=example.org"
    verdict = check(run(build(from_="omar@lists.example.org", ars=[ar])), ok=True)
    assert verdict.address == "omar@lists.example.org"


def test_dkim_pass_unrelated_domain() -> None:
    ar = "Authentication-Results: mx.test.example; dkim=pass header.d=attacker.example"
    verdict = check(run(build(ars=[ar])), ok=False)
    assert verdict.reason == "no dmarc=pass or aligned dkim=pass"


@pytest.mark.parametrize("signer", ["org", "ample.org", "mail.example.org"])
def test_dkim_pass_for_tld_suffix_or_child_does_not_align(signer: str) -> None:
    ar = f"Authentication-Results: mx.test.example; dkim=pass header.d={signer}"
    check(run(build(ars=[ar])), ok=False)


def test_dkim_fail_and_dmarc_fail() -> None:
    ar = (
        "Authentication-Results: mx.test.example; dkim=fail header.d=example.org; "
        "dmarc=fail header.from=example.org"
    )
    check(run(build(ars=[ar])), ok=False)


def test_forged_pass_below_trusted_fail() -> None:
    ours = (
        "Authentication-Results: mx.test.example; dkim=fail header.d=example.org; "
        "dmarc=fail header.from=example.org"
    )
    verdict = check(run(build(ars=[ours, GOOD_AR])), ok=False)
    assert verdict.reason == "dmarc=fail"
    # Even a topmost header that merely lacks a pass must not borrow one from below.
    quiet = "Authentication-Results: mx.test.example; dkim=fail header.d=example.org"
    verdict = check(run(build(ars=[quiet, GOOD_AR])), ok=False)
    assert verdict.reason == "no dmarc=pass or aligned dkim=pass"


def test_forged_header_above_ours_with_other_authserv_id() -> None:
    forged = GOOD_AR.replace("mx.test.example", "mx.attacker.example")
    verdict = check(run(build(ars=[forged, GOOD_AR])), ok=False)
    assert verdict.reason == (
        "topmost Authentication-Results is from another authserv-id (mx.attacker.example)"
    )


def test_missing_authentication_results() -> None:
    verdict = check(run(build(ars=[])), ok=False)
    assert verdict.reason == "no Authentication-Results"


def test_only_another_authserv_id() -> None:
    other = GOOD_AR.replace("mx.test.example", "mx.elsewhere.example")
    verdict = check(run(build(ars=[other])), ok=False)
    assert verdict.reason.startswith("topmost Authentication-Results is from another authserv-id")


def test_two_from_headers() -> None:
    verdict = check(run(build(from_=[MEMBER, MEMBER])), ok=False)
    assert verdict.reason == "more than one From header"


def test_two_mailboxes_in_one_from() -> None:
    verdict = check(run(build(from_=f"{MEMBER}, {ATTACKER}")), ok=False)
    assert verdict.reason == "From does not hold exactly one mailbox"


def test_duplicate_subject() -> None:
    verdict = check(run(build(subjects=["hello", "#close"])), ok=False)
    assert verdict.reason == "more than one Subject header"


def test_address_in_display_name() -> None:
    verdict = check(run(build(from_=f'"{MEMBER}" <{ATTACKER}>')), ok=False)
    assert verdict.reason == "From display name contains an address"


def test_base64_encoded_word_address() -> None:
    word = "=?utf-8?b?" + base64.b64encode(MEMBER.encode()).decode() + "?="
    assert word == "=?utf-8?b?bWF5YUBleGFtcGxlLm9yZw==?="
    verdict = check(run(build(from_=word)), ok=False)
    assert verdict.reason == "From has an encoded-word containing '@'"
    check(run(build(from_=f"{word} <{ATTACKER}>")), ok=False)


def test_angle_address_followed_by_bare_address() -> None:
    verdict = check(run(build(from_=f"<a@attacker.example>{MEMBER}")), ok=False)
    assert verdict.reason == "From has parse defects"


def test_group_syntax() -> None:
    verdict = check(run(build(from_=f"Working group: {MEMBER};")), ok=False)
    assert verdict.reason == "From uses group syntax"


def test_comment_in_from() -> None:
    check(run(build(from_=f"{ATTACKER} ({MEMBER})")), ok=False)
    verdict = check(run(build(from_=f"{MEMBER} (Maya)")), ok=False)
    assert verdict.reason == "From has a comment"


def test_non_member() -> None:
    verdict = check(run(build(from_="stranger@example.org")), ok=False)
    assert verdict.reason == "not a member"
    assert verdict.address == "stranger@example.org"


def test_alias_of_member() -> None:
    verdict = check(run(build(from_="Maya <maya.alias@example.org>")), ok=True)
    assert verdict.address == "maya.alias@example.org"


def test_address_is_case_insensitive() -> None:
    verdict = check(run(build(from_="Maya <MAYA@Example.ORG>")), ok=True)
    assert verdict.address == MEMBER
    check(run(build(), members=frozenset(MEMBERS)), ok=True)


def test_authserv_id_with_version_suffix() -> None:
    ar = "Authentication-Results: mx.test.example 1; dmarc=pass header.from=example.org"
    check(run(build(ars=[ar])), ok=True)
    upper = "Authentication-Results: MX.Test.Example; dmarc=pass header.from=example.org"
    check(run(build(ars=[upper])), ok=True)


def test_folded_headers() -> None:
    ar = (
        "Authentication-Results: mx.test.example;\r\n"
        "\tdkim=pass (2048-bit key) header.d=example.org header.s=s1;\r\n"
        "  dmarc=pass (p=none) header.from=example.org"
    )
    raw = build(ars=[ar], from_="Maya\r\n Smith\r\n <maya@example.org>")
    verdict = check(run(raw.encode()), ok=True)
    assert verdict.reason == "dmarc=pass"


def test_dmarc_pass_for_another_header_from() -> None:
    ar = "Authentication-Results: mx.test.example; dmarc=pass header.from=attacker.example"
    verdict = check(run(build(ars=[ar])), ok=False)
    assert verdict.reason == "dmarc header.from does not match the From domain"
    both = (
        "Authentication-Results: mx.test.example; dkim=pass header.d=example.org; "
        "dmarc=pass header.from=attacker.example"
    )
    check(run(build(ars=[both])), ok=False)


def test_malformed_authentication_results_is_not_trusted() -> None:
    # Missing ";" would make lenient authres drop "dmarc=pass" silently.
    ar = (
        "Authentication-Results: mx.test.example; dkim=fail header.d=example.org "
        "dmarc=pass header.from=example.org"
    )
    verdict = check(run(build(ars=[ar])), ok=False)
    assert verdict.reason == "topmost Authentication-Results does not parse"


def test_header_block_oddities_fail_closed() -> None:
    assert check(run(build().replace("Subject:", "Subject :", 1)), ok=False).reason == (
        "malformed header line"
    )
    assert check(run(build().replace("To:", "X: y\rTo:", 1)), ok=False).reason == (
        "bare CR in header block"
    )
    assert check(run(" " + build()), ok=False).reason == (
        "header block starts with a continuation line"
    )


def test_fullwidth_at_in_display_name() -> None:
    check(run(build(from_=f'"maya\uff20example.org" <{ATTACKER}>')), ok=False)


def test_display_name_equal_to_address_is_allowed() -> None:
    check(run(build(from_=f'"{MEMBER}" <{MEMBER}>')), ok=True)


def test_from_domain_aligned() -> None:
    assert from_domain_aligned("example.org", "example.org")
    assert from_domain_aligned("Example.ORG.", "lists.example.org")
    assert not from_domain_aligned("org", "example.org")
    assert not from_domain_aligned("ample.org", "example.org")
    assert not from_domain_aligned("lists.example.org", "example.org")
    assert not from_domain_aligned("", "example.org")
