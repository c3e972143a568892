#!/usr/bin/env bash
# The README's first command: install cocbot and run its embedded demonstration.
# No accounts and no configuration needed: SQLite, a local Maildir intake and a
# local SMTP server that captures what the bot sends, all in a temporary folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PIP_BREAK_SYSTEM_PACKAGES=1
python3 -m pip install --quiet --disable-pip-version-check -e . >&2
exec python3 -m bot demo "$@"
