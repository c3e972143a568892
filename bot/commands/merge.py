"""`#merge CODE`: fold another case into this one (members only, never a stranger's mail)."""

from __future__ import annotations

import re

from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.store.codenames import find_code_in_subject
from bot.store.records import find_case, merge_cases
from bot.store.recusal import is_shut_out

_CODE_RE = re.compile(r"^\s*([a-z]+)[\s-]+([a-z]+)\s*$", re.IGNORECASE)


def _code_of(args: str) -> str:
    """"home shelf", "home-shelf" or "[CoC home-shelf]" as "home shelf"."""
    tagged = find_code_in_subject(args)
    if tagged:
        return tagged
    match = _CODE_RE.match(args)
    if match is None:
        raise CommandError("give the other case's code name, e.g. #merge home-shelf")
    return f"{match.group(1).lower()} {match.group(2).lower()}"


@command
class Merge(Command):
    """#merge CODE - fold the case CODE into this case (one report, two threads).

    Its messages, participants and history then belong to this case; mail on
    either thread files here. Only a member's authenticated mail merges cases:
    when a message from outside the group cites two cases, they are not merged,
    and the next transcript and the digest show the possible link instead.
    Refused when you are recused from either case.
    """

    name = "merge"

    def run(self, cc: CommandContext) -> CommandResult:
        """Merge the named case into the current one."""
        code = _code_of(cc.args)
        other = find_case(cc.session, code)
        if other is None:
            raise CommandError(f'no case called "{code}"')
        if other.id == cc.case.id:
            return CommandResult(f'"{code}" is already this case; nothing changed')
        if is_shut_out(cc.session, cc.app.config, other, cc.member):
            # Same answer as for an unknown code: a recused member learns nothing.
            raise CommandError(f'no case called "{code}"')
        merge_cases(cc.session, cc.case, other, message_id=cc.msg.pm.message_id)
        return CommandResult(f'case "{other.code}" merged into "{cc.case.code}"',
                             changed={"merged": other.code})
