"""The built wheel is a working cocbot: installed outside the checkout, run anywhere.

The wheel must carry the top-level templates/, rules/ and migrations/ (a plain
`pip install .` once gave a cocbot that could not start).  The virtual
environment sees the system's site-packages so the dependencies resolve without
downloading, but cocbot itself comes from the wheel: the test checks where the
package was imported from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], cwd: Path, env: dict[str, str],
         timeout: float = 240) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{cmd} exited {result.returncode}:\n{result.stdout}\n" \
                                   f"{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed() -> tuple[Path, Path, dict[str, str]]:
    """A virtual environment outside the checkout with the freshly built wheel installed."""
    root = Path(tempfile.mkdtemp(prefix="cocbot-wheel-"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "COCBOT_CONFIG", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # Copy the sources (git-tracked files only would be stricter, but a copy without
    # build leftovers is what `pip install .` from a clean checkout sees).
    src = root / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "*.egg-info", "build", "dist", ".mypy_cache", ".ruff_cache",
        ".pytest_cache", "*.db", "*.db-wal", "*.db-shm"))
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(dist), str(src)], cwd=root, env=env)
    [wheel] = list(dist.glob("cocbot-*.whl"))
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=root, env=env)
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", "--no-index", "--force-reinstall",
          "--no-deps", str(wheel)], cwd=root, env=env)
    # Every declared dependency must be importable in that environment.
    _run([str(py), "-m", "pip", "check"], cwd=root, env=env)
    work = root / "work"
    work.mkdir()
    yield venv, work, env
    shutil.rmtree(root, ignore_errors=True)


def test_wheel_carries_templates_rules_and_migrations(
        installed: tuple[Path, Path, dict[str, str]]) -> None:
    venv, work, env = installed
    out = _run([str(venv / "bin" / "python"), "-c",
                "import bot, bot.core.resources as r; print(bot.__file__); "
                "print(*(r.shipped_dir(n) for n in r.SHIPPED), sep='\\n')"], cwd=work, env=env)
    lines = out.stdout.split()
    assert all(str(venv) in line for line in lines), lines
    assert [Path(p).name for p in lines[1:]] == ["templates", "rules", "migrations"]


def test_installed_cocbot_runs_from_any_directory(
        installed: tuple[Path, Path, dict[str, str]]) -> None:
    venv, work, env = installed
    cocbot = str(venv / "bin" / "cocbot")
    version = _run([cocbot, "--version"], cwd=work, env=env)
    assert "0." in version.stdout and "cocbot" in version.stdout
    demo = _run([cocbot, "demo"], cwd=work, env=env)
    assert "acknowledg" in demo.stdout.lower()
    config = work / "cocbot.toml"
    text = (REPO / "cocbot.example.toml").read_text(encoding="utf-8")
    config.write_text(text, encoding="utf-8")
    _run([cocbot, "--config", str(config), "db", "upgrade"], cwd=work, env=env)
    check = _run([cocbot, "--config", str(config), "check-config"], cwd=work, env=env)
    assert "configuration OK" in check.stdout
