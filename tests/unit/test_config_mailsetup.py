"""Configuration keys for the group path, OAuth2 and TLS: each bad value names its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.config import ConfigError, parse_config


def cfg(environ: dict[str, str] | None = None, **sections: Any) -> Any:
    return parse_config({"conduct_address": "conduct@example.org", **sections},
                        environ=environ or {})


def test_group_keys_are_normalised() -> None:
    config = cfg(intake={"conduct_list_id": " <Conduct.Example.ORG> "},
                 auth={"authserv_id": "mx.google.com", "trusted_arc_sealers": ["MX.Google.com."],
                       "microsoft_receiving_host": "Protection.Outlook.com"})
    assert config.intake.conduct_list_id == "conduct.example.org"
    assert config.auth.trusted_arc_sealers == ["mx.google.com"]
    assert config.auth.microsoft_receiving_host == "protection.outlook.com"


@pytest.mark.parametrize(("sections", "key"), [
    ({"intake": {"conduct_list_id": "conduct list"}}, "intake.conduct_list_id"),
    ({"auth": {"trusted_arc_sealers": ["not a host"]}}, "auth.trusted_arc_sealers"),
    ({"auth": {"microsoft_receiving_host": "outlook"}}, "auth.microsoft_receiving_host"),
    ({"imap": {"auth_method": "xoauth2"}}, "imap"),
    ({"smtp": {"auth_method": "oauthbearer"}}, "smtp"),
    ({"imap": {"auth_method": "xoauth2", "oauth2": {"provider": "refresh_token",
                                                    "client_id": "x"}}},
     "imap.oauth2: Value error, refresh_token is required"),
    ({"smtp": {"auth_method": "xoauth2", "oauth2": {"provider": "magic"}}},
     "smtp.oauth2.provider"),
    ({"tls": {"ca_file": "missing.pem"}}, "tls.ca_file: no such file"),
    ({"intake": {"conduct_list_id": "conduct.example.org"}},
     "intake.conduct_list_id needs auth.authserv_id"),
])
def test_bad_values_name_the_key(sections: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        cfg(**sections)


def test_oauth2_secrets_from_the_environment(tmp_path: Path) -> None:
    key = tmp_path / "sa.json"
    key.write_text("{}")
    config = cfg(
        environ={"COCBOT_IMAP_OAUTH2_REFRESH_TOKEN": "r-env",
                 "COCBOT_SMTP_OAUTH2_CLIENT_SECRET": "s-env"},
        imap={"auth_method": "xoauth2",
              "oauth2": {"provider": "refresh_token", "client_id": "c"}},
        smtp={"auth_method": "xoauth2",
              "oauth2": {"provider": "microsoft_client_credentials", "client_id": "c",
                         "tenant": "contoso.onmicrosoft.com"}},
    )
    assert config.imap.oauth2.refresh_token == "r-env"
    assert config.smtp.oauth2.client_secret == "s-env"
