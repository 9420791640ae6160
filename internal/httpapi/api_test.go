package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/httpapi"
	"github.com/errand-dev/errand/internal/metrics"
	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/store/sqldb"
	"github.com/errand-dev/errand/internal/store/storetest"
	"github.com/errand-dev/errand/internal/wire"
)

type env struct {
	url string
	db  *sqldb.DB
	eng *engine.Engine
}

func start(t *testing.T, db *sqldb.DB, eventKeys, adminKeys []string) *env {
	t.Helper()
	eng, err := engine.New(engine.Config{Store: db, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	block := func(ctx context.Context, r *engine.Run) (json.RawMessage, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
		}
		return json.RawMessage(`"ok"`), nil
	}
	hello := func(ctx context.Context, r *engine.Run) (json.RawMessage, error) { return json.RawMessage(`"hi"`), nil }
	if err := eng.Register(
		&engine.Function{ID: "block", Retries: -1, Triggers: []engine.Trigger{{Event: "app/block"}}, Handler: block},
		&engine.Function{ID: "hello", Retries: -1, Triggers: []engine.Trigger{{Event: "app/hello"}}, Handler: hello},
	); err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Stop(ctx)
	})
	t.Cleanup(func() { close(release) }) // runs before the Stop above
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Engine: eng, Store: db, Metrics: metrics.New(db), EventKeys: eventKeys, AdminKeys: adminKeys}))
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, db: db, eng: eng}
}

func do(t *testing.T, method, url, auth, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func code(b []byte) string {
	var e wire.ErrorBody
	_ = json.Unmarshal(b, &e)
	return e.Code
}

func TestPostEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, []string{"k1"}, nil)
		status, b := do(t, "POST", e.url+"/e/k1", "", `{"name":"app/hello","data":{"a":1}}`)
		var ok struct {
			IDs    []string `json:"ids"`
			Status int      `json:"status"`
		}
		if err := json.Unmarshal(b, &ok); status != 200 || err != nil || len(ok.IDs) != 1 || ok.Status != 200 {
			t.Fatalf("single event: %d %s", status, b)
		}
		status, b = do(t, "POST", e.url+"/e/k1", "", `[{"name":"app/hello"},{"name":"app/other","data":null,"id":"mine","ts":1700000000000}]`)
		if err := json.Unmarshal(b, &ok); status != 200 || err != nil || len(ok.IDs) != 2 || ok.IDs[1] != "mine" {
			t.Fatalf("array: %d %s", status, b)
		}
		ev, err := db.GetEvent(context.Background(), "mine")
		if err != nil || ev.TS != 1700000000000 || string(ev.Data) != "{}" {
			t.Fatalf("stored event %+v %v", ev, err)
		}
		for _, c := range []struct{ path, body, want string }{
			{"/e/wrong", `{"name":"app/hello"}`, "event_key_invalid"},
			{"/e/", `{"name":"app/hello"}`, "event_key_missing"},
			{"/e/k1", `{"name":`, "invalid_json"},
			{"/e/k1", ``, "invalid_json"},
			{"/e/k1", `[]`, "invalid_event"},
			{"/e/k1", `{"data":{}}`, "invalid_event"},
			{"/e/k1", `{"name":"x","data":[1]}`, "invalid_event"},
			{"/e/k1", `{"name":"x","user":"bob"}`, "invalid_event"},
			{"/e/k1", `{"name":"x","ts":-5}`, "invalid_event"},
			{"/e/k1", `{"name":"errand/function.failed"}`, "invalid_event"},
			{"/e/k1", `[{"name":"ok"},{"name":""}]`, "invalid_event"},
			{"/e/k1", `{"name":"x","data":{"big":"` + strings.Repeat("a", httpapi.MaxEventSize) + `"}}`, "event_too_large"},
			{"/e/k1", "[" + strings.Repeat(`{"name":"x"},`, httpapi.MaxEventsPerCall) + `{"name":"x"}]`, "too_many_events"},
			{"/e/k1", strings.Repeat(" ", httpapi.MaxRequestSize+1), "request_too_large"},
		} {
			status, b := do(t, "POST", e.url+c.path, "", c.body)
			if code(b) != c.want || status < 400 || status >= 500 {
				t.Errorf("POST %s %.40q: %d %s, want code %s", c.path, c.body, status, b, c.want)
			}
		}
		// Nothing from the bad batch was stored.
		list, _ := db.ListEvents(context.Background(), store.EventFilter{Name: "ok"})
		if len(list) != 0 {
			t.Fatalf("a rejected batch stored %d events", len(list))
		}
	})
}

func TestEventIDSeedMakesRetriesIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, nil, nil)
		send := func() []string {
			req, _ := http.NewRequest("POST", e.url+"/e/anykey", strings.NewReader(`[{"name":"app/hello"},{"name":"app/hello"}]`))
			req.Header.Set("x-inngest-event-id-seed", "1700000000000,AAECAwQFBgcICQ==")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct{ IDs []string }
			_ = json.NewDecoder(resp.Body).Decode(&out)
			return out.IDs
		}
		a, b := send(), send()
		if len(a) != 2 || fmt.Sprint(a) != fmt.Sprint(b) || a[0] == a[1] {
			t.Fatalf("seeded ids %v then %v", a, b)
		}
		jobs, _ := db.ListJobs(context.Background(), store.JobFilter{FunctionID: "hello"})
		if len(jobs) != 2 {
			t.Fatalf("a retried request started %d jobs, want 2", len(jobs))
		}
	})
}

func TestJobsAPIAuthorization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, nil, []string{"admin-key"})
		_, b := do(t, "POST", e.url+"/e/x", "", `{"name":"app/block"}`)
		var sent struct{ IDs []string }
		_ = json.Unmarshal(b, &sent)
		jobs, _ := db.ListJobs(context.Background(), store.JobFilter{EventID: sent.IDs[0]})
		if len(jobs) != 1 {
			t.Fatalf("jobs %v", jobs)
		}
		id := jobs[0].ID
		endpoints := []struct{ method, path string }{
			{"GET", "/v1/jobs"}, {"GET", "/v1/jobs/" + id}, {"GET", "/v1/jobs/" + id + "/steps"},
			{"POST", "/v1/jobs/" + id + "/cancel"}, {"GET", "/v1/events"}, {"GET", "/v1/events/" + sent.IDs[0]}, {"GET", "/v1/functions"}, {"GET", "/v1/apps"},
		}
		for _, ep := range endpoints {
			for _, auth := range []string{"", "wrong-key"} {
				status, b := do(t, ep.method, e.url+ep.path, auth, "")
				if status != 401 || code(b) != "unauthorized" {
					t.Errorf("%s %s with key %q: %d %s, want 401", ep.method, ep.path, auth, status, b)
				}
			}
		}
		for _, ep := range endpoints {
			if status, b := do(t, ep.method, e.url+ep.path, "admin-key", ""); status != 200 {
				t.Errorf("%s %s as admin: %d %s", ep.method, ep.path, status, b)
			}
		}
		status, b := do(t, "GET", e.url+"/v1/jobs/"+id, "admin-key", "")
		var j wire.Job
		_ = json.Unmarshal(b, &j)
		if status != 200 || (j.Status != store.StatusCancelled && j.Status != store.StatusRunning) {
			t.Fatalf("after cancel: %d %s", status, b)
		}
		for _, c := range []struct{ method, path, want string }{
			{"GET", "/v1/jobs/nope", "not_found"},
			{"POST", "/v1/jobs/nope/cancel", "not_found"},
			{"GET", "/v1/jobs?status=bogus", "invalid_parameter"},
			{"GET", "/v1/jobs?limit=0", "invalid_parameter"},
			{"DELETE", "/v1/jobs", "method_not_allowed"},
			{"GET", "/nowhere", "not_found"},
		} {
			if _, b := do(t, c.method, e.url+c.path, "admin-key", ""); code(b) != c.want {
				t.Errorf("%s %s: %s, want %s", c.method, c.path, b, c.want)
			}
		}
	})
}

func TestListJobsPagination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, nil, nil)
		do(t, "POST", e.url+"/e/k", "", `[{"name":"app/hello"},{"name":"app/hello"},{"name":"app/hello"}]`)
		seen := map[string]bool{}
		cursor := ""
		for page := 0; page < 5; page++ {
			_, b := do(t, "GET", e.url+"/v1/jobs?function=hello&limit=2&cursor="+cursor, "", "")
			var l wire.JobList
			if err := json.Unmarshal(b, &l); err != nil {
				t.Fatal(err)
			}
			for _, j := range l.Jobs {
				seen[j.ID] = true
			}
			if l.Next == "" {
				break
			}
			cursor = l.Next
		}
		if len(seen) != 3 {
			t.Fatalf("paged through %d jobs, want 3", len(seen))
		}
	})
}

func TestHealthAndMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, nil, nil)
		if status, b := do(t, "GET", e.url+"/healthz", "", ""); status != 200 || !strings.Contains(string(b), `"ok"`) {
			t.Fatalf("health %d %s", status, b)
		}
		do(t, "POST", e.url+"/e/k", "", `{"name":"app/hello"}`)
		_, b := do(t, "GET", e.url+"/metrics", "", "")
		for _, want := range []string{"errand_jobs{status=\"waiting\"}", "errand_events_received_total 1", "errand_job_start_latency_seconds_bucket"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add([]byte(`{"name":"app/hello","data":{"a":1}}`))
	f.Add([]byte(`[{"name":"a","user":{"x":1},"ts":5,"id":"x"}]`))
	f.Add([]byte(`[{"name":"a"},{}]`))
	f.Add([]byte(`{"name":"a","data":"s"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := httpapi.DecodeEvents(body)
		if err != nil {
			var e *httpapi.Error
			if !httpapi.AsError(err, &e) || e.Code == "" || e.Message == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		for _, ev := range evs {
			if ev.Name == "" || len(ev.Data) == 0 || ev.Data[0] != '{' || !json.Valid(ev.Data) {
				t.Fatalf("accepted a bad event: %+v", ev)
			}
		}
	})
}

func FuzzSeededIDs(f *testing.F) {
	f.Add("1700000000000,AAECAwQFBgcICQ==", 3)
	f.Add("x,y", 1)
	f.Fuzz(func(t *testing.T, header string, n int) {
		if n < 0 || n > 100 {
			return
		}
		ids := httpapi.SeededIDs(header, n)
		if ids == nil {
			return // a malformed header: the server picks random ids
		}
		if len(ids) != n {
			t.Fatalf("%d ids for %d events", len(ids), n)
		}
		// A retried request gets the same ids, and no two events share one.
		again := httpapi.SeededIDs(header, n)
		seen := map[string]bool{}
		for i, id := range ids {
			if again[i] != id || seen[id] || len(id) != 26 {
				t.Fatalf("ids %v then %v", ids, again)
			}
			seen[id] = true
		}
	})
}
