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
from typing import Annotated, Any, ClassVar, Literal, Self
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
# OAuth2 client secrets and refresh tokens: (env var, section, key) under [<section>.oauth2].
OAUTH2_SECRET_ENV = (
    ("COCBOT_IMAP_OAUTH2_CLIENT_SECRET", "imap", "client_secret"),
    ("COCBOT_IMAP_OAUTH2_REFRESH_TOKEN", "imap", "refresh_token"),
    ("COCBOT_SMTP_OAUTH2_CLIENT_SECRET", "smtp", "client_secret"),
    ("COCBOT_SMTP_OAUTH2_REFRESH_TOKEN", "smtp", "refresh_token"),
)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


# A dot-atom local part (RFC 5322) and a domain of letter/digit/hyphen labels: strict enough
# to catch typos such as ``maya@example..org`` or ``maya@.example.org``.
_LOCAL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL_RE = re.compile(r"^(?!-)[^\W_](?:[^\W_]|-){0,62}(?<!-)$")


def _email(value: str) -> str:
    value = value.strip()
    if not _ADDR_RE.match(value) or not valid_address(value):
        raise ValueError(f"not an email address: {value!r}")
    return value.lower()


def valid_address(value: str) -> bool:
    """True for a plain mailbox ``local@domain`` without typos like empty domain labels."""
    local, _, domain = value.rpartition("@")
    if not local or len(local) > 64 or not _LOCAL_RE.match(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253:
        return False
    return all(_LABEL_RE.match(label) for label in labels) and not labels[-1].isdigit()


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
    # The List-Id of the Google Group that is the conduct address (e.g.
    # "conduct.djangoproject.com"): mail it relays is not list mail.
    conduct_list_id: str = ""

    @field_validator("conduct_list_id")
    @classmethod
    def _list_id(cls, v: str) -> str:
        v = v.strip().strip("<>").strip().lower()
        if v and not re.fullmatch(r"[a-z0-9._-]+", v):
            raise ValueError('must be a bare list id such as "conduct.djangoproject.com"')
        return v


class OAuth2Section(_Section):
    """How the bot gets an OAuth2 access token for IMAP or SMTP (see bot.core.oauth2)."""

    # google_service_account: a service-account key with domain-wide delegation;
    # refresh_token: a stored refresh token (Google or any OAuth2 provider);
    # microsoft_client_credentials: a Microsoft Entra app's client id and secret.
    provider: Literal["google_service_account", "refresh_token",
                      "microsoft_client_credentials"]
    token_url: str = ""               # default: the provider's own endpoint
    client_id: str = ""
    client_secret: str = ""           # or COCBOT_<IMAP|SMTP>_OAUTH2_CLIENT_SECRET
    refresh_token: str = ""           # or COCBOT_<IMAP|SMTP>_OAUTH2_REFRESH_TOKEN
    service_account_file: str = ""    # the service account's JSON key file
    tenant: str = ""                  # Microsoft: the directory (tenant) id or domain
    scope: str = ""                   # default: the provider's mail scope
    refresh_margin_seconds: float = Field(default=300.0, ge=0)
    timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> OAuth2Section:
        needed = {
            "google_service_account": ("service_account_file",),
            "refresh_token": ("client_id", "refresh_token"),
            "microsoft_client_credentials": ("client_id", "client_secret", "tenant"),
        }[self.provider]
        for key in needed:
            if not getattr(self, key):
                raise ValueError(f"{key} is required with provider = {self.provider!r}")
        return self


class _LoginSection(_Section):
    """How the bot logs in to a mail server: password, or an OAuth2 SASL mechanism."""

    # The section's name in error messages ("imap", "smtp").
    table: ClassVar[str] = ""
    # password (LOGIN; an app password for Google), or an OAuth2 SASL mechanism.
    auth_method: Literal["password", "xoauth2", "oauthbearer"] = "password"
    oauth2: OAuth2Section | None = None

    @model_validator(mode="after")
    def _oauth2_given(self) -> Self:
        if self.auth_method != "password" and self.oauth2 is None:
            raise ValueError(f"auth_method = {self.auth_method!r} needs an "
                             f"[{self.table}.oauth2] table")
        return self


class ImapSection(_LoginSection):
    """The IMAP account the bot reads."""

    table: ClassVar[str] = "imap"
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


class SmtpSection(_LoginSection):
    """The SMTP relay the bot sends through."""

    table: ClassVar[str] = "smtp"
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
    # Authentication-Results without an authserv-id (Microsoft 365 / Exchange Online)
    # are trusted when written by this receiving host or a host below it, e.g.
    # "protection.outlook.com".
    microsoft_receiving_host: str = ""
    # ARC sealers (the authserv-id in their ARC-Authentication-Results, e.g.
    # "mx.google.com") whose first-hop results are trusted for mail relayed by the group.
    trusted_arc_sealers: list[str] = Field(default_factory=list)
    # A command mail whose Date is older than this (or in the future) is held.
    command_max_age_days: float = Field(default=7.0, gt=0)

    @field_validator("microsoft_receiving_host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip().lower().rstrip(".")
        if v and not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", v):
            raise ValueError(f"not a host name: {v!r}")
        return v

    @field_validator("trusted_arc_sealers")
    @classmethod
    def _sealers(cls, v: list[str]) -> list[str]:
        out = []
        for item in v:
            name = item.strip().lower().rstrip(".")
            if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", name):
                raise ValueError(f"not a host name: {item!r}")
            out.append(name)
        return out


class TlsSection(_Section):
    """Certificates the bot trusts for IMAP and SMTP over TLS."""

    # A PEM file of CA certificates to trust instead of the system's (a private CA).
    ca_file: str = ""


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
    # A case with possible danger reminds every member not shut out of it this often
    # (day and night) until a member answers with #safety or writes to the reporter.
    urgent_response_hours: float = Field(default=4.0, gt=0)
    # A proposal without the manual's quorum after this long goes to the board.
    decision_days: float = Field(default=14.0, gt=0)
    # An agreed proposal waits for feedback; the point of contact is reminded after this.
    feedback_days: float = Field(default=7.0, gt=0)
    # A #draft waits this long for a second member's #approve or #revise before the
    # members who may review it are reminded (in working hours).
    draft_review_hours: float = Field(default=24.0, gt=0)

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
    # Where a reporter finds the chairs' own addresses when the report concerns a
    # member of the group (the reporting guide's link); never a member's address.
    team_page: str = "https://www.djangoproject.com/foundation/teams/#code-of-conduct-team"


class BoardSection(_Section):
    """Where reports go when every chair is shut out of a case (the manual)."""

    address: Email = "foundation@djangoproject.com"
    # The board member who receives the group's reports (manual, "Reporting to the
    # Board"); `#letter board` addresses its scaffold to them.
    liaison: Email | None = None


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


class StatusSection(_Section):
    """Bounds `cocbot status` checks; outside any of them the bot counts as unhealthy."""

    # The inbox was last reached longer ago than this (the daemon is down or cannot log in).
    max_intake_silence_minutes: float = Field(default=15.0, gt=0)
    # More mail than this waiting in the outbox.
    max_queue_length: int = Field(default=50, ge=0)
    # The oldest mail still waiting was queued longer ago than this.
    max_unsent_minutes: float = Field(default=30.0, gt=0)
    # More quarantined messages (not counting spam) than this, not yet retried.
    max_quarantined: int = Field(default=0, ge=0)
    # More outbox rows that failed for good than this, not yet retried.
    max_failed_mail: int = Field(default=0, ge=0)


class LogSection(_Section):
    """Logging output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class IdentitySection(_Section):
    """Where the Person Identity Key's key is (never in the database)."""

    # A file holding the key (COCBOT_IDENTITY_KEY / COCBOT_IDENTITY_KEY_FILE override it).
    key_file: str | None = None


class StatsSection(_Section):
    """Published statistics."""

    # Counts below this are printed as "fewer than N", so no small group is identifiable.
    min_count: int = Field(default=3, ge=1)


class RetentionSection(_Section):
    """How long case details are kept after resolution."""

    # Cases resolved more than this many years ago are due for `cocbot purge`
    # (the chairs get a reminder); unset: no reminder.
    years: float | None = Field(default=None, gt=0)


class RecordsSection(_Section):
    """Record-keeping vocabularies."""

    # The kinds of behaviour `#type` accepts (and the statistics count).
    types: list[str] = Field(default_factory=lambda: [
        "harassment", "discrimination", "personal attack", "threat", "sexual content",
        "spam", "disruption", "doxxing", "other"])


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
    tls: TlsSection = TlsSection()
    schedule: ScheduleSection = ScheduleSection()
    acknowledgement: AcknowledgementSection = AcknowledgementSection()
    board: BoardSection = BoardSection()
    members: list[Member] = Field(default_factory=list)
    local_representatives: list[LocalRepresentative] = Field(default_factory=list)
    log: LogSection = LogSection()
    status: StatusSection = StatusSection()
    identity: IdentitySection = IdentitySection()
    stats: StatsSection = StatsSection()
    retention: RetentionSection = RetentionSection()
    records: RecordsSection = RecordsSection()
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

    @model_validator(mode="after")
    def _files_readable(self) -> Config:
        # A CA file or service-account key that cannot be read would only show up at
        # the first connection; say so at start-up, naming the key.
        checks = [("tls.ca_file", self.tls.ca_file)]
        for name, section in (("imap", self.imap.oauth2), ("smtp", self.smtp.oauth2)):
            if section is not None and section.service_account_file:
                checks.append((f"{name}.oauth2.service_account_file",
                               section.service_account_file))
        for key, value in checks:
            if value and not self.resolve_path(value).is_file():
                raise ValueError(f"{key}: no such file: {value}")
        if self.intake.conduct_list_id and not (self.auth.authserv_id
                                                or self.auth.microsoft_receiving_host):
            # Without a trusted verdict no relay can be told from a forgery.
            raise ValueError("intake.conduct_list_id needs auth.authserv_id")
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


def secret_from_environment(var: str, environ: dict[str, str]) -> str | None:
    """The value of secret `var` from the environment: ``VAR``, or the file named by ``VAR_FILE``.

    ``VAR_FILE`` suits systemd credentials (``LoadCredential=``) and container secrets:
    the file's content is the value, one trailing line break removed.
    """
    file_var = f"{var}_FILE"
    direct, named = environ.get(var), environ.get(file_var)
    if direct and named:
        raise ConfigError(f"{var} and {file_var} are both set; set one of them")
    if not named:
        return direct or None
    try:
        text = Path(named).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{file_var}: cannot read the file it names: {reason}") from None
    value = text[:-1] if text.endswith("\n") else text
    value = value[:-1] if value.endswith("\r") else value
    if not value:
        raise ConfigError(f"{file_var}: the file it names is empty")
    return value


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> None:
    for var, section, key in SECRET_ENV:
        value = secret_from_environment(var, environ)
        if value:
            data.setdefault(section, {})
            if not isinstance(data[section], dict):
                raise ConfigError(f"{section}: must be a table")
            data[section][key] = value
    for var, section, key in OAUTH2_SECRET_ENV:
        table = data.get(section)
        oauth2 = table.get("oauth2") if isinstance(table, dict) else None
        value = secret_from_environment(var, environ)
        if value and isinstance(table, dict) and isinstance(oauth2, dict):
            data[section] = {**table, "oauth2": {**oauth2, key: value}}


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
