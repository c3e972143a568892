"""Configuration for operators: address typos, the manual's roster rules, *_FILE secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.checks import roster_problems
from bot.core.config import ConfigError, parse_config, valid_address
from tests.helpers import MEMBERS, config_dict


def members(*roles: str) -> list[dict[str, Any]]:
    return [{"name": f"M{i}", "email": f"m{i}@example.org", "role": role}
            for i, role in enumerate(roles)]


@pytest.mark.parametrize("address", [
    "maya@example..org", "maya@.example.org", "maya@example.org.", "maya@example",
    ".maya@example.org", "maya.@example.org", "ma..ya@example.org", "maya@-example.org",
    "maya@exa_mple.org", "maya@192.0.2.1", "maya@@example.org", "maya@example.org>",
])
def test_typos_in_addresses_are_refused(address: str) -> None:
    assert not valid_address(address)
    with pytest.raises(ConfigError) as info:
        parse_config({"conduct_address": "conduct@example.org",
                      "members": [{"name": "Maya", "email": address}]}, environ={})
    assert "members.0.email" in str(info.value)


@pytest.mark.parametrize("address", [
    "maya@example.org", "maya.chen+coc@mail.example.org", "o'neil@example.co.uk",
    "x@bücher.example", "a-b@x-y.example",
])
def test_ordinary_addresses_are_accepted(address: str) -> None:
    assert valid_address(address)


def test_the_test_fixtures_satisfy_the_manual() -> None:
    # Most tests build their configuration from tests/helpers.py; the roster rules that
    # `run` enforces must hold for it, or every end-to-end test would stop at start-up.
    from bot.core.checks import config_problems

    assert len(MEMBERS) >= 3
    assert config_problems(parse_config(config_dict("sqlite://"), environ={})) == []


@pytest.mark.parametrize(("roster", "auth", "key", "words"), [
    (members("chair", "member"), True, "members:", "at least 3"),
    (members(), True, "members:", "0 member(s)"),
    (members("member", "member", "member"), True, "members:", "no chair"),
    (members("chair", "member", "member"), False, "auth.authserv_id:", "missing"),
])
def test_roster_problems_name_the_key(roster: list[dict[str, Any]], auth: bool, key: str,
                                      words: str) -> None:
    data: dict[str, Any] = {"conduct_address": "conduct@example.org", "members": roster}
    if auth:
        data["auth"] = {"authserv_id": "mx.example.org"}
    problems = roster_problems(parse_config(data, environ={}))
    assert any(p.startswith(key) and words in p for p in problems), problems


def test_a_complete_roster_has_no_problems() -> None:
    data = {"conduct_address": "conduct@example.org", "members": members("chair", "member",
                                                                          "member"),
            "auth": {"authserv_id": "mx.example.org"}}
    assert roster_problems(parse_config(data, environ={})) == []


def test_secrets_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "imap").write_text("imap secret\n")
    (tmp_path / "smtp").write_text("smtp-secret")
    (tmp_path / "url").write_text(f"sqlite:///{tmp_path / 'x.db'}\r\n")
    cfg = parse_config({"conduct_address": "conduct@example.org"}, environ={
        "COCBOT_IMAP_PASSWORD_FILE": str(tmp_path / "imap"),
        "COCBOT_SMTP_PASSWORD_FILE": str(tmp_path / "smtp"),
        "COCBOT_DATABASE_URL_FILE": str(tmp_path / "url"),
    })
    assert cfg.imap.password == "imap secret"  # one trailing line break removed, no more
    assert cfg.smtp.password == "smtp-secret"
    assert cfg.database.url == f"sqlite:///{tmp_path / 'x.db'}"


def test_every_secret_has_a_file_variant(tmp_path: Path) -> None:
    from bot.core.config import SECRET_ENV

    for var, section, key in SECRET_ENV:
        (tmp_path / var).write_text("sqlite:///x.db\n" if key == "url" else "value\n")
        cfg = parse_config({"conduct_address": "conduct@example.org"},
                           environ={f"{var}_FILE": str(tmp_path / var)})
        value = getattr(getattr(cfg, section), key)
        assert value.endswith("x.db") if key == "url" else value == "value"


@pytest.mark.parametrize(("environ", "words"), [
    ({"COCBOT_IMAP_PASSWORD_FILE": "/nonexistent/secret"},
     "COCBOT_IMAP_PASSWORD_FILE: cannot read"),
    ({"COCBOT_IMAP_PASSWORD_FILE": "EMPTY"},
     "COCBOT_IMAP_PASSWORD_FILE: the file it names is empty"),
    ({"COCBOT_IMAP_PASSWORD_FILE": "EMPTY", "COCBOT_IMAP_PASSWORD": "x"},
     "COCBOT_IMAP_PASSWORD and COCBOT_IMAP_PASSWORD_FILE are both set"),
])
def test_bad_secret_files_are_named(tmp_path: Path, environ: dict[str, str], words: str) -> None:
    (tmp_path / "empty").write_text("")
    environ = {k: (str(tmp_path / "empty") if v == "EMPTY" else v) for k, v in environ.items()}
    with pytest.raises(ConfigError) as info:
        parse_config({"conduct_address": "conduct@example.org"}, environ=environ)
    assert words in str(info.value)


def test_status_bounds_a_healthy_idle_bot_would_break_are_named() -> None:
    from bot.core.checks import config_problems

    data = config_dict("sqlite://", imap={"idle_seconds": 290},
                       status={"max_intake_silence_minutes": 4})
    problems = config_problems(parse_config(data, environ={}))
    assert len(problems) == 1 and problems[0].startswith("status.max_intake_silence_minutes:")
    data["status"] = {"max_intake_silence_minutes": 15}
    assert config_problems(parse_config(data, environ={})) == []
