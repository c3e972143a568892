"""`#doc URL`, `#space NAME`, `#type NAME[, NAME...]`: the case's record fields."""

from __future__ import annotations

import re

from bot.commands._common import record_event
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.core.events import EventKind
from bot.records.casextra import SPACES, extra_for, space_for

_URL_RE = re.compile(r"^https://[^\s<>\"]{3,2000}$")


@command
class Doc(Command):
    """#doc URL - the link to the case's documentation (the Documents column).

    Use an https link to the report document, shared with specific members
    only; its title should use the case code name, never a real name.
    """

    name = "doc"
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the documents link."""
        url = cc.args.strip().strip("<>")
        if not _URL_RE.match(url):
            raise CommandError("give one https:// link: #doc https://docs.example/...")
        extra = extra_for(cc.session, cc.case)
        if extra.documents == url:
            return CommandResult("the documents link is already recorded; nothing changed")
        extra.documents = url
        cc.session.add(extra)
        record_event(cc, EventKind.DOCUMENTS_SET)
        return CommandResult("documents link recorded", changed={"documents": "set"})


@command
class Space(Command):
    """#space NAME - where it happened: forum, discord, mailing list, github,
    social media, event, or other (for the published statistics)."""

    name = "space"

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the space."""
        space = space_for(cc.args)
        if space is None:
            raise CommandError(f"unknown space {cc.args!r}; use one of: {', '.join(SPACES)}")
        extra = extra_for(cc.session, cc.case)
        if extra.space == space:
            return CommandResult(f"space is already {space}; nothing changed")
        extra.space = space
        cc.session.add(extra)
        record_event(cc, EventKind.SPACE_SET, new=space)
        return CommandResult(f"space set to {space}", changed={"space": space})


@command
class Type(Command):
    """#type NAME[, NAME...] - the kinds of behaviour reported (replaces the list).

    The kinds are the configured list (records.types); the statistics count them.
    """

    name = "type"

    def run(self, cc: CommandContext) -> CommandResult:
        """Record the kinds of behaviour."""
        allowed = {" ".join(t.lower().split()): t for t in cc.app.config.records.types}
        wanted: list[str] = []
        for part in re.split(r"[,;]", cc.args):
            key = " ".join(part.lower().replace("-", " ").split())
            if not key:
                continue
            if key not in allowed:
                raise CommandError(f"unknown type {part.strip()!r}; use: "
                                   f"{', '.join(cc.app.config.records.types)}")
            if allowed[key] not in wanted:
                wanted.append(allowed[key])
        if not wanted:
            raise CommandError(f"name a type: {', '.join(cc.app.config.records.types)}")
        extra = extra_for(cc.session, cc.case)
        if list(extra.types) == wanted:
            return CommandResult("types unchanged")
        extra.types = wanted
        cc.session.add(extra)
        record_event(cc, EventKind.TYPES_SET, types=wanted)
        return CommandResult(f"types set to {', '.join(wanted)}", changed={"types": wanted})
