#!/usr/bin/env bash
# test.sh: everything CI checks, from a clean checkout. Starts a throwaway
# PostgreSQL (installing Debian's postgresql if needed) and the npm packages
# of the client-compatibility tests, runs formatting and
# vet checks, the whole Go suite with -race and -shuffle against SQLite and
# PostgreSQL (with the dashboard in headless Chromium), the example, and a
# short fuzz of every untrusted-input parser;
# then stops PostgreSQL and removes its files.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-}"
export GOFLAGS="${GOFLAGS:-} -mod=mod"

echo "== npm packages for the client-compatibility and browser tests"
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

# The dashboard's browser test drives Debian's chromium (playwright-core
# from npm, no downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi

url=$(scripts/pg.sh start | tail -n 1)
trap 'scripts/pg.sh stop' EXIT
export ERRAND_TEST_DATABASE_URL="$url"

echo "== gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== go test (SQLite and PostgreSQL, -race, -shuffle on)"
# Headless Chromium is the heaviest thing the tests run: its tests get a
# phase of their own, so they do not starve the timing-bound tests of the
# other packages on a small machine.
ERRAND_BROWSER_TESTS=later go test -race -shuffle=on -count=1 -timeout 20m ./...

echo "== browser tests (headless Chromium; SQLite and PostgreSQL)"
go test -race -shuffle=on -count=1 -timeout 10m -p 1 -run 'InChromium' ./internal/dashboard ./examples/seed-app

echo "== examples"
go run ./examples/hello >/dev/null

# Counts, not durations: a duration's deadline can end the fuzzer while it
# minimizes an input, which Go reports as a failure ("context deadline
# exceeded"). Minimizing a new interesting input may take 60s by default,
# which for slow targets (CEL) added minutes: it is bounded by count too.
echo "== fuzz (short)"
go test -run '^$' -fuzz '^FuzzDecodeEvents$' -fuzzminimizetime 200x -fuzztime 3000x ./internal/httpapi
go test -run '^$' -fuzz '^FuzzSeededIDs$' -fuzzminimizetime 200x -fuzztime 20000x ./internal/httpapi
go test -run '^$' -fuzz '^FuzzEval$' -fuzzminimizetime 200x -fuzztime 20000x ./internal/expr
go test -run '^$' -fuzz '^FuzzParseToken$' -fuzzminimizetime 200x -fuzztime 10000x ./internal/auth
go test -run '^$' -fuzz '^FuzzNormalizeEmail$' -fuzzminimizetime 200x -fuzztime 20000x ./internal/auth
go test -run '^$' -fuzz '^FuzzParseDuration$' -fuzzminimizetime 200x -fuzztime 20000x ./internal/inngest
go test -run '^$' -fuzz '^FuzzCanonical$' -fuzzminimizetime 200x -fuzztime 20000x ./internal/inngest
go test -run '^$' -fuzz '^FuzzLocalPath$' -fuzzminimizetime 200x -fuzztime 20000x ./internal/dashboard
echo "== all tests passed"
