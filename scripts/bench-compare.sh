#!/usr/bin/env bash
# bench-compare.sh URL [runs]: errand beside River on the same PostgreSQL,
# alternating, for medians: burn-down of 200k jobs, enqueue→start latency
# at 200/s (River with defaults and tuned), and errand's fairness figures.
# Start a PostgreSQL with fsync on first, e.g.:
#   ERRAND_PG_DIR=/tmp/pg-bench ERRAND_PG_PORT=54330 ERRAND_PG_FSYNC=on scripts/pg.sh start
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?usage: bench-compare.sh postgres://... [runs]}
runs=${2:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/errand" ./cmd/errand
(cd bench/river && go build -o "$dir/river" .)
for _ in $(seq "$runs"); do
  echo "river_tp $("$dir/river" --database-url "$url" -n 200000 2>&1 | grep jobs_per_sec)"
  echo "errand_tp_pg $("$dir/errand" bench --database-url "$url" -n 200000 2>&1 | grep jobs_per_sec)"
  echo "errand_tp_sqlite $("$dir/errand" bench -n 200000 2>&1 | grep jobs_per_sec)"
done
for _ in $(seq "$runs"); do
  echo "errand_lat_pg $("$dir/errand" bench --mode latency --database-url "$url" 2>&1 | grep -E 'p50|p99' | tr '\n' ' ')"
  echo "river_lat_default $("$dir/river" --mode latency --database-url "$url" 2>&1 | grep -E 'p50|p99' | tr '\n' ' ')"
  echo "river_lat_tuned $("$dir/river" --mode latency --tuned --database-url "$url" 2>&1 | grep -E 'p50|p99' | tr '\n' ' ')"
  echo "errand_lat_sqlite $("$dir/errand" bench --mode latency 2>&1 | grep -E 'p50|p99' | tr '\n' ' ')"
done
for _ in $(seq "$runs"); do
  echo "fair_owner_pg $("$dir/errand" bench --mode fairness -n 100000 --database-url "$url" 2>&1 | grep -E 'p50|p99' | tr '\n' ' ')"
  echo "fair_owner_sqlite $("$dir/errand" bench --mode fairness -n 100000 2>&1 | grep -E 'p50|p99' | tr '\n' ' ')"
  echo "fair_key_pg $("$dir/errand" bench --mode fairness --by key -n 100000 --database-url "$url" 2>&1 | grep -E 'p50|p99' | tr '\n' ' ')"
done
