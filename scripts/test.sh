#!/usr/bin/env bash
# Install (scripts/bootstrap.sh, scripts/system-deps.sh) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# headless Chromium for the report screenshot tests; those tests skip (saying why) without it
bash scripts/system-deps.sh || echo "test.sh: warning: could not install Chromium; browser tests will skip" >&2
exec .venv/bin/python -m pytest "$@"
