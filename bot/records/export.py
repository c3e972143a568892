"""The records in the group's own spreadsheet format (manual, "Records Maintained").

Exactly ten columns, in the manual's order; one row per reported person, so a
case with two people has two rows with the same Case Code Name ("add a new
row for each additional person"), and a case with nobody recorded yet has
one row with an empty Person Code Name.  No identities: the identity key is a
separate export that needs the key.

Spreadsheet programs run a cell starting with = + - @ (or a tab or carriage
return) as a formula; such cells are written with a leading apostrophe, the
convention spreadsheets themselves use for "this is text" (OWASP, CSV
injection), and `import-records` takes the apostrophe off again.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from bot.core.gcpause import collector_paused
from bot.store.models import Case
from bot.store.people import CaseExtra, CasePerson, Person

COLUMNS = ("Date of Report", "Case Code Name", "Person Code Name", "Status",
           "Resolution Source", "Resolution Date", "Safety Risk", "Ongoing Harassment",
           "Consequences", "Documents")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_FORMULA_FIRST = frozenset(_FORMULA_START)


def neutralise(value: str) -> str:
    """`value` made safe for a spreadsheet cell (no formula can start it)."""
    return "'" + value if value[:1] in _FORMULA_FIRST else value


def unneutralise(value: str) -> str:
    """The value `neutralise` protected (the apostrophe it added taken off)."""
    if value.startswith("'") and value[1:2] and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def record_rows(session: Session, zone: ZoneInfo,
                 cases: Iterable[Case] | None = None) -> list[list[str]]:
    """The spreadsheet rows (values as text, not yet neutralised), oldest report first.

    Reads plain columns in three queries (no ORM objects), so ten thousand cases
    take well under a second.  `cases` limits the rows to those cases.
    """
    with collector_paused():  # many rows at once (bot.core.gcpause)
        return _record_rows(session, zone, cases)


def _record_rows(session: Session, zone: ZoneInfo,
                 cases: Iterable[Case] | None = None) -> list[list[str]]:
    wanted = None if cases is None else {c.id for c in cases}
    people: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
    for case_id, code, consequence in session.execute(
            sa_select(col(CasePerson.case_id), col(Person.code), col(CasePerson.consequence))
            .join(Person, col(Person.id) == col(CasePerson.person_id))
            .order_by(col(CasePerson.id))).all():
        people[case_id].append((code, consequence))
    documents = dict(session.execute(
        sa_select(col(CaseExtra.case_id), col(CaseExtra.documents))
        .where(col(CaseExtra.documents).is_not(None))).all())
    rows: list[list[str]] = []
    for (cid, reported, code, status, source, resolved, safety, ongoing,
         consequences) in session.execute(
            sa_select(col(Case.id), col(Case.date_reported), col(Case.code), col(Case.status),
                      col(Case.resolution_source), col(Case.resolution_date),
                      col(Case.safety_risk), col(Case.ongoing_harassment),
                      col(Case.consequences))
            .where(col(Case.merged_into).is_(None))
            .order_by(col(Case.date_reported), col(Case.id))).all():
        if wanted is not None and cid not in wanted:
            continue
        when = reported if reported.tzinfo else reported.replace(tzinfo=UTC)
        base = [when.astimezone(zone).date().isoformat(), code]
        middle = [status, source or "", resolved.isoformat() if resolved else "",
                  safety or "", ongoing or ""]
        tail = [documents.get(cid) or ""]
        linked = people.get(cid, [])
        if not linked:
            rows.append([*base, "", *middle, consequences or "", *tail])
        for person_code, consequence in linked:
            rows.append([*base, person_code, *middle, consequence or consequences or "",
                         *tail])
    return rows


def to_csv(rows: list[list[str]]) -> str:
    """The rows as CSV text with the header, every cell neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return buf.getvalue()


def to_xlsx(rows: list[list[str]]) -> bytes:
    """The rows as an .xlsx workbook (one sheet "Records"), every cell plain text.

    Written in openpyxl's streaming mode (a third of the time and memory of a
    workbook built in memory).  A cell is a formula only when its text starts
    with "=", which `neutralise` never leaves: every cell stays text.
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Records")
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([neutralise(v) for v in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
