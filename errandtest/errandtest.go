// Package errandtest helps test code that uses errand: it starts an
// embedded client on a throwaway SQLite database with fast retries, stops
// it when the test ends, and waits for jobs without sleeping blindly.
package errandtest

import (
	"context"
	"testing"
	"time"

	"github.com/errand-dev/errand"
)

// New starts an embedded client running fns on a fresh SQLite database in
// t.TempDir(). Retries wait 10ms instead of seconds.
func New(t testing.TB, fns ...*errand.Function) *errand.Client {
	t.Helper()
	return Start(t, &errand.Config{Functions: fns})
}

// Start is New with a configuration; empty DataDir and Backoff get test
// defaults.
func Start(t testing.TB, cfg *errand.Config) *errand.Client {
	t.Helper()
	if cfg.DataDir == "" && cfg.DatabaseURL == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	ctx := context.Background()
	c, err := errand.NewClient(ctx, cfg)
	if err != nil {
		t.Fatalf("errandtest: %v", err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("errandtest: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// WaitJob waits up to 30s for a job to end and returns it.
func WaitJob(t testing.TB, c *errand.Client, id string) *errand.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := c.WaitJob(ctx, id)
	if err != nil {
		t.Fatalf("errandtest: job %s did not end: %v (last seen %+v)", id, err, j)
	}
	return j
}

// SendAndWait sends one event and waits for the one job it starts.
func SendAndWait(t testing.TB, c *errand.Client, ev errand.Sendable) *errand.Job {
	t.Helper()
	ctx := context.Background()
	ids, err := c.Send(ctx, ev)
	if err != nil {
		t.Fatalf("errandtest: send: %v", err)
	}
	jobs, err := c.JobsForEvent(ctx, ids[0])
	if err != nil || len(jobs) != 1 {
		t.Fatalf("errandtest: event %s started %d jobs (%v), want 1", ids[0], len(jobs), err)
	}
	return WaitJob(t, c, jobs[0])
}
