"""A migrated SQLite file, made once per test process and copied for each test.

Running the migrations costs most of a second per fresh database; tests that only
need an empty, current schema copy this file instead.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from bot.store.db import upgrade

_TEMPLATE: list[Path] = []


def fresh_sqlite_url(folder: Path, name: str = "cocbot.db") -> str:
    """Copy the migrated template to `folder`/`name` and return its URL."""
    if not _TEMPLATE:
        root = Path(tempfile.mkdtemp(prefix="cocbot-template-"))
        atexit.register(shutil.rmtree, root, True)
        upgrade(f"sqlite:///{root / 'cocbot.db'}")
        _TEMPLATE.append(root / "cocbot.db")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE[0], folder / name)
    return f"sqlite:///{folder / name}"
