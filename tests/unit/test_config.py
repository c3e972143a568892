"""Configuration validation: every mistake names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.config import ConfigError, load_config, parse_config


def base() -> dict[str, object]:
    return {"conduct_address": "conduct@example.org"}


def error_for(data: dict[str, object], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, environ=environ or {})
    return str(info.value)


def test_minimal_config_has_embedded_defaults() -> None:
    cfg = parse_config(base(), environ={})
    assert cfg.database.url.startswith("sqlite:///")
    assert cfg.imap.security == "ssl" and cfg.imap.folder == "INBOX"
    assert cfg.schedule.timezone == "UTC"


def test_missing_conduct_address_is_named() -> None:
    assert "conduct_address: missing required key" in error_for({})


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"imap": {"prot": 993}}, "imap.prot: unknown key"),
        ({"imap": {"port": "many"}}, "imap.port"),
        ({"imap": {"security": "tls"}}, "imap.security"),
        ({"smtp": {"security": "maybe"}}, "smtp.security"),
        ({"database": {"url": "mysql://x"}}, "database.url"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "schedule.timezone"),
        ({"schedule": {"digest_time": "25:00"}}, "schedule.digest_time"),
        ({"members": [{"name": "Maya", "email": "not-an-address"}]}, "members.0.email"),
        ({"members": [{"name": "Maya", "email": "m@example.org", "role": "boss"}]},
         "members.0.role"),
        ({"members": [{"email": "m@example.org"}]}, "members.0.name"),
        ({"imap": {"idle_seconds": 600}}, "imap.idle_seconds"),
        ({"surprise": 1}, "surprise: unknown key"),
    ],
)
def test_bad_keys_are_named(data: dict[str, object], key: str) -> None:
    assert key in error_for({**base(), **data})


def test_member_listed_twice_is_refused() -> None:
    data = {**base(), "members": [{"name": "A", "email": "a@example.org"},
                                  {"name": "B", "email": "b@example.org",
                                   "aliases": ["a@example.org"]}]}
    assert "members[1]" in error_for(data)


def test_secrets_from_environment() -> None:
    cfg = parse_config(base(), environ={"COCBOT_IMAP_PASSWORD": "s3cret",
                                        "COCBOT_SMTP_PASSWORD": "other"})
    assert cfg.imap.password == "s3cret" and cfg.smtp.password == "other"


def test_member_lookup_by_alias_is_case_insensitive() -> None:
    cfg = parse_config({**base(), "members": [
        {"name": "Maya Chen", "email": "maya@example.org", "aliases": ["mc@example.org"],
         "role": "chair"}]}, environ={})
    member = cfg.member_for("MC@Example.org")
    assert member is not None and member.name == "Maya Chen"
    assert cfg.chairs == [member]


def test_load_config_reports_toml_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("conduct_address = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_load_config_needs_a_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COCBOT_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="COCBOT_CONFIG"):
        load_config(None)


def test_paths_resolve_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('conduct_address = "c@example.org"\n[intake]\nsource = "maildir"\n'
                    'maildir = "inbox"\n')
    cfg = load_config(path)
    assert cfg.resolve_path("inbox") == tmp_path / "inbox"


def test_example_config_is_valid_and_complete() -> None:
    from bot.core.config import Config

    path = Path(__file__).resolve().parents[2] / "cocbot.example.toml"
    cfg = load_config(path)
    assert cfg.schedule.timezone == "Europe/Amsterdam" and cfg.chairs
    text = path.read_text()
    # Every section key the config knows is shown in the example.
    for name, field in Config.model_fields.items():
        annotation = field.annotation
        fields = getattr(annotation, "model_fields", None)
        if fields:
            for key in fields:
                assert f"{key} =" in text, f"{name}.{key} missing from the example"


def test_relative_sqlite_path_is_beside_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('conduct_address = "c@example.org"\n[database]\nurl = "sqlite:///c.db"\n')
    assert load_config(path).database.url == f"sqlite:///{tmp_path.resolve() / 'c.db'}"
    path.write_text('conduct_address = "c@example.org"\n')
    assert load_config(path).database.url == f"sqlite:///{tmp_path.resolve() / 'cocbot.db'}"
    path.write_text('conduct_address = "c@example.org"\n[database]\nurl = "sqlite:////abs/x.db"\n')
    assert load_config(path).database.url == "sqlite:////abs/x.db"
