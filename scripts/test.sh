#!/usr/bin/env bash
# The whole test suite, as a new user and CI run it.
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 (the consent and
# audit tests use it), installing and starting Debian's when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! pg_ready; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "test.sh: PostgreSQL is not installed; installing Debian's package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  pg_ready || { echo "test.sh: PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi
# The tests connect as the current user to database `test` with trust auth.
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  su postgres -c "createdb test" 2>/dev/null || true
fi

cargo test --locked --all-targets "$@"
