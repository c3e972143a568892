"""Rule kinds; importing this package registers every kind."""

from bot.rules.kinds import headers  # noqa: F401
