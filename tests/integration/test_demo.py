"""`cocbot demo` runs the real pipeline with no accounts and no configuration."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.helpers import cocbot


def test_demo_prints_what_the_bot_did(tmp_path: Path) -> None:
    env_config = os.environ.pop("COCBOT_CONFIG", None)
    try:
        out = cocbot("demo").stdout
    finally:
        if env_config is not None:
            os.environ["COCBOT_CONFIG"] = env_config
    assert "1. A report arrives from Jo Reporter <jo@reporter.example>:" in out
    assert re.search(r'opened case "[a-z]+ [a-z]+" \(new report\)', out)
    assert "sent mail: To: jo@reporter.example, Cc: conduct@demo.example" in out
    assert "Subject: Your report to the Django Code of Conduct Working Group" in out
    assert "Auto-Submitted: auto-replied" in out
    assert "| Thank you so much for reporting this issue" in out
    assert "filed the bot's own copy into case" in out
    assert "sent no acknowledgement: automatically submitted mail" in out
    assert "[rule auto-submitted]" in out
    assert "as a reply in the conversation" in out
    assert "sent mail: To: alex@demo.example" in out and "#contact" in out
    done = re.search(r"Done: (\d+) case\(s\) opened, (\d+) mail\(s\) sent, (\d+) automatic", out)
    assert done is not None
    assert (done.group(1), done.group(3)) == ("2", "1")
    assert int(done.group(2)) >= 1
    # The report's own words are never sent back.
    assert "accent" not in out.split("2. The bot's")[0].split("sent mail:")[1]


def test_demo_keep_leaves_a_usable_setup(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    out = cocbot("demo", "--keep", str(keep)).stdout
    assert f"Files kept in {keep}" in out
    config = keep / "cocbot.toml"
    assert config.exists() and (keep / "cocbot.db").exists()
    rows = json.loads(cocbot("outbox", "--all", "--json", config=config).stdout)
    acks = [r for r in rows if r["kind"] == "acknowledgement"]
    assert [(r["status"], r["recipients"]) for r in acks] == [
        ("sent", ["jo@reporter.example", "conduct@demo.example"])]
    cases = json.loads(cocbot("cases", "--json", config=config).stdout)
    assert len(cases) == 2
    assert len(list((keep / "inbox" / "cur").iterdir())) == 5
    # A second demo into the same folder is refused rather than mixing two runs.
    again = cocbot("demo", "--keep", str(keep), check=False)
    assert again.returncode != 0 and "not empty" in again.stderr
