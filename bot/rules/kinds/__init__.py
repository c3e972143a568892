"""Rule kinds; importing this package registers every kind."""

from bot.rules.kinds import autoreply, headers, hygiene  # noqa: F401
