"""Tests for bot.mail.quoting: HTML flattening and finding the author's own lines."""

from __future__ import annotations

import pytest

from bot.mail.quoting import html_to_text, top_lines, top_text

ATTRIBUTION = "On Mon, 2 Nov 2026 at 10:15, Maya Chen <maya@example.org> wrote:"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param("<p>One</p><p>Two</p>", "One\nTwo", id="paragraphs"),
        pytest.param("<div>One<br>Two</div>", "One\nTwo", id="br"),
        pytest.param("<div>One</div><div><br></div><div>Two</div>", "One\n\nTwo", id="gmail-blank"),
        pytest.param(
            '<p class="MsoNormal">One<o:p></o:p></p><p class="MsoNormal">&nbsp;</p><p>Two</p>',
            "One\n\nTwo",
            id="outlook-nbsp-blank",
        ),
        pytest.param("<b>Hello</b>   <i>there</i>\n  world", "Hello there world", id="inline-ws"),
        pytest.param(
            "Fish &amp; chips &lt;3 &#8211; &eacute;", "Fish & chips <3 – é", id="entities"
        ),
        pytest.param(
            "<html><head><title>T</title><style>p {color: red}</style></head>"
            "<body><script>alert(1)</script><p>Body</p></body></html>",
            "Body",
            id="script-style-head-dropped",
        ),
        pytest.param(
            '<html><head><meta charset="utf-8"><body><p>Body</p></body></html>',
            "Body",
            id="unclosed-head",
        ),
        pytest.param(
            "<p>Mine</p><blockquote>Theirs<br>More</blockquote><p>After</p>",
            "Mine\n> Theirs\n> More\nAfter",
            id="blockquote",
        ),
        pytest.param(
            "<blockquote>A<blockquote>B</blockquote>C</blockquote>",
            "> A\n> > B\n> C",
            id="nested-blockquote",
        ),
        pytest.param(
            '<div>Mine</div><div class="gmail_quote"><div class="gmail_attr">'
            + ATTRIBUTION.replace("<", "&lt;").replace(">", "&gt;")
            + '<br></div><blockquote class="gmail_quote">Theirs</blockquote></div>',
            "Mine\n> " + ATTRIBUTION + "\n> > Theirs",
            id="gmail-quote",
        ),
        pytest.param(
            '<div class="gmail_quote gmail_quote_container">Quoted</div>',
            "> Quoted",
            id="gmail-quote-container",
        ),
        pytest.param(
            '<p>Mine</p><div id="appendonsend"></div><hr><div id="divRplyFwdMsg">'
            "<b>From:</b> Alex<br><b>Sent:</b> Monday</div><div>Old body</div>",
            "Mine\n> From: Alex\n> Sent: Monday\n> Old body",
            id="outlook-after-marker",
        ),
        pytest.param(
            '<p>Mine</p><div id="divRplyFwdMsg">From: Alex</div><p>Old</p>',
            "Mine\n> From: Alex\n> Old",
            id="outlook-divRplyFwdMsg",
        ),
        pytest.param(
            '<div>Mine</div><div class="moz-cite-prefix">On 02/11/2026, Maya wrote:<br></div>'
            '<blockquote type="cite">Old</blockquote>',
            "Mine\n> On 02/11/2026, Maya wrote:\n> > Old",
            id="thunderbird",
        ),
        pytest.param("<pre>a\n  b</pre>", "a\n  b", id="pre-kept"),
        pytest.param(
            "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
            "a\tb\nc",
            id="table",
        ),
        pytest.param("", "", id="empty"),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Hi\n\nThanks", ["Hi", "", "Thanks"], id="no-quote"),
        pytest.param("Hi   \nThere\t", ["Hi", "There"], id="trailing-ws"),
        pytest.param("Hi\r\nThere\r\n", ["Hi", "There"], id="crlf"),
        pytest.param("Mine\n> theirs\nmore", ["Mine"], id="gt-quote"),
        pytest.param("Mine\n  > indented quote", ["Mine"], id="indented-gt"),
        pytest.param(f"Mine\n\n{ATTRIBUTION}\n\nold", ["Mine", ""], id="gmail-attribution"),
        pytest.param(
            "Mine\nOn Mon, 2 Nov 2026 at 10:15, Maya Chen <\nmaya@example.org> wrote:\nold",
            ["Mine"],
            id="wrapped-attribution",
        ),
        pytest.param(
            "Mine\nOn 2 Nov 2026, at 10:15, Maya Chen <maya@example.org> wrote:\nold",
            ["Mine"],
            id="apple-attribution",
        ),
        pytest.param(
            "Mine\nOn 02/11/2026 10:15, Maya Chen wrote:\nold", ["Mine"], id="thunderbird"
        ),
        pytest.param(
            "Mine\nLe lun. 2 nov. 2026 à 10:15, Maya Chen <maya@example.org> a écrit :\nold",
            ["Mine"],
            id="french",
        ),
        pytest.param(
            "Mine\nAm Mo., 2. Nov. 2026 um 10:15 Uhr schrieb Maya Chen <maya@example.org>:\nold",
            ["Mine"],
            id="german",
        ),
        pytest.param("Mine\nMaya Chen <maya@example.org> wrote:\nold", ["Mine"], id="bare-wrote"),
        pytest.param("Mine\n-----Original Message-----\nFrom: x", ["Mine"], id="original-message"),
        pytest.param(
            "Mine\n---------- Forwarded message ---------\nFrom: x",
            ["Mine"],
            id="gmail-forward",
        ),
        pytest.param(
            "Mine\n-------- Forwarded Message --------\nSubject: x",
            ["Mine"],
            id="thunderbird-forward",
        ),
        pytest.param("Mine\n\nBegin forwarded message:\n\nFrom: x", ["Mine", ""], id="apple-fwd"),
        pytest.param(
            "Mine\nFrom: Maya Chen <maya@example.org>\nSent: Monday, November 2, 2026 10:15\n",
            ["Mine"],
            id="outlook-headers",
        ),
        pytest.param(
            "Mine\n*From:* Maya Chen\n*Sent:* Monday\n", ["Mine"], id="outlook-bold-headers"
        ),
        pytest.param(
            "Mine\n________________________________\nFrom: x", ["Mine"], id="underscore-rule"
        ),
        pytest.param("Mine\n-- \nJane Doe\nDSF", ["Mine"], id="signature"),
        pytest.param("Mine\n--\nJane Doe", ["Mine"], id="signature-no-space"),
        pytest.param(
            "On Monday we met.\nOn reflection, Sam wrote well.\nFrom: the minutes",
            ["On Monday we met.", "On reflection, Sam wrote well.", "From: the minutes"],
            id="prose-not-a-marker",
        ),
        pytest.param("> all quoted", [], id="all-quoted"),
        pytest.param("", [], id="empty"),
    ],
)
def test_top_lines(text: str, expected: list[str]) -> None:
    assert top_lines(text) == expected


def test_top_text_prefers_plain() -> None:
    assert top_text("Plain\n> q", "<p>Html</p>") == ["Plain"]


@pytest.mark.parametrize("text", ["", "  \n\n"], ids=["empty", "whitespace"])
def test_top_text_falls_back_to_html(text: str) -> None:
    html = '<div>Html</div><div class="gmail_quote">Old</div>'
    assert top_text(text, html) == ["Html"]


def test_top_text_nothing() -> None:
    assert top_text("", None) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Mine\n\nDnia 27 grudnia 2016 12:08 Ola <ola@example.org> napisał(a):\n\nold",
            ["Mine", ""],
            id="polish-dnia",
        ),
        pytest.param(
            "Mine\npe 20. lokakuuta 2017 klo 17.50 John Coe\n<jc@example.org> kirjoitti:\nold",
            ["Mine"],
            id="finnish-wrapped",
        ),
        pytest.param(
            "Mine\ntir. 18. apr. 2017 kl. 13:09 skrev Test user <t@example.com\n>:\n> old",
            ["Mine"],
            id="norwegian-wrapped-bracket",
        ),
        pytest.param(
            "Mine\nср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:\nold",
            ["Mine"],
            id="russian",
        ),
        pytest.param(
            'Mine\n30.09.2017, 18.30, "John - Doe" <jd@example.com>:\nold',
            ["Mine"],
            id="date-first",
        ),
        pytest.param("Mine\n\nSent from my iPhone\n\n> old", ["Mine", ""], id="iphone-signature"),
        pytest.param(
            "Mine\nGesendet von Outlook für Android<https://aka.ms/x>\nold",
            ["Mine"],
            id="outlook-android-de",
        ),
        pytest.param(
            "Mine\n\n====\n\nMessage du : 12/12/2016 13:20\nDe : Q <q@example.org>\nA : x\nold",
            ["Mine", ""],
            id="french-webmail-header-and-rule",
        ),
        pytest.param(
            "Mine\nOd: Ola <ola@example.org>\nWysłano: pon\nDo: x\nold",
            ["Mine"],
            id="polish-outlook",
        ),
        # Own text that merely resembles the shapes above stays the author's.
        pytest.param(
            "Write to Maya <maya@example.org>:\nshe is the contact",
            ["Write to Maya <maya@example.org>:", "she is the contact"],
            id="address-colon-without-date",
        ),
        pytest.param(
            "We met at 10:30 with Maya <maya@example.org>\nAgenda:\n- rota",
            ["We met at 10:30 with Maya <maya@example.org>", "Agenda:", "- rota"],
            id="date-address-then-heading",
        ),
        pytest.param(
            "Sent from my phone at the sprint venue, sorry for typos and the delay today",
            ["Sent from my phone at the sprint venue, sorry for typos and the delay today"],
            id="sentence-like-a-signature",
        ),
        pytest.param("Heading\n====\nText", ["Heading", "====", "Text"], id="setext-heading"),
    ],
)
def test_top_lines_languages(text: str, expected: list[str]) -> None:
    assert top_lines(text) == expected


@pytest.mark.parametrize(
    "marker",
    [
        "Il giorno lun 2 nov 2026 alle ore 10:15 Maya Chen <maya@example.org> ha scritto:",
        "Den 2. nov. 2026 kl. 10.15 skrev Maya Chen <maya@example.org>:",
        "Em seg., 2 de nov. de 2026 às 10:15, Maya Chen <maya@example.org> escreveu:",
        "El lun, 2 nov 2026 a las 10:15, Maya Chen (<maya@example.org>) escribió:",
        "Op ma 2 nov. 2026 om 10:15 schreef Maya Chen <maya@example.org>:",
        "2 нояб. 2026 г., в 10:15, Maya Chen <maya@example.org> написал(а):",
        "pon., 2 lis 2026 o 10:15 Maya Chen <maya@example.org> napisał(a):",
        "ma 2. marrask. 2026 klo 10.15 Maya Chen (maya@example.org) <maya@example.org> kirjoitti:",
        "De: Maya Chen <maya@example.org>\nEnviado: segunda-feira\nPara: x\nAssunto: y",
        "Fra: Maya Chen <maya@example.org>\nSendt: mandag\nTil: x\nEmne: y",
        "Da: Maya Chen <maya@example.org>\nInviato: lunedì\nA: x\nOggetto: y",
        "Lähettäjä: Maya Chen <maya@example.org>\nLähetetty: maanantai\nAihe: y",
        "От: Maya Chen <maya@example.org>\nОтправлено: понедельник\nТема: y",
        "-----Messaggio originale-----",
        "-----Mensagem original-----",
        "-------- Oprindelig meddelelse --------",
        "Envoyé de mon iPhone",
        "Inviato da iPhone",
        "Von meinem iPhone gesendet",
    ],
)
def test_top_lines_more_languages(marker: str) -> None:
    assert top_lines(f"Mine\n{marker}\nold text") == ["Mine"]
