"""The systemd units in scripts/deploy/: valid, sandboxed, and using secrets the bot reads."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import SECRET_ENV

DEPLOY = Path(__file__).resolve().parents[2] / "scripts" / "deploy"
UNITS = ["cocbot.service", "cocbot-backup.service", "cocbot-backup.timer"]


def directives(name: str) -> list[tuple[str, str]]:
    pairs = []
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            pairs.append((key.strip(), value.strip()))
    return pairs


def test_the_service_is_sandboxed() -> None:
    found = dict(directives("cocbot.service"))
    assert found["DynamicUser"] == "yes"
    assert found["ProtectSystem"] == "strict"
    assert found["NoNewPrivileges"] == "yes"
    assert found["UMask"] == "0077"
    assert found["Restart"] == "on-failure"
    assert any(k == "LoadCredential" for k, _ in directives("cocbot.service"))


@pytest.mark.parametrize("unit", ["cocbot.service", "cocbot-backup.service"])
def test_secret_files_are_ones_the_bot_reads(unit: str) -> None:
    known = {f"{var}_FILE" for var, _section, _key in SECRET_ENV}
    text = (DEPLOY / unit).read_text()
    used = set(re.findall(r"(COCBOT_[A-Z_]+_FILE)=%d/", text))
    assert used and used <= known, used - known
    # Every credential the environment points at is loaded by the unit.
    for var in re.findall(r"^Environment=COCBOT_[A-Z_]+_FILE=%d/(\w+)", text, re.M):
        assert re.search(rf"^LoadCredential={var}:", text, re.M), var


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd not installed")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    for name in UNITS:
        # The units name the installed binary; any executable stands in for it here.
        text = (DEPLOY / name).read_text().replace("/opt/cocbot/bin/cocbot", sys.executable)
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Unknown" not in result.stderr and "Failed" not in result.stderr, result.stderr
