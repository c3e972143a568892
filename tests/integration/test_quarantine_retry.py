"""`cocbot quarantine retry` cannot lose a message, and a failed retry keeps its entry."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session, col, select

from bot.intake.retry import retry_quarantine
from bot.store.db import session_scope
from bot.store.models import InboundMessage, Quarantine
from tests.helpers import config_dict, make_app, make_mail, write_config


def _quarantine_good_mail(db_url: str, n: int) -> dict[int, str]:
    """Entries as an earlier pipeline error would have left them: good mail, kept aside."""
    app = make_app(db_url)
    ids: dict[int, str] = {}
    with session_scope(app.engine) as session:
        for i in range(n):
            mid = f"kept-{i}@mail.example"
            raw = make_mail(message_id=mid, sender=f"p{i}@x.example", subject=f"Report {i}")
            row = Quarantine(dedupe_key=f"sha:{i}", raw=raw, reason="internal error while "
                             "filing: OperationalError", kind="error", source="imap:1:1")
            session.add(row)
            session.flush()
            assert row.id is not None
            ids[row.id] = mid
    app.engine.dispose()
    return ids


def _state(db_url: str, ids: dict[int, str]) -> tuple[set[int], set[str]]:
    """(entries still in quarantine, Message-IDs filed)."""
    app = make_app(db_url)
    with Session(app.engine) as session:
        waiting = set(session.exec(select(Quarantine.id).where(
            Quarantine.released_at == None, col(Quarantine.id).in_(list(ids)))).all())  # noqa: E711
        filed = [m for m in session.exec(select(InboundMessage.message_id)).all() if m]
    app.engine.dispose()
    assert len(filed) == len(set(filed)), "a message was filed twice"
    return {i for i in waiting if i is not None}, set(filed)


def test_interrupted_retries_never_lose_a_message(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cocbot.db'}"
    ids = _quarantine_good_mail(db_url, 80)
    config = write_config(tmp_path / "cocbot.toml", config_dict(db_url))
    rng = random.Random(5)
    interrupted = 0
    for round_ in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config),
                                 "quarantine", "retry", "--all"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        # Interrupt only once it is retrying: after its first answer line.
        proc.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.05))  # well before 80 messages are through
        proc.send_signal(signal.SIGKILL if round_ % 2 == 0 else signal.SIGINT)
        proc.wait(20)
        interrupted += proc.returncode != 0
        waiting, filed = _state(db_url, ids)
        for qid, mid in ids.items():
            # Either still in quarantine under its own id, or filed: never neither, never both.
            assert (qid in waiting) != (mid in filed), (round_, qid, mid)
    assert interrupted >= 2  # the signals did land mid-run
    app = make_app(db_url)
    retry_quarantine(app, None)
    waiting, filed = _state(db_url, ids)
    assert not waiting and filed == set(ids.values())


def test_failed_retry_keeps_the_entry_and_its_id(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'cocbot.db'}")
    raw = make_mail(message_id="spam@x.example", headers={"X-Spam-Flag": "YES"})
    from tests.helpers import file

    assert file(app, raw).status == "quarantined"
    with Session(app.engine) as session:
        [first] = session.exec(select(Quarantine)).all()
    for _ in range(3):
        [(qid, answer)] = retry_quarantine(app, None)
        assert qid == first.id and answer.startswith("still quarantined")
    with Session(app.engine) as session:
        [again] = session.exec(select(Quarantine)).all()
    assert again.id == first.id and again.released_at is None
    assert again.reason.startswith(first.reason)
    assert again.reason.count("retry at") == 3
