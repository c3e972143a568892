"""Where the shipped templates, rules and migrations are at run time.

The repository keeps `templates/`, `rules/` and `migrations/` at its top level.
A built wheel carries them inside the package as ``bot/shipped/<name>``; a
source checkout (or an editable install) reads them beside the package.  Both
are found through `importlib.resources`, so cocbot runs from any directory.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.config import Config

SHIPPED = ("templates", "rules", "migrations")


@cache
def shipped_dir(name: str) -> Path:
    """The directory of the shipped `name` (one of `SHIPPED`)."""
    if name not in SHIPPED:
        raise ValueError(f"not a shipped folder: {name!r}")
    inside = resources.files("bot").joinpath("shipped", name)
    if inside.is_dir():
        return Path(str(inside))
    # A checkout: the folder sits beside the package.
    beside = Path(str(resources.files("bot"))).parent / name
    if beside.is_dir():
        return beside
    raise FileNotFoundError(f"cocbot's {name} folder is missing from this installation")


def templates_dir(config: Config) -> Path:
    """The folder holding mail templates: `templates_dir` from the config, else shipped."""
    if config.templates_dir:
        return config.resolve_path(config.templates_dir)
    return shipped_dir("templates")


def rules_dir(config: Config) -> Path:
    """The folder holding the rule files: `rules_dir` from the config, else shipped."""
    return config.resolve_path(config.rules_dir) if config.rules_dir else shipped_dir("rules")
