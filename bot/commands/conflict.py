"""`#conflict CODE...` / `#noconflict`: a member's conflict statement (onboarding)."""

from __future__ import annotations

from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.records.onboarding import parse_codes, record_statement


def _statement(cc: CommandContext, codes: list[str]) -> CommandResult:
    result = record_statement(cc.session, cc.app, cc.member, codes,
                              message_id=cc.msg.pm.message_id)
    if result["unknown"]:
        raise CommandError(f"no case called {', '.join(repr(u) for u in result['unknown'])}; "
                           "nothing recorded, please send the statement again")
    if not result["recused"]:
        return CommandResult("recorded: no conflicts of interest; thank you",
                             changed={"conflict_statement": "none"})
    return CommandResult(f"recorded: you are recused from {', '.join(result['recused'])}",
                         changed={"recused": result["recused"]})


@command
class Conflict(Command):
    """#conflict CODE[, CODE...] - declare conflicts of interest with these cases.

    New members answer the onboarding list of case code names this way (or
    with #noconflict). Each named case becomes a recusal, as with #recuse.
    """

    name = "conflict"
    allowed_when_recused = True
    echo_arguments = True

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the conflicts."""
        codes = parse_codes(cc.args)
        if not codes:
            raise CommandError("name the cases: #conflict home shelf, stunned bulb")
        return _statement(cc, codes)


@command
class NoConflict(Command):
    """#noconflict - state that you have no conflict of interest with the listed cases."""

    name = "noconflict"
    allowed_when_recused = True

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the statement."""
        return _statement(cc, [])
