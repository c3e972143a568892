"""`#propose TEXT`: open a proposal the working group votes on."""

from __future__ import annotations

from bot.commands import _decisions as dec
from bot.commands._common import normalise, record_event, without_identities
from bot.commands.base import Command, CommandContext, CommandError, CommandResult, command
from bot.commands.consequence import CONSEQUENCES
from bot.core.events import EventKind
from bot.store.recusal import members_in

TEXT_MAX = 300
# Words people write for the ladder's steps; keys are `normalise`d text.
ALIASES = {
    "temporary suspension": "First Suspension", "short term suspension": "First Suspension",
    "suspension": "First Suspension", "suspend": "First Suspension",
    "extended suspension": "Second Suspension", "permanent ban": "Ban",
    "no action": "No action taken", "no violation": "Not a violation",
}  # fmt: skip
_KNOWN = sorted([*((normalise(c), c) for c in CONSEQUENCES), *ALIASES.items()],
                key=lambda kv: -len(kv[0]))


def consequence_of(text: str) -> str:
    """The ladder step `text` starts with ("Ban: ...", "first suspension, 60 days"), else Other."""
    words = normalise(text)
    for article in ("a ", "an ", "the "):
        if words.startswith(article):
            words = words[len(article):]
            break
    for key, value in _KNOWN:
        if words == key or words.startswith(key + " "):
            return value
    return "Other"


@command
class Propose(Command):
    """#propose TEXT - propose how to resolve the case; the group votes on it.

    Start TEXT with the consequence from the ladder (Warning, First Suspension,
    Second Suspension, Ban, No action taken, Not a violation, Out of scope;
    anything else counts as Other), e.g. "#propose Ban - repeated harassment".
    The manual: "the chair should propose to the working group the actions that
    should be taken to resolve the issue. The chair requires at least two members
    of the working group to agree on these actions." The chair proposes; any
    member may when every chair is recused or excluded. Others answer with
    #agree, #object [why] or #abstain. A new #propose replaces an open one.
    """

    name = "propose"
    echo_arguments = False

    def run(self, cc: CommandContext) -> CommandResult:
        """Open the proposal (withdrawing an open one) and show the first tally."""
        text = " ".join(cc.args.split())
        if not text:
            raise CommandError("say what you propose, e.g. #propose Warning - ...")
        roles = dec.rules(cc).propose_roles
        inside = members_in(cc.session, cc.app.config, cc.case)
        if cc.member.role not in roles and any(m.role in roles for m in inside):
            raise CommandError("the chair proposes the actions (manual, \"Deciding actions\"); "
                               "any member may when every chair is recused or excluded")
        old = dec.current(cc)
        if old is not None:
            record_event(cc, EventKind.PROPOSAL_WITHDRAWN, proposal=old.id, reason="replaced")
        consequence = consequence_of(text)
        ev = record_event(cc, EventKind.PROPOSAL_OPENED, consequence=consequence,
                          text=without_identities(cc, text)[:TEXT_MAX])
        cc.session.flush()
        prop = dec.current(cc)
        assert prop is not None and prop.id == ev.id
        _v, tally = dec.record_tally(cc, prop)
        note = f"proposal #{ev.id} opened" + (f" (replaces #{old.id})" if old else "")
        return CommandResult(f"{note}; {tally}", changed={"proposal": ev.id,
                                                          "consequence": consequence})
