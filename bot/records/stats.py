"""Statistics for the transparency report (manual, "Transparency"; reporting guide:
"Number of reports received, Types of violations reported, General outcomes").

Everything is counted from the records of the cases reported in the period
(by Date of Report, in the configured time zone).  Any count from 1 to
``stats.min_count - 1`` is printed as "fewer than N", so no small group of
people can be recognised in a published table; medians are given only when at
least ``min_count`` cases contribute.

Times to acknowledgement and first response are read from the outbox and the
case's mail; a purge keeps them in the case's extra row first, so the
statistics of a period do not change when its details are purged.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from bot.core.config import Config
from bot.core.gcpause import collector_paused
from bot.records.casextra import SPACES
from bot.store.models import Case, InboundMessage, Outbox
from bot.store.people import CaseExtra, CasePerson

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Period:
    """An inclusive range of days and its label ("2026H1", "2026", "2026-01-01..2026-03-31")."""

    start: date
    end: date
    label: str

    @classmethod
    def parse(cls, *, start: str | None = None, end: str | None = None,
              half: str | None = None, year: str | None = None) -> Period:
        """The period the command line names; ValueError with a readable message."""
        given = [x for x in (half, year) if x] + ([start or end] if (start or end) else [])
        if len(given) != 1:
            raise ValueError("give exactly one of --from/--to, --half or --year")
        if year:
            y = int(year) if year.isdigit() and len(year) == 4 else None
            if y is None:
                raise ValueError(f"--year: not a year: {year!r}")
            return cls(date(y, 1, 1), date(y, 12, 31), str(y))
        if half:
            text = half.upper()
            if len(text) != 6 or not text[:4].isdigit() or text[4:] not in ("H1", "H2"):
                raise ValueError(f"--half: write it like 2026H1 or 2026H2, not {half!r}")
            y = int(text[:4])
            if text.endswith("H1"):
                return cls(date(y, 1, 1), date(y, 6, 30), text)
            return cls(date(y, 7, 1), date(y, 12, 31), text)
        if not (start and end):
            raise ValueError("--from and --to go together")
        try:
            a, b = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            raise ValueError("--from/--to: dates are YYYY-MM-DD") from None
        if b < a:
            raise ValueError("--to is before --from")
        return cls(a, b, f"{a.isoformat()}..{b.isoformat()}")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _addresses(raw: bytes) -> set[str]:
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    values = [str(v) for name in ("To", "Cc") for v in headers.get_all(name, [])]
    return {a.lower() for _n, a in getaddresses(values) if a}


class CaseRow(NamedTuple):
    """The columns of a case the statistics read (plain values, no ORM object)."""

    id: int | None
    date_reported: datetime
    status: str
    resolution_source: str | None
    resolution_date: date | None
    safety_risk: str | None
    consequences: str | None
    reporter_address: str | None


class _Link(NamedTuple):
    case_id: int
    person_id: int
    record_type: str | None
    consequence: str | None


class _HasReporter(Protocol):
    @property
    def id(self) -> int | None: ...

    @property
    def reporter_address(self) -> str | None: ...


def response_times(session: Session, config: Config, cases: Sequence[_HasReporter]) -> dict[
        int, tuple[datetime | None, datetime | None]]:
    """(acknowledged at, first response at) per case id, from the outbox and the mail.

    A first response is mail to the reporter that is not the automatic
    acknowledgement: the bot's (a letter) or a member's reply with the reporter
    in To or Cc.
    """
    ids = [c.id for c in cases if c.id is not None]
    out: dict[int, tuple[datetime | None, datetime | None]] = {}
    if not ids:
        return out
    reporters = {c.id: (c.reporter_address or "").lower() for c in cases}
    ack: dict[int, datetime] = {}
    first: dict[int, datetime] = {}

    def earliest(store: dict[int, datetime], cid: int, when: datetime) -> None:
        when = _aware(when)
        if cid not in store or when < store[cid]:
            store[cid] = when

    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        for cid, kind, rcpts, status, sent_at, created in session.execute(
                sa_select(col(Outbox.case_id), col(Outbox.kind), col(Outbox.recipients),
                          col(Outbox.status), col(Outbox.sent_at), col(Outbox.created_at))
                .where(col(Outbox.case_id).in_(part))).all():
            if cid is None or status == "failed":
                continue
            if kind == "acknowledgement":
                earliest(ack, cid, sent_at or created)
            elif reporters.get(cid) and reporters[cid] in {r.lower() for r in rcpts}:
                earliest(first, cid, sent_at or created)
        members = list(config.member_address_map)
        for mid, cid, received in session.exec(
                select(InboundMessage.id, InboundMessage.case_id, InboundMessage.received_at)
                .where(col(InboundMessage.case_id).in_(part),
                       col(InboundMessage.from_address).in_(members))).all():
            if cid is None or not reporters.get(cid):
                continue
            if cid in first and _aware(received) >= first[cid]:
                continue
            raw = session.exec(select(InboundMessage.raw).where(InboundMessage.id == mid)).one()
            if reporters[cid] in _addresses(raw):
                earliest(first, cid, received)
    for cid in ids:
        out[cid] = (ack.get(cid), first.get(cid))
    return out


@dataclass
class Stats:
    """The counted figures of one period (raw numbers; `present` suppresses)."""

    period: Period
    min_count: int
    reports: int = 0
    by_month: dict[str, int] = field(default_factory=dict)
    by_space: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    by_record_type: dict[str, int] = field(default_factory=dict)
    by_resolution_source: dict[str, int] = field(default_factory=dict)
    by_consequence: dict[str, int] = field(default_factory=dict)
    safety_risk: int = 0
    repeat_people: int = 0
    days_to_ack: list[float] = field(default_factory=list)
    days_to_first_response: list[float] = field(default_factory=list)
    days_to_resolution: list[float] = field(default_factory=list)

    def count(self, n: int) -> int | str:
        """`n`, or "fewer than N" when it is small enough to identify someone."""
        return f"fewer than {self.min_count}" if 0 < n < self.min_count else n

    def median(self, values: list[float]) -> float | str:
        """The median in days (one decimal), or a note when too few cases contribute."""
        if len(values) < self.min_count:
            return f"fewer than {self.min_count} cases"
        return round(statistics.median(values), 1)

    def present(self) -> dict[str, Any]:
        """The publishable figures: small counts suppressed."""
        def table(d: dict[str, int]) -> dict[str, int | str]:
            return {k: self.count(v) for k, v in d.items()}

        share: float | str
        if self.reports == 0:
            share = "n/a"
        elif 0 < self.safety_risk < self.min_count:
            share = f"fewer than {self.min_count} reports"
        else:
            share = f"{round(100 * self.safety_risk / self.reports)}%"
        return {
            "period": self.period.label,
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            "reports_received": self.count(self.reports),
            "reports_by_month": table(self.by_month),
            "by_space": table(self.by_space),
            "by_type": table(self.by_type),
            "by_record_type": table(self.by_record_type),
            "by_resolution_source": table(self.by_resolution_source),
            "by_consequence": table(self.by_consequence),
            "safety_risk_share": share,
            "median_days_to_acknowledgement": self.median(self.days_to_ack),
            "median_days_to_first_response": self.median(self.days_to_first_response),
            "median_days_to_resolution": self.median(self.days_to_resolution),
            "repeat_people": self.count(self.repeat_people),
        }


def _months(period: Period) -> list[str]:
    out, day = [], period.start.replace(day=1)
    while day <= period.end:
        out.append(day.strftime("%Y-%m"))
        day = (day + timedelta(days=32)).replace(day=1)
    return out


def compute(session: Session, config: Config, period: Period) -> Stats:
    """Count the records of the cases reported in `period`."""
    with collector_paused():  # many rows at once (bot.core.gcpause)
        return _compute(session, config, period)


def _compute(session: Session, config: Config, period: Period) -> Stats:
    zone: ZoneInfo = config.schedule.zone
    lo = datetime.combine(period.start, time(0, 0), tzinfo=zone)
    hi = datetime.combine(period.end + timedelta(days=1), time(0, 0), tzinfo=zone)
    cases = [CaseRow(*row) for row in session.execute(sa_select(
        col(Case.id), col(Case.date_reported), col(Case.status), col(Case.resolution_source),
        col(Case.resolution_date), col(Case.safety_risk), col(Case.consequences),
        col(Case.reporter_address)).where(
        col(Case.merged_into).is_(None),
        col(Case.date_reported) >= lo, col(Case.date_reported) < hi)).all()]
    st = Stats(period=period, min_count=config.stats.min_count, reports=len(cases))
    st.by_month = dict.fromkeys(_months(period), 0)
    st.by_space = {**dict.fromkeys(SPACES, 0), NOT_RECORDED: 0}
    st.by_type = {**dict.fromkeys(config.records.types, 0)}
    in_period = (col(Case.merged_into).is_(None), col(Case.date_reported) >= lo,
                 col(Case.date_reported) < hi)
    # Joined on the period rather than "IN (ids)": no bound on the number of cases.
    extras = {e.case_id: e for e in session.exec(
        select(CaseExtra).join(Case, col(Case.id) == CaseExtra.case_id).where(*in_period)
    ).all()}
    links: dict[int, list[_Link]] = defaultdict(list)
    for row in session.execute(
            sa_select(col(CasePerson.case_id), col(CasePerson.person_id),
                      col(CasePerson.record_type), col(CasePerson.consequence))
            .join(Case, col(Case.id) == col(CasePerson.case_id)).where(*in_period)).all():
        links[row[0]].append(_Link(*row))
    people = {link.person_id for group in links.values() for link in group}
    counts = Counter(dict(session.execute(
        sa_select(col(CasePerson.person_id), func.count())
        .group_by(col(CasePerson.person_id)).having(func.count() > 1)).all()))
    st.repeat_people = sum(1 for p in people if counts[p] > 1)
    live = response_times(session, config, [c for c in cases
                                            if not (extras.get(c.id or 0) and
                                                    extras[c.id or 0].purged_at)])
    for case in cases:
        reported = _aware(case.date_reported)
        st.by_month[reported.astimezone(zone).strftime("%Y-%m")] = \
            st.by_month.get(reported.astimezone(zone).strftime("%Y-%m"), 0) + 1
        extra = extras.get(case.id or 0)
        space = extra.space if extra and extra.space else NOT_RECORDED
        st.by_space[space] = st.by_space.get(space, 0) + 1
        for kind in (extra.types if extra else []):
            st.by_type[kind] = st.by_type.get(kind, 0) + 1
        group = links.get(case.id or 0, [])
        if group:
            for link in group:
                rt = link.record_type or NOT_RECORDED
                st.by_record_type[rt] = st.by_record_type.get(rt, 0) + 1
                cons = link.consequence or case.consequences or NOT_RECORDED
                st.by_consequence[cons] = st.by_consequence.get(cons, 0) + 1
        else:
            rt = (extra.record_type if extra else None) or NOT_RECORDED
            st.by_record_type[rt] = st.by_record_type.get(rt, 0) + 1
            cons = case.consequences or NOT_RECORDED
            st.by_consequence[cons] = st.by_consequence.get(cons, 0) + 1
        if case.status == "Resolved":
            src = case.resolution_source or NOT_RECORDED
            st.by_resolution_source[src] = st.by_resolution_source.get(src, 0) + 1
            if case.resolution_date is not None:
                local = reported.astimezone(zone).date()
                st.days_to_resolution.append(float((case.resolution_date - local).days))
        if (case.safety_risk or "").lower() == "yes":
            st.safety_risk += 1
        if extra is not None and extra.purged_at is not None:
            acked, first = extra.acknowledged_at, extra.first_response_at
        else:
            acked, first = live.get(case.id or 0, (None, None))
        if acked is not None:
            st.days_to_ack.append((_aware(acked) - reported).total_seconds() / 86400)
        if first is not None:
            st.days_to_first_response.append((_aware(first) - reported).total_seconds() / 86400)
    return st


def as_markdown(st: Stats) -> str:
    """The figures as Markdown, ready for the published report."""
    p = st.present()
    lines = [f"# Code of Conduct reports, {p['period']} ({p['from']} to {p['to']})", "",
             f"- Reports received: {p['reports_received']}",
             f"- Reports with a safety risk: {p['safety_risk_share']}",
             f"- Median days to acknowledgement: {p['median_days_to_acknowledgement']}",
             f"- Median days to first response: {p['median_days_to_first_response']}",
             f"- Median days to resolution: {p['median_days_to_resolution']}",
             f"- People reported in more than one case: {p['repeat_people']}", ""]
    for key, title in (("reports_by_month", "Reports by month"), ("by_space", "Where"),
                       ("by_type", "Kinds of behaviour"), ("by_record_type", "Record type"),
                       ("by_resolution_source", "Resolved by"),
                       ("by_consequence", "Consequences")):
        lines += [f"## {title}", "", "| | Count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in p[key].items()]
        lines.append("")
    lines.append(f"Counts from 1 to {st.min_count - 1} are shown as \"fewer than "
                 f"{st.min_count}\" so that no small group can be identified.")
    return "\n".join(lines) + "\n"


def as_rows(st: Stats) -> list[tuple[str, str, str]]:
    """(section, item, value) rows, for CSV."""
    rows: list[tuple[str, str, str]] = []
    for key, value in st.present().items():
        if isinstance(value, dict):
            rows.extend((key, k, str(v)) for k, v in value.items())
        else:
            rows.append(("summary", key, str(value)))
    return rows


def chart(st: Stats, path: str) -> None:
    """A PNG for the published report: reports per month, and outcomes (suppressed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def shown(values: dict[str, int]) -> tuple[list[str], list[int], list[str]]:
        keys = list(values)
        heights = [0 if 0 < v < st.min_count else v for v in values.values()]
        labels = [f"<{st.min_count}" if 0 < v < st.min_count else str(v)
                  for v in values.values()]
        return keys, heights, labels

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8))
    keys, heights, labels = shown(st.by_month)
    bars = top.bar(keys, heights, color="#0C4B33")
    top.bar_label(bars, labels=labels)
    top.set_title(f"Reports received per month, {st.period.label}")
    top.tick_params(axis="x", rotation=45)
    outcomes = {k: v for k, v in st.by_consequence.items() if v}
    keys, heights, labels = shown(outcomes or {NOT_RECORDED: 0})
    bars = bottom.barh(keys, heights, color="#44B78B")
    bottom.bar_label(bars, labels=labels)
    bottom.set_title("Outcomes (consequences)")
    fig.text(0.01, 0.01, f"Counts below {st.min_count} are not shown.", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
