package errand_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
	"github.com/errand-dev/errand/internal/store/storetest"
)

var bg = context.Background()

type Hello struct {
	Name string `json:"name"`
}

// each runs fn against an embedded client on every store kind.
func each(t *testing.T, fn func(t *testing.T, start func(cfg *errand.Config) *errand.Client)) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			fn(t, func(cfg *errand.Config) *errand.Client {
				if kind == "postgres" {
					cfg.DatabaseURL = storetest.FreshSchemaURL(t)
				}
				return errandtest.Start(t, cfg)
			})
		})
	}
}

func fns(f ...*errand.Function) *errand.Config { return &errand.Config{Functions: f} }

func TestHelloAndDedupe(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		hello := errand.NewFunction(errand.FunctionOpts{ID: "hello"}, errand.OnEvent("app/hello"),
			func(ctx context.Context, in errand.Input[Hello]) (string, error) {
				return "Hello, " + in.Event.Data.Name + "!", nil
			})
		c := start(fns(hello))
		j := errandtest.SendAndWait(t, c, errand.Event[Hello]{ID: "fixed-id", Name: "app/hello", Data: Hello{Name: "Ada"}})
		if j.Status != errand.StatusFinished || string(j.Output) != `"Hello, Ada!"` || j.StartedAt == nil || j.EndedAt == nil ||
			j.Progress != 1 || j.StartedAt.Before(j.CreatedAt) || j.EndedAt.Before(*j.StartedAt) {
			t.Fatalf("job %+v", j)
		}
		// The same id again triggers nothing.
		if _, err := c.Send(bg, errand.Event[Hello]{ID: "fixed-id", Name: "app/hello", Data: Hello{Name: "Bob"}}); err != nil {
			t.Fatal(err)
		}
		jobs, _ := c.JobsForEvent(bg, "fixed-id")
		if len(jobs) != 1 {
			t.Fatalf("duplicate event started %d jobs", len(jobs))
		}
	})
}

func TestTriggerExpression(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		pro := errand.NewFunction(errand.FunctionOpts{ID: "pro"}, errand.Trigger{Event: "app/signup", If: `event.data.plan == "pro"`},
			func(ctx context.Context, in errand.Input[map[string]string]) (string, error) { return "pro", nil })
		c := start(fns(pro))
		ids, err := c.Send(bg, errand.Event[map[string]string]{Name: "app/signup", Data: map[string]string{"plan": "free"}},
			errand.Event[map[string]string]{Name: "app/signup", Data: map[string]string{"plan": "pro"}})
		if err != nil {
			t.Fatal(err)
		}
		free, _ := c.JobsForEvent(bg, ids[0])
		paid, _ := c.JobsForEvent(bg, ids[1])
		if len(free) != 0 || len(paid) != 1 {
			t.Fatalf("free started %d, pro started %d", len(free), len(paid))
		}
	})
}

func TestStepsAreMemoizedAcrossRetries(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		var stepRuns, attempts atomic.Int32
		fn := errand.NewFunction(errand.FunctionOpts{ID: "flaky"}, errand.OnEvent("app/flaky"),
			func(ctx context.Context, in errand.Input[struct{}]) (int, error) {
				a, err := errand.Run(ctx, "expensive", func(ctx context.Context) (int, error) {
					stepRuns.Add(1)
					return 40, nil
				})
				if err != nil {
					return 0, err
				}
				if attempts.Add(1) < 3 {
					return 0, errors.New("transient")
				}
				if err := errand.Progress(ctx, 0.5, "half way"); err != nil {
					return 0, err
				}
				return a + 2, nil
			})
		c := start(fns(fn))
		j := errandtest.SendAndWait(t, c, errand.Event[struct{}]{Name: "app/flaky"})
		if j.Status != errand.StatusFinished || string(j.Output) != "42" {
			t.Fatalf("job %+v", j)
		}
		if stepRuns.Load() != 1 || attempts.Load() != 3 {
			t.Fatalf("step ran %d times over %d attempts; want 1 over 3", stepRuns.Load(), attempts.Load())
		}
		steps, err := c.Steps(bg, j.ID)
		if err != nil || len(steps) != 1 || steps[0].Name != "expensive" || string(steps[0].Output) != "40" {
			t.Fatalf("steps %+v %v", steps, err)
		}
		if j.ProgressMessage != "half way" {
			t.Fatalf("progress message %q", j.ProgressMessage)
		}
	})
}

func TestFailureRunsOnFailure(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		var attempts atomic.Int32
		failed := make(chan errand.FailedData, 1)
		fn := errand.NewFunction(errand.FunctionOpts{ID: "doomed", Retries: errand.Ptr(2),
			OnFailure: func(ctx context.Context, in errand.Input[errand.FailedData]) error {
				failed <- in.Event.Data
				return nil
			}}, errand.OnEvent("app/doomed"),
			func(ctx context.Context, in errand.Input[struct{}]) (struct{}, error) {
				attempts.Add(1)
				return struct{}{}, errors.New("always broken")
			})
		c := start(fns(fn))
		j := errandtest.SendAndWait(t, c, errand.Event[struct{}]{Name: "app/doomed"})
		if j.Status != errand.StatusFailed || j.Error == nil || j.Error.Message != "always broken" || attempts.Load() != 3 {
			t.Fatalf("job %+v after %d attempts (want failed after 3)", j, attempts.Load())
		}
		select {
		case d := <-failed:
			if d.RunID != j.ID || d.FunctionID != "doomed" || d.Error.Message != "always broken" {
				t.Fatalf("failure data %+v", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("onFailure did not run")
		}
	})
}

func TestNonRetriableFailsAtOnce(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		var attempts atomic.Int32
		fn := errand.NewFunction(errand.FunctionOpts{ID: "nr"}, errand.OnEvent("app/nr"),
			func(ctx context.Context, in errand.Input[struct{}]) (struct{}, error) {
				attempts.Add(1)
				return struct{}{}, errand.NonRetriable(errors.New("bad input"))
			})
		c := start(fns(fn))
		j := errandtest.SendAndWait(t, c, errand.Event[struct{}]{Name: "app/nr"})
		if j.Status != errand.StatusFailed || attempts.Load() != 1 || j.Error.Name != "NonRetriableError" {
			t.Fatalf("job %+v after %d attempts", j, attempts.Load())
		}
	})
}

func TestSleepWaitSendInvoke(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		double := errand.NewFunction(errand.FunctionOpts{ID: "double"}, errand.OnEvent("app/never"),
			func(ctx context.Context, in errand.Input[map[string]int]) (int, error) {
				return in.Event.Data["n"] * 2, nil
			})
		var sleeps atomic.Int32
		flow := errand.NewFunction(errand.FunctionOpts{ID: "flow"}, errand.OnEvent("app/order"),
			func(ctx context.Context, in errand.Input[map[string]string]) (map[string]any, error) {
				sleeps.Add(1)
				if err := errand.Sleep(ctx, "nap", 50*time.Millisecond); err != nil {
					return nil, err
				}
				if _, err := errand.SendEvent(ctx, "notify", errand.Event[map[string]string]{Name: "app/ready", Data: in.Event.Data}); err != nil {
					return nil, err
				}
				paid, err := errand.WaitForEvent[map[string]string](ctx, "paid", errand.WaitOpts{Event: "app/paid",
					If: "async.data.order == event.data.order", Timeout: time.Minute})
				if err != nil {
					return nil, err
				}
				none, err := errand.WaitForEvent[map[string]string](ctx, "never", errand.WaitOpts{Event: "app/nope", Timeout: 30 * time.Millisecond})
				if err != nil {
					return nil, err
				}
				d, err := errand.Invoke[int](ctx, "double", double, map[string]int{"n": 21}, nil)
				if err != nil {
					return nil, err
				}
				return map[string]any{"paid_by": paid.Data["by"], "timed_out": none == nil, "double": d}, nil
			})
		c := start(fns(double, flow))
		ids, err := c.Send(bg, errand.Event[map[string]string]{Name: "app/order", Data: map[string]string{"order": "o1"}})
		if err != nil {
			t.Fatal(err)
		}
		jobs, _ := c.JobsForEvent(bg, ids[0])
		// Wait until the job is parked on the "paid" event.
		deadline := time.Now().Add(20 * time.Second)
		for {
			steps, err := c.Steps(bg, jobs[0])
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) >= 3 && steps[2].Name == "paid" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job never reached the wait: %+v", steps)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := c.Send(bg, errand.Event[map[string]string]{Name: "app/paid", Data: map[string]string{"order": "other", "by": "x"}},
			errand.Event[map[string]string]{Name: "app/paid", Data: map[string]string{"order": "o1", "by": "card"}}); err != nil {
			t.Fatal(err)
		}
		j := errandtest.WaitJob(t, c, jobs[0])
		var out map[string]any
		_ = json.Unmarshal(j.Output, &out)
		if j.Status != errand.StatusFinished || fmt.Sprint(out) != `map[double:42 paid_by:card timed_out:true]` {
			t.Fatalf("job %+v output %s", j, j.Output)
		}
		steps, _ := c.Steps(bg, j.ID)
		var kinds []string
		for _, s := range steps {
			kinds = append(kinds, s.Kind+":"+s.Status)
		}
		if fmt.Sprint(kinds) != "[sleep:done sendEvent:done waitForEvent:done waitForEvent:done invoke:done]" {
			t.Fatalf("steps %v", kinds)
		}
		if sleeps.Load() < 4 {
			t.Fatalf("function ran %d times; each suspension should end an execution", sleeps.Load())
		}
		ready, _ := c.Jobs(bg, errand.JobsFilter{Function: "double"})
		if len(ready.Jobs) != 1 || ready.Jobs[0].ParentJobID != j.ID {
			t.Fatalf("invoked jobs %+v", ready.Jobs)
		}
	})
}

func TestCancel(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		started := make(chan string, 10)
		blocker := errand.NewFunction(errand.FunctionOpts{ID: "block",
			CancelOn: []errand.CancelOn{{Event: "app/stop", If: "async.data.id == event.data.id"}}},
			errand.OnEvent("app/block"),
			func(ctx context.Context, in errand.Input[map[string]string]) (struct{}, error) {
				if err := errand.Sleep(ctx, "first", 10*time.Millisecond); err != nil {
					return struct{}{}, err
				}
				started <- in.Event.Data["id"]
				<-ctx.Done()
				return struct{}{}, ctx.Err()
			})
		c := start(fns(blocker))
		ids, _ := c.Send(bg, errand.Event[map[string]string]{Name: "app/block", Data: map[string]string{"id": "a"}},
			errand.Event[map[string]string]{Name: "app/block", Data: map[string]string{"id": "b"}})
		ja, _ := c.JobsForEvent(bg, ids[0])
		jb, _ := c.JobsForEvent(bg, ids[1])
		<-started
		<-started
		// By the API, while running: the context is cancelled.
		if _, err := c.Cancel(bg, ja[0]); err != nil {
			t.Fatal(err)
		}
		if j := errandtest.WaitJob(t, c, ja[0]); j.Status != errand.StatusCancelled {
			t.Fatalf("job a %+v", j)
		}
		// By a matching event.
		if _, err := c.Send(bg, errand.Event[map[string]string]{Name: "app/stop", Data: map[string]string{"id": "b"}}); err != nil {
			t.Fatal(err)
		}
		if j := errandtest.WaitJob(t, c, jb[0]); j.Status != errand.StatusCancelled || j.EndedAt == nil {
			t.Fatalf("job b %+v", j)
		}
		if _, err := c.Cancel(bg, "no-such-job"); !errors.Is(err, errand.ErrNotFound) {
			t.Fatalf("cancel unknown: %v", err)
		}
	})
}

func TestConcurrencyKeyLimit(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		var mu sync.Mutex
		running, peak := map[string]int{}, map[string]int{}
		total, peakTotal := 0, 0
		fn := errand.NewFunction(errand.FunctionOpts{ID: "limited",
			Concurrency: []errand.Concurrency{{Limit: 3}, {Limit: 1, Key: "event.data.user"}}},
			errand.OnEvent("app/work"),
			func(ctx context.Context, in errand.Input[map[string]string]) (struct{}, error) {
				u := in.Event.Data["user"]
				mu.Lock()
				running[u]++
				total++
				peak[u] = max(peak[u], running[u])
				peakTotal = max(peakTotal, total)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
				mu.Lock()
				running[u]--
				total--
				mu.Unlock()
				return struct{}{}, nil
			})
		c := start(fns(fn))
		var evs []errand.Sendable
		for i := 0; i < 40; i++ {
			evs = append(evs, errand.Event[map[string]string]{Name: "app/work", Data: map[string]string{"user": fmt.Sprint("u", i%5)}})
		}
		ids, err := c.Send(bg, evs...)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			js, _ := c.JobsForEvent(bg, id)
			errandtest.WaitJob(t, c, js[0])
		}
		mu.Lock()
		defer mu.Unlock()
		for u, p := range peak {
			if p != 1 {
				t.Errorf("user %s had %d jobs running at once, limit 1", u, p)
			}
		}
		if peakTotal > 3 || peakTotal < 2 {
			t.Errorf("peak total %d, want 2..3 (limit 3)", peakTotal)
		}
	})
}

func TestIdempotency(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		fn := errand.NewFunction(errand.FunctionOpts{ID: "charge", Idempotency: "event.data.order"}, errand.OnEvent("app/charge"),
			func(ctx context.Context, in errand.Input[map[string]string]) (struct{}, error) {
				return struct{}{}, nil
			})
		c := start(fns(fn))
		ids, _ := c.Send(bg, errand.Event[map[string]string]{Name: "app/charge", Data: map[string]string{"order": "1"}},
			errand.Event[map[string]string]{Name: "app/charge", Data: map[string]string{"order": "1"}})
		a, _ := c.JobsForEvent(bg, ids[0])
		b, _ := c.JobsForEvent(bg, ids[1])
		if len(a)+len(b) != 1 {
			t.Fatalf("same idempotency key started %d jobs", len(a)+len(b))
		}
	})
}

func TestCron(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		ran := make(chan struct{}, 10)
		fn := errand.NewFunction(errand.FunctionOpts{ID: "tick"}, errand.OnCron("@every 1s"),
			func(ctx context.Context, in errand.Input[map[string]string]) (string, error) {
				ran <- struct{}{}
				return in.Event.Data["cron"], nil
			})
		start(fns(fn))
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Fatal("cron function did not run within 5s")
		}
	})
}

func TestStepToolsOutsideAJob(t *testing.T) {
	if _, err := errand.Run(bg, "x", func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, errand.ErrNotInJob) {
		t.Fatalf("Run outside a job: %v", err)
	}
	if err := errand.Progress(bg, 0.5, ""); !errors.Is(err, errand.ErrNotInJob) {
		t.Fatalf("Progress outside a job: %v", err)
	}
}

func TestInvalidFunctions(t *testing.T) {
	c, err := errand.NewClient(bg, &errand.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	noop := func(ctx context.Context, in errand.Input[struct{}]) (struct{}, error) { return struct{}{}, nil }
	for name, f := range map[string]*errand.Function{
		"bad cron": errand.NewFunction(errand.FunctionOpts{ID: "a"}, errand.OnCron("every tuesday"), noop),
		"bad CEL":  errand.NewFunction(errand.FunctionOpts{ID: "b"}, errand.Trigger{Event: "x", If: "event.data.=="}, noop),
		"no id":    errand.NewFunction(errand.FunctionOpts{}, errand.OnEvent("x"), noop),
		"3 keys": errand.NewFunction(errand.FunctionOpts{ID: "c", Concurrency: []errand.Concurrency{{Limit: 1, Key: "event.data.a"},
			{Limit: 1, Key: "event.data.b"}, {Limit: 1, Key: "event.data.c"}}}, errand.OnEvent("x"), noop),
		"retries": errand.NewFunction(errand.FunctionOpts{ID: "d", Retries: errand.Ptr(99)}, errand.OnEvent("x"), noop),
	} {
		if err := c.Register(f); err == nil {
			t.Errorf("%s: registered without error", name)
		}
	}
	if _, err := c.Send(bg, errand.Event[struct{}]{Name: ""}); err == nil {
		t.Error("empty event name accepted")
	}
	if _, err := c.Send(bg, errand.Event[struct{}]{Name: "errand/function.failed"}); err == nil {
		t.Error("reserved event name accepted")
	}
}

func TestStopDrainsOrReleases(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		started := make(chan string, 4)
		var slowRuns atomic.Int32
		fn := errand.NewFunction(errand.FunctionOpts{ID: "slow"}, errand.OnEvent("app/slow"),
			func(ctx context.Context, in errand.Input[map[string]bool]) (string, error) {
				slowRuns.Add(1)
				started <- in.Job.ID
				if in.Event.Data["stuck"] && in.Job.Attempt == 0 && slowRuns.Load() <= 2 {
					<-ctx.Done() // only a shutdown ends this attempt
					return "", ctx.Err()
				}
				time.Sleep(100 * time.Millisecond)
				return "done", nil
			})
		cfg := &errand.Config{Functions: []*errand.Function{fn}}
		c := start(cfg)
		ids, _ := c.Send(bg, errand.Event[map[string]bool]{Name: "app/slow"})
		<-started
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		jobs, _ := c.JobsForEvent(bg, ids[0])
		if j, _ := c.Job(bg, jobs[0]); j.Status != errand.StatusFinished {
			t.Fatalf("Stop did not drain the running job: %+v", j)
		}
		// A job that does not finish in time is released, not failed, and
		// runs again in the next process with its attempt unchanged.
		c2 := start(cfg)
		ids, _ = c2.Send(bg, errand.Event[map[string]bool]{Name: "app/slow", Data: map[string]bool{"stuck": true}})
		<-started
		short, cancel2 := context.WithTimeout(bg, 200*time.Millisecond)
		defer cancel2()
		_ = c2.Stop(short)
		jobs, _ = c2.JobsForEvent(bg, ids[0])
		j, _ := c2.Job(bg, jobs[0])
		if j.Status != errand.StatusRunning || j.Attempt != 0 || j.EndedAt != nil {
			t.Fatalf("released job: %+v", j)
		}
		// The next process on the same database picks it up.
		c3 := errandtest.Start(t, &errand.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, Functions: cfg.Functions})
		if j := errandtest.WaitJob(t, c3, jobs[0]); j.Status != errand.StatusFinished {
			t.Fatalf("released job did not finish elsewhere: %+v", j)
		}
	})
}
