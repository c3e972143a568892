"""`#status`: the case's record and recent history, for the member who asked."""

from __future__ import annotations

from typing import Any

from bot.commands.base import Command, CommandContext, CommandResult, command
from bot.core.config import Config
from bot.store.models import Event
from bot.store.records import case_events, case_record

HISTORY_LINES = 12
# Event data shown in the history: record values only, never message content.
_SAFE_KEYS = ("status", "resolution_source", "resolution_date", "new", "date", "mail_kind",
              "kind", "how", "reason", "into", "merged")


def _who(config: Config, address: str | None) -> str:
    member = config.member_for(address)
    if member is not None:
        return member.name
    return "" if address is None else "(not a member)"


def _summary(config: Config, ev: Event) -> str:
    parts = []
    for key in _SAFE_KEYS:
        value = ev.data.get(key)
        if value in (None, "", [], {}) or isinstance(value, dict | list):
            continue
        if key == "new" and config.member_for(str(value)) is not None:
            value = _who(config, str(value))
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def status_data(cc: CommandContext) -> dict[str, Any]:
    """The record (names instead of addresses) and the last events, as template data."""
    config = cc.app.config
    record = case_record(cc.session, cc.case)
    zone = config.schedule.zone
    events = case_events(cc.session, cc.case)[-HISTORY_LINES:]
    return {
        "record": {
            "Case Code Name": record["code"],
            "Date of Report": cc.case.date_reported.astimezone(zone).date().isoformat(),
            "Status": record["status"],
            "Resolution Source": record["resolution_source"] or "",
            "Resolution Date": record["resolution_date"] or "",
            "Safety Risk": record["safety_risk"] or "",
            "Ongoing Harassment": record["ongoing_harassment"] or "",
            "Consequences": record["consequences"] or "",
            "Point of contact": _who(config, record["point_of_contact"]),
            "Review date": record["review_date"] or "",
            "Recused": ", ".join(_who(config, a) for a in record["recused"]),
            "Excluded": ", ".join(_who(config, a) for a in record.get("excluded", [])),
            "Messages": str(len(record["message_ids"])),
        },
        "history": [
            {"at": ev.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), "kind": ev.kind,
             "by": _who(config, ev.actor), "summary": _summary(config, ev)}
            for ev in events
        ],
    }


@command
class Status(Command):
    """#status - reply (to you only) with the case's record and recent history."""

    name = "status"

    def run(self, cc: CommandContext) -> CommandResult:
        """Collect the record and history for the transcript."""
        return CommandResult("record and recent history below", data={"status": status_data(cc)})
