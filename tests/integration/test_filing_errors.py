"""A message the database cannot store is quarantined; it never wedges intake."""

from __future__ import annotations

import random

from bot.filing.context import Origin
from bot.intake.filer import file_raw
from tests.helpers import make_app, make_mail


def huge_index_key_mail() -> bytes:
    # Valid by the parser's rules (under 998 characters), yet ~4 kB of UTF-8 that does
    # not compress: larger than a PostgreSQL btree index row may be.
    rng = random.Random(1)
    mid = "".join(chr(rng.randint(0x20000, 0x2A6DF)) for _ in range(985)) + "@x.example"
    return ("From: someone@x.example\r\nTo: conduct@example.org\r\nSubject: hello\r\n"
            f"Message-ID: <{mid}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "body\r\n").encode()


def test_message_exceeding_a_database_limit_is_quarantined(pg_url: str) -> None:
    app = make_app(pg_url)
    outcome = file_raw(app, huge_index_key_mail(), Origin(source="imap:1:1"))
    assert outcome.status == "quarantined"
    assert outcome.reason is not None and "ProgramLimitExceeded" in outcome.reason
    # The next message is filed as usual: intake moved on.
    assert file_raw(app, make_mail(), Origin(source="imap:1:2")).status == "filed"
