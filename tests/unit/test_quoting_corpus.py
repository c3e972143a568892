"""The quote stripper against real replies from many clients and languages.

Each reply in the corpus's ``reply-parser`` folder starts with the author's own
text, which is exactly ``first_fragment.txt``; everything after it is quoted
text, attribution lines, separators or signatures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.mail.quoting import top_lines
from tests.corpora import CORPORA_DIR, requires_corpora

_FOLDER = CORPORA_DIR / "reply-parser" if CORPORA_DIR is not None else None


def _replies() -> list[Path]:
    if _FOLDER is None or not _FOLDER.is_dir():
        return []
    return sorted(_FOLDER.glob("email_*.txt"))


@requires_corpora
@pytest.mark.skipif(not _replies(), reason="reply-parser corpus not present")
def test_every_reply_yields_exactly_the_first_fragment() -> None:
    assert _FOLDER is not None
    expected = (_FOLDER / "first_fragment.txt").read_text(encoding="utf-8").strip()
    wrong = []
    for path in _replies():
        got = "\n".join(top_lines(path.read_text(encoding="utf-8"))).strip()
        if got != expected:
            wrong.append(path.name)
    assert wrong == [], f"{len(wrong)} of {len(_replies())} replies not exact: {wrong}"
    assert len(_replies()) >= 28
