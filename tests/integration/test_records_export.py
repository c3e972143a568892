"""Export in the manual's columns, import of the group's spreadsheet, identity key CLI."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.records.export import COLUMNS, neutralise, unneutralise
from bot.records.identitykey import generate_key
from bot.records.importer import import_records
from bot.store.db import session_scope
from bot.store.models import Case
from bot.store.people import Person
from tests.helpers import cocbot, config_dict, make_app, write_config
from tests.integration.test_people import command, report

HEADER = ",".join(COLUMNS)

# 20 lines as the group's spreadsheet holds them: two people in one case, cases
# with nobody recorded, a repeat person across cases, formula-like text.
ROWS = [
    ["2025-01-03", "home shelf", "Blue Jay", "Resolved", "CoC WG", "2025-01-20", "No", "No",
     "Warning", "https://docs.example/1"],
    ["2025-01-03", "home shelf", "Amber Owl", "Resolved", "CoC WG", "2025-01-20", "No", "No",
     "No action taken", "https://docs.example/1"],
    ["2025-02-11", "stunned bulb", "", "Resolved", "None", "2025-02-12", "No", "No",
     "Out of scope", ""],
    ["2025-02-14", "quiet lamp", "Blue Jay", "Resolved", "DSF Board", "2025-03-30", "Yes",
     "Maybe", "First Suspension", "'=HYPERLINK(\"http://evil\")"],
    ["2025-03-01", "paper kite", "Grey Heron", "Resolved", "Local Event Reps", "2025-03-02",
     "No", "No", "Warning", ""],
    ["2025-03-09", "silver spoon", "", "Ongoing", "", "", "", "", "", ""],
    ["2025-04-10", "green door", "Moss Finch", "Resolved", "CoC WG", "2025-04-28", "No", "Yes",
     "Ban", "'@SUM(1+1)"],
    ["2025-04-22", "brick path", "Blue Jay", "Resolved", "CoC WG", "2025-05-10", "Yes", "Yes",
     "Second Suspension", ""],
    ["2025-05-05", "wooden bench", "Teal Tern", "Resolved", "CoC WG", "2025-05-07", "No", "No",
     "Not a violation", ""],
    ["2025-05-19", "copper kettle", "", "Resolved", "None", "2025-05-19", "", "", "Other", ""],
    ["2025-06-02", "velvet chair", "Sand Lark", "Ongoing", "", "", "No", "Maybe", "", ""],
    ["2025-06-02", "velvet chair", "Rose Wren", "Ongoing", "", "", "No", "Maybe", "", ""],
    ["2025-06-30", "stone wall", "Grey Heron", "Resolved", "CoC WG", "2025-07-15", "No", "No",
     "Warning", "https://docs.example/9"],
    ["2025-07-04", "glass jar", "", "Resolved", "CoC WG", "2025-07-05", "No", "No",
     "No action taken", ""],
    ["2025-08-15", "linen sheet", "Pine Marten", "Resolved", "DSF Board", "2025-09-01", "No",
     "No", "Warning", ""],
    ["2025-09-09", "tin whistle", "Ochre Newt", "Resolved", "CoC WG", "2025-09-30", "No", "No",
     "'-1 Warning", ""],
    ["2025-10-01", "marble floor", "", "Ongoing", "", "", "Yes", "Yes", "", ""],
    ["2025-10-20", "cotton rope", "Frost Ibis", "Resolved", "CoC WG", "2025-11-02", "No", "No",
     "Out of scope", ""],
    ["2025-11-11", "oak table", "Amber Owl", "Ongoing", "", "", "No", "No", "", ""],
    ["2025-12-24", "wax candle", "Jade Kite", "Resolved", "CoC WG", "2025-12-30", "No", "No",
     "Warning", ""],
]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, config: Path, check: bool = True) -> Ran:
    """The command line in-process (fast); `cocbot` runs it as a subprocess where it matters."""
    from click.testing import CliRunner

    from bot.cli.main import main

    result = CliRunner().invoke(main, ["--config", str(config), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if check and ran.returncode != 0:
        raise AssertionError(f"{args} exited {ran.returncode}: {ran.stderr}")
    return ran


def csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buf.getvalue()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    url = f"sqlite:///{tmp_path / 'rec.db'}"
    make_app(url)
    key = tmp_path / "identity.key"
    key.write_text(generate_key())
    cfg = write_config(tmp_path / "cocbot.toml",
                       config_dict(url, identity={"key_file": str(key)}))
    return cfg, tmp_path


def test_neutralise_round_trip() -> None:
    for value in ["=1+1", "+x", "-2", "@A1", "\tx", "plain", "'quoted", "", "2025-01-01"]:
        assert unneutralise(neutralise(value)) == value
        assert not neutralise(value).startswith(("=", "+", "-", "@", "\t"))


def test_import_then_export_gives_back_the_same_rows(setup: tuple[Path, Path]) -> None:
    cfg, tmp = setup
    bad_rows = [r for r in ROWS if r[9].startswith("'") or r[8].startswith("'")]
    assert bad_rows, "the fixture carries formula-like cells"
    src = tmp / "sheet.csv"
    # The group's own file: formula-like cells as a spreadsheet shows them (apostrophe).
    src.write_text(csv_text(ROWS), encoding="utf-8")
    ROWS_FIXED = [list(r) for r in ROWS]
    # "'-1 Warning" is not a consequence the manual lists: the import refuses that file.
    out = cli("import-records", str(src), config=cfg, check=False)
    assert out.returncode == 1 and "line 17: Consequences '-1 Warning'" in out.stderr
    assert "Traceback" not in out.stderr
    ROWS_FIXED[15][8] = "Warning"
    src.write_text(csv_text(ROWS_FIXED), encoding="utf-8")
    out = cli("import-records", str(src), config=cfg)
    assert "imported 20 line(s): 18 new case(s)" in out.stdout
    again = cli("import-records", str(src), config=cfg)
    assert "0 new case(s), 0 new person code name(s), 0 person record(s)" in again.stdout
    exported = cli("export", "records", config=cfg).stdout
    assert exported.splitlines()[0] == HEADER
    assert list(csv.reader(io.StringIO(exported)))[1:] == ROWS_FIXED
    xlsx = tmp / "r.xlsx"
    cli("export", "records", "--format", "xlsx", "--out", str(xlsx), config=cfg)
    with zipfile.ZipFile(xlsx) as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()  # no formula cells
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx).active
    assert sheet is not None
    values = [[c or "" for c in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0] == list(COLUMNS)
    assert values[1:] == ROWS_FIXED


def test_generated_names_never_reuse_imported_ones(setup: tuple[Path, Path]) -> None:
    _cfg, tmp = setup
    url = f"sqlite:///{tmp / 'rec.db'}"
    app = make_app(url)
    with session_scope(app.engine) as session:
        result = import_records(session, app.config.schedule.zone, csv_text(ROWS[:3]))
        assert not result.errors
    from bot.records.personcodes import new_person_code
    from bot.store.codenames import new_code_name

    class Scripted:
        """An rng whose choices try the imported names first."""

        def __init__(self, words: list[str]) -> None:
            self.words = words

        def choice(self, _seq: object) -> str:
            return self.words.pop(0)

        def sample(self, _seq: object, _k: int) -> list[str]:
            return [self.words.pop(0), self.words.pop(0)]

    with Session(app.engine) as session:
        from bot.records.people import code_taken

        person = new_person_code(lambda c: code_taken(session, c),
                                 Scripted(["Blue", "Jay", "Amber", "Owl", "Sand", "Lark"]))
        assert person == "Sand Lark"
        case = new_code_name(lambda c: session.exec(select(Case.id).where(Case.code == c))
                             .first() is not None, Scripted(["home", "shelf", "tin", "cup"]))
        assert case == "tin cup"


def test_malformed_import_is_answered_line_by_line(setup: tuple[Path, Path]) -> None:
    cfg, tmp = setup
    bad = tmp / "bad.csv"
    bad.write_text(HEADER + "\n"
                   "2025-13-01,home shelf,,Ongoing,,,,,,\n"
                   "2025-01-01,=cmd|calc,,Ongoing,,,,,,\n"
                   "2025-01-02,two cells\n"
                   "2025-01-03,quiet lamp,,Closed,,,Perhaps,,,\n"
                   "2025-01-04,tin cup,,Resolved,CoC WG,,,,,\n", encoding="utf-8")
    out = cocbot("import-records", str(bad), config=cfg, check=False)  # type: ignore[assignment]
    assert out.returncode == 1 and "Traceback" not in out.stderr
    err = out.stderr
    assert "line 2: Date of Report '2025-13-01'" in err
    assert "line 3: Case Code Name '=cmd|calc'" in err
    assert "line 4: 2 cells, expected 10" in err
    assert "line 5: Status 'Closed'" in err and "line 5: Safety Risk 'Perhaps'" in err
    assert "line 6: a Resolved case needs a Resolution Date" in err
    assert "nothing was imported" in err
    (tmp / "header.csv").write_text("Date,Code\n1,2\n")
    out = cli("import-records", str(tmp / "header.csv"), config=cfg, check=False)
    assert "line 1: the header must be exactly" in out.stderr
    (tmp / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    out = cli("import-records", str(tmp / "bin.csv"), config=cfg, check=False)
    assert out.returncode == 1 and "not UTF-8" in out.stderr and "Traceback" not in out.stderr
    assert cli("export", "records", config=cfg).stdout.strip() == HEADER


def test_export_one_row_per_person_and_identity_key(setup: tuple[Path, Path]) -> None:
    cfg, tmp = setup
    from bot.core.config import load_config
    from bot.store.bootstrap import build_app
    from bot.store.db import make_engine

    config = load_config(cfg)
    app = build_app(config, make_engine(config.database.url),
                    clock=lambda: datetime(2026, 2, 1, 12, tzinfo=UTC))
    code, mid = report(app)
    command(app, code, mid, body="#person Ann Able <ann@example.com>; Bob Bee\n"
            "#doc https://docs.example/x")
    report(app, subject="nobody recorded")
    rows = list(csv.reader(io.StringIO(cli("export", "records", config=cfg).stdout)))
    assert rows[0] == list(COLUMNS)
    assert [r[1] for r in rows[1:]] == [code, code, rows[3][1]]
    assert rows[1][2] != rows[2][2] and rows[3][2] == ""
    assert rows[1][9] == "https://docs.example/x" and rows[1][3] == "Ongoing"
    keyed = cli("export", "identity-key", config=cfg).stdout
    assert "Ann Able" in keyed and "ann@example.com" in keyed and rows[1][2] in keyed
    listed = cli("identity", "show", *rows[1][2].split(), config=cfg).stdout
    assert "Ann Able" in listed
    # Without the key: a clear error, and the records export still works.
    nokey = write_config(tmp / "nokey.toml", config_dict(config.database.url))
    out = cli("export", "identity-key", config=nokey, check=False)
    assert out.returncode == 1 and "identity key is not configured" in out.stderr
    assert "Ann" not in cli("export", "records", config=nokey).stdout
    # Rotation: the new key reads everything, the old one nothing.
    new_key = tmp / "new.key"
    cli("identity", "rotate", "--new-key-file", str(new_key), config=cfg)
    rotated = write_config(tmp / "rotated.toml",
                           config_dict(config.database.url, identity={"key_file": str(new_key)}))
    assert "Ann Able" in cli("identity", "list", config=rotated).stdout
    out = cli("identity", "list", config=cfg, check=False)
    assert out.returncode == 1 and "not the one these records were made with" in out.stderr
    with Session(app.engine) as session:
        assert len(session.exec(select(Person)).all()) == 2
