"""`cocbot stats`: the counts of a 50-case year, small counts suppressed, a PNG chart."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot.cli.main import main
from bot.records.export import COLUMNS
from bot.records.importer import import_records
from bot.records.stats import Period
from bot.store.db import session_scope
from bot.store.models import Case
from bot.store.people import CaseExtra
from tests.helpers import config_dict, make_app, write_config

MONTHS = [1] * 10 + [2] * 10 + [3] * 10 + [4] * 10 + [5] * 8 + [6] * 2
SPACES = ["forum"] * 20 + ["discord"] * 15 + ["github"] * 10 + ["event"] * 3 + \
    ["social media"] * 2
TYPES = [["harassment"]] * 30 + [["spam"]] * 18 + [["threat", "harassment"]] * 2


def fixture_rows() -> list[list[str]]:
    rows = []
    for i in range(50):
        reported = date(2026, MONTHS[i], 1 + i % 20)
        resolved = i < 40
        source = "CoC WG" if i < 30 else "DSF Board" if i < 38 else "Local Event Reps"
        consequence = "Warning" if i < 20 else "Not a violation" if i < 35 else \
            "Ban" if i == 35 else ""
        # Three people are reported twice each (cases 0/1, 2/3, 4/5); ten cases have nobody.
        person = "" if i >= 40 else f"Person{min(i, 6) // 2 if i < 6 else i}"
        rows.append([reported.isoformat(), f"case {chr(97 + i // 26)}{chr(97 + i % 26)}",
                     person.replace("Person", "Blue Jay ") if person else "",
                     "Resolved" if resolved else "Ongoing", source if resolved else "",
                     (reported + timedelta(days=10)).isoformat() if resolved else "",
                     "Yes" if i % 5 == 0 else "No", "No", consequence if person else "", ""])
    rows.append(["2025-12-31", "old case", "", "Ongoing", "", "", "Yes", "", "", ""])
    rows.append(["2027-01-01", "new case", "", "Ongoing", "", "", "Yes", "", "", ""])
    return rows


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    app = make_app(url)
    buf = io.StringIO()
    csv.writer(buf).writerows([list(COLUMNS), *fixture_rows()])
    with session_scope(app.engine) as session:
        result = import_records(session, app.config.schedule.zone, buf.getvalue())
        assert not result.errors, result.errors
        cases = session.exec(select(Case).order_by(Case.code)).all()  # type: ignore[arg-type]
        for i, case in enumerate(c for c in cases if c.code.startswith("case ")):
            session.add(CaseExtra(case_id=case.id or 0, space=SPACES[i], types=TYPES[i]))
    return write_config(tmp_path / "c.toml", config_dict(url))


def test_period_parsing() -> None:
    assert Period.parse(half="2026h2").start == date(2026, 7, 1)
    assert Period.parse(year="2026").end == date(2026, 12, 31)
    for bad in ({"half": "2026H3"}, {"year": "26"}, {"start": "2026-01-01"}, {}):
        with pytest.raises(ValueError):
            Period.parse(**bad)  # type: ignore[arg-type]


def test_stats_year_counts_suppressed_and_chart(cfg: Path, tmp_path: Path) -> None:
    png = tmp_path / "chart.png"
    out = CliRunner().invoke(main, ["--config", str(cfg), "stats", "--year", "2026",
                                    "--format", "json", "--chart", str(png)])
    assert out.exit_code == 0, out.output
    p = json.loads(out.stdout)
    assert p["reports_received"] == 50
    assert p["reports_by_month"]["2026-01"] == 10 and p["reports_by_month"]["2026-05"] == 8
    assert p["reports_by_month"]["2026-06"] == "fewer than 3"
    assert p["reports_by_month"]["2026-07"] == 0
    assert p["by_space"] == {"forum": 20, "discord": 15, "mailing list": 0, "github": 10,
                             "social media": "fewer than 3", "event": 3, "other": 0,
                             "not recorded": 0}
    assert p["by_type"]["harassment"] == 32 and p["by_type"]["spam"] == 18
    assert p["by_type"]["threat"] == "fewer than 3"
    assert p["by_resolution_source"] == {"CoC WG": 30, "DSF Board": 8,
                                         "Local Event Reps": "fewer than 3"}
    assert p["by_consequence"]["Warning"] == 20 and p["by_consequence"]["Ban"] == "fewer than 3"
    assert p["by_consequence"]["Not a violation"] == 15
    assert p["safety_risk_share"] == "20%"
    assert p["median_days_to_resolution"] == 10.0
    assert p["median_days_to_acknowledgement"] == "fewer than 3 cases"
    assert p["repeat_people"] == 3
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" in data[-12:]
    from PIL import Image

    with Image.open(png) as image:
        image.verify()
    md = CliRunner().invoke(main, ["--config", str(cfg), "stats", "--half", "2026H1"]).stdout
    assert "- Reports received: 50" in md and "| social media | fewer than 3 |" in md
    rows = CliRunner().invoke(main, ["--config", str(cfg), "stats", "--from", "2026-06-01",
                                     "--to", "2026-06-30", "--format", "csv"]).stdout
    assert "summary,reports_received,fewer than 3" in rows
    bad = CliRunner().invoke(main, ["--config", str(cfg), "stats", "--half", "2026"])
    assert bad.exit_code == 2 and "2026H1" in bad.stderr
