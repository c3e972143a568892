"""`cocbot demo`: the bot at work on a scripted exchange (see `bot.service.demo`)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click


@click.command("demo")
@click.option("--keep", "keep", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="Create the demo's files in DIR and keep them.")
def demo_cmd(keep: Path | None) -> None:
    """Show the bot at work on a scripted exchange; needs no accounts or config."""
    from bot.service.demo import run_demo

    if keep is not None:
        if keep.exists() and any(keep.iterdir()):
            raise click.UsageError(f"--keep: {keep} is not empty")
        keep.mkdir(parents=True, exist_ok=True)
        run_demo(keep.resolve())
        click.echo(f"\nFiles kept in {keep}: try `cocbot --config {keep / 'cocbot.toml'} "
                   "cases` or `... outbox --all`.")
        return
    folder = Path(tempfile.mkdtemp(prefix="cocbot-demo-"))
    try:
        run_demo(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
