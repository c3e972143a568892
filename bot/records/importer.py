"""`import-records`: the group's existing spreadsheet into the records.

The file has the export's ten columns (`bot.records.export.COLUMNS`, header
row first).  Every line is checked before anything is written; a file with any
bad line imports nothing and every problem is reported with its line number.
Case and person code names are taken as they are, and since generation
checks the names on record, a name once used is never generated again.

A case already on record is not changed (its record is the bot's); a new
person line for it is linked.  Importing the same file twice adds nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from bot.core.events import EventKind
from bot.records.export import COLUMNS, unneutralise
from bot.records.people import link_person, new_person, person_by_code
from bot.records.personcodes import canonical
from bot.store.models import Case
from bot.store.people import CaseExtra
from bot.store.records import RESOLUTION_SOURCES, add_event

MAX_LINES = 100_000
_CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9' -]{0,62}[A-Za-z0-9]$")
_CONSEQUENCES = ("Not a violation", "Out of scope", "No action taken", "Warning",
                 "First Suspension", "Second Suspension", "Ban", "Other")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y")


@dataclass
class Line:
    """One checked spreadsheet line."""

    number: int
    reported: date
    case_code: str
    person_code: str
    status: str
    source: str | None
    resolved: date | None
    safety: str | None
    ongoing: str | None
    consequence: str | None
    documents: str | None


@dataclass
class ImportResult:
    """What an import did (or, with errors, why it did nothing)."""

    errors: list[str] = field(default_factory=list)
    cases: int = 0
    people: int = 0
    links: int = 0
    lines: int = 0


def _date(text: str) -> date | None:
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text[:10] if fmt == "%Y-%m-%d" else text, fmt).date()
        except ValueError:
            continue
    return None


def _choice(value: str, choices: tuple[str, ...], what: str, errors: list[str]) -> str | None:
    if not value:
        return None
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    errors.append(f"{what} {value!r} is not one of: {', '.join(choices)}")
    return None


def _check(number: int, cells: list[str]) -> tuple[Line | None, list[str]]:
    errors: list[str] = []
    values = [unneutralise(c.strip()) for c in cells]
    (reported_s, case_code, person_code, status, source, resolved_s, safety, ongoing,
     consequence, documents) = values
    reported = _date(reported_s)
    if reported is None:
        errors.append(f"Date of Report {reported_s!r} is not a date (YYYY-MM-DD)")
    case_code = " ".join(case_code.lower().split())
    if not _CODE_RE.match(case_code):
        errors.append(f"Case Code Name {values[1]!r} is not a code name")
    if person_code and not _CODE_RE.match(person_code):
        errors.append(f"Person Code Name {person_code!r} is not a code name")
    status_v = _choice(status, ("Ongoing", "Resolved"), "Status", errors)
    if status_v is None and not status:
        errors.append("Status is empty (Ongoing or Resolved)")
    source_v = _choice(source, RESOLUTION_SOURCES, "Resolution Source", errors)
    resolved = _date(resolved_s) if resolved_s else None
    if resolved_s and resolved is None:
        errors.append(f"Resolution Date {resolved_s!r} is not a date (YYYY-MM-DD)")
    if status_v == "Resolved" and resolved is None:
        errors.append("a Resolved case needs a Resolution Date")
    safety_v = _choice(safety, ("Yes", "No"), "Safety Risk", errors)
    ongoing_v = _choice(ongoing, ("Yes", "No", "Maybe"), "Ongoing Harassment", errors)
    consequence_v = _choice(consequence, _CONSEQUENCES, "Consequences", errors)
    if errors or reported is None or status_v is None:
        return None, errors
    return Line(number, reported, case_code, canonical(person_code) if person_code else "",
                status_v, source_v, resolved, safety_v, ongoing_v, consequence_v,
                documents or None), []


def parse_records(text: str) -> tuple[list[Line], list[str]]:
    """The checked lines of a records CSV, and "line N: problem" for each bad one."""
    errors: list[str] = []
    lines: list[Line] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        return [], ["line 1: the file is empty (expected the header: "
                    f"{', '.join(COLUMNS)})"]
    except csv.Error as exc:
        return [], [f"line 1: not CSV ({exc})"]
    if [h.strip().lower() for h in header] != [c.lower() for c in COLUMNS]:
        return [], [f"line 1: the header must be exactly: {', '.join(COLUMNS)}"]
    try:
        for cells in reader:
            number = reader.line_num
            if number > MAX_LINES:
                errors.append(f"line {number}: more than {MAX_LINES} lines; stopped")
                break
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(COLUMNS):
                errors.append(f"line {number}: {len(cells)} cells, expected {len(COLUMNS)}")
                continue
            line, problems = _check(number, cells)
            errors.extend(f"line {number}: {p}" for p in problems)
            if line is not None:
                lines.append(line)
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: not CSV ({exc})")
    return lines, errors


def import_records(session: Session, zone: ZoneInfo, text: str) -> ImportResult:
    """Check then import `text`; with any error nothing is written (the caller commits)."""
    lines, errors = parse_records(text)
    result = ImportResult(errors=errors, lines=len(lines))
    if errors:
        return result
    for line in lines:
        case = session.exec(select(Case).where(Case.code == line.case_code)).first()
        if case is None:
            case = Case(code=line.case_code, status=line.status,
                        date_reported=datetime.combine(line.reported, time(0, 0), tzinfo=zone),
                        resolution_source=line.source, resolution_date=line.resolved,
                        safety_risk=line.safety, ongoing_harassment=line.ongoing,
                        consequences=None if line.person_code else line.consequence)
            session.add(case)
            session.flush()
            if line.documents:
                session.add(CaseExtra(case_id=case.id or 0, documents=line.documents))
            add_event(session, case, EventKind.CASE_OPENED, how="import-records",
                      status=line.status, line=line.number)
            result.cases += 1
        if not line.person_code:
            continue
        person = person_by_code(session, line.person_code)
        if person is None:
            person = new_person(session, code=line.person_code)
            result.people += 1
        link, created = link_person(session, case, person)
        if created:
            link.consequence = line.consequence
            session.add(link)
            result.links += 1
    add_event(session, None, EventKind.RECORDS_IMPORTED, lines=result.lines, cases=result.cases,
              people=result.people)
    session.flush()
    return result
