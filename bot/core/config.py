"""Configuration: one TOML file, secrets optionally from the environment.

Validation happens once at start-up.  Any unknown, missing or wrong key stops
the program with a `ConfigError` naming the key (e.g. ``imap.port``), so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_CONFIG = "COCBOT_CONFIG"
_ADDR_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")

# Secrets that may come from the environment instead of the file: (env var, section, key).
SECRET_ENV = (
    ("COCBOT_IMAP_PASSWORD", "imap", "password"),
    ("COCBOT_SMTP_PASSWORD", "smtp", "password"),
    ("COCBOT_SECRET_KEY", "bot", "secret_key"),
    ("COCBOT_DATABASE_URL", "database", "url"),
)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


def _email(value: str) -> str:
    value = value.strip()
    if not _ADDR_RE.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value.lower()


Email = Annotated[str, AfterValidator(_email)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSection(_Section):
    """Who the bot is."""

    name: str = "Django Code of Conduct Working Group"
    signature: str = "DSF Code of Conduct Working Group"
    secret_key: str | None = None
    message_id_domain: str | None = None


class DatabaseSection(_Section):
    """Where the records live."""

    url: str = "sqlite:///cocbot.db"

    @field_validator("url")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if not (v.startswith("sqlite") or v.startswith("postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return v


class IntakeSection(_Section):
    """Where mail comes from and the limits applied to it."""

    source: Literal["imap", "maildir"] = "imap"
    maildir: str | None = None
    max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    # Mail that arrived before this date is filed silently (no acknowledgement).
    backfill_before: date | None = None
    # Without backfill_before: on the very first run, mail that arrived more than this
    # long before the bot first started is old mail, filed silently.
    backfill_grace_minutes: float = Field(default=60.0, ge=0)


class ImapSection(_Section):
    """The IMAP account the bot reads."""

    host: str = "localhost"
    port: int = Field(default=993, gt=0, lt=65536)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    idle_seconds: int = Field(default=290, gt=0, le=300)
    poll_seconds: int = Field(default=60, gt=0)
    socket_timeout: float = Field(default=30.0, gt=0)
    # While the server is unreachable, probe it at least this often (capped backoff).
    reconnect_max_seconds: float = Field(default=10.0, gt=0)


class SmtpSection(_Section):
    """The SMTP relay the bot sends through."""

    host: str = "localhost"
    port: int = Field(default=587, gt=0, lt=65536)
    security: Literal["ssl", "starttls", "none"] = "starttls"
    username: str = ""
    password: str = ""
    timeout: float = Field(default=30.0, gt=0)
    give_up_after_hours: float = Field(default=48.0, gt=0)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)


class ServiceSection(_Section):
    """How `cocbot run` behaves as a long-running service."""

    # Two or more instances on one PostgreSQL database: one works, the others wait;
    # a standby takes over when the active one has not renewed its lease for this long.
    takeover_seconds: float = Field(default=30.0, ge=2)
    # After failing to log in to IMAP or SMTP for this long, exit non-zero.
    login_failure_exit_minutes: float = Field(default=30.0, gt=0)
    # SMTP unreachable: probe it at this steady rate; the queue drains on the first success.
    smtp_probe_seconds: float = Field(default=10.0, gt=0)
    # What SIGHUP does: "reload" (check the new configuration and rules, then restart in
    # place with them) or "ignore".
    sighup: Literal["reload", "ignore"] = "reload"


class AuthSection(_Section):
    """Whose Authentication-Results header the bot trusts."""

    authserv_id: str = ""


def _tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class ScheduleSection(_Section):
    """Clocks: time zone, digest time, working hours."""

    timezone: Annotated[str, AfterValidator(_tz)] = "UTC"
    digest_time: time = time(8, 0)
    digest_when_empty: bool = False
    working_hours: tuple[time, time] = (time(9, 0), time(18, 0))
    working_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    ack_overdue_hours: float = Field(default=24.0, gt=0)
    first_response_days: float = Field(default=7.0, gt=0)
    progress_update_days: float = Field(default=14.0, gt=0)
    unilateral_report_hours: float = Field(default=24.0, gt=0)
    reminder_repeat_hours: float = Field(default=24.0, gt=0)
    # The digest lists cases resolved within this many days.
    digest_recent_days: int = Field(default=7, ge=0)

    @field_validator("working_hours", mode="before")
    @classmethod
    def _parse_hours(cls, v: Any) -> Any:
        if isinstance(v, str):
            parts = v.split("-")
            if len(parts) != 2:
                raise ValueError('must look like "09:00-18:00"')
            return tuple(time.fromisoformat(p.strip()) for p in parts)
        return v

    @field_validator("working_days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return v

    @property
    def zone(self) -> ZoneInfo:
        """The configured zone as a ZoneInfo."""
        return ZoneInfo(self.timezone)


class AcknowledgementSection(_Section):
    """Limits on automatic replies."""

    enabled: bool = True
    per_sender_window_minutes: float = Field(default=60.0, gt=0)
    global_cap_per_hour: int = Field(default=30, gt=0)


class Member(_Section):
    """One member of the working group."""

    name: str
    email: Email
    aliases: list[Email] = Field(default_factory=list)
    role: Literal["chair", "member"] = "member"

    @property
    def addresses(self) -> list[str]:
        """Main address first, then aliases."""
        return [self.email, *self.aliases]


class LocalRepresentative(_Section):
    """An event or affiliated-programme contact on file."""

    name: str
    email: Email
    programme: str = ""


class LogSection(_Section):
    """Logging output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Config(_Section):
    """The whole configuration."""

    conduct_address: Email
    bot: BotSection = BotSection()
    database: DatabaseSection = DatabaseSection()
    intake: IntakeSection = IntakeSection()
    imap: ImapSection = ImapSection()
    smtp: SmtpSection = SmtpSection()
    service: ServiceSection = ServiceSection()
    auth: AuthSection = AuthSection()
    schedule: ScheduleSection = ScheduleSection()
    acknowledgement: AcknowledgementSection = AcknowledgementSection()
    members: list[Member] = Field(default_factory=list)
    local_representatives: list[LocalRepresentative] = Field(default_factory=list)
    log: LogSection = LogSection()
    rules_dir: str | None = None
    templates_dir: str | None = None
    base_dir: str = "."

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        seen: dict[str, str] = {}
        for i, member in enumerate(self.members):
            for addr in member.addresses:
                if addr in seen:
                    raise ValueError(f"members[{i}]: address listed twice")
                seen[addr] = member.name
        if self.conduct_address in seen:
            raise ValueError("conduct_address must not be a member's address")
        if self.intake.source == "maildir" and not self.intake.maildir:
            raise ValueError("intake.maildir is required when intake.source = 'maildir'")
        return self

    @property
    def chairs(self) -> list[Member]:
        """Members whose role is chair."""
        return [m for m in self.members if m.role == "chair"]

    def member_for(self, address: str | None) -> Member | None:
        """The member owning `address` (main or alias), if any."""
        if not address:
            return None
        key = address.strip().lower()
        for member in self.members:
            if key in member.addresses:
                return member
        return None

    @property
    def member_address_map(self) -> dict[str, str]:
        """Every member address and alias (lower-case) -> the member's main address."""
        return {addr: m.email for m in self.members for addr in m.addresses}

    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(value)
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def message_id_domain(self) -> str:
        """The domain part of the bot's own Message-IDs."""
        return self.bot.message_id_domain or self.conduct_address.split("@", 1)[1]


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown key"
        elif kind == "missing":
            msg = "missing required key"
        else:
            msg = err["msg"]
        lines.append(f"{key}: {msg}")
    return "; ".join(lines)


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> None:
    for var, section, key in SECRET_ENV:
        if environ.get(var):
            data.setdefault(section, {})
            if not isinstance(data[section], dict):
                raise ConfigError(f"{section}: must be a table")
            data[section][key] = environ[var]


def _anchor_sqlite_path(data: dict[str, Any], base_dir: str) -> None:
    """A relative SQLite path means beside the config file, not the current folder."""
    database = data.get("database")
    url = database.get("url") if isinstance(database, dict) else None
    if url is None:
        url = DatabaseSection().url
    prefix = "sqlite:///"
    if not isinstance(url, str) or not url.startswith(prefix):
        return
    path = url[len(prefix):]
    if not path or path.startswith("/") or path.startswith(":memory:"):
        return
    data["database"] = {**(database if isinstance(database, dict) else {}),
                        "url": prefix + str(Path(base_dir).resolve() / path)}


def parse_config(
    data: dict[str, Any], *, base_dir: str = ".", environ: dict[str, str] | None = None
) -> Config:
    """Validate already-loaded TOML data; raise ConfigError naming the bad key."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    _apply_env(data, dict(os.environ) if environ is None else environ)
    data.setdefault("base_dir", base_dir)
    _anchor_sqlite_path(data, base_dir)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_format_errors(exc)}") from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the TOML file at `path` (or $COCBOT_CONFIG)."""
    if path is None:
        path = os.environ.get(ENV_CONFIG)
    if not path:
        raise ConfigError(f"no configuration: pass --config PATH or set {ENV_CONFIG}")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {p.name}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration is not valid TOML: {exc}") from None
    return parse_config(data, base_dir=str(p.resolve().parent))
