// Command river-bench reproduces `river bench -n N` with River's library, so
// errand's `errand bench` can be compared with River on the same machine and
// database in the same run. It lives in its own module so errand itself does
// not depend on River.
//
//	go run . --database-url postgres://... -n 200000
//	go run . --database-url postgres://... --mode latency --rate 200 [--tuned]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// NoopArgs is the job River runs.
type NoopArgs struct {
	Sent int64 `json:"sent"`
}

// Kind names the job kind.
func (NoopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[NoopArgs]
	mu   *sync.Mutex
	lats *[]time.Duration
}

func (w *noopWorker) Work(ctx context.Context, j *river.Job[NoopArgs]) error {
	if j.Args.Sent != 0 {
		d := time.Since(time.Unix(0, j.Args.Sent))
		w.mu.Lock()
		*w.lats = append(*w.lats, d)
		w.mu.Unlock()
	}
	return nil
}

func main() {
	dbURL := flag.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL; a new schema is used and dropped")
	n := flag.Int("n", 200_000, "jobs (throughput)")
	mode := flag.String("mode", "throughput", "throughput or latency")
	rate := flag.Int("rate", 200, "jobs per second (latency)")
	dur := flag.Duration("duration", 10*time.Second, "how long to send (latency)")
	tuned := flag.Bool("tuned", false, "latency with FetchCooldown 1ms")
	flag.Parse()
	if err := run(*dbURL, *mode, *n, *rate, *dur, *tuned); err != nil {
		fmt.Fprintln(os.Stderr, "river-bench:", err)
		os.Exit(1)
	}
}

func run(dbURL, mode string, n, rate int, dur time.Duration, tuned bool) error {
	ctx := context.Background()
	schema := fmt.Sprintf("river_bench_%d", rand.Uint32())
	admin, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return err
	}
	defer admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	u, _ := url.Parse(dbURL)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	var mu sync.Mutex
	var lats []time.Duration
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{mu: &mu, lats: &lats})
	cfg := &river.Config{Workers: workers, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2000}}}
	if mode == "throughput" {
		cfg.FetchCooldown, cfg.FetchPollInterval = 2*time.Millisecond, 20*time.Millisecond
	} else if tuned {
		cfg.FetchCooldown = time.Millisecond
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return err
	}
	if mode == "latency" {
		if err := client.Start(ctx); err != nil {
			return err
		}
		total := int(float64(rate) * dur.Seconds())
		next := time.Now()
		for i := 0; i < total; i++ {
			time.Sleep(time.Until(next))
			next = next.Add(time.Second / time.Duration(rate))
			if _, err := client.Insert(ctx, NoopArgs{Sent: time.Now().UnixNano()}, nil); err != nil {
				return err
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			got := len(lats)
			mu.Unlock()
			if got >= total || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = client.Stop(ctx)
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		fmt.Printf("jobs=%d rate=%d/s tuned=%v\nlatency_p50_ms=%.3f\nlatency_p99_ms=%.3f\n", len(lats), rate, tuned,
			ms(lats[len(lats)/2]), ms(lats[int(0.99*float64(len(lats)-1))]))
		return nil
	}
	t0 := time.Now()
	for sent := 0; sent < n; {
		batch := min(5000, n-sent)
		params := make([]river.InsertManyParams, batch)
		for i := range params {
			params[i] = river.InsertManyParams{Args: NoopArgs{}}
		}
		if _, err := client.InsertManyFast(ctx, params); err != nil {
			return err
		}
		sent += batch
	}
	fmt.Printf("inserted %d jobs in %s\n", n, time.Since(t0).Round(time.Millisecond))
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return err
	}
	for {
		var done int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&done); err != nil {
			return err
		}
		if done >= n {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	el := time.Since(start)
	_ = client.Stop(ctx)
	fmt.Printf("burned down %d jobs in %s\njobs_per_sec=%.0f\n", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	return nil
}
