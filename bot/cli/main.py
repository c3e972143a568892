"""The `cocbot` command line (click): the group and its commands.

Every command takes ``--config PATH`` (default: $COCBOT_CONFIG), before or
after the command's name.  Errors an operator can fix (bad config, old schema,
an unreachable database) print one line and exit non-zero.  Each command
group lives in its own module; this one only assembles them.
"""

from __future__ import annotations

from typing import Any

import click

from bot.cli import (
    backup,
    cases,
    check,
    db,
    demo,
    digest,
    identity,
    members,
    outbox,
    purge,
    quarantine,
    records,
    run,
    stats,
    status,
)
from bot.cli.common import CliState, fail

# Exit code for a database that cannot be opened or reached (the line names database.url).
EXIT_DATABASE = 5


class _Cli(click.Group):
    """The top-level group: a database failure in any command is one line, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from bot.store.dburl import describe_error

            line = describe_error(exc)
            if line is None:
                raise
            fail(line, code=EXIT_DATABASE)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="COCBOT_CONFIG", metavar="PATH",
              help="Configuration file (default: $COCBOT_CONFIG).")
@click.version_option(package_name="cocbot", prog_name="cocbot")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """cocbot: the Code of Conduct Working Group's inbox, run as a workflow."""
    ctx.obj = CliState(config_path)


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """`--config` given after a command's name overrides the one before it."""
    if value is not None:
        state = ctx.find_object(CliState)
        if state is not None:
            state.config_path = value


def accept_config_anywhere(command: click.Command) -> None:
    """Give `command` (and, for a group, every subcommand) its own `--config` option."""
    if not any(isinstance(p, click.Option) and "--config" in p.opts for p in command.params):
        command.params.append(click.Option(
            ["--config", "config_after"], metavar="PATH", expose_value=False, is_eager=True,
            callback=_set_config, help="Configuration file (also accepted before the command)."))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_config_anywhere(sub)


for _command in (check.check_config, db.db_group, run.run_cmd, run.import_cmd, cases.cases_cmd,
                 cases.case_cmd, quarantine.quarantine_group, outbox.outbox_group,
                 members.members_cmd, digest.digest_cmd, demo.demo_cmd, status.status_cmd,
                 records.export_group, records.import_records_cmd, identity.identity_group,
                 stats.stats_cmd, purge.purge_cmd):
    main.add_command(_command)
backup.register(db.db_group)
for _command in main.commands.values():
    accept_config_anywhere(_command)
