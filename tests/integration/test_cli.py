"""The command line on a real database: import, cases, case, quarantine, db."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

from tests.helpers import MAYA, cocbot, config_dict, make_mail, write_config


def setup(tmp_path: Path) -> Path:
    config = write_config(tmp_path / "c.toml", config_dict(f"sqlite:///{tmp_path / 'c.db'}"))
    cocbot("db", "upgrade", config=config)
    return config


def test_db_status_reports_out_of_date_then_current(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", config_dict(f"sqlite:///{tmp_path / 'c.db'}"))
    assert cocbot("db", "status", config=config, check=False).returncode == 3
    cocbot("db", "upgrade", config=config)
    assert cocbot("db", "status", config=config).returncode == 0


def test_import_mbox_and_maildir_then_list(tmp_path: Path) -> None:
    config = setup(tmp_path)
    box = mailbox.mbox(str(tmp_path / "old.mbox"))
    box.add(make_mail(message_id="a@x.example", subject="First report"))
    box.add(make_mail(sender=MAYA, message_id="b@example.org", in_reply_to="a@x.example",
                      subject="Re: First report"))
    box.add(b"\x00\x01 junk")
    box.close()
    md = mailbox.Maildir(str(tmp_path / "md"), create=True)
    md.add(make_mail(sender="other@y.example", message_id="c@y.example"))
    md.close()
    out = cocbot("import", str(tmp_path / "old.mbox"), config=config)
    assert "2 filed" in out.stdout and "1 quarantined" in out.stdout
    cocbot("import", str(tmp_path / "md"), config=config)
    cases = json.loads(cocbot("cases", "--json", config=config).stdout)
    assert sorted(len(c["message_ids"]) for c in cases) == [1, 2]
    for c in cases:
        for key in ("code", "status", "date_reported", "resolution_source", "resolution_date",
                    "safety_risk", "ongoing_harassment", "consequences", "message_ids",
                    "recused"):
            assert key in c
    table = cocbot("cases", config=config).stdout
    assert cases[0]["code"] in table
    detail = json.loads(cocbot("case", cases[0]["code"].replace(" ", "-"), "--json",
                               config=config).stdout)
    assert detail["code"] == cases[0]["code"]
    assert any(e["kind"] == "case_opened" for e in detail["events"])
    assert detail["messages"]
    human = cocbot("case", cases[0]["code"], config=config).stdout
    assert "history" in human
    missing = cocbot("case", "no such", config=config, check=False)
    assert missing.returncode == 1 and "no case" in missing.stderr


def test_quarantine_list_show_retry(tmp_path: Path) -> None:
    config = setup(tmp_path)
    (tmp_path / "q.mbox").write_bytes(b"")
    box = mailbox.mbox(str(tmp_path / "q.mbox"))
    box.add(make_mail(message_id="s@x.example", headers={"X-Spam-Flag": "YES"}))
    box.close()
    cocbot("import", str(tmp_path / "q.mbox"), config=config)
    listing = json.loads(cocbot("quarantine", "list", "--json", config=config).stdout)
    assert [q["kind"] for q in listing] == ["spam"]
    shown = cocbot("quarantine", "show", str(listing[0]["id"]), config=config).stdout
    assert "spam" in shown and "Message-ID" in shown
    retried = cocbot("quarantine", "retry", "--all", config=config).stdout
    assert "still quarantined" in retried


def test_check_config_names_a_rule_in_an_unknown_chain(tmp_path: Path) -> None:
    import shutil

    from bot.core.resources import shipped_dir

    rules = tmp_path / "rules"
    shutil.copytree(shipped_dir("rules"), rules)
    text = (rules / "acknowledge.toml").read_text(encoding="utf-8")
    (rules / "acknowledge.toml").write_text(
        text.replace('chain = "acknowledge"', 'chain = "acknowlege"', 1), encoding="utf-8")
    config = write_config(tmp_path / "c.toml",
                          {**config_dict(f"sqlite:///{tmp_path / 'c.db'}"),
                           "rules_dir": str(rules)})
    out = cocbot("check-config", config=config, check=False)
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "rules/acknowledge.toml" in line and ".chain" in line and "'acknowlege'" in line
    assert len(line.splitlines()) == 1
