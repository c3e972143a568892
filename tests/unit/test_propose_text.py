"""Which ladder step a proposal's text names (bot.commands.propose.consequence_of)."""

from __future__ import annotations

import pytest

from bot.commands.propose import consequence_of


@pytest.mark.parametrize(("text", "value"), [
    ("Ban - repeated harassment after a warning", "Ban"),
    ("a warning, in writing", "Warning"),
    ("temporary suspension for 60 days", "First Suspension"),
    ("Second Suspension: 120 days with conditions", "Second Suspension"),
    ("permanent ban", "Ban"),
    ("not a violation", "Not a violation"),
    ("facilitated communication between the two", "Other"),
    ("banana", "Other"),
])
def test_consequence_of(text: str, value: str) -> None:
    assert consequence_of(text) == value
