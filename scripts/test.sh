#!/usr/bin/env bash
# Install what the test suite needs, then lint, type-check and run every test.
#
# Idempotent; meant for root on Debian 12 (CI runs it through .ci/run). System packages are
# installed only when missing. The tests start their own Dovecot and PostgreSQL on free
# loopback ports, so the system services are stopped after an install.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '==> %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi

have_dovecot() {
    command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]
}

have_postgres() {
    compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null
}

if ! have_dovecot || ! have_postgres; then
    step "installing Dovecot and PostgreSQL (apt)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y dovecot-imapd postgresql
    # The packages may start system-wide services; the tests never use them.
    for service in dovecot postgresql; do
        $SUDO service "$service" stop >/dev/null 2>&1 || true
        if command -v systemctl >/dev/null 2>&1; then
            $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
    done
else
    step "Dovecot and PostgreSQL already installed"
fi

if ! python3 -m pip --version >/dev/null 2>&1; then
    step "installing pip (apt)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y python3-pip
fi

step "installing cocbot and test dependencies (pip)"
# Debian's own python3 refuses pip installs (PEP 668); this machine is throwaway.
export PIP_BREAK_SYSTEM_PACKAGES=1
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

lint_paths=()
for path in bot tests bench migrations; do
    [ -d "$path" ] && lint_paths+=("$path")
done

step "ruff check ${lint_paths[*]}"
python3 -m ruff check "${lint_paths[@]}"

step "mypy"
python3 -m mypy

step "pytest (three workers)"
# Three workers on a 2-core machine: the end-to-end tests spend much of their
# time waiting on servers, so a third worker fills that time.  A worker that runs
# out of tests takes some from another; each starts its own servers on free ports.
status=0
python3 -m pytest -q -n 3 --dist worksteal || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests; that counts as a failure" >&2
    exit 1
fi
exit "$status"
