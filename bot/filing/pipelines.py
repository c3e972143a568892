"""The pipelines as data: which handlers a filed message passes through, in order.

As GNU Mailman 3 lists its pipeline handlers by name, the order here is the
order they run in, not the order modules happen to be imported.  A name is a
module of `bot.handlers` with a ``handle(ctx)`` function (and, for the replay
pipeline, a ``replay(app, session, pm, case, origin)`` function).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# Every filed message: shut out a member the report names (first, so nothing
# below reaches them), acknowledge the reporter (or say why not), raise the
# danger alarm (whatever the acknowledgement did), run members' commands, check
# thread hygiene (which reads what the commands changed), then take recorded
# people's identities out of the stored copy (records).
FILED: tuple[str, ...] = ("exclusion", "acknowledge", "danger", "commands", "hygiene",
                          "records")
# A reply to the bot's case-less mail (the onboarding question), filed without
# a case: each named module's ``caseless(app, session, pm, raw, quiet)`` runs.
CASELESS: tuple[str, ...] = ("onboarding",)
# A known Message-ID that comes back with other bytes: never acted on twice.
REPLAY: tuple[str, ...] = ("commands",)


def resolve(name: str, attr: str = "handle") -> Callable[..., Any]:
    """The function `attr` of handler module `name` (looked up at call time)."""
    module = importlib.import_module(f"bot.handlers.{name}")
    func = getattr(module, attr, None)
    if not callable(func):
        raise LookupError(f"handler {name!r} has no {attr}()")
    return func
