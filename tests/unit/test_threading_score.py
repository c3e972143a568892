"""Tests for the threading benchmark's scorer and its reading of the reference index."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_bench() -> ModuleType:
    # bench/ is scripts, not a package; load the module from its file.
    path = REPO_ROOT / "bench" / "threading_score.py"
    spec = importlib.util.spec_from_file_location("threading_score", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


ts = _load_bench()


def _corpora() -> Path:
    env = os.environ.get("COCBOT_CORPORA")
    base = Path(env) if env else REPO_ROOT.parent / "shared" / "corpora"
    return base / "threading"


CORPORA = _corpora()
needs_corpora = pytest.mark.skipif(
    not (CORPORA / "fedora-2010-01.mbox").exists(), reason="threading corpora not present"
)

REFERENCE = [{"a", "b", "c"}, {"d", "e"}, {"f"}]


def test_perfect_partition() -> None:
    assert ts.score([{"c", "b", "a"}, {"e", "d"}, {"f"}], REFERENCE) == (1.0, 1.0, 1.0)


def test_split_thread_costs_recall_only() -> None:
    precision, recall, f1 = ts.score([{"a", "b"}, {"c"}, {"d", "e"}, {"f"}], REFERENCE)
    assert precision == 1.0
    assert recall == pytest.approx(2 / 4)  # kept a-b and d-e of a-b, a-c, b-c, d-e
    assert f1 == pytest.approx(2 * 0.5 / 1.5)


def test_merged_threads_cost_precision_only() -> None:
    precision, recall, f1 = ts.score([{"a", "b", "c", "d", "e"}, {"f"}], REFERENCE)
    assert recall == 1.0
    assert precision == pytest.approx(4 / 10)
    assert f1 == pytest.approx(2 * 0.4 / 1.4)


def test_everything_apart() -> None:
    precision, recall, f1 = ts.score([{x} for x in "abcdef"], REFERENCE)
    assert (precision, recall, f1) == (1.0, 0.0, 0.0)


def test_missing_and_foreign_ids() -> None:
    # Ids outside the reference are ignored; ids the prediction lacks stand alone.
    precision, recall, _ = ts.score([{"a", "b", "zzz", "yyy"}, {"d", "e"}], REFERENCE)
    assert precision == 1.0
    assert recall == pytest.approx(2 / 4)


def test_partition_from_cases_strips_brackets() -> None:
    cases = [{"code": "home shelf", "message_ids": ["<a@x>", "b@x"]}, {"message_ids": []}]
    assert ts.partition_from_cases(cases) == [{"a@x", "b@x"}, set()]


@needs_corpora
def test_reference_has_292_messages_in_60_threads() -> None:
    reference = ts.reference_partition(
        CORPORA / "fedora-2010-01_thread.html", CORPORA / "fedora-2010-01.mbox"
    )
    assert len(reference) == 60
    ids = [mid for thread in reference for mid in thread]
    assert len(ids) == 292 == len(set(ids))
    assert all("@" in mid and not mid.startswith("<") for mid in ids)


@needs_corpora
def test_naive_baseline_reaches_target() -> None:
    reference = ts.reference_partition(
        CORPORA / "fedora-2010-01_thread.html", CORPORA / "fedora-2010-01.mbox"
    )
    _, _, f1 = ts.score(ts.naive_partition(CORPORA / "fedora-2010-01.mbox"), reference)
    assert f1 >= ts.TARGET_F1


@needs_corpora
def test_yes_report_catches_a_yes_merge() -> None:
    mbox = CORPORA / "notmuch-lkml-dedup.mbox"
    naive = ts.naive_partition(mbox)
    assert ts.yes_report(mbox, naive).wrongly_merged == []
    yes_ids = {
        ts.message_id(msg)
        for msg in ts.iter_mbox(mbox)
        if "<yes>" in str(msg.get("In-Reply-To", "")).lower()
    }
    yes_ids.discard(None)
    # A prediction that let <yes> link its carriers must be caught.
    joined: set[str] = set().union(*(t for t in naive if t & yes_ids))
    merged = [t for t in naive if not t & yes_ids] + [joined]
    report = ts.yes_report(mbox, merged)
    assert report.in_reply_to_yes > 0
    assert report.wrongly_merged
