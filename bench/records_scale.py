"""Benchmark: the records at scale (10,000 cases, 20,000 reported people).

Builds a SQLite database with N cases (30% ongoing), each with its report,
acknowledgement, events, a reporter and two reported people, then prints how
long these take, beside the issue's targets:

- ``cases --json`` (every case's record as JSON)          target < 1 s
- ``export records`` (CSV, one row per person)           target < 1 s
- ``stats --year``                                        target < 1 s
- the daily digest (built and rendered for every recipient)  target < 1 s
- one scheduler tick (``run_due``: reminders, digest, records jobs)  target < 0.1 s

Usage::

    python bench/records_scale.py [--cases 10000] [--keep DIR] [--records-only] [--postgres]

``--postgres`` runs the same on a throwaway PostgreSQL cluster (the test
suite's fixture) instead of a SQLite file.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bot.core.config import parse_config  # noqa: E402
from bot.core.log import configure  # noqa: E402
from bot.store.bootstrap import build_app  # noqa: E402
from bot.store.db import make_engine, upgrade  # noqa: E402
from bot.store.models import (  # noqa: E402
    Case,
    CaseMessage,
    Event,
    InboundMessage,
    Outbox,
    Participant,
)
from bot.store.people import CaseExtra, CasePerson, Person  # noqa: E402

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MEMBERS = [{"name": "Maya Chen", "email": "maya@example.org", "role": "chair"},
           {"name": "Alex Smith", "email": "alex@example.org", "role": "member"}]


def build(url: str, n: int, seed: int = 7) -> None:
    """Bulk-insert `n` cases with everything the records and the clocks read."""
    rng = random.Random(seed)
    engine = make_engine(url)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = (NOW - start).total_seconds()
    spaces = ["forum", "discord", "github", "event", "mailing list", "social media", "other"]
    cases, inbound, links, parts, events, outbox, extras, people, person_links = \
        [], [], [], [], [], [], [], [], []
    for i in range(1, 2 * n + 1):
        people.append({"id": i, "code": f"Bench Person {i}", "identity": None,
                       "created_at": start})
    for i in range(1, n + 1):
        reported = start + timedelta(seconds=rng.random() * span * 0.97)
        ongoing = rng.random() < 0.3
        resolved = None if ongoing else (reported + timedelta(days=rng.randint(1, 40))).date()
        if resolved is not None and resolved > NOW.date():
            resolved = NOW.date()
        reporter = f"reporter{i}@mail.example"
        mid = f"bench-report-{i}@mail.example"
        cases.append({"id": i, "code": f"bench case{i}", "status": "Ongoing" if ongoing
                      else "Resolved", "date_reported": reported, "created_at": reported,
                      "resolution_source": None if ongoing else "CoC WG",
                      "resolution_date": resolved, "safety_risk": rng.choice(["Yes", "No"]),
                      "ongoing_harassment": "No", "consequences": None,
                      "reporter_address": reporter, "reporter_name": "Bench Reporter",
                      "point_of_contact": "alex@example.org", "review_date": None,
                      "merged_into": None})
        raw = (f"From: Bench Reporter <{reporter}>\r\nTo: conduct@example.org\r\n"
               f"Subject: report {i}\r\nMessage-ID: <{mid}>\r\n\r\nA report.\r\n").encode()
        inbound.append({"id": i, "dedupe_key": f"mid:{mid}", "message_id": mid,
                        "raw_sha256": f"{i:064x}", "raw": raw, "size": len(raw),
                        "source": "bench", "received_at": reported, "date": reported,
                        "from_address": reporter, "subject": f"report {i}", "case_id": i,
                        "kind": "report", "parent_message_id": None})
        links.append({"message_id": mid, "case_id": i, "seen": True, "inbound_id": i,
                      "added_at": reported})
        parts.append({"case_id": i, "address": reporter, "name": "Bench Reporter",
                      "role": "reporter", "recused": False})
        ack_at = reported + timedelta(minutes=5)
        outbox.append({"message_id": f"bench-ack-{i}@example.org", "case_id": i,
                       "kind": "acknowledgement", "recipients": [reporter], "raw": b"x",
                       "status": "sent", "attempts": 1, "next_attempt_at": ack_at,
                       "created_at": ack_at, "sent_at": ack_at, "last_error": None,
                       "refused": []})
        for kind, at, data in (("case_opened", reported, {"how": "new report"}),
                               ("message_filed", reported, {"filed_as": "report"}),
                               ("acknowledgement_queued", ack_at, {})):
            events.append({"case_id": i, "at": at, "kind": kind, "actor": None,
                           "message_id": mid, "data": data})
        extras.append({"case_id": i, "space": rng.choice(spaces), "types": ["harassment"],
                       "documents": None, "record_type": None})
        for p in (2 * i - 1, 2 * i):
            person_links.append({"case_id": i, "person_id": p,
                                 "record_type": None if ongoing else "resolved",
                                 "consequence": None if ongoing else "Warning",
                                 "added_at": reported})
    with Session(engine) as session:
        for model, rows in ((Case, cases), (Person, people), (InboundMessage, inbound),
                            (CaseMessage, links), (Participant, parts), (Outbox, outbox),
                            (Event, events), (CaseExtra, extras), (CasePerson, person_links)):
            for chunk in range(0, len(rows), 2000):
                session.execute(insert(model), rows[chunk:chunk + 2000])  # type: ignore[arg-type]
        session.commit()
    engine.dispose()


def timed(label: str, target: float, func: Callable[[], Any]) -> float:
    """Run `func` once, print its wall time beside the target."""
    t0 = time.perf_counter()
    func()
    took = time.perf_counter() - t0
    mark = "ok" if took < target else "SLOW"
    print(f"  {label:<34} {took:8.3f} s   (target < {target:g} s) {mark}")
    return took


def commands(folder: Path, url: str) -> None:
    """Time the same as `cocbot` commands: a new process each, start-up included."""
    config = folder / "bench.toml"
    members = "".join(f'[[members]]\nname = "{m["name"]}"\nemail = "{m["email"]}"\n'
                      f'role = "{m["role"]}"\n' for m in MEMBERS)
    config.write_text(f'conduct_address = "conduct@example.org"\n[database]\nurl = "{url}"\n'
                      f'[bot]\nsecret_key = "bench"\n[log]\nlevel = "warning"\n{members}',
                      encoding="utf-8")
    print("as commands (a new process each, start-up included):")
    base = [sys.executable, "-m", "bot", "--config", str(config)]
    for label, argv in (("cocbot --version", ["--version"]),
                        ("cocbot cases --json", ["cases", "--json"]),
                        ("cocbot export records", ["export", "records", "--out",
                                                   str(folder / "records.csv")]),
                        ("cocbot stats --year 2026", ["stats", "--year", "2026"]),
                        ("cocbot digest --dry-run", ["digest", "--dry-run", "--now",
                                                     NOW.isoformat()])):
        cmd = base[:3] + argv if argv == ["--version"] else [*base, *argv]

        def run(cmd: list[str] = cmd) -> None:
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           cwd=REPO)

        timed(label, 1.0 if argv != ["--version"] else 0.5, run)


def main() -> int:
    """Build the database, then time each operation."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="build in (and keep) this folder")
    parser.add_argument("--records-only", action="store_true",
                        help="time cases --json, the export and stats only (no clocks)")
    parser.add_argument("--postgres", action="store_true",
                        help="on a throwaway PostgreSQL cluster instead of SQLite")
    args = parser.parse_args()
    configure("warning")  # figures only: no line per reminder queued
    folder = args.keep or Path(tempfile.mkdtemp(prefix="cocbot-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'bench.db'}"
    server = None
    if args.postgres:
        from tests.servers import Postgres

        server = Postgres()
        server.start()
        url = server.create_database("bench")
    try:
        t0 = time.perf_counter()
        upgrade(url)
        build(url, args.cases)
        where = "PostgreSQL" if server is not None else folder / "bench.db"
        print(f"built {args.cases} cases and {2 * args.cases} people in "
              f"{time.perf_counter() - t0:.1f} s ({where})")
        config = parse_config({"conduct_address": "conduct@example.org",
                               "database": {"url": url}, "members": MEMBERS,
                               "bot": {"secret_key": "bench"}, "log": {"level": "warning"}},
                              environ={})
        app = build_app(config, make_engine(url), clock=lambda: NOW)
        from bot.clocks.digest import TEMPLATE, build_digests
        from bot.clocks.scheduler import run_due
        from bot.outbound.render import render_mail
        from bot.records.export import record_rows, to_csv, to_xlsx
        from bot.records.stats import Period, compute
        from bot.store.db import session_scope
        from bot.store.records import case_records, list_cases

        def cases_json() -> None:
            with session_scope(app.engine) as session:
                json.dumps(case_records(session, list_cases(session)))

        def export() -> None:
            with session_scope(app.engine) as session:
                to_csv(record_rows(session, config.schedule.zone))

        def stats() -> None:
            with session_scope(app.engine) as session:
                compute(session, config, Period.parse(year="2026"))

        def digest() -> None:
            # What the job does before queueing: build every digest and render its mail.
            with session_scope(app.engine) as session:
                for built in build_digests(session, app, NOW):
                    render_mail(config, TEMPLATE, {**built.context(config)})

        print(f"timings on {args.cases} cases:")
        timed("cases --json", 1.0, cases_json)
        timed("export records (csv)", 1.0, export)

        def export_xlsx() -> None:
            with session_scope(app.engine) as session:
                to_xlsx(record_rows(session, config.schedule.zone))

        timed("export records (xlsx)", float("inf"), export_xlsx)
        timed("stats --year 2026", 1.0, stats)
        commands(folder, url)
        if args.records_only:
            return 0
        timed("digest (built and rendered)", 1.0, digest)
        # The first tick sends every overdue reminder and claims the day's
        # digests; the second looks once more at the cases it just changed (and
        # stores their next due times); from the third on a tick is steady: the
        # one that runs every minute.
        queued: list[int] = []
        timed("scheduler tick 1 (sends)", float("inf"), lambda: queued.append(run_due(app)))
        timed("scheduler tick 2 (settles)", float("inf"), lambda: queued.append(run_due(app)))
        timed("scheduler tick 3 (steady)", 0.1, lambda: queued.append(run_due(app)))
        print(f"  mails queued by ticks 1-3: {queued}")
        # The digest of a day after the reminders went out (every case has more history).
        timed("digest after the reminders", 1.0, digest)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak memory of this process         {peak:8.0f} MiB")
    finally:
        if server is not None:
            server.cleanup()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
