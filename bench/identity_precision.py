"""Print how precise and how thorough the reporter-identity check is.

False positives: clean letters (which name no reporter) checked against
reporters whose names are ordinary words; recall: letters that do name them.
The sets are the ones the unit tests use (tests/unit/test_identity_precision.py).

    python3 bench/identity_precision.py
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.hygiene.identity import find_identity, identity_patterns
from tests.unit.test_identity_precision import CLEAN_LETTERS, LEAKS, REPORTERS


def main() -> None:
    """Count false positives and misses, with and without the ordinary-word rule."""
    def patterns(i: int) -> list:  # type: ignore[type-arg]
        return identity_patterns(REPORTERS[i], min_name_part=3, ignore_words=["will", "hope"])

    def anywhere(i: int) -> list:  # type: ignore[type-arg]
        # Every name part counted wherever it occurs, as a plain word.
        return [replace(p, ordinary=False) for p in patterns(i)]

    checks = len(REPORTERS) * len(CLEAN_LETTERS)
    for label, make in (("written as a name", patterns), ("anywhere", anywhere)):
        false_pos = sum(1 for i in range(len(REPORTERS)) for text in CLEAN_LETTERS
                        if find_identity(text, make(i)))
        found = sum(1 for i, text in LEAKS if find_identity(text, make(i)))
        print(f"ordinary-word name parts counted {label}: {false_pos} false positives in "
              f"{checks} clean checks; {found} of {len(LEAKS)} leaks found")


if __name__ == "__main__":
    main()
