"""`#help`: every command with its help text."""

from __future__ import annotations

from bot.commands.base import REGISTRY, Command, CommandContext, CommandResult, command


def help_entries() -> list[dict[str, str]]:
    """Each registered command's name and help text (its docstring), sorted by name."""
    return [{"name": name, "help": REGISTRY[name].help_text()} for name in sorted(REGISTRY)]


@command
class Help(Command):
    """#help - reply (to you only) with every command and what it does."""

    name = "help"
    allowed_when_recused = True

    def run(self, cc: CommandContext) -> CommandResult:
        """List the commands for the transcript."""
        return CommandResult("the commands are listed below", data={"help": help_entries()})
