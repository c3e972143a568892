"""A known Message-ID with other bytes is kept as an alternate copy, never acted on twice."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select

from bot.store.copies import AlternateCopy
from bot.store.models import Event, InboundMessage, Outbox
from tests.helpers import MAYA, cocbot, config_dict, file, make_app, make_mail, write_config


def test_relay_copy_is_kept_and_shown_but_not_acknowledged_again(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cocbot.db'}"
    app = make_app(db_url)
    first = make_mail(message_id="r1@mail.example", subject="A report")
    relayed = b"X-Relayed-By: list.example\r\n" + first
    assert file(app, first).status == "filed"
    assert file(app, relayed).status == "replay"
    # The same alternate bytes again, and the original again: nothing new at all.
    assert file(app, relayed).status == "duplicate"
    assert file(app, first).status == "duplicate"
    with Session(app.engine) as session:
        [inbound] = session.exec(select(InboundMessage)).all()
        [copy] = session.exec(select(AlternateCopy)).all()
        acks = session.exec(select(Outbox).where(Outbox.kind == "acknowledgement")).all()
        replays = session.exec(select(Event).where(Event.kind == "duplicate_message_id")).all()
    assert copy.inbound_id == inbound.id and copy.raw == relayed and inbound.raw == first
    assert len(acks) == 1 and len(replays) == 1
    config = write_config(tmp_path / "cocbot.toml", config_dict(db_url))
    [case] = json.loads(cocbot("cases", "--json", config=config).stdout)
    detail = json.loads(cocbot("case", case["code"], "--json", config=config).stdout)
    [message] = detail["messages"]
    assert [c["size"] for c in message["alternate_copies"]] == [len(relayed)]
    shown = cocbot("case", case["code"], config=config).stdout
    assert "alternate copies" in shown and "r1@mail.example" in shown


def test_a_second_copy_of_a_members_command_runs_nothing_twice(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'cocbot.db'}")
    assert file(app, make_mail(message_id="r2@mail.example")).status == "filed"
    with Session(app.engine) as session:
        [inbound] = session.exec(select(InboundMessage)).all()
    command = make_mail(sender=MAYA, message_id="cmd@example.org", subject="Re: #resolve",
                        in_reply_to="r2@mail.example")
    assert file(app, command).status == "filed"
    copy = command.replace(b"Subject: Re: #resolve", b"Subject: Re: #reopen")
    assert file(app, copy).status == "replay"
    with Session(app.engine) as session:
        kinds = [e.kind for e in session.exec(select(Event).where(
            Event.case_id == inbound.case_id)).all()]
    assert kinds.count("resolved") == 1 and "reopened" not in kinds
