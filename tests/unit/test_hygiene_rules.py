"""The pure parts of the hygiene rules: addresses, recipient diffs, gaps, identities, policy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.core.config import parse_config
from bot.handlers.hygiene import warning_key
from bot.hygiene.addresses import (
    AddressBook,
    display,
    message_notes,
    recipient_for,
    reply_all_diff,
    suggested_note,
)
from bot.hygiene.citations import citation_gaps, thread_root
from bot.hygiene.findings import signature_of
from bot.hygiene.identity import Identity, find_identity, identity_patterns
from bot.hygiene.kinds import is_automatic
from bot.hygiene.policies import CcConductPolicy, RecipientChangePolicy, ReporterLeakPolicy
from bot.mail.annotations import check_annotations
from bot.mail.message import Address
from bot.mail.parse import parse_message
from tests.helpers import ALEX, CONDUCT, MAYA, REPORTER, config_dict, make_mail

CONFIG = parse_config(config_dict("sqlite:///unused.db"), environ={})


def policy(**keys: object) -> RecipientChangePolicy:
    return RecipientChangePolicy.model_validate(
        {"name": "r", "kind": "recipient_change", "description": "d", **keys})


def book(**keys: object) -> AddressBook:
    p = policy(**keys)
    return AddressBook.build(CONFIG, p, p.free_addresses)


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(("addr", "expected"), [
    ("Kim.Party@Example.NET", "kim.party@example.net"),
    ("kim.party+cases@gmail.com", "kimparty@gmail.com"),
    ("KimParty@googlemail.com", "kimparty@googlemail.com"),
    ("kim.party+cases@example.net", "kim.party+cases@example.net"),  # not configured
    ("maya.chen@example.org", MAYA),  # a member's alias is the member
    ("MAYA@example.org", MAYA),
])
def test_canonical_addresses(addr: str, expected: str) -> None:
    b = book(dotless_domains=["gmail.com", "googlemail.com"], plus_domains=["gmail.com"])
    assert b.canonical(addr) == expected


def test_conduct_and_free_addresses_are_ignored() -> None:
    b = book(free_addresses=["archive@lists.example", "@log.example"])
    assert b.is_ignored("Conduct@Example.org")
    assert b.is_ignored("archive@lists.example") and b.is_ignored("any@log.example")
    assert not b.is_ignored("someone@lists.example")


def test_reply_all_with_same_recipients_is_no_change() -> None:
    parent = parse_message(make_mail(sender=MAYA, to=["Kim <kim@x.example>"],
                                     cc=[CONDUCT, "mod@forum.example"]))
    reply = parse_message(make_mail(sender="kim@x.example", to=[MAYA],
                                    cc=["mod@forum.example", CONDUCT]))
    diff = reply_all_diff(book(), parent, reply)
    assert not diff.changed


def test_added_and_removed_are_found_and_sender_left_out() -> None:
    parent = parse_message(make_mail(sender=MAYA, to=["kim@x.example"],
                                     cc=[CONDUCT, "mod@forum.example"]))
    reply = parse_message(make_mail(sender="maya.chen@example.org", to=["kim@x.example"],
                                    cc=[CONDUCT, "Lee <lee@event.example>"]))
    diff = reply_all_diff(book(), parent, reply)
    assert list(diff.added) == ["lee@event.example"]
    assert list(diff.removed) == ["mod@forum.example"]
    assert diff.added["lee@event.example"].name == "Lee"


def test_reply_to_replaces_from_without_counting_as_a_change() -> None:
    parent = parse_message(make_mail(sender="kim@x.example", to=[CONDUCT],
                                     headers={"Reply-To": "kim.private@x.example"}))
    to_reply_to = parse_message(make_mail(sender=MAYA, to=["kim.private@x.example"],
                                          cc=[CONDUCT]))
    to_from = parse_message(make_mail(sender=MAYA, to=["kim@x.example",
                                                       "kim.private@x.example"], cc=[CONDUCT]))
    assert not reply_all_diff(book(), parent, to_reply_to).changed
    assert not reply_all_diff(book(), parent, to_from).changed


def test_dropping_the_conduct_address_is_not_a_recipient_change() -> None:
    # (that is the cc-conduct rule's business)
    parent = parse_message(make_mail(sender=MAYA, to=["kim@x.example"], cc=[CONDUCT]))
    reply = parse_message(make_mail(sender="kim@x.example", to=[MAYA]))
    assert not reply_all_diff(book(), parent, reply).changed


# --------------------------------------------------------------------------- notes


def test_notes_from_plain_and_html_are_merged_without_repeats() -> None:
    pm = parse_message(make_mail(body="[+ Lee]\n\nHi", html="<p>[+ lee]</p><p>[- Kim]</p>"))
    notes = message_notes(pm)
    assert notes.added == ["Lee"] and notes.removed == ["Kim"]


def test_quoted_notes_do_not_count() -> None:
    body = "Thanks.\n\nOn Mon, 2 Nov 2026 at 10:15, Kim <kim@x.example> wrote:\n> [+ Lee]"
    notes = message_notes(parse_message(make_mail(body=body)))
    assert notes.added == [] and notes.removed == []


@pytest.mark.parametrize("token", ["Kim", "kim party", "kim.party", "kim.party@x.example",
                                   "Kimberly", "Kimberly Party"])
def test_recipient_names_match_notes(token: str) -> None:
    r = recipient_for("kim.party@x.example", Address("", "kim.party@x.example"),
                      ["Kimberly Party"], None)
    notes = message_notes(parse_message(make_mail(body=f"[+ {token}]")))
    assert check_annotations([r], [], notes).ok


def test_member_roster_name_and_aliases_match() -> None:
    member = CONFIG.member_for(MAYA)
    r = recipient_for(MAYA, Address("", "maya.chen@example.org"), [], member)
    for token in ("Maya", "Maya Chen", "maya.chen", MAYA, "maya.chen@example.org"):
        notes = message_notes(parse_message(make_mail(body=f"[- {token}]")))
        assert check_annotations([], [r], notes).ok, token


def test_suggested_note_prefers_a_name() -> None:
    r = recipient_for("lee@event.example", Address("Lee Wong", "lee@event.example"), [], None)
    assert suggested_note("+", r) == "[+ Lee Wong]"
    bare = recipient_for("x@y.example", Address("", "x@y.example"), [], None)
    assert suggested_note("-", bare) == "[- x@y.example]"


def test_display_strips_control_characters() -> None:
    assert display(Address("Evil\r\nBcc: x", "e@x.example")) == "Evil Bcc: x <e@x.example>"
    assert display(Address("", "e@x.example")) == "e@x.example"


# --------------------------------------------------------------------------- citations


@pytest.mark.parametrize(("refs", "irt", "known", "unseen", "gaps"), [
    pytest.param(["r1", "m1", "g1"], ["g1"], {"r1", "m1"}, {"g1"}, ["g1"], id="gap-at-end"),
    pytest.param(["r1", "g1", "m2"], ["m2"], {"r1", "m2"}, {"g1"}, ["g1"], id="gap-in-middle"),
    pytest.param(["old", "r1"], ["r1"], {"r1"}, {"old"}, [], id="history-before-report"),
    pytest.param(["x1", "x2"], ["x2"], set(), {"x1", "x2"}, [], id="no-anchor"),
    pytest.param([], ["g1"], set(), {"g1"}, [], id="in-reply-to-only"),
    pytest.param(["r1"], ["g1"], {"r1"}, {"g1"}, ["g1"], id="in-reply-to-after-refs"),
    pytest.param(["r1", "m1"], ["m1"], {"r1", "m1"}, set(), [], id="all-seen"),
])
def test_citation_gaps(refs: list[str], irt: list[str], known: set[str], unseen: set[str],
                       gaps: list[str]) -> None:
    assert citation_gaps(refs, irt, known, unseen) == gaps


def test_thread_root() -> None:
    assert thread_root(parse_message(make_mail(references=["a@x", "b@x"],
                                               in_reply_to="b@x"))) == "a@x"
    assert thread_root(parse_message(make_mail(in_reply_to="b@x"))) == "b@x"
    assert thread_root(parse_message(make_mail(message_id="c@x"))) == "c@x"


# --------------------------------------------------------------------------- identities

JO = Identity(names=("Jo Reporter", "Josephine Ölund-Smith"), addresses=(REPORTER,),
              usernames=("jrep42",))


def found(text: str) -> list[str]:
    return find_identity(text, identity_patterns(JO, min_name_part=3, ignore_words=[]))


@pytest.mark.parametrize(("text", "what"), [
    ("JO   REPORTER wrote to us", ["name"]),
    ("Jo\nReporter wrote to us", ["name"]),
    ("according to Reporter,", ["name"]),
    ("Josephine said", ["name"]),
    ("Olund was there", ["name"]),  # accents do not hide a name
    ("ölund-smith was there", ["name"]),
    (f"mail {REPORTER.upper()} please", ["email address", "username"]),
    ("her handle is @jo.reporter", ["username"]),
    ("jo.reporter@gmail.com wrote", ["username"]),
    ("user jrep42 on the forum", ["username"]),
])
def test_identity_is_found(text: str, what: list[str]) -> None:
    assert sorted(found(text)) == sorted(what)


@pytest.mark.parametrize("text", [
    "We received a report about the forum thread.",
    "the reporters were many",  # not the whole word
    "Jo said hello",  # two letters: too short to search alone
    "josephinesque prose",
    "visit jo.reporter.example.com",
    "jrep420 is someone else",
])
def test_identity_is_not_found(text: str) -> None:
    assert found(text) == []


def test_common_words_are_not_searched_alone() -> None:
    will = Identity(names=("Will Brown",))
    pats = identity_patterns(will, min_name_part=3, ignore_words=["will", "brown"])
    assert find_identity("We will look into it; brown bread.", pats) == []
    assert find_identity("Will Brown told us", pats) == ["name"]


# --------------------------------------------------------------------------- small parts


def test_signature_is_order_independent_and_short() -> None:
    assert signature_of("a", ["x", "y"]) == signature_of("a", ["y", "x"])
    assert signature_of("a", ["x"]) != signature_of("b", ["x"])
    assert "@" not in signature_of("maya@example.org") and len(signature_of("a")) == 32


def test_warning_key_depends_on_every_part() -> None:
    base = warning_key("rule", "root@x", "sig", MAYA)
    assert base == warning_key("rule", "root@x", "sig", MAYA.upper())
    assert base != warning_key("rule2", "root@x", "sig", MAYA)
    assert base != warning_key("rule", "root2@x", "sig", MAYA)
    assert base != warning_key("rule", "root@x", "sig2", MAYA)
    assert base != warning_key("rule", "root@x", "sig", ALEX)


@pytest.mark.parametrize(("headers", "auto"), [
    ({}, False),
    ({"Auto-Submitted": "no"}, False),
    ({"Auto-Submitted": "auto-replied"}, True),
    ({"Precedence": "bulk"}, True),
    ({"List-Id": "<x.lists.example>"}, True),
])
def test_is_automatic(headers: dict[str, str], auto: bool) -> None:
    assert is_automatic(parse_message(make_mail(headers=headers))) is auto


# --------------------------------------------------------------------------- policy


@pytest.mark.parametrize(("keys", "message"), [
    ({"notify": ["reporter"]}, "unknown audience 'reporter'"),
    ({"template": "../etc/passwd"}, "a template name"),
    ({"dotless_domains": ["not a domain"]}, "not a domain"),
    ({"free_addresses": ["nobody"]}, "not an address"),
    ({"chain": "acknowledge"}, "hygiene"),
    ({"outsider_template": None, "outsider_notify": ["chairs"]}, "needs an outsider_template"),
    ({"free_adresses": []}, "Extra inputs are not permitted"),
])
def test_policy_validation(keys: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        policy(**keys)
    assert message in str(exc.value)


def test_policy_defaults() -> None:
    p = policy()
    assert p.chain == "hygiene" and p.notify == ["sender"]
    assert p.outsider_notify == ["point_of_contact"]
    cc = CcConductPolicy.model_validate({"name": "c", "kind": "cc_conduct_missing",
                                         "description": "d"})
    assert cc.outsider_notify == [] and cc.template == "warn_cc_conduct"
    leak = ReporterLeakPolicy.model_validate({"name": "l", "kind": "reporter_leak",
                                              "description": "d", "min_name_part": 4})
    assert leak.min_name_part == 4
    with pytest.raises(ValidationError):
        ReporterLeakPolicy.model_validate({"name": "l", "kind": "reporter_leak",
                                           "description": "d", "min_name_part": 0})
