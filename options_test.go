package errand_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
)

func TestPriorityRunsFirst(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		gate := make(chan struct{})
		var mu sync.Mutex
		var order []string
		fn := errand.NewFunction(errand.FunctionOpts{ID: "prio", Priority: `event.data.vip ? 100 : 0`}, errand.OnEvent("app/prio"),
			func(ctx context.Context, in errand.Input[map[string]any]) (string, error) {
				select { // a failed test's cleanup cancels, and must not hang
				case <-gate:
				case <-ctx.Done():
					return "", ctx.Err()
				}
				mu.Lock()
				order = append(order, in.Event.Data["name"].(string))
				mu.Unlock()
				return "", nil
			})
		c := start(&errand.Config{Functions: []*errand.Function{fn}, Workers: 1})
		first, _ := c.Send(bg, errand.Event[map[string]any]{Name: "app/prio", Data: map[string]any{"name": "first", "vip": false}})
		jobs, _ := c.JobsForEvent(bg, first[0])
		waitStatus(t, c, jobs[0], errand.StatusRunning) // holds the only worker
		var evs []errand.Sendable
		for _, n := range []string{"low1", "low2", "vip", "low3"} {
			evs = append(evs, errand.Event[map[string]any]{Name: "app/prio", Data: map[string]any{"name": n, "vip": n == "vip"}})
		}
		ids, _ := c.Send(bg, evs...)
		close(gate)
		for _, id := range ids {
			js, _ := c.JobsForEvent(bg, id)
			errandtest.WaitJob(t, c, js[0])
		}
		mu.Lock()
		defer mu.Unlock()
		if len(order) != 5 || order[1] != "vip" {
			t.Fatalf("ran in order %v; the vip job should run right after the first", order)
		}
	})
}

func TestTimeouts(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		slow := errand.NewFunction(errand.FunctionOpts{ID: "slow", TimeoutFinish: 200 * time.Millisecond}, errand.OnEvent("app/slow"),
			func(ctx context.Context, in errand.Input[struct{}]) (string, error) {
				<-ctx.Done()
				return "", ctx.Err()
			})
		c := start(&errand.Config{Functions: []*errand.Function{slow}})
		j := errandtest.SendAndWait(t, c, errand.Event[struct{}]{Name: "app/slow"})
		if j.Status != errand.StatusCancelled || j.Error == nil || j.Error.Code != "timeout" {
			t.Fatalf("finish timeout: %+v %+v", j, j.Error)
		}
	})
}

func TestRateLimitAndDebounce(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		noop := func(ctx context.Context, in errand.Input[map[string]string]) (string, error) {
			return in.Event.Data["v"], nil
		}
		limited := errand.NewFunction(errand.FunctionOpts{ID: "limited", RateLimit: &errand.RateLimit{Limit: 2, Period: time.Hour, Key: "event.data.user"}},
			errand.OnEvent("app/limited"), noop)
		debounced := errand.NewFunction(errand.FunctionOpts{ID: "debounced", Debounce: &errand.Debounce{Period: time.Second, Key: "event.data.user"}},
			errand.OnEvent("app/typed"), noop)
		c := start(&errand.Config{Functions: []*errand.Function{limited, debounced}})
		var evs []errand.Sendable
		for i, u := range []string{"a", "a", "a", "b"} {
			evs = append(evs, errand.Event[map[string]string]{Name: "app/limited", Data: map[string]string{"user": u, "v": string(rune('0' + i))}})
		}
		if _, err := c.Send(bg, evs...); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(bg, errand.Event[map[string]string]{Name: "app/limited", Data: map[string]string{"user": "a"}}); err != nil {
			t.Fatal(err)
		}
		page, _ := c.Jobs(bg, errand.JobsFilter{Function: "limited"})
		if len(page.Jobs) != 3 {
			t.Fatalf("rate limit 2 per user: %d jobs, want 3 (a, a, b)", len(page.Jobs))
		}
		// Three keystrokes of one user make one job, with the last event.
		for _, v := range []string{"h", "he", "hel"} {
			if _, err := c.Send(bg, errand.Event[map[string]string]{Name: "app/typed", Data: map[string]string{"user": "a", "v": v}}); err != nil {
				t.Fatal(err)
			}
		}
		page, _ = c.Jobs(bg, errand.JobsFilter{Function: "debounced"})
		if len(page.Jobs) != 1 {
			t.Fatalf("debounce made %d jobs, want 1", len(page.Jobs))
		}
		if j := errandtest.WaitJob(t, c, page.Jobs[0].ID); j.Status != errand.StatusFinished || string(j.Output) != `"hel"` {
			t.Fatalf("debounced job %+v output %s", j, j.Output)
		}
	})
}

// A throttle of 2 per hour starts two jobs and holds the third back.
func TestThrottleHoldsStarts(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		fn := errand.NewFunction(errand.FunctionOpts{ID: "throttled", Throttle: &errand.Throttle{Limit: 2, Period: time.Hour}},
			errand.OnEvent("app/throttled"),
			func(ctx context.Context, in errand.Input[struct{}]) (string, error) { return "ok", nil })
		c := start(&errand.Config{Functions: []*errand.Function{fn}})
		ids, err := c.Send(bg, errand.Event[struct{}]{Name: "app/throttled"}, errand.Event[struct{}]{Name: "app/throttled"},
			errand.Event[struct{}]{Name: "app/throttled"})
		if err != nil {
			t.Fatal(err)
		}
		finished := 0
		var held string
		for _, id := range ids {
			js, _ := c.JobsForEvent(bg, id)
			j, _ := c.Job(bg, js[0])
			for i := 0; i < 200 && j.Status != errand.StatusFinished; i++ {
				time.Sleep(10 * time.Millisecond)
				if j, _ = c.Job(bg, js[0]); j.Status == errand.StatusWaiting && i > 50 {
					break
				}
			}
			if j.Status == errand.StatusFinished {
				finished++
			} else {
				held = j.ID
			}
		}
		if finished != 2 || held == "" {
			t.Fatalf("%d jobs finished under a throttle of 2 per hour (want 2, one held)", finished)
		}
		if j, _ := c.Job(bg, held); j.Status != errand.StatusWaiting || j.StartedAt != nil {
			t.Fatalf("held job %+v", j)
		}
	})
}

func TestBatchEvents(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		fn := errand.NewFunction(errand.FunctionOpts{ID: "batched", Batch: &errand.Batch{MaxSize: 3, Timeout: time.Hour}},
			errand.OnEvent("app/item"),
			func(ctx context.Context, in errand.Input[map[string]int]) (int, error) {
				sum := 0
				for _, e := range in.Events {
					sum += e.Data["n"]
				}
				return sum, nil
			})
		c := start(&errand.Config{Functions: []*errand.Function{fn}})
		// Two events in one call and one in another make one full batch;
		// a fourth starts a new batch that waits for more.
		if _, err := c.Send(bg, errand.Event[map[string]int]{Name: "app/item", Data: map[string]int{"n": 1}},
			errand.Event[map[string]int]{Name: "app/item", Data: map[string]int{"n": 2}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(bg, errand.Event[map[string]int]{Name: "app/item", Data: map[string]int{"n": 4}},
			errand.Event[map[string]int]{Name: "app/item", Data: map[string]int{"n": 8}}); err != nil {
			t.Fatal(err)
		}
		page, _ := c.Jobs(bg, errand.JobsFilter{Function: "batched"})
		if len(page.Jobs) != 2 {
			t.Fatalf("%d batch jobs, want 2", len(page.Jobs))
		}
		full := page.Jobs[1] // oldest first in this list's reverse order
		if j := errandtest.WaitJob(t, c, full.ID); string(j.Output) != "7" {
			t.Fatalf("full batch summed %s, want 7", j.Output)
		}
		if j, _ := c.Job(bg, page.Jobs[0].ID); j.Status != errand.StatusWaiting {
			t.Fatalf("the second batch should wait for more events: %+v", j)
		}
	})
}
