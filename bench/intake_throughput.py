"""Benchmark: intake throughput of `cocbot import` beside the raw parse rate.

Generates a few thousand threaded messages into an mbox, then prints
- the raw parse rate (`bot.mail.parse.parse_message` alone, messages/second),
- the full `cocbot import` rate (parse + dedupe + threading + records + one
  transaction per message, SQLite), and the ratio between them,
so the overhead of filing is visible.  Usage:
    python bench/intake_throughput.py [--messages 3000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import mailbox
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.mail.parse import parse_message  # noqa: E402


def generate(n: int, seed: int = 1) -> list[bytes]:
    """`n` messages in threads of 1-12, with References like real replies."""
    rng = random.Random(seed)
    out: list[bytes] = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    thread_ids: list[list[str]] = []
    for i in range(n):
        msg = EmailMessage()
        mid = f"bench{i}@gen.example"
        if thread_ids and rng.random() < 0.7:
            thread = rng.choice(thread_ids)
            if len(thread) < 12:
                msg["In-Reply-To"] = f"<{thread[-1]}>"
                msg["References"] = " ".join(f"<{t}>" for t in thread)
                thread.append(mid)
            else:
                thread_ids.append([mid])
        else:
            thread_ids.append([mid])
        msg["From"] = f"Person {i % 97} <p{i % 97}@gen.example>"
        msg["To"] = "conduct@example.org"
        msg["Subject"] = f"Report number {i}"
        msg["Date"] = format_datetime(start + timedelta(minutes=i))
        msg["Message-ID"] = f"<{mid}>"
        msg.set_content("A report body line.\n" * rng.randint(3, 40))
        out.append(msg.as_bytes())
    return out


def main() -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cocbot-bench-"))
    try:
        raws = generate(args.messages)
        box = mailbox.mbox(str(work / "bench.mbox"))
        for raw in raws:
            box.add(raw)
        box.close()
        t0 = time.perf_counter()
        for raw in raws:
            parse_message(raw)
        parse_s = time.perf_counter() - t0
        cfg = work / "bench.toml"
        cfg.write_text('conduct_address = "conduct@example.org"\n'
                       f'[database]\nurl = "sqlite:///{work / "bench.db"}"\n'
                       '[log]\nlevel = "warning"\nformat = "json"\n')
        cmd = [sys.executable, "-m", "bot", "--config", str(cfg)]
        subprocess.run([*cmd, "db", "upgrade"], check=True, capture_output=True, cwd=REPO)
        t0 = time.perf_counter()
        subprocess.run([*cmd, "import", str(work / "bench.mbox")], check=True,
                       capture_output=True, cwd=REPO)
        import_s = time.perf_counter() - t0
        n = len(raws)
        print(f"messages:            {n}")
        print(f"raw parse rate:      {n / parse_s:8.0f} msg/s  ({parse_s:.2f} s)")
        print(f"cocbot import rate:  {n / import_s:8.0f} msg/s  ({import_s:.2f} s, "
              "incl. process start)")
        print(f"filing overhead:     {import_s / parse_s:8.1f}x the parse time")
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
