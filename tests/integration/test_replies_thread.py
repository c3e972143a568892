"""Replies to what reporters receive thread into the case without any code name.

The acknowledgement's and the point-of-contact note's subjects need carry no
case tag: the bot's own Message-ID does the threading.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from bot.store.models import Outbox
from tests.helpers import MAYA, REPORTER, file, make_app, make_mail


def test_reporter_replies_to_ack_and_contact_note_thread_by_message_id(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite'}")
    code = file(app, make_mail(subject="Something at the sprint", message_id="r@mail.example",
                               body="Someone was rude.")).case_code
    assert code is not None
    file(app, make_mail(sender=MAYA, sender_name="Maya Chen",
                        subject=f"Re: x [CoC {code.replace(' ', '-')}] #contact", body="me"))
    with Session(app.engine) as s:
        rows = s.exec(select(Outbox).where(col(Outbox.kind).in_(
            ("acknowledgement", "reporter_note")))).all()
        ids = {r.kind: r.message_id for r in rows}
    assert set(ids) == {"acknowledgement", "reporter_note"}
    for i, parent in enumerate(ids.values()):
        out = file(app, make_mail(sender=REPORTER, subject="Re: Your report",
                                  body="Thank you.", message_id=f"reply{i}@mail.example",
                                  in_reply_to=parent, references=[parent]))
        assert out.case_code == code and not out.new_case
