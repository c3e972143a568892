"""The Google Group path end to end: real Dovecot, aiosmtpd and `cocbot run`.

The bot's mailbox is a member of the conduct group: every message arrives as
the group relays it (see tests/groupmail.py), with Google's ARC set and the
receiving server's topmost Authentication-Results.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dbtemplate import fresh_sqlite_url
from tests.e2e.botproc import BotProcess, db_rows, e2e_config, wait_until
from tests.groupmail import GOOGLE, LIST_ID, group_notice, relayed
from tests.helpers import CONDUCT, MAYA, SAM
from tests.servers import Dovecot, SmtpSink

pytestmark = pytest.mark.e2e

LAX = "lee@lax.example.net"
STRICT = "sam.strict@strict.example.com"
BROKEN = "bo@lax.example.net"
FORGED = "victim@strict.example.com"


def filed(config: Path, count: int) -> bool:
    return db_rows(config, "select count(*) from inboundmessage")[0][0] >= count


def acks_to(config: Path) -> list[str]:
    rows = db_rows(config, "select recipients from outbox where kind = 'acknowledgement'")
    return sorted(r for (value,) in rows for r in json.loads(value)
                  if r != CONDUCT)


def test_group_relay_end_to_end(tmp_path: Path, fresh_inbox: Dovecot,
                                smtp_sink: SmtpSink) -> None:
    config = e2e_config(tmp_path, fresh_inbox, smtp_sink,
                        intake={"backfill_before": "2000-01-01", "conduct_list_id": LIST_ID},
                        auth={"authserv_id": GOOGLE, "trusted_arc_sealers": [GOOGLE]})
    fresh_sqlite_url(tmp_path)  # the migrated schema where the config points
    with BotProcess(config) as bot:
        assert wait_until(lambda: "imap connected" in bot.log_text() or not bot.alive(), 20)
        # A relayed report, and the same mail again: one acknowledgement.
        report = relayed(author=LAX, author_name="Lee Lax", topmost_dmarc="pass",
                         message_id="r1@lax.example")
        fresh_inbox.append(report)
        fresh_inbox.append(report)
        # A report the group rewrote: acknowledged to the real reporter, filed as theirs.
        fresh_inbox.append(relayed(author=STRICT, rewritten=True, message_id="r2@strict"))
        # The group's own moderation notice: no acknowledgement.
        fresh_inbox.append(group_notice())
        # The group broke the author's signature: the first hop passed, still acknowledged.
        fresh_inbox.append(relayed(author=BROKEN, first_hop="pass", topmost_dmarc="fail",
                                   message_id="r3@lax.example"))
        # Sent directly, failing DMARC at the trusted server: filed, not acknowledged.
        fresh_inbox.append(relayed(author=FORGED, first_hop=None, arc="none",
                                   topmost_dmarc="fail", list_headers=False,
                                   message_id="r4@forged.example"))
        acks = smtp_sink.wait_for(3, timeout=20)
        assert wait_until(lambda: filed(config, 5), 20), bot.log_text()
        assert sorted(r for m in acks for r in m.rcpt_tos if r != CONDUCT) == \
            sorted([LAX, STRICT, BROKEN])
        assert acks_to(config) == sorted([LAX, STRICT, BROKEN])
        reporters = {addr for (addr,) in db_rows(config, "select reporter_address from 'case'")}
        assert {LAX, STRICT, BROKEN, FORGED} <= reporters
        rules = {rule for (rule,) in db_rows(
            config, "select json_extract(data, '$.rule') from event "
                    "where kind = 'acknowledgement_suppressed'")}
        assert rules == {"group-notice", "sender-failed-authentication"}

        [(code,)] = db_rows(config, "select code from 'case' where reporter_address = "
                                    f"'{LAX}'")
        # A member's #safety no through the group, with the trusted sealer's first hop.
        fresh_inbox.append(relayed(author=SAM, author_name="Sam Jones", rewritten=True,
                                   subject=f"Re: [CoC {code}] report", body="#safety no\n",
                                   in_reply_to="r1@lax.example", message_id="c1@example.net"))
        assert wait_until(lambda: db_rows(
            config, f"select safety_risk from 'case' where code = '{code}'")[0][0] == "No", 20)
        # The same with a broken chain: held, and the chair is told.
        fresh_inbox.append(relayed(author=SAM, author_name="Sam Jones", rewritten=True,
                                   arc="fail", subject=f"Re: [CoC {code}] report",
                                   body="#safety yes\n", in_reply_to="r1@lax.example",
                                   message_id="c2@example.net"))
        mails = smtp_sink.wait_for(5, timeout=20)
        assert wait_until(lambda: db_rows(
            config, "select count(*) from event where kind = 'command_held'")[0][0] == 1, 20)
        assert db_rows(config, f"select safety_risk from 'case' where code = '{code}'") == \
            [("No",)]
        to_sam = [m for m in mails if m.rcpt_tos == [SAM]]
        to_chair = [m for m in mails if MAYA in m.rcpt_tos]
        assert len(to_sam) == 1 and len(to_chair) == 1
        # Exactly one acknowledgement each; nothing to anyone else.
        assert len([m for m in smtp_sink.messages if m.message["Auto-Submitted"] ==
                    "auto-replied" and CONDUCT in m.rcpt_tos]) == 3
