package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
	"github.com/errand-dev/errand/internal/store/storetest"
)

const jwtSecret = "dashboard-test-secret-0123456789abcdef"

// gates hold a test's jobs at named points until the test releases them,
// so a test sees every state of a job without sleeping.
type gates struct {
	mu   sync.Mutex
	ch   map[string]chan struct{}
	done chan struct{} // closed when the test ends: every gate opens
}

func (g *gates) get(key string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = map[string]chan struct{}{}
	}
	c, ok := g.ch[key]
	if !ok {
		c = make(chan struct{})
		g.ch[key] = c
	}
	return c
}

func (g *gates) wait(ctx context.Context, key string) error {
	select {
	case <-g.get(key):
		return nil
	case <-g.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gates) release(key string) {
	c := g.get(key)
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

// Report is the input of the test's report function.
type Report struct {
	Title string `json:"title"`
	Gate  string `json:"gate"`
}

// site is an errand with accounts and the dashboard, running "report":
// one at a time (concurrency 1), each stopping at the gates
// "<gate or job id>/start" and ".../finish".
type site struct {
	c     *errand.Client
	url   string
	svc   string
	gates *gates
}

func newSite(t *testing.T, kind string) *site {
	t.Helper()
	g := &gates{done: make(chan struct{})}
	report := errand.NewFunction(errand.FunctionOpts{ID: "report", Name: "Monthly report", Concurrency: []errand.Concurrency{{Limit: 1}}},
		errand.OnEvent("app/report.requested"),
		func(ctx context.Context, in errand.Input[Report]) (map[string]any, error) {
			key := in.Event.Data.Gate
			if key == "" {
				key = in.Job.ID
			}
			if _, err := errand.Run(ctx, "prepare", func(ctx context.Context) (string, error) {
				return "data gathered", g.wait(ctx, key+"/start")
			}); err != nil {
				return nil, err
			}
			if err := errand.Progress(ctx, 0.5, "halfway: rendering"); err != nil {
				return nil, err
			}
			pages, err := errand.Run(ctx, "render", func(ctx context.Context) (int, error) {
				return 3, g.wait(ctx, key+"/finish")
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"title": in.Event.Data.Title, "pages": pages}, nil
		})
	cfg := &errand.Config{Functions: []*errand.Function{report}, JWTSecret: jwtSecret, DataDir: t.TempDir()}
	if kind == "postgres" {
		cfg.DatabaseURL = storetest.FreshSchemaURL(t)
	}
	c := errandtest.Start(t, cfg)
	t.Cleanup(func() { close(g.done) }) // before the client stops: jobs held at gates end
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	_, svc, err := c.APIKeys()
	if err != nil {
		t.Fatal(err)
	}
	return &site{c: c, url: srv.URL, svc: svc, gates: g}
}

// control serves the gates to a browser test: POST /release?key=...
func (s *site) control(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /release", func(w http.ResponseWriter, r *http.Request) {
		s.gates.release(r.URL.Query().Get("key"))
		fmt.Fprintln(w, "released")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// waitStatus waits (bounded) for a job to reach a status.
func (s *site) waitStatus(t *testing.T, id string, status errand.JobStatus) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		j, err := s.c.Job(context.Background(), id)
		if err == nil && j.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: want %s, have %+v (%v)", id, status, j, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
