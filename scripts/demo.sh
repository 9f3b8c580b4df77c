#!/usr/bin/env bash
# Install ketasim, print a demo simulation on the embedded defaults (Domino model, 70 kg,
# 0.5 mg/kg IV over 40 min, every 5 min for 4 h; figure in demo-domino.png), then start the
# clinic web app with a demo clinic on http://127.0.0.1:8000 (SQLite under ./demo-data;
# users admin / prescriber / nurse / auditor, password demo-password). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ketasim simulate --model domino --weight 70 --age 40 --dose "0.5 mg/kg" --over 40min \
  --until 4h --every 5min --output table --plot demo-domino.png
exec .venv/bin/ketasim serve --demo --data-dir demo-data
