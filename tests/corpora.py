"""Where the real-world mail corpora are, and how to iterate over their messages.

The corpora are not part of the project: they live in a ``shared/corpora``
folder beside the repository (or wherever ``COCBOT_CORPORA`` points).  Tests that
read them use `requires_corpora` so they skip cleanly when the folder is absent.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[1]


def _find_corpora() -> Path | None:
    """``COCBOT_CORPORA`` when set, else ``../shared/corpora`` beside the repo, else None."""
    configured = os.environ.get("COCBOT_CORPORA")
    if configured:
        # An explicit setting is used as given, so a wrong path fails loudly.
        return Path(configured)
    default = _REPO_ROOT.parent / "shared" / "corpora"
    return default if default.is_dir() else None


CORPORA_DIR: Path | None = _find_corpora()

requires_corpora = pytest.mark.skipif(
    CORPORA_DIR is None,
    reason="real-world mail corpora not found (set COCBOT_CORPORA or add ../shared/corpora)",
)

# Licence texts, READMEs and the expected-output files that sit beside samples.
_SKIP_SUFFIXES = frozenset({".json", ".html", ".md", ".txt"})
_SKIP_WORDS = ("license", "licence", "copying", "readme")
_SKIP_DIRS = frozenset({"licenses", "licences"})


def _is_sample(path: Path, root: Path) -> bool:
    """True for files holding mail rather than licences, docs or expected output."""
    name = path.name.lower()
    if path.suffix.lower() in _SKIP_SUFFIXES or any(word in name for word in _SKIP_WORDS):
        return False
    if name.startswith("."):
        return False
    return not any(part.lower() in _SKIP_DIRS for part in path.relative_to(root).parts[:-1])


def corpus_files() -> list[Path]:
    """Every mail file (single message or mbox) under the corpora, sorted; [] without them."""
    if CORPORA_DIR is None or not CORPORA_DIR.is_dir():
        return []
    return sorted(
        path for path in CORPORA_DIR.rglob("*") if path.is_file() and _is_sample(path, CORPORA_DIR)
    )


def corpus_messages() -> Iterator[tuple[str, bytes]]:
    """(label, raw bytes) for every single message; ``*.mbox`` files are split.

    Labels are paths relative to the corpora folder, with ``#n`` appended for the
    n-th message of an mbox.
    """
    if CORPORA_DIR is None:
        return
    for path in corpus_files():
        label = path.relative_to(CORPORA_DIR).as_posix()
        if path.suffix.lower() == ".mbox":
            box = mailbox.mbox(path, create=False)
            try:
                for index, key in enumerate(box.keys()):
                    yield f"{label}#{index}", box.get_bytes(key)
            finally:
                box.close()
        else:
            yield label, path.read_bytes()
