#!/usr/bin/env bash
# Install the system packages ketasim's tests need beyond Python: headless Chromium
# (for the HTML report screenshot test in tests/safety/test_plan_report_screenshot.py) and
# poppler-utils (pdftoppm/pdftotext: the clinic's REMS form PDF is rendered and read back).
# Idempotent: does nothing when /usr/bin/chromium and pdftoppm already exist; otherwise runs
# `apt-get update` once and installs chromium, chromium-driver and poppler-utils.
set -euo pipefail

if [ -x /usr/bin/chromium ] && command -v pdftoppm >/dev/null 2>&1; then
    echo "system-deps: /usr/bin/chromium and pdftoppm present; nothing to do"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "system-deps: need root (or sudo) to install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium chromium-driver poppler-utils
test -x /usr/bin/chromium
echo "system-deps: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
