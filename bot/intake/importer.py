"""`cocbot import`: file an mbox file or a Maildir folder, silently.

Exactly the pipeline intake uses, with backfill set, so nothing is ever sent
for imported mail.
"""

from __future__ import annotations

import mailbox
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.core.app import App
from bot.filing.context import Origin
from bot.intake.filer import file_raw


def _is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def iter_raw(path: Path) -> tuple[int, Iterator[tuple[str, bytes]]]:
    """(count, iterator of (label, raw bytes)) for an mbox file or Maildir folder."""
    if _is_maildir(path):
        md = mailbox.Maildir(str(path), factory=None, create=False)
        keys = sorted(md.keys())

        def gen_md() -> Iterator[tuple[str, bytes]]:
            for key in keys:
                yield f"maildir:{key}", md.get_bytes(key)

        return len(keys), gen_md()
    if path.is_file():
        mb = mailbox.mbox(str(path), factory=None, create=False)
        keys = list(mb.keys())

        def gen_mb() -> Iterator[tuple[str, bytes]]:
            for key in keys:
                yield f"mbox:{path.name}:{key}", mb.get_bytes(key)

        return len(keys), gen_mb()
    raise FileNotFoundError(f"{path} is neither an mbox file nor a Maildir folder")


def import_path(
    app: App, path: Path, progress: Callable[[int], None] | None = None
) -> Counter[str]:
    """File every message under `path`; returns counts by outcome status."""
    _count, messages = iter_raw(path)
    counts: Counter[str] = Counter()
    for label, raw in messages:
        outcome = file_raw(app, raw, Origin(source=f"import:{label}", backfill=True))
        counts[outcome.status] += 1
        if outcome.new_case:
            counts["new cases"] += 1
        if progress is not None:
            progress(1)
    return counts
