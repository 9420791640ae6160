# The two commands of the README: `make run` and `make test`.
.PHONY: run test lint bench build screenshots

run:            ## run errand locally: SQLite in ./.errand, port 8288
	go run ./cmd/errand dev

test:           ## every test, on SQLite and a throwaway PostgreSQL
	scripts/test.sh

lint:           ## gofmt, go vet, staticcheck
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

build:
	go build -o bin/errand ./cmd/errand

bench:          ## jobs/s on SQLite; set DATABASE_URL for PostgreSQL
	go run ./cmd/errand bench --database-url "$(DATABASE_URL)" -n 200000

screenshots:    ## refresh the README's dashboard screenshots from the browser test
	go test ./internal/dashboard -run 'TestDashboardInChromium/sqlite' -count=1
	cp test-results/dashboard/sqlite/4-my-jobs.png docs/screenshots/my-jobs.png
	cp test-results/dashboard/sqlite/8-admin-jobs.png docs/screenshots/admin-jobs.png
	cp test-results/dashboard/sqlite/7-admin-overview.png docs/screenshots/admin-overview.png
	cp test-results/dashboard/sqlite/5-job-timeline.png docs/screenshots/job-timeline.png
