"""Templates and header safety: sanitising, StrictUndefined, the sandbox, folding."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.config import Config, parse_config
from bot.outbound.acknowledgement import greeting_name
from bot.outbound.outbox import build_message, reply_subject, valid_address
from bot.outbound.render import RenderedMail, TemplateError, clean_header, render_mail
from tests.helpers import config_dict


def make_config(templates: Path | None = None) -> Config:
    extra = {"templates_dir": str(templates)} if templates else {}
    return parse_config(config_dict("sqlite:///unused.db", **extra), environ={})


@pytest.fixture
def tpl_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    return folder


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("value, expected", [
    ("x\r\nBcc: attacker@example.com", "x Bcc: attacker@example.com"),
    ("a\rb\nc\td", "a b c d"),
    ("line\u2028sep\u2029para\x85nel", "line sep para nel"),
    ("zero\u200bwidth\x00nul\x1bescape", "zero width nul escape"),
    ("  many   spaces  ", "many spaces"),
    ("Grüße – ünïcödé", "Grüße – ünïcödé"),
])
def test_clean_header_removes_line_breaks_and_controls(value: str, expected: str) -> None:
    assert clean_header(value) == expected


def test_clean_header_bounds_length() -> None:
    assert len(clean_header("x" * 5000)) == 500


def test_subject_comes_from_first_line_and_is_sanitised(tpl_dir: Path) -> None:
    write(tpl_dir, "t.txt.j2", "Subject: Re: {{ subject }}\n\nHello {{ name }}.\n")
    out = render_mail(make_config(tpl_dir), "t",
                      {"subject": "x\r\nBcc: attacker@example.com", "name": "Jo"})
    assert out == RenderedMail(subject="Re: x Bcc: attacker@example.com",
                               text="Hello Jo.\n", html=None)


def test_missing_variable_is_an_error(tpl_dir: Path) -> None:
    write(tpl_dir, "t.txt.j2", "Subject: hi\n\nHello {{ name }}.\n")
    with pytest.raises(TemplateError, match="name"):
        render_mail(make_config(tpl_dir), "t", {})


def test_missing_subject_line_is_an_error(tpl_dir: Path) -> None:
    write(tpl_dir, "t.txt.j2", "Hello.\n")
    with pytest.raises(TemplateError, match="Subject"):
        render_mail(make_config(tpl_dir), "t", {})


def test_missing_template_is_an_error(tpl_dir: Path) -> None:
    with pytest.raises(TemplateError, match="not found"):
        render_mail(make_config(tpl_dir), "nope", {})


def test_sandbox_refuses_attribute_escapes(tpl_dir: Path) -> None:
    write(tpl_dir, "t.txt.j2", "Subject: x\n\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(TemplateError, match=r"SecurityError|unsafe"):
        render_mail(make_config(tpl_dir), "t", {})


def test_user_text_is_data_not_template_source(tpl_dir: Path) -> None:
    write(tpl_dir, "t.txt.j2", "Subject: {{ s }}\n\n{{ body }}\n")
    out = render_mail(make_config(tpl_dir), "t",
                      {"s": "{{ 7*7 }}", "body": "{% for x in y %}{{ config }}<b>"})
    assert out.subject == "{{ 7*7 }}"
    # Plain text is not HTML-escaped.
    assert out.text == "{% for x in y %}{{ config }}<b>\n"


def test_html_part_is_autoescaped(tpl_dir: Path) -> None:
    write(tpl_dir, "t.txt.j2", "Subject: s\n\n{{ name }}\n")
    write(tpl_dir, "t.html.j2", "<p>Hi {{ name }}</p>\n")
    out = render_mail(make_config(tpl_dir), "t", {"name": "<script>alert(1)</script>"})
    assert out.text == "<script>alert(1)</script>\n"
    assert out.html is not None
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html


@pytest.mark.parametrize("template", ["ack_decision_needed", "ack_on_file"])
@pytest.mark.parametrize("danger", [False, True])
def test_shipped_acknowledgements_render(template: str, danger: bool) -> None:
    ctx = {"reply_subject": "Re: hello", "greeting_name": "", "contact_name": "",
           "danger": danger, "signature": "DSF Code of Conduct Working Group",
           "team_page": "https://www.djangoproject.com/foundation/teams/"}
    out = render_mail(make_config(), template, ctx)
    assert out.subject == "Your report to the Django Code of Conduct Working Group"
    assert out.text.startswith("Hi,\n\nThank you so much for reporting")
    assert out.text.rstrip().endswith("Regards,\nDSF Code of Conduct Working Group")
    assert ("local emergency services" in out.text) is danger
    assert "law enforcement" not in out.text
    assert "\n\n\n" not in out.text


def test_acknowledgement_signed_by_point_of_contact_once_assigned() -> None:
    ctx = {"reply_subject": "Re: hello", "greeting_name": "Jo", "contact_name": "Maya",
           "danger": False, "signature": "DSF Code of Conduct Working Group",
           "team_page": "https://www.djangoproject.com/foundation/teams/"}
    out = render_mail(make_config(), "ack_decision_needed", ctx)
    assert out.text.startswith("Hi Jo,\n")
    # The text is automatic: the contact is named as who follows up, not as signer.
    assert "Maya, a member of the working group, will follow up" in out.text
    assert out.text.rstrip().endswith("Regards,\nDSF Code of Conduct Working Group")


@pytest.mark.parametrize("name, expected", [
    ("Jo Reporter", "Jo Reporter"),
    ("José María O'Neil-Ruiz", "José María O'Neil-Ruiz"),
    ("", ""),
    ("jo@example.com", ""),
    ("Visit http://spam.example now", ""),
    ("Buy cheap pills at our shop today please", ""),
    ("Jo\r\nBcc: x", ""),
    ("李小龍", "李小龍"),
])
def test_greeting_name_only_when_it_looks_like_a_name(name: str, expected: str) -> None:
    assert greeting_name(name) == expected


@pytest.mark.parametrize("original, expected", [
    ("Report", "Re: Report"),
    ("Re: Re: AW: Report", "Re: Report"),
    ("Report [CoC home-shelf]", "Re: Report"),
    ("x\r\nBcc: attacker@example.com", "Re: x Bcc: attacker@example.com"),
    ("", "Re: your message"),
])
def test_reply_subject(original: str, expected: str) -> None:
    assert reply_subject(original) == expected


@pytest.mark.parametrize("addr, ok", [
    ("jo@mail.example", True),
    ("jo+tag@mail.example", True),
    ("", False),
    ("jo@mail.example\r\nBcc: x@y.example", False),
    ("Jo <jo@mail.example>", False),
    ("a,b@mail.example", False),
    ("no-at-sign", False),
])
def test_valid_address(addr: str, ok: bool) -> None:
    assert valid_address(addr) is ok


def test_long_subject_is_folded_by_the_email_package() -> None:
    raw = build_message(make_config(), now=datetime(2024, 1, 1, tzinfo=UTC),
                        message_id="m@example.org", subject="word " * 60, text="body\n",
                        html=None, to=["jo@mail.example"], cc=[], reply_to=None,
                        auto_submitted="auto-replied")
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in header_block.split(b"\r\n"))
    assert b"\n" not in header_block.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == ("word " * 60).strip()
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"] == "<m@example.org>"
    assert msg["Precedence"] is None
