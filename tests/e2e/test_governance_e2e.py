"""The manual's protections end to end: real Dovecot, real SMTP sink, `cocbot run --once`.

A report naming a member shuts them out; a report naming the only chair goes to
the board; danger raises the urgent notice and the 4-hour clock on every path;
the organiser's death threat never gets the on-file text; a Ban needs the quorum.
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.botproc import e2e_config, run_cli
from tests.helpers import ALEX, CONDUCT, MAYA, REPORTER, SAM, make_mail
from tests.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.e2e

REP = "coc@djangocon.example"
THREAT = "He threatened to kill me after the meetup."


def cases(config: Path) -> dict[str, dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(run_cli(config, "cases", "--json").stdout)
    return {r["message_ids"][0]: r for r in rows}


def parsed(captured: Any) -> email.message.EmailMessage:
    msg = email.message_from_bytes(captured.content, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def text(captured: Any) -> str:
    msg = parsed(captured)
    part = msg.get_body(("plain",))
    assert part is not None
    return f"{msg['Subject']}\n{part.get_content()}"


def sent_to(smtp: SmtpSink, address: str) -> list[Any]:
    return [m for m in smtp.messages if address in [r.lower() for r in m.rcpt_tos]]


def about(smtp: SmtpSink, address: str, slug: str) -> list[str]:
    """Texts of every mail to `address` that mentions the case `slug`."""
    return [text(m) for m in sent_to(smtp, address)
            if slug in text(m) or slug.replace("-", " ") in text(m)]


def slug_of(case: dict[str, Any]) -> str:
    return str(case["code"]).replace(" ", "-")


@pytest.fixture
def bot(tmp_path: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink) -> Path:
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink,
                        intake={"backfill_before": "2000-01-01"},
                        local_representatives=[{"name": "Riley Organiser", "email": REP}])
    run_cli(config, "db", "upgrade")
    return config


def reply(inbox: Dovecot, sender: str, slug: str, tags: str, mid: str, parent: str,
          **kw: Any) -> None:
    inbox.append(make_mail(sender=sender, sender_name="", subject=f"Re: [CoC {slug}] {tags}",
                           body="Thanks.", message_id=mid, in_reply_to=parent,
                           references=[parent], **kw))


def later(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def test_chair_excludes_the_member_a_report_names(bot: Path, fresh_inbox: Dovecot,
                                                   smtp_sink: SmtpSink) -> None:
    fresh_inbox.append(make_mail(message_id="about-alex@mail.example", subject="About a member",
                                 body="Alex Smith kept following me around the venue. " + THREAT))
    # A second report names the only chair: the others are sent to the board.
    fresh_inbox.append(make_mail(sender="pat@mail.example", message_id="about-maya@mail.example",
                                 subject="The chair",
                                 body="Maya Chen was abusive to me in a private message."))
    run_cli(bot, "run", "--once")
    case = cases(bot)["about-alex@mail.example"]
    slug = slug_of(case)
    chair_case = slug_of(cases(bot)["about-maya@mail.example"])
    for member in (ALEX, SAM):
        assert any("foundation@djangoproject.com" in t
                   for t in about(smtp_sink, member, chair_case))
    assert about(smtp_sink, MAYA, chair_case) == []
    assert about(smtp_sink, MAYA, slug) and about(smtp_sink, SAM, slug)
    assert any("URGENT" in t for t in about(smtp_sink, SAM, slug))
    assert any("#exclude" in t for t in about(smtp_sink, MAYA, slug))
    parent = "about-alex@mail.example"
    reply(fresh_inbox, MAYA, slug, "#exclude Alex Smith", "ex@example.org", parent)
    # The member named tries to steer the case, and to exclude the chair with a forged From.
    reply(fresh_inbox, ALEX, slug, "#consequence not a violation #resolve", "a1@example.org",
          parent)
    reply(fresh_inbox, MAYA, slug, "#exclude Sam Jones", "forged@example.org", parent,
          authenticated=False)
    run_cli(bot, "run", "--once")
    case = cases(bot)[parent]
    assert case["status"] == "Ongoing" and case["consequences"] is None
    assert any("now excluded" in t for t in about(smtp_sink, MAYA, slug))
    # The urgent clock, 5 hours on: every member but the one excluded.
    run_cli(bot, "run", "--once", "--now", later(5))
    assert any("still unanswered" in t for t in about(smtp_sink, SAM, slug))
    assert any("still unanswered" in t for t in about(smtp_sink, MAYA, slug))
    # The next morning's digest lists the case for the chair.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=10, minute=0)
    run_cli(bot, "run", "--once", "--now", tomorrow.isoformat())
    assert any(t.startswith("Code of Conduct digest") for t in about(smtp_sink, MAYA, slug))
    assert about(smtp_sink, ALEX, slug) == [], "nothing the bot sends tells the member excluded"
    assert about(smtp_sink, MAYA, chair_case) == []
    # Alex stands in for the chair on the chair's case: his digest lists that one only.
    digests = [text(m) for m in sent_to(smtp_sink, ALEX)
               if str(parsed(m)["Subject"]).startswith("Code of Conduct digest")]
    spaced = chair_case.replace("-", " ")
    assert digests and all(spaced in t and slug not in t and slug.replace("-", " ") not in t
                           for t in digests)


def test_danger_on_every_path_raises_notice_and_clock(bot: Path, fresh_inbox: Dovecot,
                                                      smtp_sink: SmtpSink) -> None:
    forward = ("See below.\n\n---------- Forwarded message ---------\n"
               "From: Pat Person <pat@person.example>\nSubject: help\n\n" + THREAT + "\n")
    fresh_inbox.append(make_mail(sender=SAM, subject="Happened to me", message_id="own@x.example",
                                 body="Last night a man followed me home and I feel unsafe."))
    fresh_inbox.append(make_mail(sender="noreply@forms.example", message_id="form@x.example",
                                 subject="Form", body="What happened: " + THREAT,
                                 headers={"Reply-To": REPORTER}))
    fresh_inbox.append(make_mail(sender=MAYA, subject="Fwd: help", body=forward,
                                 message_id="fwd@x.example"))
    fresh_inbox.append(make_mail(sender="pat@list.example", message_id="list@x.example",
                                 subject="Via a list", body=THREAT,
                                 headers={"List-Id": "<x.list.example>"}))
    fresh_inbox.append(make_mail(sender="calm@mail.example", message_id="calm@x.example",
                                 body="The moderator was curt with me."))
    run_cli(bot, "run", "--once")
    by_id = cases(bot)
    assert len(by_id) == 5
    urgent = [m for m in sent_to(smtp_sink, ALEX) if "URGENT" in str(parsed(m)["Subject"])]
    assert len(urgent) == 4
    calm = slug_of(by_id["calm@x.example"])
    assert not any(calm in str(parsed(m)["Subject"]) for m in urgent)
    assert not sent_to(smtp_sink, "noreply@forms.example")
    run_cli(bot, "run", "--once", "--now", later(4.5))
    reminders = [text(m) for m in sent_to(smtp_sink, ALEX) if "still unanswered" in text(m)]
    assert len(reminders) == 4 and not any(calm in t for t in reminders)


def test_organisers_death_threat_never_gets_the_on_file_text(bot: Path, fresh_inbox: Dovecot,
                                                             smtp_sink: SmtpSink) -> None:
    fresh_inbox.append(make_mail(
        sender=REP, sender_name="Riley Organiser", message_id="org@djangocon.example",
        subject="Removed attendee came back",
        body="The attendee was removed from the event on Friday. He came back tonight and "
             "threatened to kill one of our volunteers. We need the working group's help."))
    fresh_inbox.append(make_mail(
        sender=REP, sender_name="Riley Organiser", message_id="calm@djangocon.example",
        subject="Rude attendee", body="An attendee was rude; he was asked to leave. For your "
                                      "records."))
    run_cli(bot, "run", "--once")
    by_id = cases(bot)
    threat, calm = slug_of(by_id["org@djangocon.example"]), slug_of(by_id["calm@djangocon.example"])
    reply(fresh_inbox, MAYA, threat, "#onfile", "of1@example.org", "org@djangocon.example")
    reply(fresh_inbox, SAM, calm, "#onfile", "of2@example.net", "calm@djangocon.example")
    run_cli(bot, "run", "--once")
    to_rep = sent_to(smtp_sink, REP)
    # Mail to a reporter carries no code name: which report it answers is its
    # In-Reply-To.  (The calm report came within the per-sender window: its
    # neutral acknowledgement was held.)
    [on_file] = [m for m in to_rep if "seems appropriate" in text(m)]
    assert on_file.message["In-Reply-To"] == "<calm@djangocon.example>"
    assert calm not in text(on_file) and threat not in text(on_file)
    assert any("We'll discuss and get back to you" in text(m)
               and m.message["In-Reply-To"] == "<org@djangocon.example>" for m in to_rep)
    assert any("URGENT" in t for t in about(smtp_sink, ALEX, threat))
    by_id = cases(bot)
    assert by_id["org@djangocon.example"]["status"] == "Ongoing"
    assert by_id["calm@djangocon.example"]["status"] == "Resolved"
    assert any("refused" in t and "danger" in t for t in about(smtp_sink, MAYA, threat))


def test_ban_needs_the_quorum(bot: Path, fresh_inbox: Dovecot, smtp_sink: SmtpSink) -> None:
    fresh_inbox.append(make_mail(message_id="ban1@mail.example", subject="One",
                                 body="He keeps insulting me in the forum."))
    fresh_inbox.append(make_mail(sender="other@mail.example", message_id="ban2@mail.example",
                                 subject="Two", body="She keeps insulting me in the forum."))
    run_cli(bot, "run", "--once")
    by_id = cases(bot)
    one, two = slug_of(by_id["ban1@mail.example"]), slug_of(by_id["ban2@mail.example"])
    p1 = "ban1@mail.example"
    reply(fresh_inbox, MAYA, one, "#propose Ban", "p1@example.org", p1)
    reply(fresh_inbox, ALEX, one, "#agree", "v1@example.org", p1)
    reply(fresh_inbox, SAM, one, "#agree", "v2@example.net", p1)
    reply(fresh_inbox, MAYA, one, "#consequence Ban", "c1@example.org", p1)
    reply(fresh_inbox, ALEX, two, "#consequence Ban", "c2@example.org", "ban2@mail.example")
    run_cli(bot, "run", "--once")
    by_id = cases(bot)
    assert by_id[p1]["consequences"] == "Ban"
    assert by_id["ban2@mail.example"]["consequences"] is None
    assert any("held" in t and "two members" in t for t in about(smtp_sink, ALEX, two))
    history = json.loads(run_cli(bot, "case", one, "--json").stdout)
    kinds = [e["kind"] for e in history["events"]]
    assert "proposal_agreed" in kinds and kinds.count("vote_cast") == 2
    assert CONDUCT not in [m.rcpt_tos for m in smtp_sink.messages]
