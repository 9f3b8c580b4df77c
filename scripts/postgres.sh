#!/usr/bin/env bash
# Start a local PostgreSQL for the clinic tests and print the line to export its URL.
# Idempotent: installs postgresql via apt when pg_ctlcluster is missing, creates and starts a
# cluster, a role and a database. Usage:  eval "$(bash scripts/postgres.sh)"
set -euo pipefail
DB=ketasim_test
ROLE=ketasim
PASS=ketasim-test
PORT=${KETASIM_PG_PORT:-5432}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "postgres.sh: installing postgresql" >&2
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
VERSION=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$VERSION main$"; then
  $SUDO pg_createcluster "$VERSION" main --port "$PORT" >&2
fi
PORT=$(pg_lsclusters -h | awk -v v="$VERSION" '$1==v && $2=="main" {print $3}')
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1==v && $2=="main" {print $4}' | grep -q online; then
  $SUDO pg_ctlcluster "$VERSION" main start >&2
fi
psql_admin() { $SUDO -u postgres psql -p "$PORT" -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(id -u)" -eq 0 ]; then psql_admin() { su postgres -c "psql -p $PORT -v ON_ERROR_STOP=1 -qAt $(printf '%q ' "$@")"; }; fi
for _ in $(seq 1 30); do psql_admin -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='$ROLE'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASS'" >&2
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$DB'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $DB OWNER $ROLE" >&2
fi
echo "export KETASIM_TEST_DATABASE_URL=postgresql+psycopg://$ROLE:$PASS@127.0.0.1:$PORT/$DB"
