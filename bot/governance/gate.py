"""Whether a consequence may be recorded yet: the manual's decision rule, in one place.

"The chair requires at least two members of the working group to agree on these
actions" (manual, "Decision-Making Process").  A consequence listed in
`rules/decisions.toml` under ``needs_agreement`` (suspensions, a ban) may be
recorded only after a proposal for exactly that consequence was agreed.  The
case-level ``#consequence`` and the per-person ``#suspend`` / ``#ban`` /
``#outcome banned`` ask this same question.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.core.config import Config
from bot.governance.proposals import latest_agreed
from bot.governance.quorum import load_quorum_rules
from bot.store.models import Case
from bot.store.records import case_events

DECISION_SENTENCE = (
    '"The chair requires at least two members of the working group to agree on these '
    'actions." (manual, "Decision-Making Process")')


def needs_agreement(config: Config, consequence: str | None) -> bool:
    """True when recording `consequence` needs an agreed proposal."""
    return consequence is not None and consequence in load_quorum_rules(config).needs_agreement


def why_held(session: Session, config: Config, case: Case, consequence: str | None) -> str | None:
    """Why `consequence` cannot be recorded on `case` yet, or None when it can."""
    if not needs_agreement(config, consequence):
        return None
    agreed = latest_agreed(case_events(session, case))
    if agreed is not None and agreed.consequence == consequence:
        return None
    return (f"{consequence} needs a proposal for it agreed by the group (#propose "
            f"{consequence}, then #agree from other members); {DECISION_SENTENCE}")
