"""The `cocbot` command line (click): the group and its commands.

Every command takes ``--config PATH`` (default: $COCBOT_CONFIG).  Errors an
operator can fix (bad config, old schema) print one line and exit non-zero.
Each command group lives in its own module; this one only assembles them.
"""

from __future__ import annotations

import click

from bot.cli import (
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
)
from bot.cli.common import CliState


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="COCBOT_CONFIG", metavar="PATH",
              help="Configuration file (default: $COCBOT_CONFIG).")
@click.version_option(package_name="cocbot", prog_name="cocbot")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """cocbot: the Code of Conduct Working Group's inbox, run as a workflow."""
    ctx.obj = CliState(config_path)


for _command in (check.check_config, db.db_group, run.run_cmd, run.import_cmd, cases.cases_cmd,
                 cases.case_cmd, quarantine.quarantine_group, outbox.outbox_group,
                 members.members_cmd, digest.digest_cmd, demo.demo_cmd,
                 records.export_group, records.import_records_cmd, identity.identity_group,
                 stats.stats_cmd, purge.purge_cmd):
    main.add_command(_command)
