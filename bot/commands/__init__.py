"""Member commands (`#tags`): one small unit each; the docstring is the help text.

Importing this package registers every command in `bot.commands.base.REGISTRY`.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_commands() -> None:
    """Import every command module in this package (each registers itself)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name not in ("base",) and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
