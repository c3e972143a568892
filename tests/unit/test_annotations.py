"""Tests for bot.mail.annotations: the ``[+ Name]`` / ``[- Name]`` recipient notes."""

from __future__ import annotations

import pytest

from bot.mail.annotations import (
    Annotations,
    Recipient,
    check_annotations,
    name_matches,
    normalise_address,
    parse_annotations,
)
from bot.mail.quoting import top_lines, top_text

ATTRIBUTION = "On Mon, 2 Nov 2026 at 10:15, Maya Chen <maya@example.org> wrote:"
HTML_ATTRIBUTION = ATTRIBUTION.replace("<", "&lt;").replace(">", "&gt;")


def notes_from_text(text: str) -> tuple[list[str], list[str]]:
    """Parse the notes from a plain-text body the way the pipeline does."""
    notes = parse_annotations(top_lines(text))
    return notes.added, notes.removed


def notes_from_html(html: str) -> tuple[list[str], list[str]]:
    """Parse the notes from an HTML-only body the way the pipeline does."""
    notes = parse_annotations(top_text("", html))
    return notes.added, notes.removed


PLAIN_FORMS = [
    pytest.param("[+ Maya]\n\nHello all", ["Maya"], [], id="plus"),
    pytest.param("[- Alex]\n\nHello all", [], ["Alex"], id="minus"),
    pytest.param("[+Maya Chen]", ["Maya Chen"], [], id="no-space-full-name"),
    pytest.param("[ - alex@example.org ]", [], ["alex@example.org"], id="padded-address"),
    pytest.param("[- Alex] [+ Sam]\n\nBody", ["Sam"], ["Alex"], id="two-on-one-line"),
    pytest.param("[- Alex][+ Sam]", ["Sam"], ["Alex"], id="two-adjacent"),
    pytest.param("[+ Maya]\n[- Alex]\n\nBody", ["Maya"], ["Alex"], id="one-per-line"),
    pytest.param(
        "Hi all,\n\n[+ Maya]\n\nI've added Maya, who is on call this week.",
        ["Maya"],
        [],
        id="after-greeting",
    ),
    pytest.param("Hi Sam, [+ Maya]", ["Maya"], [], id="greeting-same-line"),
    pytest.param("Adding Maya [+ Maya] since she is on call.", ["Maya"], [], id="mid-sentence"),
    pytest.param("[+ Maya, Sam]", ["Maya", "Sam"], [], id="comma-list"),
    pytest.param("[+ Maya, - Alex]", ["Maya"], ["Alex"], id="mixed-sign-list"),
    pytest.param("[+ Maya; Sam]", ["Maya", "Sam"], [], id="semicolon-list"),
    pytest.param("[– Alex]", [], ["Alex"], id="en-dash"),
    pytest.param("[− Alex]", [], ["Alex"], id="minus-sign"),
    pytest.param("[— Alex]", [], ["Alex"], id="em-dash"),
    pytest.param("［＋ Maya］ ［－ Alex］", ["Maya"], ["Alex"], id="full-width"),
    pytest.param("［+ Maya]", ["Maya"], [], id="mixed-width-brackets"),
    pytest.param(
        '[+ "Maya Chen" <maya@example.org>]',
        ['"Maya Chen" <maya@example.org>'],
        [],
        id="quoted-name-and-address",
    ),
    pytest.param(
        '[+ "Chen, Maya" <maya@example.org>]',
        ['"Chen, Maya" <maya@example.org>'],
        [],
        id="comma-inside-quoted-name",
    ),
    pytest.param("[+ Маша]", ["Маша"], [], id="cyrillic"),
    pytest.param("[+ 陳美雅]", ["陳美雅"], [], id="cjk"),
    pytest.param("[+ 陳美雅、山田太郎]", ["陳美雅", "山田太郎"], [], id="cjk-ideographic-comma"),
    pytest.param("[-Ålex Ørsted]", [], ["Ålex Ørsted"], id="accented-latin"),
    pytest.param("[+ Siobhán O'Brien]", ["Siobhán O'Brien"], [], id="apostrophe"),
    pytest.param("[+ Μαρία]", ["Μαρία"], [], id="greek"),
    pytest.param("[+ Maya]\n[+ maya]", ["Maya"], [], id="repeated-once"),
    pytest.param("[+  Maya   Chen ]", ["Maya Chen"], [], id="extra-spaces"),
    pytest.param(
        f"[+ Sam]\n\n{ATTRIBUTION}\n> [+ Maya]\n> [- Alex]",
        ["Sam"],
        [],
        id="gmail-plain-quoted-note-ignored",
    ),
    pytest.param(
        f"Thanks, will do.\n\n{ATTRIBUTION}\n\n> [+ Maya]",
        [],
        [],
        id="only-quoted-note",
    ),
    pytest.param(
        "[+ Sam]\n\nOn 2 Nov 2026, at 10:15, Maya Chen <maya@example.org> wrote:\n\n> [- Alex]",
        ["Sam"],
        [],
        id="apple-plain",
    ),
    pytest.param(
        "[- Alex]\n\n________________________________\nFrom: Maya Chen <maya@example.org>\n"
        "Sent: Monday, November 2, 2026 10:15 AM\nTo: conduct@example.org\n\n[+ Bob]",
        [],
        ["Alex"],
        id="outlook-plain",
    ),
    pytest.param(
        "[+ Sam]\n\nFrom: Maya Chen <maya@example.org>\nDate: Monday\n\n[+ Bob]",
        ["Sam"],
        [],
        id="outlook-headers-without-rule",
    ),
    pytest.param(
        "[+ Sam]\n\n---------- Forwarded message ---------\nFrom: Maya\n\n[+ Bob]",
        ["Sam"],
        [],
        id="gmail-forward",
    ),
    pytest.param(
        "[+ Sam]\n\nOn Mon, 2 Nov 2026 at 10:15, Maya Chen <\nmaya@example.org> wrote:\n[+ Bob]",
        ["Sam"],
        [],
        id="wrapped-attribution",
    ),
    pytest.param(
        "[+ Sam]\nLe lun. 2 nov. 2026 à 10:15, Maya <maya@example.org> a écrit :\n[+ Bob]",
        ["Sam"],
        [],
        id="french-attribution",
    ),
    pytest.param(
        "[+ Sam]\nAm Mo., 2. Nov. 2026 um 10:15 Uhr schrieb Maya <maya@example.org>:\n[+ Bob]",
        ["Sam"],
        [],
        id="german-attribution",
    ),
    pytest.param("[+ Sam]\n-- \nJane\n[+ Bob]", ["Sam"], [], id="signature-ends-top"),
]


@pytest.mark.parametrize(("text", "added", "removed"), PLAIN_FORMS)
def test_plain_forms(text: str, added: list[str], removed: list[str]) -> None:
    assert notes_from_text(text) == (added, removed)


HTML_FORMS = [
    pytest.param(
        '<div dir="ltr">Hi all,<div><br></div><div>[+ Maya]&nbsp;[&ndash; Alex]</div>'
        '<div>Thanks</div></div><div class="gmail_quote"><div class="gmail_attr">'
        + HTML_ATTRIBUTION
        + '<br></div><blockquote class="gmail_quote">[+ Bob]<br>[- Carol]</blockquote></div>',
        ["Maya"],
        ["Alex"],
        id="gmail-html",
    ),
    pytest.param(
        '<div class="WordSection1"><p class="MsoNormal">Hi all,<o:p></o:p></p>'
        '<p class="MsoNormal">[+ Maya]<o:p></o:p></p><p class="MsoNormal">&nbsp;</p></div>'
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
        '<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Alex<br><b>Sent:</b> Monday</div>'
        "<div>[- Bob]</div>",
        ["Maya"],
        [],
        id="outlook-html",
    ),
    pytest.param(
        "<html><body>[- Alex]<br><br><div>On 2 Nov 2026, at 10:15, Maya wrote:<br></div>"
        '<blockquote type="cite"><div>[+ Bob]</div></blockquote></body></html>',
        [],
        ["Alex"],
        id="apple-html",
    ),
    pytest.param(
        '<p>[+ Sam]</p><div class="moz-cite-prefix">On 02/11/2026 10:15, Maya wrote:<br></div>'
        '<blockquote type="cite">[+ Bob]</blockquote>',
        ["Sam"],
        [],
        id="thunderbird-html",
    ),
    pytest.param(
        "<p>&#91;+ Maya&#93; &lsqb;&minus; Alex&rsqb;</p>", ["Maya"], ["Alex"], id="html-entities"
    ),
    pytest.param(
        "<p>[+ &quot;Maya Chen&quot; &lt;maya@example.org&gt;]</p>",
        ['"Maya Chen" <maya@example.org>'],
        [],
        id="html-escaped-address",
    ),
    pytest.param("<p>[+ <b>Маша</b>]</p>", ["Маша"], [], id="html-inline-markup-cyrillic"),
    pytest.param("<blockquote>[+ Maya]</blockquote>", [], [], id="html-only-quoted"),
]


@pytest.mark.parametrize(("html", "added", "removed"), HTML_FORMS)
def test_html_forms(html: str, added: list[str], removed: list[str]) -> None:
    assert notes_from_html(html) == (added, removed)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("[+1]", id="vote-plus"),
        pytest.param("[-1]", id="vote-minus"),
        pytest.param("[ +1 ]", id="vote-padded"),
        pytest.param("[+1] from me, looks good", id="vote-in-sentence"),
        pytest.param("I'd say [-1] on that", id="vote-mid-sentence"),
        pytest.param("[+ 1]", id="vote-spaced"),
        pytest.param("[- see here](http://example.org/guide)", id="markdown-link"),
        pytest.param("[+ docs][1]", id="markdown-reference-link"),
        pytest.param("[- guide]: https://example.org/guide", id="markdown-reference-def"),
        pytest.param("[x] done  [ ] todo", id="checkboxes"),
        pytest.param("[+/-]", id="plus-minus"),
        pytest.param("[-5, 5]", id="interval"),
        pytest.param("[+ 2 days]", id="leading-digit"),
        pytest.param("[+] [-]", id="empty-brackets"),
        pytest.param("+1", id="bare-vote"),
        pytest.param("+ Maya", id="no-brackets"),
        pytest.param("> [+ Maya]", id="quoted-line"),
    ],
)
def test_not_annotations(line: str) -> None:
    assert parse_annotations([line]) == Annotations()


MAYA = Recipient("maya.chen@example.org", ("Maya Chen",))
ALEX = Recipient("alex@example.net", ("Ålex Ørsted",))
MASHA = Recipient("masha@example.ru", ("Маша Иванова",))
MEIYA = Recipient("meiya@example.tw", ("陳美雅",))
ROSTER_ONLY = Recipient("mc@example.com", ("", "Maya Chen"))
COMMA_NAME = Recipient("maya@example.org", ("Chen, Maya",))
ASCII_ALEX = Recipient("alex@example.com", ("Alex Orsted",))


@pytest.mark.parametrize(
    ("token", "recipient", "expected"),
    [
        pytest.param("Maya", MAYA, True, id="first-name"),
        pytest.param("Chen", MAYA, True, id="last-name"),
        pytest.param("maya chen", MAYA, True, id="full-name-lower"),
        pytest.param("MAYA", MAYA, True, id="upper"),
        pytest.param("maya.chen", MAYA, True, id="local-part"),
        pytest.param("Maya.Chen@Example.org", MAYA, True, id="address-mixed-case"),
        pytest.param("<maya.chen@example.org>", MAYA, True, id="address-in-angles"),
        pytest.param('"Maya Chen" <maya.chen@example.org>', MAYA, True, id="name-and-address"),
        pytest.param('"Maya Chen" <maya@other.org>', MAYA, False, id="right-name-wrong-address"),
        pytest.param("Ma", MAYA, False, id="prefix-only"),
        pytest.param("Maya Li", MAYA, False, id="different-full-name"),
        pytest.param("Sam", MAYA, False, id="other-person"),
        pytest.param("example.org", MAYA, False, id="domain-only"),
        pytest.param("Alex Orsted", ALEX, True, id="ascii-token-ignores-accents"),
        pytest.param("alex", ALEX, True, id="ascii-part-ignores-accents"),
        pytest.param("Ålex Ørsted", ALEX, True, id="accented-exact"),
        pytest.param("Ålex", ASCII_ALEX, False, id="accented-token-is-strict"),
        pytest.param("Маша", MASHA, True, id="cyrillic-part"),
        pytest.param("маша иванова", MASHA, True, id="cyrillic-casefold"),
        pytest.param("陳美雅", MEIYA, True, id="cjk"),
        pytest.param("Maya", ROSTER_ONLY, True, id="roster-name"),
        pytest.param("Maya", COMMA_NAME, True, id="comma-display-name"),
        pytest.param("Ｍａｙａ", MAYA, True, id="full-width-letters"),
        pytest.param("", MAYA, False, id="empty"),
    ],
)
def test_name_matches(token: str, recipient: Recipient, expected: bool) -> None:
    assert name_matches(token, recipient) is expected


SAM = Recipient("sam@example.org", ("Sam Okafor",))
MAYA_LI = Recipient("mli@example.org", ("Maya Li",))


def test_all_agree() -> None:
    d = check_annotations([MAYA], [ALEX], Annotations(added=["Maya"], removed=["Alex"]))
    assert d.ok
    assert d == check_annotations([MAYA], [ALEX], Annotations(["Maya"], ["Alex"]))


def test_no_changes_no_notes() -> None:
    assert check_annotations([], [], Annotations()).ok


def test_added_without_note() -> None:
    d = check_annotations([MAYA], [], Annotations())
    assert not d.ok
    assert d.unannounced_added == [MAYA]
    assert d.extra_added == []


def test_removed_without_note() -> None:
    d = check_annotations([], [ALEX], Annotations(added=[]))
    assert d.unannounced_removed == [ALEX]
    assert not d.ok


def test_note_without_change() -> None:
    d = check_annotations([], [], Annotations(added=["Maya"], removed=["Alex"]))
    assert d.extra_added == ["Maya"]
    assert d.extra_removed == ["Alex"]
    assert not d.ok


def test_wrong_name() -> None:
    d = check_annotations([MAYA], [], Annotations(added=["Sam"]))
    assert d.unannounced_added == [MAYA]
    assert d.extra_added == ["Sam"]


def test_wrong_direction() -> None:
    d = check_annotations([], [ALEX], Annotations(added=["Alex"]))
    assert d.unannounced_removed == [ALEX]
    assert d.extra_added == ["Alex"]


def test_one_note_covers_one_recipient() -> None:
    d = check_annotations([MAYA, MAYA_LI], [], Annotations(added=["Maya"]))
    assert d.unannounced_added == [MAYA_LI]
    assert d.extra_added == []


def test_ambiguous_tokens_are_paired_sensibly() -> None:
    # "Maya" could be either; "Maya Chen" only one.  Both must be accounted for.
    d = check_annotations([MAYA, MAYA_LI], [], Annotations(added=["Maya", "Maya Chen"]))
    assert d.ok


def test_several_changes_from_message() -> None:
    text = f"Hi all,\n\n[+ Maya, Sam] [- alex@example.net]\n\n{ATTRIBUTION}\n> [+ Bob]"
    notes = parse_annotations(top_lines(text))
    assert check_annotations([SAM, MAYA], [ALEX], notes).ok


def test_partially_noted_message() -> None:
    notes = parse_annotations(top_lines("[+ Maya]\n\nAdding Sam too."))
    d = check_annotations([MAYA, SAM], [], notes)
    assert d.unannounced_added == [SAM]
    assert d.extra_added == []


@pytest.mark.parametrize(
    ("addr", "kwargs", "expected"),
    [
        pytest.param("Maya@Example.ORG", {}, "maya@example.org", id="lowercase"),
        pytest.param(" <Maya@example.org> ", {}, "maya@example.org", id="angles-and-space"),
        pytest.param(
            "maya+coc@gmail.com",
            {"plus_domains": frozenset({"gmail.com"})},
            "maya@gmail.com",
            id="plus-stripped",
        ),
        pytest.param("maya+coc@example.org", {}, "maya+coc@example.org", id="plus-kept-default"),
        pytest.param(
            "maya+coc@example.org",
            {"plus_domains": frozenset({"gmail.com"})},
            "maya+coc@example.org",
            id="plus-kept-other-domain",
        ),
        pytest.param(
            "Maya.Chen@Gmail.com",
            {"dotless_domains": frozenset({"gmail.com"})},
            "mayachen@gmail.com",
            id="dots-removed",
        ),
        pytest.param(
            "maya.chen@example.org",
            {"dotless_domains": frozenset({"gmail.com"})},
            "maya.chen@example.org",
            id="dots-kept-other-domain",
        ),
        pytest.param(
            "M.aya+x.y@gmail.com",
            {"dotless_domains": frozenset({"gmail.com"}), "plus_domains": frozenset({"gmail.com"})},
            "maya@gmail.com",
            id="both",
        ),
        pytest.param(
            "maya+x@gmail.com",
            {"plus_domains": frozenset({"GMail.com"})},
            "maya@gmail.com",
            id="domain-config-case",
        ),
        pytest.param(
            "+tag@gmail.com",
            {"plus_domains": frozenset({"gmail.com"})},
            "+tag@gmail.com",
            id="nothing-before-plus",
        ),
        pytest.param(
            "maya@mail.gmail.com",
            {"dotless_domains": frozenset({"gmail.com"})},
            "maya@mail.gmail.com",
            id="subdomain-not-matched",
        ),
        pytest.param("postmaster", {}, "postmaster", id="no-at"),
    ],
)
def test_normalise_address(addr: str, kwargs: dict[str, frozenset[str]], expected: str) -> None:
    assert normalise_address(addr, **kwargs) == expected
