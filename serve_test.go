package errand_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
)

// A Go service hosts functions with ServeHandler; an errand server syncs
// and runs them over the Inngest protocol, steps and all.
func TestServeHandler(t *testing.T) {
	each(t, func(t *testing.T, start func(*errand.Config) *errand.Client) {
		server := start(&errand.Config{JWTSecret: jwtSecret})
		api := httptest.NewServer(server.Handler())
		defer api.Close()
		var aRuns atomic.Int32
		double := errand.NewFunction(errand.FunctionOpts{ID: "double"}, errand.OnEvent("app/never"),
			func(ctx context.Context, in errand.Input[map[string]int]) (int, error) {
				return in.Event.Data["n"] * 2, nil
			})
		flow := errand.NewFunction(errand.FunctionOpts{ID: "flow"}, errand.OnEvent("app/flow"),
			func(ctx context.Context, in errand.Input[map[string]string]) (map[string]any, error) {
				a, err := errand.Run(ctx, "a", func(ctx context.Context) (int, error) { aRuns.Add(1); return 20, nil })
				if err != nil {
					return nil, err
				}
				if err := errand.Sleep(ctx, "nap", 100*time.Millisecond); err != nil {
					return nil, err
				}
				paid, err := errand.WaitForEvent[map[string]string](ctx, "paid", errand.WaitOpts{Event: "app/paid",
					If: "async.data.order == event.data.order", Timeout: time.Minute})
				if err != nil {
					return nil, err
				}
				d, err := errand.Invoke[int](ctx, "double", double, map[string]int{"n": a}, nil)
				if err != nil {
					return nil, err
				}
				return map[string]any{"double": d, "by": paid.Data["by"]}, nil
			})
		app := httptest.NewServer(errand.ServeHandler(errand.ServeConfig{AppID: "goapp", ErrandURL: api.URL}, double, flow))
		defer app.Close()
		req, _ := http.NewRequest(http.MethodPut, app.URL+"/api/errand", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("sync: %v %v", resp, err)
		}
		resp.Body.Close()
		ids, err := server.Send(bg, errand.Event[map[string]string]{Name: "app/flow", Data: map[string]string{"order": "o1"}})
		if err != nil {
			t.Fatal(err)
		}
		jobs, _ := server.JobsForEvent(bg, ids[0])
		if len(jobs) != 1 {
			t.Fatalf("the synced function did not start: %v", jobs)
		}
		for i := 0; ; i++ {
			steps, _ := server.Steps(bg, jobs[0])
			if len(steps) >= 3 {
				break
			}
			if i > 500 {
				t.Fatalf("the job never reached its wait: %+v", steps)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := server.Send(bg, errand.Event[map[string]string]{Name: "app/paid", Data: map[string]string{"order": "o1", "by": "card"}}); err != nil {
			t.Fatal(err)
		}
		j := errandtest.WaitJob(t, server, jobs[0])
		var out map[string]any
		_ = json.Unmarshal(j.Output, &out)
		if j.Status != errand.StatusFinished || fmt.Sprint(out) != "map[by:card double:40]" || aRuns.Load() != 1 {
			t.Fatalf("job %+v output %s, step a ran %d times", j, j.Output, aRuns.Load())
		}
	})
}
