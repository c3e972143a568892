"""Maildir intake on a real database: size limit, stray entries, files moved to cur/."""

from __future__ import annotations

import mailbox
from pathlib import Path

from sqlmodel import Session, select

from bot.intake.maildir import sync_maildir
from bot.store.models import InboundMessage, Quarantine
from tests.helpers import make_app, make_mail


def test_maildir_limits_size_skips_folders_and_moves_files(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'm.db'}", intake={"max_message_bytes": 5000})
    box = mailbox.Maildir(str(tmp_path / "in"), create=True)
    box.add(make_mail(message_id="small@x.example"))
    box.add(make_mail(message_id="big@x.example", body="y" * 20000))
    box.close()
    (tmp_path / "in" / "new" / "stray-folder").mkdir()
    assert sync_maildir(app, tmp_path / "in") == 2
    assert sync_maildir(app, tmp_path / "in") == 0
    with Session(app.engine) as session:
        assert [m.message_id for m in session.exec(select(InboundMessage))] == ["small@x.example"]
        [q] = session.exec(select(Quarantine)).all()
    assert q.kind == "oversize" and q.headers_only and b"big@x.example" in q.raw
    assert b"yyyy" not in q.raw
    assert len(list((tmp_path / "in" / "cur").iterdir())) == 2
