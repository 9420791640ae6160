package dashboard_test

import (
	"context"

	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
)

// BenchmarkPages times the dashboard's heaviest pages over a jobs table
// of ERRAND_BENCH_JOBS finished jobs (default 100,000), on SQLite, or on
// PostgreSQL with ERRAND_BENCH_DATABASE_URL:
//
//	go test ./internal/dashboard -run '^$' -bench Pages -benchtime 20x
func BenchmarkPages(b *testing.B) {
	n := 100_000
	if v := os.Getenv("ERRAND_BENCH_JOBS"); v != "" {
		fmt.Sscan(v, &n)
	}
	noop := errand.NewFunction(errand.FunctionOpts{ID: "noop"}, errand.OnEvent("bench/noop"),
		func(ctx context.Context, in errand.Input[map[string]int]) (int, error) {
			return in.Event.Data["i"], nil
		})
	cfg := &errand.Config{Functions: []*errand.Function{noop}, JWTSecret: jwtSecret, Workers: 200,
		DatabaseURL: os.Getenv("ERRAND_BENCH_DATABASE_URL")}
	c := errandtest.Start(b, cfg)
	ctx := context.Background()
	var last string
	for i := 0; i < n; i += 1000 {
		evs := make([]errand.Sendable, 0, 1000)
		for k := i; k < min(i+1000, n); k++ {
			evs = append(evs, errand.Event[map[string]int]{Name: "bench/noop", Data: map[string]int{"i": k}})
		}
		ids, err := c.Send(ctx, evs...)
		if err != nil {
			b.Fatal(err)
		}
		last = ids[len(ids)-1]
	}
	jobs, _ := c.JobsForEvent(ctx, last)
	errandtest.WaitJob(b, c, jobs[0])
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	_, svc, _ := c.APIKeys()

	admin := newBrowser(b, srv.URL)
	admin.signInKey(svc)
	user := newBrowser(b, srv.URL)
	user.signUp("bench@example.com")
	if cfg.DatabaseURL != "" {
		// As autovacuum would soon after a bulk load: plans need statistics.
		conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
		if err != nil {
			b.Fatal(err)
		}
		_, err = conn.Exec(ctx, "ANALYZE")
		conn.Close(ctx)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for _, p := range []struct{ name, path string }{
		{"overview_1h", "/admin?window=1h"}, {"overview_24h", "/admin?window=24h"}, {"all_jobs", "/admin/jobs"},
		{"all_jobs_filtered", "/admin/jobs?status=finished&function=noop"}, {"search_job_id", "/admin/jobs?q=" + jobs[0]},
		{"events", "/admin/events"}, {"job_page", "/jobs/" + jobs[0]},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				get(b, admin, p.path)
			}
		})
	}
	b.Run("my_jobs", func(b *testing.B) {
		for b.Loop() {
			get(b, user, "/")
		}
	})
}

func get(b *testing.B, br *browser, path string) {
	req, _ := http.NewRequest(http.MethodGet, br.base+path, nil)
	resp, err := br.c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s: %d", path, resp.StatusCode)
	}
}
