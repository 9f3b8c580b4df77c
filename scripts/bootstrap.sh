#!/usr/bin/env bash
# Create .venv and install ketasim with everything its tests and benchmarks need.
# Safe to re-run: an existing .venv is reused and only missing pieces are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,dask,clinic]"
# opentiva is the peer library the benchmarks and a cross-check test compare against. Its sdist
# ships C generated for older Pythons, so it is built from its .pyx with Cython (installed by the
# dev extra) without build isolation.
if ! .venv/bin/python -c "import opentiva.pkpd" 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation "opentiva==1.1.2"
fi
