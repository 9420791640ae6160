package errand_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
)

// A user with a big backlog must not hold up another user's job: the
// newcomer's partition gets the next turn, so only the jobs already in
// flight run before it. (How long it waits is measured by
// `errand bench --mode fairness`, not asserted here.)
func TestFairnessAcrossKeys(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		var mu sync.Mutex
		var order []string
		gate := make(chan struct{})
		fn := errand.NewFunction(errand.FunctionOpts{ID: "fair", Concurrency: []errand.Concurrency{{Limit: 100, Key: "event.data.user"}}},
			errand.OnEvent("app/fair"),
			func(ctx context.Context, in errand.Input[map[string]string]) (struct{}, error) {
				select { // a failed test's cleanup cancels, and must not hang
				case <-gate:
				case <-ctx.Done():
					return struct{}{}, ctx.Err()
				}
				mu.Lock()
				order = append(order, in.Event.Data["user"])
				mu.Unlock()
				time.Sleep(time.Millisecond)
				return struct{}{}, nil
			})
		const workers = 4
		c := start(&errand.Config{Functions: []*errand.Function{fn}, Workers: workers})
		var evs []errand.Sendable
		for i := 0; i < 2000; i++ {
			evs = append(evs, errand.Event[map[string]string]{Name: "app/fair", Data: map[string]string{"user": "big"}})
		}
		if _, err := c.Send(bg, evs...); err != nil {
			t.Fatal(err)
		}
		ids, err := c.Send(bg, errand.Event[map[string]string]{Name: "app/fair", Data: map[string]string{"user": "small"}})
		if err != nil {
			t.Fatal(err)
		}
		close(gate)
		jobs, _ := c.JobsForEvent(bg, ids[0])
		errandtest.WaitJob(t, c, jobs[0])
		mu.Lock()
		defer mu.Unlock()
		before := 0
		for _, u := range order {
			if u == "small" {
				break
			}
			before++
		}
		if before > 2*workers {
			t.Fatalf("%d backlog jobs ran before the other user's job; want at most %d (those in flight)", before, 2*workers)
		}
	})
}
