"""Threading scored on real archives after a real import (skipped without the corpora)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from bot.intake.importer import import_path
from bot.store.records import case_record, list_cases
from tests.helpers import make_app
from tests.unit.test_threading_score import CORPORA, ts

needs_corpora = pytest.mark.skipif(
    not (CORPORA / "fedora-2010-01.mbox").exists(), reason="threading corpora not present")


def imported_partition(tmp_path: Path, mbox: Path) -> list[set[str]]:
    app = make_app(f"sqlite:///{tmp_path / 'threads.db'}")
    counts = import_path(app, mbox)
    assert counts["filed"] > 0
    with Session(app.engine) as session:
        cases = [case_record(session, c) for c in list_cases(session)]
    partition: list[set[str]] = ts.partition_from_cases(cases)
    return partition


@needs_corpora
def test_fedora_month_threads_with_f1_at_least_0_99(tmp_path: Path) -> None:
    mbox = CORPORA / "fedora-2010-01.mbox"
    reference = ts.reference_partition(CORPORA / "fedora-2010-01_thread.html", mbox)
    precision, recall, f1 = ts.score(imported_partition(tmp_path, mbox), reference)
    assert f1 >= 0.99, (precision, recall, f1)


@needs_corpora
def test_lkml_yes_ids_merge_nothing(tmp_path: Path) -> None:
    mbox = CORPORA / "notmuch-lkml-dedup.mbox"
    predicted = imported_partition(tmp_path, mbox)
    report = ts.yes_report(mbox, predicted)
    assert report.any_header_yes > 0
    assert report.wrongly_merged == []
    # And the import threads exactly as the real ids do.
    assert ts.score(predicted, ts.naive_partition(mbox))[2] == 1.0
