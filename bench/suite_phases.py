"""Wall time of the test suite's phases: lint, types, unit, integration, PostgreSQL, e2e.

Runs each phase as `scripts/test.sh` would (same commands, one at a time) and
prints its wall time and pytest's own summary line, so a slow phase shows up
before it slows CI.  Usage: python bench/suite_phases.py [PHASE ...]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
PHASES: dict[str, list[str]] = {
    "ruff": [PY, "-m", "ruff", "check", "bot", "tests", "bench"],
    "mypy": [PY, "-m", "mypy"],
    "unit": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"],
    "integration (SQLite)": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/integration", "-m", "not postgres"],
    "integration (PostgreSQL)": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "tests/integration", "-m", "postgres"],
    "security": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/security"],
    "e2e": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/e2e"],
}


def main() -> None:
    """Run the chosen phases (default: all) and print one line each."""
    chosen = sys.argv[1:] or list(PHASES)
    total = 0.0
    for name in chosen:
        cmd = PHASES[name]
        if "tests/security" in cmd and not (REPO / "tests" / "security").is_dir():
            continue
        start = time.monotonic()
        result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        took = time.monotonic() - start
        total += took
        tail = (result.stdout.strip().splitlines() or [""])[-1]
        print(f"{name:<26} {took:7.1f} s  exit {result.returncode}  {tail}", flush=True)
    print(f"{'total':<26} {total:7.1f} s")


if __name__ == "__main__":
    main()
