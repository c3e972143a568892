"""The transactional outbox: every mail the bot sends starts as a row here.

`queue_mail` renders a template and writes an `Outbox` row inside the caller's
transaction, so the decision to send and the mail commit together.  The
sender (`bot.sender`) delivers rows afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from bot.app import App
from bot.message import ParsedMessage
from bot.models import Case, Outbox


def queue_mail(
    session: Session,
    app: App,
    *,
    kind: str,
    template: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    case: Case | None = None,
    context: dict[str, Any] | None = None,
    reply_to: ParsedMessage | None = None,
    auto_submitted: str = "auto-generated",
) -> Outbox:
    """Render `template` with `context` and queue it for `to` (+ `cc`).

    - kind: what this mail is ("acknowledgement", "transcript", "warning",
      "reminder", "digest", "urgent", ...), recorded on the row and in events.
    - template: name of a template in templates/ (without extension).
    - reply_to: the message this answers; sets In-Reply-To/References and the
      Subject tag for the case.
    - auto_submitted: value of the Auto-Submitted header ("auto-replied" for
      responses to a message, "auto-generated" otherwise).
    The Message-ID is the bot's own form for `case` (bot.msgids).
    """
    raise NotImplementedError("outbound mail is being built")
