"""Tests for bot.mail.parse: headers, ids, bodies, the ParseError rule and forwards."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bot.mail.dates import parse_loose_date
from bot.mail.parse import (
    ParseError,
    extract_forwarded,
    normalise_msgid,
    parse_message,
    parse_msgid_list,
)


def mail(headers: str, body: str = "Hello.\n", *, crlf: bool = False) -> bytes:
    """Raw message bytes from a header block (one field per line) and a body."""
    text = headers.strip("\n") + "\n\n" + body
    if crlf:
        text = text.replace("\n", "\r\n")
    return text.encode("utf-8")


BASIC = """\
From: Maya Chen <maya@example.org>
To: Conduct WG <conduct@example.org>, bob@example.org
Cc: "Lee, Sam" <sam@example.org>
Reply-To: maya.private@example.org
Subject: Incident at the sprint
Date: Mon, 02 Nov 2026 10:15:00 +0100
Message-ID: <abc123@mail.example.org>
In-Reply-To: <parent@example.org>
References: <root@example.org> <parent@example.org>
"""


# --------------------------------------------------------------------------
# Headers
# --------------------------------------------------------------------------


def test_basic_fields() -> None:
    pm = parse_message(mail(BASIC, "Something happened.\n"))
    assert pm.message_id == "abc123@mail.example.org"
    assert pm.subject == "Incident at the sprint"
    assert [(a.name, a.addr) for a in pm.from_] == [("Maya Chen", "maya@example.org")]
    assert pm.from_header_count == 1
    assert pm.sender is not None and pm.sender.key == "maya@example.org"
    assert [a.addr for a in pm.to] == ["conduct@example.org", "bob@example.org"]
    assert [(a.name, a.addr) for a in pm.cc] == [("Lee, Sam", "sam@example.org")]
    assert [a.addr for a in pm.reply_to] == ["maya.private@example.org"]
    assert pm.date == datetime(2026, 11, 2, 9, 15, tzinfo=UTC)
    assert pm.date is not None and pm.date.utcoffset() is not None
    assert pm.in_reply_to == ["parent@example.org"]
    assert pm.references == ["root@example.org", "parent@example.org"]
    assert pm.text_body == "Something happened.\n"
    assert pm.html_body is None
    assert pm.content_type == "text/plain"
    assert pm.from_defects is False
    assert not pm.is_dsn
    assert [name for name, _ in pm.headers] == [
        "From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To",
        "References",
    ]  # fmt: skip
    assert pm.header("subject") == "Incident at the sprint"


def test_crlf_line_endings_and_folded_headers() -> None:
    raw = mail(
        "From: maya@example.org\nSubject: a long\n  folded subject\nMessage-ID:\n <id@x.example>",
        "line one\nline two\n",
        crlf=True,
    )
    pm = parse_message(raw)
    assert pm.subject == "a long folded subject"
    assert pm.message_id == "id@x.example"
    assert pm.text_body == "line one\nline two\n"


def test_two_from_headers_are_both_kept() -> None:
    raw = mail("From: Maya <maya@example.org>\nFrom: Eve <eve@attacker.example>\nSubject: x")
    pm = parse_message(raw)
    assert pm.from_header_count == 2
    assert [a.addr for a in pm.from_] == ["maya@example.org", "eve@attacker.example"]
    assert pm.sender is None
    assert pm.first_from is not None and pm.first_from.addr == "maya@example.org"
    assert pm.header_all("From") == ["Maya <maya@example.org>", "Eve <eve@attacker.example>"]


def test_two_mailboxes_in_one_from_header() -> None:
    pm = parse_message(mail("From: Maya <maya@example.org>, Bob <bob@example.org>"))
    assert pm.from_header_count == 1
    assert len(pm.from_) == 2
    assert pm.sender is None
    assert pm.from_defects is False


def test_no_from_header() -> None:
    pm = parse_message(mail("Subject: no sender\nMessage-ID: <a@b.example>"))
    assert pm.from_header_count == 0
    assert pm.from_ == []
    assert pm.sender is None and pm.first_from is None


@pytest.mark.parametrize(
    ("from_value", "addrs", "defects"),
    [
        pytest.param("Maya Chen <maya@example.org>", ["maya@example.org"], False, id="plain"),
        pytest.param("maya@example.org (Maya Chen)", ["maya@example.org"], False, id="comment"),
        pytest.param('"Chen, Maya" <maya@example.org>', ["maya@example.org"], False, id="comma"),
        pytest.param(
            '"maya@example.org" <maya@example.org>', ["maya@example.org"], False, id="same-addr"
        ),
        pytest.param("<a@attacker.example>maya@example.org", [], True, id="trailing-addr"),
        pytest.param(
            '"maya@example.org" <a@attacker.example>',
            ["a@attacker.example"],
            True,
            id="quoted-addr-as-name",
        ),
        pytest.param(
            "maya@example.org <a@attacker.example>",
            ["a@attacker.example"],
            True,
            id="bare-addr-as-name",
        ),
        pytest.param(
            "=?utf-8?q?maya=40example.org?= <a@attacker.example>",
            ["a@attacker.example"],
            True,
            id="encoded-word-addr-as-name",
        ),
        pytest.param("=?utf-8?q?maya=40example.org?=", [], True, id="encoded-word-only"),
        pytest.param("Maya Chen", [], True, id="missing-at"),
        pytest.param("Moderator <moderator>", [], True, id="angle-without-at"),
        pytest.param("Maya Chen <maya@example.org", [], True, id="unclosed-angle"),
        pytest.param("tim@example.org concierge@example.org", [], True, id="two-bare"),
        pytest.param("", [], True, id="empty"),
    ],
)
def test_from_display_name_tricks(from_value: str, addrs: list[str], defects: bool) -> None:
    pm = parse_message(mail(f"From: {from_value}\nSubject: x"))
    assert [a.addr for a in pm.from_] == addrs
    assert pm.from_defects is defects
    assert pm.from_header_count == 1


def test_encoded_word_display_name_is_decoded() -> None:
    pm = parse_message(mail("From: =?utf-8?b?TWF5YSBDaMOpbg==?= <maya@example.org>"))
    assert [(a.name, a.addr) for a in pm.from_] == [("Maya Chén", "maya@example.org")]
    assert pm.from_defects is False


def test_overlong_encoded_word_is_not_a_from_defect() -> None:
    long_name = "=?UTF-8?B?0YHQu9GD0LbQsdCwINCk0J3QoSDQlNCw0L3QuNC40Lsg0KHRg9Cy0L7RgNC+0LI=?="
    pm = parse_message(mail(f"From: {long_name} <s@example.ru>"))
    assert pm.from_[0].name == "служба ФНС Даниил Суворов"
    assert pm.from_defects is False


def test_raw_utf8_header_rfc6532() -> None:
    raw = "From: Maya Chén <maya@example.org>\nSubject: Grüße\n\nHi\n".encode()
    pm = parse_message(raw)
    assert pm.from_[0].name == "Maya Chén"
    assert pm.subject == "Grüße"
    assert pm.from_defects is False


def test_raw_latin1_header_is_decoded_not_dropped() -> None:
    raw = "From: maya@example.org\nSubject: Die Hasen und die Frösche\n\nx\n".encode("latin-1")
    assert parse_message(raw).subject == "Die Hasen und die Frösche"


def test_crlf_in_encoded_subject_never_survives() -> None:
    raw = mail(
        "From: maya@example.org\n"
        "Subject: =?utf-8?q?x=0D=0ABcc:_attacker@example.com?=\n"
        "X-Other: =?utf-8?b?YQ0KYg==?=\n"
        "To: =?utf-8?q?x=0D=0ABcc:_attacker@example.com?= <m@example.org>"
    )
    pm = parse_message(raw)
    assert "\r" not in pm.subject and "\n" not in pm.subject
    assert "Bcc: attacker@example.com" in pm.subject
    for name, value in pm.headers:
        assert "\r" not in value and "\n" not in value, name
        assert "\r" not in name and "\n" not in name
    for address in [*pm.from_, *pm.to]:
        assert "\n" not in address.name and "\r" not in address.name


def test_unicode_line_separators_are_removed_from_headers() -> None:
    raw = mail("From: maya@example.org\nSubject: =?utf-8?q?a=E2=80=A8b=C2=85c=0Bd?=")
    subject = parse_message(raw).subject
    assert subject.splitlines() == [subject]


def test_unlisted_recipients_group_is_harmless() -> None:
    pm = parse_message(mail("From: maya@example.org\nTo: unlisted-recipients:; (no To-header)"))
    assert pm.to == []
    assert pm.header("To") == "unlisted-recipients:; (no To-header)"


def test_obsolete_blank_before_colon() -> None:
    raw = mail(
        "From  : Maya <maya@example.org>\nSubject : hello\nDate: Mon, 2 Nov 2026 10:15 +0000"
    )
    pm = parse_message(raw)
    assert [a.addr for a in pm.from_] == ["maya@example.org"]
    assert pm.subject == "hello"


def test_junk_line_between_fields_does_not_end_the_header_block() -> None:
    raw = mail(
        "Received: from a by b\nquite Delivered-To: x@example.org\nFrom: maya@example.org\n"
        "Message-ID: <id@example.org>\nSubject: kept",
        "Body.\n",
    )
    pm = parse_message(raw)
    assert pm.subject == "kept"
    assert pm.message_id == "id@example.org"
    assert pm.text_body == "Body.\n"


def test_body_without_separator_line_stays_body() -> None:
    raw = b"From: maya@example.org\nSubject: x\nThis is the body\nand more body\n"
    pm = parse_message(raw)
    assert pm.subject == "x"
    assert "This is the body" in pm.text_body
    assert "MissingHeaderBodySeparatorDefect" in pm.defects


# --------------------------------------------------------------------------
# Message-IDs
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc@example.org>", "abc@example.org"),
        ("  <abc@example.org>  ", "abc@example.org"),
        ("abc@example.org", "abc@example.org"),
        ("<abc\n @example.org>", "abc@example.org"),
        ("(comment) <abc@example.org> trailing", "abc@example.org"),
        ("abc@example.org (comment)", "abc@example.org"),
        ("<yes>", None),
        ("yes", None),
        ("<>", None),
        ("<@example.org>", None),
        ("<abc@>", None),
        ("", None),
        ("<" + "a" * 2000 + "@example.org>", None),
    ],
)
def test_normalise_msgid(value: str, expected: str | None) -> None:
    assert normalise_msgid(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@x.example> <b@x.example>", ["a@x.example", "b@x.example"]),
        ("<a@x.example>,<b@x.example>", ["a@x.example", "b@x.example"]),
        ("<a@x.example>\n\t<b@x.example>", ["a@x.example", "b@x.example"]),
        ("<a@x.example>junk<b@x.example>", ["a@x.example", "b@x.example"]),
        (
            "<a@x.example> (Maya Chen's message of Mon, 2 Nov 2026 maya@example.org)",
            ["a@x.example"],
        ),
        ('Your message of "Mon, 2 Nov 2026" <a@x.example>', ["a@x.example"]),
        ("<yes> <a@x.example>", ["a@x.example"]),
        ("<yes>", []),
        ("a@x.example b@x.example", ["a@x.example", "b@x.example"]),
        ("a@x.example, b@x.example.", ["a@x.example", "b@x.example"]),
        ("<a@x.example> <a@x.example>", ["a@x.example"]),
        ("<a@x.example", ["a@x.example"]),  # truncated: bracket missing
        ("", []),
        ("   ", []),
    ],
)
def test_parse_msgid_list(value: str, expected: list[str]) -> None:
    assert parse_msgid_list(value) == expected


def test_yes_in_reply_to_links_nothing() -> None:
    raw = mail("From: maya@example.org\nMessage-ID: <yes>\nIn-Reply-To: <yes>\nReferences: <yes>")
    pm = parse_message(raw)
    assert pm.message_id is None
    assert pm.in_reply_to == [] and pm.references == []
    assert pm.cited_ids == []


def test_missing_message_id() -> None:
    assert parse_message(mail("From: maya@example.org\nSubject: x")).message_id is None


def test_several_in_reply_to_headers_are_merged() -> None:
    raw = mail("From: m@example.org\nIn-Reply-To: <a@x.example>\nIn-Reply-To: <b@x.example>")
    assert parse_message(raw).in_reply_to == ["a@x.example", "b@x.example"]


# --------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 02 Nov 2026 10:15:00 +0100", datetime(2026, 11, 2, 9, 15, tzinfo=UTC)),
        ("2 Nov 2026 10:15:00 -0000", datetime(2026, 11, 2, 10, 15, tzinfo=UTC)),
        ("Mon, 2 Nov 2026 10:15:00 EST", datetime(2026, 11, 2, 15, 15, tzinfo=UTC)),
        ("not a date", None),
        ("Mon, 99 Nov 2026 10:15:00 +0100", None),
        ("", None),
    ],
)
def test_message_date(value: str, expected: datetime | None) -> None:
    pm = parse_message(mail(f"From: m@example.org\nDate: {value}"))
    assert pm.date == expected
    if pm.date is not None:
        assert pm.date.tzinfo is UTC


def test_missing_date() -> None:
    assert parse_message(mail("From: m@example.org")).date is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, Nov 2, 2026 at 10:15 AM", datetime(2026, 11, 2, 10, 15, tzinfo=UTC)),
        ("Mon, Nov 2, 2026 at 10:15\u202fPM", datetime(2026, 11, 2, 22, 15, tzinfo=UTC)),
        ("2 November 2026 at 10:15:00 CET", datetime(2026, 11, 2, 9, 15, tzinfo=UTC)),
        ("November 2, 2026 at 10:15:00 AM PST", datetime(2026, 11, 2, 18, 15, tzinfo=UTC)),
        ("Monday, November 2, 2026 10:15 AM", datetime(2026, 11, 2, 10, 15, tzinfo=UTC)),
        ("Monday, November 2, 2026 10:15 PM", datetime(2026, 11, 2, 22, 15, tzinfo=UTC)),
        ("Mon, 2 Nov 2026 10:15:00 +0100", datetime(2026, 11, 2, 9, 15, tzinfo=UTC)),
        ("2026-11-02 10:15:00", datetime(2026, 11, 2, 10, 15, tzinfo=UTC)),
        ("Monday, 2 November 2026 10:15 GMT+01:00", datetime(2026, 11, 2, 9, 15, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
    ],
)
def test_parse_loose_date(value: str | None, expected: datetime | None) -> None:
    assert parse_loose_date(value) == expected


# --------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------

ALTERNATIVE = """\
From: maya@example.org
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"
"""

ALTERNATIVE_BODY = """\
--b1
Content-Type: text/plain; charset=utf-8

Plain version.
--b1
Content-Type: text/html; charset=utf-8

<p>HTML version.</p>
--b1--
"""


def test_alternative_takes_plain_once_and_html() -> None:
    pm = parse_message(mail(ALTERNATIVE, ALTERNATIVE_BODY))
    assert pm.text_body == "Plain version."
    assert pm.html_body == "<p>HTML version.</p>"
    assert pm.content_type == "multipart/alternative"
    assert pm.attachments == []


def test_html_only_body_is_turned_into_text() -> None:
    raw = mail(
        "From: maya@example.org\nContent-Type: text/html; charset=utf-8",
        "<html><head><style>p{}</style></head><body><p>First</p><p>Second &amp; last</p>"
        "</body></html>",
    )
    pm = parse_message(raw)
    assert pm.html_body is not None and "<p>First</p>" in pm.html_body
    assert "First" in pm.text_body and "Second & last" in pm.text_body
    assert "<p>" not in pm.text_body and "p{}" not in pm.text_body


def test_html_only_mail_drops_scripts_and_keeps_blocks_apart() -> None:
    raw = mail(
        "From: maya@example.org\nContent-Type: text/html",
        "<script>x()</script><div>One</div><div>Two&nbsp;too</div>",
    )
    pm = parse_message(raw)
    assert pm.text_body.split() == ["One", "Two", "too"]


MIXED_HEAD = """\
From: maya@example.org
Subject: mixed
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mx"
"""


def test_inline_text_parts_around_an_image_are_joined() -> None:
    body = """\
--mx
Content-Type: text/plain

Before the picture.
--mx
Content-Type: image/png
Content-Disposition: inline; filename="shot.png"
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--mx
Content-Type: text/plain

After the picture.
--mx--
"""
    pm = parse_message(mail(MIXED_HEAD, body))
    assert pm.text_body == "Before the picture.\nAfter the picture."
    assert pm.attachments == [("shot.png", "image/png", 8)]


@pytest.mark.parametrize(
    ("charset", "payload", "expected"),
    [
        pytest.param("x-no-such-charset", "Grüße".encode(), "Grüße", id="unknown-charset-utf8"),
        pytest.param("us-ascii", "Grüße".encode("latin-1"), "Grüße", id="ascii-but-latin1"),
        pytest.param("us-ascii", "Grüße".encode(), "Grüße", id="ascii-but-utf8"),
        pytest.param("utf-8", "Grüße".encode("cp1252"), "Grüße", id="utf8-but-cp1252"),
        pytest.param("iso-8859-1", "“quoted”".encode("cp1252"), "“quoted”", id="latin1-cp1252"),
        pytest.param("gb2312", "我把镜头拉".encode("gbk"), "我把镜头拉", id="gb2312-gbk"),
        pytest.param("base64", b"plain", "plain", id="not-a-text-codec"),
        pytest.param('"utf-8"', "é".encode(), "é", id="quoted-charset"),
    ],
)
def test_bad_charsets_decode_without_failing(charset: str, payload: bytes, expected: str) -> None:
    head = f"From: m@example.org\nContent-Type: text/plain; charset={charset}\n\n".encode()
    assert parse_message(head + payload).text_body == expected


def test_undecodable_bytes_become_replacement_characters() -> None:
    head = b"From: m@example.org\nContent-Type: text/plain; charset=utf-16\n\n"
    pm = parse_message(head + b"\xff\xfe\x00\xd8")  # a lone surrogate in UTF-16
    assert isinstance(pm.text_body, str)
    pm.text_body.encode("utf-8")


def test_nul_bytes_are_dropped_from_text() -> None:
    pm = parse_message(b"From: m@example.org\n\nA\x00B\n")
    assert pm.text_body == "AB\n"


def test_quoted_printable_and_base64_bodies() -> None:
    qp = mail(
        "From: m@example.org\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable",
        "Gr=C3=BC=C3=9Fe=\n and more\n",
    )
    assert parse_message(qp).text_body == "Grüße and more\n"
    b64 = mail(
        "From: m@example.org\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64",
        "R3LDvMOfZQ==\n",
    )
    assert parse_message(b64).text_body == "Grüße"


def test_attachments_are_listed_with_decoded_names_and_sizes() -> None:
    body = """\
--mx
Content-Type: text/plain

See attached.
--mx
Content-Type: application/pdf; name="=?utf-8?q?Bericht_=C3=BCber.pdf?="
Content-Disposition: attachment; filename="=?utf-8?q?Bericht_=C3=BCber.pdf?="
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--mx
Content-Type: text/plain
Content-Disposition: attachment; filename="log.txt"

a log line
--mx--
"""
    pm = parse_message(mail(MIXED_HEAD, body))
    assert pm.text_body == "See attached."
    assert pm.attachments == [
        ("Bericht über.pdf", "application/pdf", 9),
        ("log.txt", "text/plain", 10),
    ]


# --------------------------------------------------------------------------
# Attached messages and DSNs
# --------------------------------------------------------------------------

INNER = """\
From: Maya Chen <maya@example.org>
To: organisers@example.org
Subject: Incident at the sprint
Date: Mon, 02 Nov 2026 10:15:00 +0100
Message-ID: <inner@example.org>

Something happened at the sprint.
"""


def attached(outer_text_part: str, inner: str = INNER) -> bytes:
    """A message with one body part and `inner` attached as message/rfc822."""
    return mail(
        "From: Sam Lee <sam@example.org>\nTo: conduct@example.org\nSubject: Fwd: Incident\n"
        "Message-ID: <outer@example.org>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="fw"',
        f"--fw\n{outer_text_part}\n--fw\nContent-Type: message/rfc822\n"
        f'Content-Disposition: attachment; filename="incident.eml"\n\n{inner}\n--fw--\n',
    )


def test_attached_message_is_kept_apart_from_the_body() -> None:
    raw = attached("Content-Type: text/html\n\n<p>Forwarding this.</p>")
    pm = parse_message(raw)
    # The attached message's text must not become the outer message's body.
    assert pm.text_body == "Forwarding this."
    assert len(pm.attached_messages) == 1
    assert pm.attached_messages[0].startswith(b"From: Maya Chen <maya@example.org>")
    assert pm.attachments == [("incident.eml", "message/rfc822", len(pm.attached_messages[0]))]
    inner = parse_message(pm.attached_messages[0])
    assert inner.message_id == "inner@example.org"
    assert inner.text_body.strip() == "Something happened at the sprint."


DSN_HEAD = """\
From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: conduct@example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="rp"
"""

DSN_BODY = """\
--rp
Content-Type: text/plain

This is the mail system. Your message could not be delivered.
--rp
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.1.1
--rp
Content-Type: message/rfc822

From: conduct@example.org
To: gone@example.org
Subject: Your report
Message-ID: <ours@example.org>

Thanks for your report.
--rp--
"""


def test_dsn_is_detected() -> None:
    pm = parse_message(mail(DSN_HEAD, DSN_BODY))
    assert pm.is_dsn
    assert pm.text_body.startswith("This is the mail system.")
    assert len(pm.attached_messages) == 1


def test_delivery_status_part_alone_marks_a_dsn() -> None:
    head = DSN_HEAD.replace("multipart/report; report-type=delivery-status", "multipart/mixed")
    assert parse_message(mail(head, DSN_BODY)).is_dsn


def test_other_reports_and_forwarded_bounces_are_not_dsns() -> None:
    head = DSN_HEAD.replace("delivery-status", "disposition-notification")
    body = DSN_BODY.replace("message/delivery-status", "message/disposition-notification")
    assert not parse_message(mail(head, body)).is_dsn
    bounce = DSN_HEAD + "\n" + DSN_BODY
    forwarded = attached("Content-Type: text/plain\n\nLook at this bounce.", inner=bounce)
    assert not parse_message(forwarded).is_dsn
    assert not parse_message(mail(BASIC)).is_dsn


# --------------------------------------------------------------------------
# The ParseError rule
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\r\n\r\n  \r\n", id="blank"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\x00>\x00\x03", id="ole-binary"),
        pytest.param(bytes(range(256)) * 4, id="binary-junk"),
        pytest.param(b"just a line of text\nand another\n", id="text-without-headers"),
        pytest.param(b"Note: this is a note\n\nNot a message.\n", id="no-message-fields"),
    ],
)
def test_parse_error_when_there_is_no_header_block(raw: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse_message(raw)
    assert info.value.reason
    assert str(info.value) == info.value.reason


def test_parse_error_for_non_bytes() -> None:
    with pytest.raises(ParseError, match="not bytes"):
        parse_message("From: m@example.org\n\nx")  # type: ignore[arg-type]


def test_leading_blank_lines_are_tolerated() -> None:
    assert parse_message(b"\r\n\nFrom: m@example.org\nSubject: s\n\nx").subject == "s"


def test_mbox_from_line_is_not_a_header() -> None:
    pm = parse_message(b"From m@example.org Mon Nov  2 10:15:00 2026\nFrom: m@example.org\n\nx")
    assert pm.from_header_count == 1


@pytest.mark.parametrize("depth", [50, 3000])
def test_deep_nesting_keeps_the_headers(depth: int) -> None:
    parts = [f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)]
    raw = (
        "From: m@example.org\nSubject: deep\n" + "".join(parts) + "Content-Type: text/plain\n\nx\n"
    )
    pm = parse_message(raw.encode())
    assert pm.subject == "deep"
    assert [a.addr for a in pm.from_] == ["m@example.org"]
    if depth > 1000:  # beyond the stdlib parser's recursion: headers only
        assert "BodyNotParsed:TooDeeplyNested" in pm.defects
    else:
        assert pm.text_body.strip() == "x"


def test_huge_encoded_subject_decodes_fully() -> None:
    words = "=?utf-8?q?Gr=C3=BC=C3=9Fe?= " * 20000
    pm = parse_message(mail(f"From: m@example.org\nSubject: {words}"))
    assert pm.subject.count("Grüße") == 20000
    assert "=?" not in pm.subject


def test_truncated_and_mangled_messages_never_raise_anything_else() -> None:
    sample = mail(DSN_HEAD, DSN_BODY) + attached("Content-Type: text/plain\n\nx")
    rng = random.Random(1234)
    cases = [sample[:cut] for cut in range(0, len(sample), 7)]
    for _ in range(200):
        data = bytearray(sample)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cases.append(bytes(data))
    for raw in cases:
        try:
            pm = parse_message(raw)
        except ParseError:
            continue
        for _, value in pm.headers:
            assert "\n" not in value and "\r" not in value
        extract_forwarded(pm)


# --------------------------------------------------------------------------
# Forwarded messages
# --------------------------------------------------------------------------


def test_forward_as_attachment() -> None:
    pm = parse_message(attached("Content-Type: text/plain\n\nPlease see the attached report."))
    fwd = extract_forwarded(pm)
    assert fwd is not None
    assert fwd.sender is not None and fwd.sender.addr == "maya@example.org"
    assert fwd.date == datetime(2026, 11, 2, 9, 15, tzinfo=UTC)
    assert fwd.message_id == "inner@example.org"
    assert fwd.subject == "Incident at the sprint"


def forward_mail(text: str) -> bytes:
    """A plain-text mail from a member carrying `text` as its body."""
    return mail("From: Sam Lee <sam@example.org>\nTo: conduct@example.org\nSubject: Fwd: x", text)


GMAIL = """\
Hi all, forwarding this one.

---------- Forwarded message ---------
From: Maya Chen <maya@example.org>
Date: Mon, Nov 2, 2026 at 10:15\u202fAM
Subject: Incident at the sprint
To: <organisers@example.org>
Cc: Bob <bob@example.org>


Something happened at the sprint.

Maya
"""

APPLE = """\
FYI

Begin forwarded message:

From: Maya Chen <maya@example.org>
Subject: Incident at the sprint
Date: 2 November 2026 at 10:15:00 CET
To: organisers@example.org

Something happened at the sprint.
"""

APPLE_QUOTED = """\
FYI

Begin forwarded message:

> From: Maya Chen <maya@example.org>
> Subject: Incident at the sprint
> Date: 2 November 2026 at 10:15:00 CET
> To: organisers@example.org
>\x20
> Something happened at the sprint.
"""

OUTLOOK = """\
See below.

-----Original Message-----
From: Maya Chen [mailto:maya@example.org]
Sent: Monday, November 2, 2026 10:15 AM
To: Organisers <organisers@example.org>
Subject: Incident at the sprint

Something happened at the sprint.
"""

OUTLOOK_NEW = """\
See below.

________________________________
From: Maya Chen <maya@example.org>
Sent: Monday, November 2, 2026 10:15 AM
To: Organisers <organisers@example.org>
Subject: Incident at the sprint

Something happened at the sprint.
"""

THUNDERBIRD = """\
Forwarding.

-------- Forwarded Message --------
Subject: \tIncident at the sprint
Date: \tMon, 2 Nov 2026 11:15:00 +0200
From: \tMaya Chen <maya@example.org>
To: \torganisers@example.org
Message-ID: \t<tb-1@example.org>

Something happened at the sprint.
"""


@pytest.mark.parametrize(
    ("text", "when"),
    [
        pytest.param(GMAIL, datetime(2026, 11, 2, 10, 15, tzinfo=UTC), id="gmail"),
        pytest.param(APPLE, datetime(2026, 11, 2, 9, 15, tzinfo=UTC), id="apple"),
        pytest.param(APPLE_QUOTED, datetime(2026, 11, 2, 9, 15, tzinfo=UTC), id="apple-quoted"),
        pytest.param(OUTLOOK, datetime(2026, 11, 2, 10, 15, tzinfo=UTC), id="outlook"),
        pytest.param(OUTLOOK_NEW, datetime(2026, 11, 2, 10, 15, tzinfo=UTC), id="outlook-new"),
        pytest.param(THUNDERBIRD, datetime(2026, 11, 2, 9, 15, tzinfo=UTC), id="thunderbird"),
    ],
)
def test_inline_forwards(text: str, when: datetime) -> None:
    pm = parse_message(forward_mail(text))
    fwd = extract_forwarded(pm)
    assert fwd is not None
    assert fwd.sender is not None
    assert (fwd.sender.name, fwd.sender.addr) == ("Maya Chen", "maya@example.org")
    assert fwd.from_defects is False
    assert fwd.date == when
    assert fwd.subject == "Incident at the sprint"
    assert [a.addr for a in fwd.to] == ["organisers@example.org"]
    assert fwd.text_body.strip().startswith("Something happened at the sprint.")
    assert "From:" not in fwd.text_body
    assert fwd.content_type == "text/plain"


def test_gmail_forward_details() -> None:
    fwd = extract_forwarded(parse_message(forward_mail(GMAIL)))
    assert fwd is not None
    assert [a.addr for a in fwd.cc] == ["bob@example.org"]
    assert fwd.text_body == "Something happened at the sprint.\n\nMaya"
    assert fwd.message_id is None


def test_thunderbird_forward_message_id() -> None:
    fwd = extract_forwarded(parse_message(forward_mail(THUNDERBIRD)))
    assert fwd is not None and fwd.message_id == "tb-1@example.org"


def test_html_only_gmail_forward() -> None:
    html = (
        '<div dir="ltr">Forwarding.<br><br><div class="gmail_quote"><div dir="ltr" '
        'class="gmail_attr">---------- Forwarded message ---------<br>From: <strong '
        'class="gmail_sendername" dir="auto">Maya Chen</strong> <span dir="auto">&lt;'
        '<a href="mailto:maya@example.org">maya@example.org</a>&gt;</span><br>Date: Mon, '
        "Nov 2, 2026 at 10:15 AM<br>Subject: Incident at the sprint<br>To: &lt;"
        '<a href="mailto:organisers@example.org">organisers@example.org</a>&gt;<br></div>'
        "<br><br><div>Something happened at the sprint.</div></div></div>"
    )
    raw = mail("From: sam@example.org\nSubject: Fwd: x\nContent-Type: text/html", html)
    fwd = extract_forwarded(parse_message(raw))
    assert fwd is not None
    assert fwd.sender is not None and fwd.sender.addr == "maya@example.org"
    assert fwd.date == datetime(2026, 11, 2, 10, 15, tzinfo=UTC)
    assert "Something happened at the sprint." in fwd.text_body


def test_forward_with_tampered_from_line_is_flagged() -> None:
    text = GMAIL.replace("Maya Chen <maya@example.org>", "<a@attacker.example>maya@example.org")
    fwd = extract_forwarded(parse_message(forward_mail(text)))
    assert fwd is not None
    assert fwd.from_defects is True
    assert fwd.sender is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Just a normal message.\n", id="plain"),
        pytest.param(
            "Thanks!\n\nOn Mon, 2 Nov 2026 at 10:15, Maya <maya@example.org> wrote:\n> hi\n",
            id="reply-quote",
        ),
        pytest.param("-----Original Message-----\n\nNo header lines here.\n", id="no-from"),
        pytest.param("________________________________\n\nA signature rule.\n", id="rule"),
    ],
)
def test_no_forward(text: str) -> None:
    assert extract_forwarded(parse_message(forward_mail(text))) is None


def test_first_forward_wins_over_nested_ones() -> None:
    nested = (
        GMAIL
        + "\n"
        + OUTLOOK.replace("Maya Chen", "Old Sender").replace("maya@example.org", "old@example.org")
    )
    fwd = extract_forwarded(parse_message(forward_mail(nested)))
    assert fwd is not None and fwd.sender is not None
    assert fwd.sender.addr == "maya@example.org"


def test_quoted_outlook_block_with_rewrapped_header_lines() -> None:
    text = """\
My answer.

> -----Original Message-----
> From: Maya Chen [mailto:maya@example.org]
> Sent: Tuesday, August 03, 2010 2:07 PM
> To: Sam Lee
> Cc: Bob Example; list@example.org;
other@example.org;
> Subject: Re: the long subject that got
wrapped
>\x20
> The original text.
"""
    fwd = extract_forwarded(parse_message(forward_mail(text)))
    assert fwd is not None and fwd.sender is not None
    assert fwd.sender.addr == "maya@example.org"
    assert fwd.date == datetime(2010, 8, 3, 14, 7, tzinfo=UTC)
    assert fwd.subject == "Re: the long subject that got wrapped"
    assert fwd.text_body == "The original text."


def test_single_part_message_is_its_own_body_whatever_its_disposition() -> None:
    raw = mail(
        "From: m@example.org\nContent-Type: text/plain\n"
        'Content-Disposition: attachment; filename="a.txt"',
        "The text.\n",
    )
    pm = parse_message(raw)
    assert pm.text_body == "The text.\n"
    assert pm.attachments == []
