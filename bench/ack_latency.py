"""Benchmark: delivery-to-acknowledgement time under `cocbot run`, beside Dovecot's own
IDLE notification time, measured in the same run.

Starts a throwaway Dovecot and an aiosmtpd sink, measures how long Dovecot takes to
announce an appended message to an IDLE client (the floor), queues a start-up backlog,
starts `cocbot run`, and delivers live reports at random gaps while the backlog is being
filed and after.  Prints p50, p99 and max for both.  Usage:
    python bench/ack_latency.py [--reports 200] [--queued 100] [--min-gap 0.1]
                                [--max-gap 2.0] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.botproc import BotProcess, e2e_config, run_cli, wait_until  # noqa: E402
from tests.e2e.latency import (  # noqa: E402
    AckClock,
    deliver,
    idle_notification_seconds,
    percentile,
)
from tests.helpers import make_mail  # noqa: E402
from tests.servers import Dovecot, SmtpSink  # noqa: E402


def report(tag: str) -> tuple[str, bytes]:
    """A report from its own sender (so no per-sender limit applies)."""
    mid = f"bench-{tag}@mail.example"
    return mid, make_mail(message_id=mid, sender=f"reporter-{tag}@x.example",
                          subject=f"Report {tag}")


def figures(values: list[float]) -> str:
    """p50 / p99 / max in seconds."""
    return (f"p50 {percentile(values, 0.5):6.3f} s   p99 {percentile(values, 0.99):6.3f} s   "
            f"max {max(values):6.3f} s   (n={len(values)})")


def main() -> int:
    """Run the measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--queued", type=int, default=100)
    parser.add_argument("--min-gap", type=float, default=0.1)
    parser.add_argument("--max-gap", type=float, default=2.0)
    parser.add_argument("--idle-samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="cocbot-bench-"))
    try:
        with Dovecot() as dovecot, SmtpSink() as sink:
            floor = [idle_notification_seconds(dovecot, report(f"idle{i}")[1])
                     for i in range(args.idle_samples)]
            dovecot.reset()
            config = e2e_config(work, dovecot, sink,
                                imap={"idle_seconds": 290, "socket_timeout": 30,
                                      "reconnect_max_seconds": 10},
                                intake={"backfill_before": "2000-01-01"},
                                acknowledgement={"global_cap_per_hour": 100000},
                                log={"level": "info"})
            run_cli(config, "db", "upgrade")
            queued = [report(f"q{i}") for i in range(args.queued)]
            for _mid, raw in queued:
                dovecot.append(raw)
            live = [report(f"l{i}") for i in range(args.reports)]
            delivered: dict[str, float] = {}
            with AckClock(sink) as clock, BotProcess(config) as bot:
                started = time.monotonic()
                if not wait_until(lambda: "imap connected" in bot.log_text(), 60):
                    print(bot.log_text()[-3000:])
                    return 1
                for mid, raw in live:
                    delivered[mid] = deliver(dovecot, raw)
                    time.sleep(rng.uniform(args.min_gap, args.max_gap))
                everything = [m for m, _ in queued] + list(delivered)
                complete = clock.wait_for(everything, 120)
                backlog_done = max(clock.arrived.get(m, float("inf")) for m, _ in queued)
            waits = [clock.arrived[m] - at for m, at in delivered.items() if m in clock.arrived]
            during = [clock.arrived[m] - at for m, at in delivered.items()
                      if m in clock.arrived and at < backlog_done]
            repeats = sum(1 for n in clock.counts.values() if n > 1)
            print(f"cocbot run, {args.reports} live reports at gaps of {args.min_gap}-"
                  f"{args.max_gap} s, {args.queued} queued at start-up")
            print(f"  Dovecot IDLE notification   {figures(floor)}")
            print(f"  delivery -> acknowledgement {figures(waits)}")
            if during:
                print(f"  ... delivered during catch-up {figures(during)}")
            print(f"  backlog of {args.queued} acknowledged {backlog_done - started:.1f} s "
                  "after start")
            print(f"  all acknowledged: {complete}; reports acknowledged more than once: "
                  f"{repeats}")
            return 0 if complete and repeats == 0 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
