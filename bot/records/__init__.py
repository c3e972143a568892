"""The manual's records beyond the case row: people and their code names, the
Person Identity Key, record types and the enforcement ladder, export and
import in the group's spreadsheet format, statistics, retention and onboarding.

Sits above `bot.store` (tables) and `bot.outbound` (mail), below
`bot.commands` and `bot.cli`.
"""
