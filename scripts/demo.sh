#!/usr/bin/env bash
# Install ketasim and run a demo simulation on the embedded defaults: Domino model, 70 kg,
# 0.5 mg/kg IV over 40 min (the antidepressant infusion), output every 5 min for 4 h.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ketasim simulate --model domino --weight 70 --age 40 --dose "0.5 mg/kg" --over 40min \
  --until 4h --every 5min --output table --plot demo-domino.png
