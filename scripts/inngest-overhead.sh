#!/usr/bin/env bash
# inngest-overhead.sh [runs]: errand's per-step orchestration overhead with
# the inngest 3.x SDK (classic execution): a 20-step function of no-op
# steps, measured at the app from each 206 reply to errand's next call.
# Needs `make test` (or `cd tests/node && npm ci`) to have installed the SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
dir=$(mktemp -d)
go build -o "$dir/errand" ./cmd/errand
"$dir/errand" dev --port 18499 --data-dir "$dir/data" --log-level warn ${DATABASE_URL:+--database-url "$DATABASE_URL"} >"$dir/errand.out" 2>&1 &
errand_pid=$!
trap 'kill $errand_pid ${app_pid:-} 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do grep -q "service key" "$dir/errand.out" 2>/dev/null && break; sleep 0.1; done
svc=$(awk '/service key:/ {print $3}' "$dir/errand.out")
(cd tests/node && ERRAND_URL=http://127.0.0.1:18499 INNGEST_DEV=1 node serve3.mjs >"$dir/app.out" 2>&1) &
app_pid=$!
for _ in $(seq 50); do [ -s "$dir/app.out" ] && break; sleep 0.1; done
app=$(head -1 "$dir/app.out")
curl -sf -X POST localhost:18499/v1/apps/sync -H "authorization: Bearer $svc" -d "{\"url\":\"$app\"}" >/dev/null
for i in $(seq "$runs"); do
  id=$(curl -sf localhost:18499/e/k -H 'content-type: application/json' -d '{"name":"app/twenty"}' | sed 's/.*"ids":\["\([^"]*\)".*/\1/')
  for _ in $(seq 200); do
    curl -sf "localhost:18499/v1/jobs?event_id=$id" -H "authorization: Bearer $svc" | grep -q '"status":"finished"' && break
    sleep 0.02
  done
done
curl -sf "${app%/api/inngest}/stats" | node -e '
let s=""; process.stdin.on("data",d=>s+=d).on("end",()=>{const g=JSON.parse(s).gaps.sort((a,b)=>a-b);
const q=p=>g[Math.min(g.length-1,Math.floor(p*(g.length-1)))].toFixed(3);
console.log(`steps=${g.length} overhead_p50_ms=${q(0.5)} overhead_p99_ms=${q(0.99)} max_ms=${g[g.length-1].toFixed(3)}`)})'
