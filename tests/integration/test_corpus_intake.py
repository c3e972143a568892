"""Every real-world message under the corpora is filed or quarantined; the bot never stops."""

from __future__ import annotations

from collections import Counter

from sqlmodel import Session, func, select

from bot.filing.context import Origin
from bot.intake.filer import file_raw
from bot.store.db import session_scope
from bot.store.models import InboundMessage, Quarantine
from tests.corpora import corpus_messages, requires_corpora
from tests.helpers import make_app


@requires_corpora
def test_every_corpus_message_is_filed_or_quarantined(tmp_path: object) -> None:
    app = make_app(f"sqlite:///{tmp_path}/corpus.db")
    outcomes: Counter[str] = Counter()
    total = 0
    for label, raw in corpus_messages():
        total += 1
        # file_raw is what intake calls: it must return, whatever the input.
        outcome = file_raw(app, raw, Origin(source=f"corpus:{label}", backfill=True))
        assert outcome.status in {"filed", "duplicate", "replay", "quarantined"}, label
        outcomes[outcome.status] += 1
    assert total > 500
    with Session(app.engine) as session:
        filed = session.exec(select(func.count()).select_from(InboundMessage)).one()
        quarantined = session.exec(select(Quarantine)).all()
    # Every message is accounted for: filed, quarantined, or a duplicate of one that was.
    assert filed == outcomes["filed"]
    assert len(quarantined) == outcomes["quarantined"]
    assert filed + outcomes["quarantined"] + outcomes["duplicate"] + outcomes["replay"] == total
    # Nothing was quarantined because of a bug in the bot itself.
    errors = [q.reason for q in quarantined if q.kind == "error"]
    assert errors == []
    for q in quarantined:
        assert q.reason


@requires_corpora
def test_corpus_replay_files_nothing_twice(tmp_path: object) -> None:
    app = make_app(f"sqlite:///{tmp_path}/corpus.db")
    messages = list(corpus_messages())[:200]
    for label, raw in messages:
        file_raw(app, raw, Origin(source=f"corpus:{label}", backfill=True))
    with session_scope(app.engine) as session:
        before = session.exec(select(func.count()).select_from(InboundMessage)).one()
    for label, raw in messages:
        outcome = file_raw(app, raw, Origin(source=f"corpus:{label}", backfill=True))
        assert outcome.status in {"duplicate", "replay", "quarantined"}
    with session_scope(app.engine) as session:
        after = session.exec(select(func.count()).select_from(InboundMessage)).one()
    assert before == after
