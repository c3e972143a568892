"""The reporter behind the group's rewritten From, for every later stage.

A Google Group rewrites From for authors whose domain publishes a strict DMARC
policy (``'Sam' via Conduct <conduct@...>``).  When the trusted receiving server
shows that the group really relayed the message, the author recovered from
X-Original-From / Reply-To (`bot.mail.grouprelay.recovered_author`) stands in
as the message's From everywhere after parsing: the case's reporter, the
acknowledgement's recipient, the stored row's sender, the hygiene checks and
the reporter-leak check.  The raw bytes are stored unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.config import Config
from bot.core.log import get_logger
from bot.mail.grouprelay import header_fields, recovered_author
from bot.mail.message import ParsedMessage

log = get_logger("relay")


def author_view(config: Config, raw: bytes, pm: ParsedMessage) -> ParsedMessage:
    """`pm` with From replaced by the recovered author, or `pm` itself."""
    if not config.intake.conduct_list_id or pm.from_header_count != 1:
        return pm
    author = recovered_author(header_fields(raw), config)
    if author is None:
        return pm
    log.info("group-rewritten From: author recovered", message_id=pm.message_id)
    return replace(pm, from_=[author])
