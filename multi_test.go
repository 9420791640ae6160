package errand_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
	"github.com/errand-dev/errand/internal/store/storetest"
)

// Two errand processes on one PostgreSQL share the work, and no job runs
// in both.
func TestProcessesShareOnePostgres(t *testing.T) {
	url := storetest.FreshSchemaURL(t)
	var mu sync.Mutex
	runs := map[string]int{}
	byProc := map[string]int{}
	mk := func(proc string) *errand.Function {
		return errand.NewFunction(errand.FunctionOpts{ID: "shared"}, errand.OnEvent("app/shared"),
			func(ctx context.Context, in errand.Input[map[string]int]) (int, error) {
				mu.Lock()
				runs[in.Job.ID]++
				byProc[proc]++
				mu.Unlock()
				_, err := errand.Run(ctx, "work", func(ctx context.Context) (int, error) { return in.Event.Data["i"], nil })
				return in.Event.Data["i"], err
			})
	}
	a := errandtest.Start(t, &errand.Config{DatabaseURL: url, Workers: 8, Functions: []*errand.Function{mk("a")}})
	b := errandtest.Start(t, &errand.Config{DatabaseURL: url, Workers: 8, Functions: []*errand.Function{mk("b")}})
	var evs []errand.Sendable
	for i := 0; i < 300; i++ {
		evs = append(evs, errand.Event[map[string]int]{Name: "app/shared", Data: map[string]int{"i": i}})
	}
	ids, err := a.Send(bg, evs[:150]...)
	if err != nil {
		t.Fatal(err)
	}
	more, err := b.Send(bg, evs[150:]...)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range append(ids, more...) {
		jobs, _ := a.JobsForEvent(bg, id)
		if len(jobs) != 1 {
			t.Fatalf("event %s: %d jobs", id, len(jobs))
		}
		if j := errandtest.WaitJob(t, b, jobs[0]); j.Status != errand.StatusFinished {
			t.Fatalf("job %+v", j)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range runs {
		if n != 1 {
			t.Errorf("job %s ran %d times", id, n)
		}
	}
	if len(runs) != 300 || byProc["a"] == 0 || byProc["b"] == 0 {
		t.Fatalf("%d jobs ran; a ran %d, b ran %d: both processes should work", len(runs), byProc["a"], byProc["b"])
	}
}

// The SDK's remote mode talks to an errand server over HTTP.
func TestRemoteClient(t *testing.T) {
	hello := errand.NewFunction(errand.FunctionOpts{ID: "hello"}, errand.OnEvent("app/hello"),
		func(ctx context.Context, in errand.Input[Hello]) (string, error) {
			if _, err := errand.Run(ctx, "greet", func(context.Context) (int, error) { return 1, nil }); err != nil {
				return "", err
			}
			return "Hello, " + in.Event.Data.Name + "!", nil
		})
	server := errandtest.Start(t, &errand.Config{Functions: []*errand.Function{hello}, JWTSecret: jwtSecret, EventKey: "ek"})
	srv := httptest.NewServer(server.Handler())
	defer srv.Close()
	_, service, _ := server.APIKeys()
	remote, err := errand.NewClient(bg, &errand.Config{URL: srv.URL, EventKey: "ek", APIKey: service})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := remote.Send(bg, errand.Event[Hello]{Name: "app/hello", Data: Hello{Name: "Ada"}})
	if err != nil || len(ids) != 1 {
		t.Fatalf("send: %v %v", ids, err)
	}
	page, err := remote.Jobs(bg, errand.JobsFilter{Function: "hello"})
	if err != nil || len(page.Jobs) != 1 {
		t.Fatalf("jobs: %+v %v", page, err)
	}
	j, err := remote.WaitJob(bg, page.Jobs[0].ID)
	if err != nil || string(j.Output) != `"Hello, Ada!"` {
		t.Fatalf("job %+v %v", j, err)
	}
	steps, err := remote.Steps(bg, j.ID)
	if err != nil || len(steps) != 1 || steps[0].Name != "greet" {
		t.Fatalf("steps %+v %v", steps, err)
	}
	if _, err := remote.Job(bg, "nope"); err != errand.ErrNotFound {
		t.Fatalf("missing job: %v", err)
	}
	if j, err := remote.Cancel(bg, j.ID); err != nil || j.Status != errand.StatusFinished {
		t.Fatalf("cancel of a finished job: %+v %v", j, err)
	}
	bad, _ := errand.NewClient(bg, &errand.Config{URL: srv.URL, EventKey: "wrong"})
	_, err = bad.Send(bg, errand.Event[Hello]{Name: "app/hello"})
	var apiErr *errand.APIError
	if !asAPIError(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != "event_key_invalid" {
		t.Fatalf("wrong event key: %v", err)
	}
	if err := remote.Start(bg); err == nil {
		t.Fatal("a remote client started workers")
	}
}

func asAPIError(err error, target **errand.APIError) bool { return errors.As(err, target) }

// A process without a function leaves its jobs to the process that has it.
func TestProcessWithoutTheFunctionLeavesItsJobs(t *testing.T) {
	dir := t.TempDir()
	empty := errandtest.Start(t, &errand.Config{DataDir: dir})
	fn := errand.NewFunction(errand.FunctionOpts{ID: "only-here"}, errand.OnEvent("app/x"),
		func(ctx context.Context, in errand.Input[struct{}]) (string, error) { return "ran", nil })
	ids, err := empty.Send(bg, errand.Event[struct{}]{Name: "app/x"}) // no process knows it yet: no job
	if err != nil {
		t.Fatal(err)
	}
	if jobs, _ := empty.JobsForEvent(bg, ids[0]); len(jobs) != 0 {
		t.Fatalf("a job for an unknown function: %v", jobs)
	}
	owner := errandtest.Start(t, &errand.Config{DataDir: dir, Functions: []*errand.Function{fn}})
	_ = owner
	for i := 0; i < 5; i++ {
		ids, err = empty.Send(bg, errand.Event[struct{}]{Name: "app/x"})
		if err != nil {
			t.Fatal(err)
		}
		jobs, _ := empty.JobsForEvent(bg, ids[0])
		if len(jobs) == 1 {
			if j := errandtest.WaitJob(t, empty, jobs[0]); j.Status != errand.StatusFinished {
				t.Fatalf("job %+v: the process without the function must not fail it", j)
			}
			return
		}
		time.Sleep(500 * time.Millisecond) // the sender's view of registered functions refreshes every 2s
	}
	t.Fatal("the function registered by the other process never started a job")
}
