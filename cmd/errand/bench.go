package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/store/dial"
	"github.com/errand-dev/errand/internal/store/sqldb"
)

// bench measures errand on a fresh database: a throwaway SQLite file, or a
// new schema in the given PostgreSQL that is dropped afterwards.
//
//	--mode throughput  insert N no-op jobs, then time their burn-down:  jobs_per_sec=
//	--mode latency     send jobs at --rate for --duration; enqueue→start p50/p99
//	--mode memory      insert N waiting jobs, run slowly for a while, report RSS
//	--mode fairness    one user's backlog of N jobs; 50 other users' waits p50/p99
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("errand bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database-url", envOr("DATABASE_URL", ""), "PostgreSQL to measure on (a new schema is used and dropped); empty: SQLite")
	n := fs.Int("n", 100_000, "jobs to burn down (throughput, memory)")
	mode := fs.String("mode", "throughput", "throughput, latency, memory or fairness")
	workers := fs.Int("workers", 2000, "jobs run at once")
	rate := fs.Int("rate", 200, "jobs per second sent (latency)")
	dur := fs.Duration("duration", 10*time.Second, "how long to send (latency)")
	by := fs.String("by", "owner", "fairness: partition users by job owner (with the default owner limit of 10) or by a concurrency key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, cleanup, err := benchStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer cleanup()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch *mode {
	case "throughput":
		return benchThroughput(ctx, db, log, *n, *workers, stdout)
	case "latency":
		return benchLatency(ctx, db, log, *rate, *dur, stdout)
	case "memory":
		return benchMemory(ctx, db, log, *n, stdout)
	case "fairness":
		return benchFairness(ctx, db, log, *n, *by, stdout)
	}
	return fmt.Errorf("--mode must be throughput, latency, memory or fairness")
}

func benchStore(ctx context.Context, dbURL string) (*sqldb.DB, func(), error) {
	if dbURL == "" {
		dir, err := os.MkdirTemp("", "errand-bench-")
		if err != nil {
			return nil, nil, err
		}
		db, err := dial.Open(ctx, "sqlite:"+filepath.Join(dir, "bench.db"), "")
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return db, func() { db.Close(); os.RemoveAll(dir) }, nil
	}
	schema := fmt.Sprintf("errand_bench_%d", rand.Uint32())
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		c.Close(ctx)
		return nil, nil, err
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", "16")
	u.RawQuery = q.Encode()
	db, err := dial.Open(ctx, u.String(), "")
	drop := func() {
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		c.Close(context.Background())
	}
	if err != nil {
		drop()
		return nil, nil, err
	}
	return db, func() { db.Close(); drop() }, nil
}

// counter is an engine.Metrics that counts ended jobs.
type counter struct {
	ended atomic.Int64
	done  chan struct{}
	want  int64
}

func (c *counter) JobStarted(d time.Duration) {}

func (c *counter) JobEnded(store.Status, time.Duration) {
	if c.ended.Add(1) == c.want {
		close(c.done)
	}
}

func noop(ctx context.Context, r *engine.Run) (json.RawMessage, error) { return nil, nil }

func insertJobs(ctx context.Context, eng *engine.Engine, n int) error {
	for sent := 0; sent < n; {
		batch := min(5000, n-sent)
		evs := make([]*store.Event, batch)
		for i := range evs {
			evs[i] = &store.Event{Name: "bench/noop", Data: json.RawMessage(`{}`)}
		}
		if _, err := eng.Send(ctx, evs); err != nil {
			return err
		}
		sent += batch
	}
	return nil
}

func benchThroughput(ctx context.Context, db *sqldb.DB, log *slog.Logger, n, workers int, out io.Writer) error {
	c := &counter{done: make(chan struct{}), want: int64(n)}
	eng, err := engine.New(engine.Config{Store: db, Logger: log, Workers: workers, Metrics: c})
	if err != nil {
		return err
	}
	if err := eng.Register(&engine.Function{ID: "noop", Retries: -1, Triggers: []engine.Trigger{{Event: "bench/noop"}}, Handler: noop}); err != nil {
		return err
	}
	t0 := time.Now()
	if err := insertJobs(ctx, eng, n); err != nil {
		return err
	}
	fmt.Fprintf(out, "inserted %d jobs in %s (%.0f jobs/s)\n", n, time.Since(t0).Round(time.Millisecond), float64(n)/time.Since(t0).Seconds())
	start := time.Now()
	if err := eng.Start(ctx); err != nil {
		return err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	el := time.Since(start)
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = eng.Stop(stopCtx)
	counts, err := db.CountByStatus(ctx)
	if err != nil {
		return err
	}
	if counts[store.StatusFinished] != int64(n) {
		return fmt.Errorf("only %d of %d jobs finished in the database", counts[store.StatusFinished], n)
	}
	fmt.Fprintf(out, "burned down %d jobs in %s\njobs_per_sec=%.0f\n", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	return nil
}

func benchLatency(ctx context.Context, db *sqldb.DB, log *slog.Logger, rate int, dur time.Duration, out io.Writer) error {
	var mu sync.Mutex
	var lats []time.Duration
	total := int(float64(rate) * dur.Seconds())
	done := make(chan struct{})
	eng, err := engine.New(engine.Config{Store: db, Logger: log})
	if err != nil {
		return err
	}
	fn := func(ctx context.Context, r *engine.Run) (json.RawMessage, error) {
		var in struct {
			Data struct {
				Sent int64 `json:"sent"`
			} `json:"data"`
		}
		_ = json.Unmarshal(r.Job.Input, &in)
		d := time.Since(time.Unix(0, in.Data.Sent))
		mu.Lock()
		lats = append(lats, d)
		if len(lats) == total {
			close(done)
		}
		mu.Unlock()
		return nil, nil
	}
	if err := eng.Register(&engine.Function{ID: "probe", Retries: -1, Triggers: []engine.Trigger{{Event: "bench/probe"}}, Handler: fn}); err != nil {
		return err
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Stop(c)
	}()
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	for i := 0; i < total; i++ {
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		data := []byte(`{"sent":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}`)
		if _, err := eng.Send(ctx, []*store.Event{{Name: "bench/probe", Data: data}}); err != nil {
			return err
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("only %d of %d jobs started", len(lats), total)
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	p := func(q float64) time.Duration { return lats[int(q*float64(len(lats)-1))] }
	fmt.Fprintf(out, "jobs=%d rate=%d/s\nlatency_p50_ms=%.3f\nlatency_p99_ms=%.3f\nlatency_max_ms=%.3f\n",
		len(lats), rate, ms(p(0.5)), ms(p(0.99)), ms(lats[len(lats)-1]))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func benchMemory(ctx context.Context, db *sqldb.DB, log *slog.Logger, n int, out io.Writer) error {
	eng, err := engine.New(engine.Config{Store: db, Logger: log, Workers: 100})
	if err != nil {
		return err
	}
	slow := func(ctx context.Context, r *engine.Run) (json.RawMessage, error) {
		time.Sleep(10 * time.Millisecond)
		return nil, nil
	}
	if err := eng.Register(&engine.Function{ID: "noop", Retries: -1, Triggers: []engine.Trigger{{Event: "bench/noop"}}, Handler: slow}); err != nil {
		return err
	}
	if err := insertJobs(ctx, eng, n); err != nil {
		return err
	}
	before := rssMB()
	if err := eng.Start(ctx); err != nil {
		return err
	}
	var peak float64
	for i := 0; i < 20; i++ {
		time.Sleep(250 * time.Millisecond)
		peak = max(peak, rssMB())
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = eng.Stop(c)
	fmt.Fprintf(out, "waiting_jobs=%d rss_before_start_mb=%.1f rss_peak_working_mb=%.1f\n", n, before, peak)
	return nil
}

// rssMB reads the resident set size from /proc (Linux).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// benchFairness fills one user's backlog with n jobs, starts working, and
// then has 50 other users start one job each, measuring how long each
// waits from send to start.
func benchFairness(ctx context.Context, db *sqldb.DB, log *slog.Logger, n int, by string, out io.Writer) error {
	var mu sync.Mutex
	waits := map[string]time.Duration{}
	done := make(chan struct{})
	ecfg := engine.Config{Store: db, Logger: log, Workers: 100}
	fdef := &engine.Function{ID: "work", Retries: -1, Triggers: []engine.Trigger{{Event: "bench/work"}}}
	owner := func(u string) string { return "" }
	switch by {
	case "owner":
		ecfg.OwnerLimit = 10
		owner = func(u string) string { return u }
	case "key":
		fdef.Concurrency = []engine.Concurrency{{Limit: 1000, Key: "event.data.user"}}
	default:
		return fmt.Errorf("--by must be owner or key")
	}
	eng, err := engine.New(ecfg)
	if err != nil {
		return err
	}
	fn := func(ctx context.Context, r *engine.Run) (json.RawMessage, error) {
		var in struct {
			Data struct {
				User string `json:"user"`
				Sent int64  `json:"sent"`
			} `json:"data"`
		}
		_ = json.Unmarshal(r.Job.Input, &in)
		if in.Data.User != "big" {
			mu.Lock()
			waits[in.Data.User] = time.Since(time.Unix(0, in.Data.Sent))
			if len(waits) == 50 {
				close(done)
			}
			mu.Unlock()
		}
		time.Sleep(time.Millisecond)
		return nil, nil
	}
	fdef.Handler = fn
	if err := eng.Register(fdef); err != nil {
		return err
	}
	for sent := 0; sent < n; {
		batch := min(5000, n-sent)
		evs := make([]*store.Event, batch)
		for i := range evs {
			evs[i] = &store.Event{Name: "bench/work", Data: json.RawMessage(`{"user":"big"}`), Owner: owner("big")}
		}
		if _, err := eng.Send(ctx, evs); err != nil {
			return err
		}
		sent += batch
	}
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Stop(c)
	}()
	time.Sleep(time.Second) // the backlog is being worked through
	for i := 0; i < 50; i++ {
		data := fmt.Sprintf(`{"user":"u%d","sent":%d}`, i, time.Now().UnixNano())
		if _, err := eng.Send(ctx, []*store.Event{{Name: "bench/work", Data: json.RawMessage(data), Owner: owner(fmt.Sprintf("u%d", i))}}); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("only %d of 50 other users' jobs started within 60s", len(waits))
	}
	mu.Lock()
	lats := make([]time.Duration, 0, len(waits))
	for _, d := range waits {
		lats = append(lats, d)
	}
	mu.Unlock()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	counts, _ := db.CountByStatus(ctx)
	fmt.Fprintf(out, "by=%s backlog=%d still_waiting=%d other_users=50\nwait_p50_ms=%.3f\nwait_p99_ms=%.3f\nwait_max_ms=%.3f\n",
		by, n, counts[store.StatusWaiting], ms(lats[len(lats)/2]), ms(lats[int(0.99*float64(len(lats)-1))]), ms(lats[len(lats)-1]))
	return nil
}
