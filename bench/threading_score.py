"""Threading benchmark: pairwise same-thread precision/recall/F1 of cocbot's cases.

The reference is the Fedora devel list archive for January 2010 and MHonArc's
own thread index of it.  Scoring follows the corpora README: dedupe by
Message-ID, then for every pair of messages ask whether both land in the same
thread, and compute precision/recall/F1 against the reference partition.

Usable as a library (``reference_partition``, ``naive_partition``, ``score``)
and as a script::

    python bench/threading_score.py --run            # import with cocbot, score
    python bench/threading_score.py --cases-json F   # score `cocbot cases --json`
    python bench/threading_score.py --naive          # score the naive baseline
    python bench/threading_score.py --run --lkml     # the In-Reply-To: <yes> check

The corpora live outside the project; their folder defaults to
``../shared/corpora/threading`` beside the repository, or ``$COCBOT_CORPORA``.
"""

from __future__ import annotations

import argparse
import email.errors
import email.header
import itertools
import json
import mailbox
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_CORPORA = "COCBOT_CORPORA"
FEDORA_MBOX = "fedora-2010-01.mbox"
FEDORA_INDEX = "fedora-2010-01_thread.html"
LKML_MBOX = "notmuch-lkml-dedup.mbox"
TARGET_F1 = 0.99

_BRACKETED_RE = re.compile(r"<([^<>]*)>")
_MSG_LINK_RE = re.compile(r"(?:^|/)msg(\d+)\.html$", re.IGNORECASE)
_WS_RE = re.compile(r"\s+")


def corpora_dir() -> Path:
    """The folder holding the threading corpora ($COCBOT_CORPORA/threading if set)."""
    env = os.environ.get(ENV_CORPORA)
    if env:
        return Path(env) / "threading"
    return REPO_ROOT.parent / "shared" / "corpora" / "threading"


# --------------------------------------------------------------------------
# Reading the mbox
# --------------------------------------------------------------------------


def _header(msg: Message, name: str) -> str:
    # compat32 hands back a Header object for undecodable bytes; str() is enough
    # for ids, which are ASCII when they are usable at all.
    value = msg.get(name)
    return "" if value is None else str(value)


def _clean_id(raw: str) -> str | None:
    """One id without brackets and folding whitespace, or None when it has no '@'."""
    mid = _WS_RE.sub("", raw).strip("<>")
    return mid if "@" in mid else None


def message_id(msg: Message) -> str | None:
    """The message's own Message-ID without angle brackets, or None."""
    value = _header(msg, "Message-ID")
    match = _BRACKETED_RE.search(value)
    return _clean_id(match.group(1) if match else value)


def cited_ids(msg: Message) -> list[str]:
    """Ids in In-Reply-To and References that contain '@' (``<yes>`` links nothing)."""
    found: list[str] = []
    for name in ("In-Reply-To", "References"):
        for raw in _BRACKETED_RE.findall(_header(msg, name)):
            mid = _clean_id(raw)
            if mid is not None and mid not in found:
                found.append(mid)
    return found


def iter_mbox(mbox_path: Path) -> Iterator[Message]:
    """The messages of an mbox file, in file order."""
    box = mailbox.mbox(str(mbox_path), create=False)
    try:
        yield from box
    finally:
        box.close()


# --------------------------------------------------------------------------
# The reference: MHonArc's thread index
# --------------------------------------------------------------------------


class _ThreadIndexParser(HTMLParser):
    """Collects the message numbers of an MHonArc thread index, thread by thread.

    The index is nested ``<ul>/<li>`` lists; a link to ``msgNNNNN.html`` at the
    outermost list level starts a thread and every link below it belongs to
    that thread, including those under a "<Possible follow-ups>" item (MHonArc's
    subject-based grouping, which the archive shows as part of the thread).
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.threads: list[list[int]] = []
        self.subjects: dict[int, str] = {}
        self._in_link: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "ul":
            self.depth += 1
        elif tag == "a":
            match = _MSG_LINK_RE.search(dict(attrs).get("href") or "")
            if match is None or self.depth < 1:
                return
            num = int(match.group(1))
            if num in self.subjects:
                raise ValueError(f"msg{num:05d}.html is listed twice in the thread index")
            if self.depth == 1 or not self.threads:
                self.threads.append([])
            self.threads[-1].append(num)
            self.subjects[num] = ""
            self._in_link = num

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul":
            self.depth = max(0, self.depth - 1)
        elif tag == "a":
            self._in_link = None

    def handle_data(self, data: str) -> None:
        if self._in_link is not None:
            self.subjects[self._in_link] += data


def _norm_subject(text: str) -> str:
    return _WS_RE.sub(" ", text).strip().casefold()


def decoded_subject(msg: Message) -> str:
    """The Subject with RFC 2047 words decoded (raw text when they cannot be)."""
    raw = _header(msg, "Subject")
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except (UnicodeError, LookupError, email.errors.HeaderParseError):
        return raw


def reference_partition(html_path: Path, mbox_path: Path) -> list[set[str]]:
    """The archive's own threads as sets of Message-IDs (without angle brackets).

    MHonArc numbers messages in the order they were archived, and Mailman's
    monthly mbox holds them in that same order, so ``msgNNNNN.html`` is the
    NNNNN-th message (from 0) of the mbox.  The index page carries no
    Message-IDs, so the mapping is positional; it is checked by requiring that
    every link's text equals the decoded Subject of the message it maps to.
    Raises ValueError when the counts or any subject disagree.
    """
    parser = _ThreadIndexParser()
    parser.feed(html_path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    messages = list(iter_mbox(mbox_path))
    numbers = sorted(parser.subjects)
    if numbers != list(range(len(messages))):
        raise ValueError(
            f"thread index links {len(numbers)} messages "
            f"(msg{numbers[0] if numbers else 0:05d}..), the mbox holds {len(messages)}"
        )
    mismatched = [
        n for n in numbers
        if _norm_subject(parser.subjects[n]) != _norm_subject(decoded_subject(messages[n]))
    ]
    if mismatched:
        first = mismatched[0]
        raise ValueError(
            f"{len(mismatched)} index entries do not match the mbox by subject, e.g. "
            f"msg{first:05d}.html {parser.subjects[first]!r} vs "
            f"{decoded_subject(messages[first])!r}"
        )
    ids: list[str] = []
    for n, msg in enumerate(messages):
        mid = message_id(msg)
        if mid is None:
            raise ValueError(f"mbox message {n} has no usable Message-ID")
        ids.append(mid)
    if len(set(ids)) != len(ids):
        raise ValueError("the mbox holds duplicate Message-IDs")
    return [{ids[n] for n in thread} for thread in parser.threads]


# --------------------------------------------------------------------------
# A naive baseline: union-find over References / In-Reply-To
# --------------------------------------------------------------------------


def naive_partition(mbox_path: Path) -> list[set[str]]:
    """Threads from linking each message to every id it cites (union-find).

    Ids without '@' are ignored so ``<yes>`` joins nothing.  Cited ids that no
    message carries still link the messages citing them (a missing parent), but
    appear in no returned set; duplicate Message-IDs count once.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression keeps long threads cheap
            parent[x], x = root, parent[x]
        return root

    own: list[str] = []
    for msg in iter_mbox(mbox_path):
        mid = message_id(msg)
        if mid is None:
            continue
        own.append(mid)
        root = find(mid)
        for cited in cited_ids(msg):
            other = find(cited)
            if other != root:
                parent[other] = root
    groups: dict[str, set[str]] = {}
    for mid in own:
        groups.setdefault(find(mid), set()).add(mid)
    return list(groups.values())


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score(predicted: list[set[str]], reference: list[set[str]]) -> tuple[float, float, float]:
    """Pairwise same-thread (precision, recall, F1) of `predicted` against `reference`.

    Only ids present in `reference` count; an id missing from `predicted` is
    taken as a thread of its own, and an id in several predicted sets counts in
    the first only.  With no pairs on a side, that side's measure is 1.0.
    """
    ref_of: dict[str, int] = {}
    for i, thread in enumerate(reference):
        for mid in thread:
            ref_of[mid] = i
    pred_of: dict[str, int] = {}
    for i, thread in enumerate(predicted):
        for mid in thread:
            if mid in ref_of:
                pred_of.setdefault(mid, i)
    pred_sizes: dict[int, int] = {}
    both_sizes: dict[tuple[int, int], int] = {}
    for mid, p in pred_of.items():
        pred_sizes[p] = pred_sizes.get(p, 0) + 1
        key = (p, ref_of[mid])
        both_sizes[key] = both_sizes.get(key, 0) + 1
    true_pairs = sum(_pairs(n) for n in both_sizes.values())
    pred_pairs = sum(_pairs(n) for n in pred_sizes.values())
    ref_pairs = sum(_pairs(len(t)) for t in reference)
    precision = true_pairs / pred_pairs if pred_pairs else 1.0
    recall = true_pairs / ref_pairs if ref_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def partition_from_cases(cases: Iterable[dict[str, object]]) -> list[set[str]]:
    """The partition in `cocbot cases --json` output: one set per case's message_ids."""
    result: list[set[str]] = []
    for case in cases:
        ids = case.get("message_ids") or []
        if not isinstance(ids, list):
            raise ValueError("a case's message_ids is not a list")
        result.append({str(mid).strip().strip("<>") for mid in ids})
    return result


# --------------------------------------------------------------------------
# Running cocbot
# --------------------------------------------------------------------------


def _cocbot_command(override: str) -> list[str]:
    # `python -m bot` from the repo root runs the working tree's code even when
    # an older cocbot is installed on PATH.
    return shlex.split(override) if override else [sys.executable, "-m", "bot"]


def run_cocbot(mbox_path: Path, cocbot: Sequence[str] = ()) -> tuple[list[set[str]], float]:
    """Import `mbox_path` into a throwaway SQLite database; (case partition, import seconds)."""
    command = list(cocbot) or _cocbot_command("")
    with tempfile.TemporaryDirectory(prefix="cocbot-bench-") as tmp:
        config = Path(tmp) / "config.toml"
        db_url = "sqlite:///" + (Path(tmp) / "bench.db").as_posix()
        config.write_text(
            'conduct_address = "conduct@example.org"\n\n'
            f"[database]\nurl = {json.dumps(db_url)}\n",
            encoding="utf-8",
        )
        base = [*command, "--config", str(config)]

        def call(*args: str) -> str:
            done = subprocess.run(
                [*base, *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"cocbot {' '.join(args)} failed ({done.returncode}):\n"
                    f"{done.stderr.strip() or done.stdout.strip()}"
                )
            return done.stdout

        call("db", "upgrade")
        started = time.perf_counter()
        call("import", str(mbox_path))
        elapsed = time.perf_counter() - started
        cases = json.loads(call("cases", "--json"))
    return partition_from_cases(cases), elapsed


# --------------------------------------------------------------------------
# The lkml check: In-Reply-To: <yes> must never merge threads
# --------------------------------------------------------------------------


@dataclass
class YesReport:
    """How ``<yes>`` placeholders fared in one import."""

    in_reply_to_yes: int  # messages whose In-Reply-To holds <yes>
    any_header_yes: int  # messages with <yes> in In-Reply-To or References
    wrongly_merged: list[tuple[str, str]]  # pairs linked only by <yes> sharing a case


def yes_report(mbox_path: Path, predicted: list[set[str]]) -> YesReport:
    """Count ``<yes>`` carriers and find pairs that `predicted` wrongly puts in one case.

    A pair is wrong when both messages cite ``<yes>``, the real ids never link
    them (they are in different naive threads) and yet they share a case.
    """
    irt_yes: list[str] = []
    any_yes: list[str] = []
    for msg in iter_mbox(mbox_path):
        mid = message_id(msg)
        if mid is None:
            continue
        in_irt = "<yes>" in _header(msg, "In-Reply-To").lower()
        in_refs = "<yes>" in _header(msg, "References").lower()
        if in_irt:
            irt_yes.append(mid)
        if in_irt or in_refs:
            any_yes.append(mid)
    naive_of = {mid: i for i, t in enumerate(naive_partition(mbox_path)) for mid in t}
    case_of: dict[str, int] = {}
    for i, thread in enumerate(predicted):
        for mid in thread:
            case_of.setdefault(mid, i)
    wrong = [
        (a, b)
        for a, b in itertools.combinations(sorted(set(any_yes)), 2)
        if a in case_of and case_of.get(a) == case_of.get(b) and naive_of.get(a) != naive_of.get(b)
    ]
    return YesReport(len(irt_yes), len(any_yes), wrong)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _build_parser() -> argparse.ArgumentParser:
    base = corpora_dir()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--mbox", type=Path, default=base / FEDORA_MBOX, help="mbox to score")
    parser.add_argument("--index", type=Path, default=base / FEDORA_INDEX,
                        help="MHonArc thread index of --mbox (the reference)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--cases-json", type=Path, metavar="FILE",
                        help="output of `cocbot cases --json` to score")
    source.add_argument("--run", action="store_true",
                        help="import --mbox with cocbot into a temporary database and score it")
    source.add_argument("--naive", action="store_true",
                        help="score the References/In-Reply-To union-find baseline")
    parser.add_argument("--lkml", action="store_true",
                        help="check the lkml corpus: <yes> placeholders must link nothing")
    parser.add_argument("--lkml-mbox", type=Path, default=base / LKML_MBOX)
    parser.add_argument("--cocbot", default="", metavar="CMD",
                        help="command that runs cocbot (default: this Python with -m bot)")
    return parser


def _print_score(predicted: list[set[str]], reference: list[set[str]]) -> float:
    precision, recall, f1 = score(predicted, reference)
    ref_ids = set().union(*reference) if reference else set()
    touched = [t for t in predicted if t & ref_ids]
    print(f"precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}")
    print(f"threads: predicted {len(touched)} (holding reference messages), "
          f"reference {len(reference)}; messages: reference {len(ref_ids)}")
    return f1


def main(argv: Sequence[str] | None = None) -> int:
    """Score a partition against the reference; exit 1 when F1 is below the target."""
    args = _build_parser().parse_args(argv)
    cocbot = _cocbot_command(args.cocbot)

    if args.lkml:
        if args.cases_json:
            predicted = partition_from_cases(json.loads(args.cases_json.read_text()))
        elif args.naive:
            predicted = naive_partition(args.lkml_mbox)
        else:
            predicted, elapsed = run_cocbot(args.lkml_mbox, cocbot)
            print(f"import took {elapsed:.2f} s")
        report = yes_report(args.lkml_mbox, predicted)
        print(f"messages with In-Reply-To: <yes>: {report.in_reply_to_yes}; "
              f"with <yes> in In-Reply-To or References: {report.any_header_yes}")
        print(f"pairs linked only by <yes> that share a case: {len(report.wrongly_merged)}")
        for a, b in report.wrongly_merged[:5]:
            print(f"  {a}  ~  {b}")
        print("agreement with the naive threads:")
        _print_score(predicted, naive_partition(args.lkml_mbox))
        return 1 if report.wrongly_merged else 0

    reference = reference_partition(args.index, args.mbox)
    if args.cases_json:
        predicted = partition_from_cases(json.loads(args.cases_json.read_text()))
    elif args.naive:
        predicted = naive_partition(args.mbox)
    else:
        predicted, elapsed = run_cocbot(args.mbox, cocbot)
        print(f"import took {elapsed:.2f} s")
    f1 = _print_score(predicted, reference)
    return 0 if f1 >= TARGET_F1 else 1


if __name__ == "__main__":
    sys.exit(main())
