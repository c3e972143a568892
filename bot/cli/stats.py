"""`cocbot stats`: the figures for the transparency report, small counts suppressed."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli.common import CliState, fail, pass_state


@click.command("stats")
@click.option("--from", "start", metavar="DATE", help="First day (YYYY-MM-DD), with --to.")
@click.option("--to", "end", metavar="DATE", help="Last day (YYYY-MM-DD), with --from.")
@click.option("--half", metavar="YYYYH1|YYYYH2", help="A half year, e.g. 2026H1.")
@click.option("--year", metavar="YYYY", help="A calendar year.")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md",
              show_default=True, help="Output format.")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a PNG chart (reports per month, outcomes) to this file.")
@pass_state
def stats_cmd(state: CliState, start: str | None, end: str | None, half: str | None,
              year: str | None, fmt: str, chart_path: Path | None) -> None:
    """Statistics of the reports in a period (by Date of Report).

    Counts below stats.min_count (default 3) print as "fewer than 3", so no
    small group of people is identifiable in what the group publishes.
    """
    from bot.records.stats import Period, as_markdown, as_rows, chart, compute
    from bot.store.db import session_scope

    try:
        period = Period.parse(start=start, end=end, half=half, year=year)
    except ValueError as exc:
        fail(str(exc), code=2)
    app = state.app()
    with session_scope(app.engine) as session:
        st = compute(session, app.config, period)
    if fmt == "json":
        click.echo(json.dumps(st.present(), indent=2))
    elif fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["section", "item", "value"])
        writer.writerows(as_rows(st))
        click.echo(buf.getvalue(), nl=False)
    else:
        click.echo(as_markdown(st), nl=False)
    if chart_path is not None:
        try:
            chart(st, str(chart_path))
        except OSError as exc:
            fail(f"cannot write {chart_path.name}: {exc.strerror}")
        click.echo(f"chart written to {chart_path}", err=True)
