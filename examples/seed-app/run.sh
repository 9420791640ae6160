#!/usr/bin/env bash
# One command: a throwaway PostgreSQL, then the seed app on :8300.
set -euo pipefail
cd "$(dirname "$0")/../.."
export ERRAND_PG_DIR=${ERRAND_PG_DIR:-/tmp/errand-seed-pg} ERRAND_PG_PORT=${ERRAND_PG_PORT:-54331}
url=$(scripts/pg.sh start | tail -n 1)
trap 'scripts/pg.sh stop' EXIT
go run ./examples/seed-app --database-url "$url" "$@"
