"""`cocbot members`: who was a member when (roster history on a real database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.config import parse_config
from bot.store.db import make_engine, session_scope
from bot.store.roster import sync_roster
from tests.helpers import ALEX, MAYA, MEMBERS, SAM, cocbot, config_dict, write_config


def test_members_lists_current_and_past_with_dates(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    config = write_config(tmp_path / "c.toml", config_dict(url))
    cocbot("db", "upgrade", config=config)
    engine = make_engine(url)
    with session_scope(engine) as session:
        sync_roster(session, parse_config(config_dict(url), environ={}))
    joined = datetime.now(UTC)
    # Sam leaves the group; the bot restarts with the new configuration.
    smaller = config_dict(url, members=[m for m in MEMBERS if m["email"] != SAM])
    with session_scope(engine) as session:
        sync_roster(session, parse_config(smaller, environ={}))
    left = datetime.now(UTC)
    engine.dispose()

    rows = json.loads(cocbot("members", "--json", config=config).stdout)
    by_email = {r["email"]: r for r in rows}
    assert set(by_email) == {MAYA, ALEX, SAM}
    assert by_email[SAM]["current"] is False and by_email[SAM]["active_until"]
    assert by_email[MAYA]["current"] and by_email[MAYA]["role"] == "chair"

    before = (joined - timedelta(days=400)).date().isoformat()
    assert json.loads(cocbot("members", "--json", "--at", before, config=config).stdout) == []
    later = (left + timedelta(seconds=5)).isoformat()
    now_members = json.loads(cocbot("members", "--json", "--at", later, config=config).stdout)
    assert {r["email"] for r in now_members} == {MAYA, ALEX}

    table = cocbot("members", config=config)
    assert "Sam Jones" in table.stdout and "current" in table.stdout
    # The file still lists Sam: the note says the roster follows at the next start.
    assert "differs" in table.stderr
    assert cocbot("members", "--at", "soon", config=config, check=False).returncode == 2
