"""Reported people: #person, code names, the blind index, repeat notices, scrubbing."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot.core.app import App
from bot.records.identitykey import generate_key
from bot.store.models import Event, InboundMessage, Outbox
from bot.store.people import CasePerson, Person, PersonIndex
from tests.helpers import ALEX, MAYA, REPORTER, SAM, file, make_app, make_mail

PERSON = "Quentin Quibble"
ADDRESS = "q.quibble+forum@Example.org"
ADDRESS2 = "QQuibble@example.org"


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "identity.key"
    path.write_text(generate_key() + "\n")
    return path


@pytest.fixture
def app(tmp_path: Path, keyfile: Path) -> App:
    return make_app(f"sqlite:///{tmp_path / 'people.db'}", identity={"key_file": str(keyfile)})


_n = iter(range(10_000))


def report(app: App, subject: str = "Rude replies in the forum",
           sender: str = REPORTER) -> tuple[str, str]:
    mid = f"r{next(_n)}@mail.example"
    out = file(app, make_mail(message_id=mid, subject=subject, sender=sender,
                              body="Someone kept replying rudely to me in the forum."))
    assert out.new_case and out.case_code
    return out.case_code, mid


def command(app: App, code: str, parent: str, *, subject_tags: str = "", body: str = "Thanks.",
            sender: str = ALEX, **kw: Any) -> str:
    mid = f"c{next(_n)}@{sender.split('@')[1]}"
    slug = code.replace(" ", "-")
    out = file(app, make_mail(sender=sender, subject=f"Re: [CoC {slug}] report {subject_tags}",
                              body=body, message_id=mid, in_reply_to=parent,
                              references=[parent], **kw))
    assert out.status == "filed" and out.case_code == code, out
    return mid


def rows(app: App, model: Any) -> list[Any]:
    order = model.id if hasattr(model, "id") else model.case_id
    with Session(app.engine) as session:
        return list(session.exec(select(model).order_by(col(order))).all())


def text_of(row: Outbox) -> str:
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    part = msg.get_body(("plain",))
    assert part is not None
    return f"Subject: {msg['Subject']}\n\n{part.get_content()}"  # type: ignore[attr-defined]


def test_same_person_differently_written_gets_one_code_and_repeat_notice(app: App) -> None:
    code1, mid1 = report(app)
    command(app, code1, mid1, body=f"#person {PERSON} <{ADDRESS}>\n\nSee above.")
    [person] = rows(app, Person)
    assert len(person.code.split()) == 2 and person.code.istitle()
    assert [r.kind for r in rows(app, Outbox) if r.kind == "repeat_person"] == []

    code2, mid2 = report(app, subject="Another report", sender="other@mail.example")
    command(app, code2, mid2, subject_tags=f"#person Someone Else <{ADDRESS2}>", sender=SAM)
    assert len(rows(app, Person)) == 1, "matched by address despite case, dots, +tag"
    links = rows(app, CasePerson)
    assert len(links) == 2 and {link.person_id for link in links} == {person.id}
    [notice] = [r for r in rows(app, Outbox) if r.kind == "repeat_person"]
    assert notice.recipients == [MAYA]  # the chairs only
    text = text_of(notice)
    assert f"Person {person.code}: 1 earlier case (ongoing)" in text
    for secret in (PERSON, "quibble", "Someone Else", REPORTER):
        assert secret.lower() not in text.lower()
    transcript = [r for r in rows(app, Outbox) if r.kind == "transcript"][-1]
    assert "quibble" not in transcript.raw.decode().lower()
    assert f"recorded person {person.code} (known person, matched by address)" in \
        text_of(transcript)


def test_identity_is_not_stored_in_clear_anywhere(app: App) -> None:
    code, mid = report(app)
    cmd = command(app, code, mid, body=f"#person {PERSON} <{ADDRESS}>\n\nOk.")
    # A later reply quoting the command mail is scrubbed when it is filed.
    command(app, code, cmd, sender=SAM,
            body=f"Agreed.\n\n> #person {PERSON} <{ADDRESS}>\n")
    with Session(app.engine) as session:
        stored = session.exec(select(InboundMessage)).all()
        assert len(stored) == 3
        for row in stored:
            blob = row.raw.decode("utf-8", "replace").lower() + (row.subject or "").lower()
            assert "quibble" not in blob
        for ev in session.exec(select(Event)).all():
            assert "quibble" not in str(ev.data).lower()
        [person] = session.exec(select(Person)).all()
        assert person.identity and "quibble" not in person.identity.lower()
        assert f"[{person.code}]" in stored[1].raw.decode()
        assert len(session.exec(select(PersonIndex)).all()) >= 2


def test_several_people_in_one_case_and_by_code_name(app: App) -> None:
    code, mid = report(app)
    command(app, code, mid, body="#person Ann Able <ann@example.com>; Bob Bee\n#person Cy Dee")
    people = rows(app, Person)
    assert len(people) == 3 and len({p.code for p in people}) == 3
    code2, mid2 = report(app, subject="Second")
    command(app, code2, mid2, subject_tags=f"#person {people[1].code.lower()}")
    assert [link.person_id for link in rows(app, CasePerson)][-1] == people[1].id


def test_person_without_key_records_code_names_only(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'nokey.db'}")
    code, mid = report(app)
    command(app, code, mid, subject_tags=f"#person {PERSON}")
    assert rows(app, Person) == []
    transcript = [r for r in rows(app, Outbox) if r.kind == "transcript"][-1]
    assert "identity key is not available" in text_of(transcript)


def test_wrong_key_is_refused(app: App, tmp_path: Path, keyfile: Path) -> None:
    code, mid = report(app)
    command(app, code, mid, subject_tags=f"#person {PERSON}")
    keyfile.write_text(generate_key())
    command(app, code, mid, subject_tags="#person Other Person")
    assert len(rows(app, Person)) == 1
    transcript = [r for r in rows(app, Outbox) if r.kind == "transcript"][-1]
    assert "not the one these records were made with" in text_of(transcript)


def test_stranger_person_command_changes_nothing(app: App) -> None:
    code, mid = report(app)
    evil = "evil@attacker.example"
    file(app, make_mail(sender=evil, subject=f"Re: [CoC {code.replace(' ', '-')}] x "
                        f"#person {PERSON} <{ADDRESS}>", in_reply_to=mid,
                        body="#person Mallory <m@x.example>"))
    # A forged member address, unauthenticated.
    file(app, make_mail(sender=ALEX, authenticated=False, in_reply_to=mid,
                        subject=f"Re: [CoC {code.replace(' ', '-')}] x #person {PERSON}"))
    assert rows(app, Person) == [] and rows(app, CasePerson) == []
    assert all(r.kind != "repeat_person" for r in rows(app, Outbox))


def test_records_command_mails_csv_to_the_member_alone(app: App) -> None:
    code, mid = report(app)
    command(app, code, mid, body=f"#person {PERSON} <{ADDRESS}>\n#doc https://docs.example/=x")
    code2, mid2 = report(app, subject="Second")
    command(app, code2, mid2, subject_tags="#recuse", sender=SAM)
    command(app, code, mid, subject_tags="#records", sender=SAM)
    [mail] = [r for r in rows(app, Outbox) if r.kind == "records"]
    assert mail.recipients == [SAM]
    msg = email.message_from_bytes(mail.raw, policy=email.policy.default)
    [attachment] = list(msg.iter_attachments())  # type: ignore[attr-defined]
    data = attachment.get_content()
    text = data.decode() if isinstance(data, bytes) else data
    assert text.splitlines()[0].startswith("Date of Report,Case Code Name,Person Code Name")
    assert code in text and code2 not in text  # the case Sam is recused from is left out
    assert "quibble" not in text.lower() and "quibble" not in mail.raw.decode().lower()


def test_strangers_records_and_outcome_do_nothing(app: App) -> None:
    code, mid = report(app)
    command(app, code, mid, subject_tags=f"#person {PERSON}")
    before = {r.id for r in rows(app, Outbox)}
    evil = "evil@attacker.example"
    slug = code.replace(" ", "-")
    for tags in ("#records", "#outcome banned", "#ban", "#suspend 30d", "#conflict " + code):
        file(app, make_mail(sender=evil, subject=f"Re: [CoC {slug}] x {tags}", in_reply_to=mid))
        file(app, make_mail(sender=ALEX, authenticated=False,
                            subject=f"Re: [CoC {slug}] y {tags}", in_reply_to=mid))
    new = [r for r in rows(app, Outbox) if r.id not in before]
    assert all(r.kind == "command_held" for r in new)
    assert all(evil not in r.recipients for r in new)
    [link] = rows(app, CasePerson)
    assert link.record_type is None and link.consequence is None


def test_free_text_in_the_records_names_people_by_code_only(app: App) -> None:
    """A note or a proposal written after #person keeps the code name, not the real name."""
    code, mid = report(app)
    command(app, code, mid, body=f"#person {PERSON} <{ADDRESS}>\n\nOk.")
    [person] = rows(app, Person)
    command(app, code, mid, sender=MAYA,
            body=f"#note spoke with {PERSON} ({ADDRESS.lower()}), who apologised\n"
                 f"#propose Warning - {PERSON.split()[0]} {PERSON.split()[1]} is warned\n")
    with Session(app.engine) as session:
        [note] = session.exec(select(Event).where(Event.kind == "note")).all()
        [proposal] = session.exec(select(Event).where(Event.kind == "proposal_opened")).all()
    assert note.data["text"] == f"spoke with [{person.code}] ([{person.code}]), who apologised"
    assert f"[{person.code}] is warned" in proposal.data["text"]
    for ev in (note, proposal):
        assert "quibble" not in str(ev.data).lower()


def test_free_text_stays_as_written_without_the_key(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'nokey.db'}")
    code, mid = report(app)
    command(app, code, mid, sender=MAYA, body=f"#note spoke with {PERSON}\n")
    with Session(app.engine) as session:
        [note] = session.exec(select(Event).where(Event.kind == "note")).all()
    assert note.data["text"] == f"spoke with {PERSON}"
