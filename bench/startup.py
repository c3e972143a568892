"""CPU time of `cocbot --help` and `cocbot check-config`, against a bare interpreter.

Runs each command several times in a fresh process and prints the lowest
user+system CPU seconds (the least disturbed run), so the figure measures the
start-up cost of cocbot's imports rather than the machine's load.
Usage: python bench/startup.py [RUNS]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cpu_seconds(cmd: list[str], cwd: Path) -> float:
    """User+system CPU seconds of one run of `cmd` (a child process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Print the lowest CPU time of each command over RUNS runs."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = work / "cocbot.toml"
        config.write_text((REPO / "cocbot.example.toml").read_text(encoding="utf-8"),
                          encoding="utf-8")
        env_cmds = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "cocbot --help": [sys.executable, "-m", "bot", "--help"],
            "cocbot --version": [sys.executable, "-m", "bot", "--version"],
            "cocbot check-config": [sys.executable, "-m", "bot", "--config", str(config),
                                    "check-config"],
        }
        os.environ.setdefault("PYTHONPATH", str(REPO))
        print(f"{'command':<24} {'min CPU s':>10} {'median':>8}   ({runs} runs)")
        for label, cmd in env_cmds.items():
            times = sorted(cpu_seconds(cmd, work) for _ in range(runs))
            print(f"{label:<24} {times[0]:>10.3f} {times[len(times) // 2]:>8.3f}")


if __name__ == "__main__":
    main()
