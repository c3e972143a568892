"""The `cocbot` command line (click).

Every command takes ``--config PATH`` (default: $COCBOT_CONFIG).  Errors an
operator can fix (bad config, old schema) print one line and exit non-zero.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from tabulate import tabulate

from bot.core import log as logmod
from bot.core.app import App, build_app
from bot.core.config import Config, ConfigError, load_config
from bot.store.db import (
    SchemaOutOfDate,
    make_engine,
    require_current_schema,
    schema_status,
    upgrade,
)
from bot.store.db import session_scope as _scope


@dataclass
class CliState:
    """Lazily loaded config for the chosen --config."""

    config_path: str | None
    _config: Config | None = None

    @property
    def config(self) -> Config:
        """The validated config, or exit with the error naming the key."""
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                fail(str(exc), code=2)
            logmod.configure(self._config.log.level, self._config.log.format)
        return self._config

    def app(self, now: datetime | None = None, *, check_schema: bool = True) -> App:
        """An App on the configured database (schema checked)."""
        engine = make_engine(self.config.database.url)
        if check_schema:
            try:
                require_current_schema(engine)
            except SchemaOutOfDate as exc:
                fail(str(exc), code=3)
        clock = (lambda: now) if now is not None else None
        return build_app(self.config, engine, clock=clock)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` as an error and exit with `code`."""
    click.echo(f"cocbot: error: {message}", err=True)
    sys.exit(code)


def parse_now(value: str | None) -> datetime | None:
    """An ISO-8601 moment (naive means UTC) as an aware datetime."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now: not an ISO-8601 date and time: {value!r}", code=2)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


pass_state = click.make_pass_decorator(CliState)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="COCBOT_CONFIG", metavar="PATH",
              help="Configuration file (default: $COCBOT_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """cocbot: the Code of Conduct Working Group's inbox, run as a workflow."""
    ctx.obj = CliState(config_path)


@main.command("check-config")
@pass_state
def check_config(state: CliState) -> None:
    """Validate the configuration and the rules, then say what would run."""
    cfg = state.config
    from bot.rules.loader import load_rules

    try:
        rules = load_rules(cfg)
    except ConfigError as exc:
        fail(str(exc), code=2)
    click.echo(f"configuration OK: intake from {cfg.intake.source}, "
               f"{len(cfg.members)} member(s), {len(rules)} rule(s) enabled")


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@pass_state
def db_upgrade(state: CliState) -> None:
    """Apply all migrations (creates the database when new)."""
    upgrade(state.config.database.url)
    engine = make_engine(state.config.database.url)
    current, _head = schema_status(engine)
    click.echo(f"database schema at revision {current}")


@db_group.command("status")
@pass_state
def db_status(state: CliState) -> None:
    """Show the schema revision and whether it is current."""
    engine = make_engine(state.config.database.url)
    current, head = schema_status(engine)
    click.echo(f"current: {current or '(empty)'}; newest: {head}")
    if current != head:
        sys.exit(3)


@main.command("run")
@click.option("--once", is_flag=True, help="Process waiting mail, run due jobs, send, exit.")
@click.option("--now", "now_text", metavar="ISO-8601",
              help="With --once: act as if it were this moment.")
@pass_state
def run_cmd(state: CliState, once: bool, now_text: str | None) -> None:
    """Run the bot (forever, or once with --once)."""
    from bot.service.runner import IntakeFailed, run_forever, run_once

    now = parse_now(now_text)
    if now is not None and not once:
        fail("--now only makes sense with --once", code=2)
    from bot.rules.loader import load_rules

    try:
        load_rules(state.config)
    except ConfigError as exc:
        fail(str(exc), code=2)
    app = state.app(now)
    if once:
        try:
            counts = run_once(app)
        except IntakeFailed as exc:
            fail(f"could not read the {state.config.intake.source} inbox "
                 f"(scheduled jobs and queued mail were still handled): {exc}", code=4)
        click.echo(f"handled {counts['handled']} message(s), ran {counts['scheduled']} "
                   f"job(s), sent {counts['sent']} mail(s)")
    else:
        run_forever(app)


@main.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@pass_state
def import_cmd(state: CliState, path: Path) -> None:
    """File an mbox file or Maildir folder into cases, sending nothing."""
    from bot.intake.importer import import_path, iter_raw

    app = state.app()
    count, _ = iter_raw(path)
    with click.progressbar(length=count, label="importing", file=sys.stderr,
                           show_pos=True) as bar:
        counts = import_path(app, path, progress=bar.update)
    click.echo(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing to import")


def _record_rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["code"], r["status"], r["date_reported"][:16].replace("T", " "),
             r["resolution_source"] or "", r["resolution_date"] or "",
             len(r["message_ids"]), ", ".join(r["recused"])] for r in records]


@main.command("cases")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--status", type=click.Choice(["Ongoing", "Resolved"]), help="Only this status.")
@pass_state
def cases_cmd(state: CliState, as_json: bool, status: str | None) -> None:
    """List the cases (the record spreadsheet)."""
    from bot.store.records import case_record, list_cases

    app = state.app()
    with _scope(app.engine) as session:
        records = [case_record(session, c) for c in list_cases(session)
                   if status is None or c.status == status]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    if not records:
        click.echo("no cases")
        return
    click.echo(tabulate(_record_rows(records), headers=[
        "case", "status", "reported (UTC)", "resolved by", "resolved on", "messages",
        "recused"]))


@main.command("case")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def case_cmd(state: CliState, code: str, as_json: bool) -> None:
    """Show one case: its record, messages and history."""
    from bot.store.casefile import case_detail

    app = state.app()
    with _scope(app.engine) as session:
        detail = case_detail(session, code)
    if detail is None:
        fail(f"no case called {code!r}")
    if as_json:
        click.echo(json.dumps(detail, indent=2))
        return
    rec = {k: v for k, v in detail.items() if k not in ("messages", "events", "message_ids")}
    click.echo(tabulate([[k, v if v is not None else ""] for k, v in rec.items()]))
    click.echo("\nmessages:")
    click.echo(tabulate([[m["received_at"][:16], m["kind"], m["from"] or "", m["subject"]]
                         for m in detail["messages"]], headers=["received", "kind", "from",
                                                                "subject"]))
    click.echo("\nhistory:")
    click.echo(tabulate([[e["at"][:16], e["kind"], e["actor"] or "", e["summary"]]
                         for e in detail["events"]], headers=["at", "event", "by", "details"]))


@main.group("quarantine", invoke_without_command=True)
@click.pass_context
def quarantine_group(ctx: click.Context) -> None:
    """Mail that could not be filed: list (default), show, retry."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(quarantine_list)


@quarantine_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include released entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def quarantine_list(state: CliState, show_all: bool = False, as_json: bool = False) -> None:
    """List quarantined mail with the reason."""
    from bot.intake.retry import list_quarantine

    app = state.app()
    rows = list_quarantine(app, include_released=show_all)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        click.echo("quarantine is empty")
    else:
        click.echo(tabulate([[r["id"], r["created_at"][:16], r["kind"], r["size"], r["reason"]]
                             for r in rows], headers=["id", "when", "kind", "bytes", "reason"]))


@quarantine_group.command("show")
@click.argument("qid", type=int)
@pass_state
def quarantine_show(state: CliState, qid: int) -> None:
    """Print a quarantined message's reason and header block."""
    from bot.intake.retry import show_quarantine

    app = state.app()
    text = show_quarantine(app, qid)
    if text is None:
        fail(f"no quarantine entry {qid}")
    click.echo(text)


@quarantine_group.command("retry")
@click.argument("qids", type=int, nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every entry.")
@pass_state
def quarantine_retry(state: CliState, qids: tuple[int, ...], retry_all: bool) -> None:
    """Run quarantined mail through the pipeline again (e.g. after an upgrade)."""
    from bot.intake.retry import retry_quarantine

    if not qids and not retry_all:
        fail("name entry ids or pass --all", code=2)
    app = state.app()
    for qid, status in retry_quarantine(app, list(qids) or None):
        click.echo(f"{qid}: {status}")


def _load_plugins() -> None:
    """Attach the command groups that live in their own modules."""
    import importlib

    for name in ("bot.cli.outbox", "bot.cli.digest", "bot.cli.demo", "bot.cli.members"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(main)


_load_plugins()
