"""The .xlsx export: hostile cell text stays text (no formula cells), every row kept."""

from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook

from bot.records.export import COLUMNS, to_xlsx

HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(1,1)", "\t=1", "=HYPERLINK(\"x\")"]


def test_hostile_cells_stay_text_and_every_row_is_kept() -> None:
    rows = [[value, *["plain"] * (len(COLUMNS) - 1)] for value in HOSTILE]
    data = to_xlsx(rows)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet_xml = next(z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml
    sheet = load_workbook(io.BytesIO(data))["Records"]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(COLUMNS)
    assert [row[0] for row in values[1:]] == ["'" + v for v in HOSTILE]
