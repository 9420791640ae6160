package errand_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
	"github.com/errand-dev/errand/internal/store/storetest"
)

const jwtSecret = "owner-test-secret-owner-test-secret-42"

// site is an embedded client with accounts, its HTTP API on a test server.
type site struct {
	c         *errand.Client
	url       string
	anon, svc string
	cfg       *errand.Config
	logs      *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newSite(t *testing.T, kind string, fns ...*errand.Function) *site {
	t.Helper()
	logs := &syncBuffer{}
	cfg := &errand.Config{Functions: fns, JWTSecret: jwtSecret, EventKey: "k1", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if kind == "postgres" {
		cfg.DatabaseURL = storetest.FreshSchemaURL(t)
	}
	c := errandtest.Start(t, cfg)
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	anon, svc, err := c.APIKeys()
	if err != nil {
		t.Fatal(err)
	}
	return &site{c: c, url: srv.URL, anon: anon, svc: svc, cfg: cfg, logs: logs}
}

type resp struct {
	status int
	body   []byte
}

func (r resp) json() map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(r.body, &m)
	return m
}

func (s *site) do(t *testing.T, method, path, bearer string, body any) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("apikey", s.anon)
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		line, _ := bufio.NewReader(res.Body).ReadString('\n')
		return resp{status: res.StatusCode, body: []byte(line)}
	}
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b}
}

// signUp returns a new user's id, access token and refresh token.
func (s *site) signUp(t *testing.T, email string) (id, access, refresh string) {
	t.Helper()
	r := s.do(t, "POST", "/auth/v1/signup", "", map[string]string{"email": email, "password": "correct horse"})
	m := r.json()
	if r.status != 200 {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	return m["user"].(map[string]any)["id"].(string), m["access_token"].(string), m["refresh_token"].(string)
}

func waitStatus(t *testing.T, c *errand.Client, id string, want errand.JobStatus) *errand.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		j, err := c.Job(bg, id)
		if err == nil && j.Status == want {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never became %s: %+v %v", id, want, j, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			hold := make(chan struct{})
			defer close(hold)
			slow := errand.NewFunction(errand.FunctionOpts{ID: "slow"}, errand.OnEvent("app/slow"),
				func(ctx context.Context, in errand.Input[map[string]any]) (string, error) {
					if err := errand.Progress(ctx, 0.5, "half"); err != nil {
						return "", err
					}
					select {
					case <-hold:
					case <-ctx.Done():
						return "", ctx.Err()
					}
					return "done", nil
				})
			s := newSite(t, kind, slow)
			_, tokA, _ := s.signUp(t, "a@example.com")
			_, tokB, _ := s.signUp(t, "b@example.com")
			mk := func(tok string) string {
				r := s.do(t, "POST", "/v1/jobs", tok, map[string]any{"function": "slow", "data": map[string]int{"n": 1}})
				if r.status != 201 {
					t.Fatalf("create: %d %s", r.status, r.body)
				}
				return r.json()["id"].(string)
			}
			jobA, jobB := mk(tokA), mk(tokB)
			waitStatus(t, s.c, jobA, errand.StatusRunning)
			ev := s.do(t, "POST", "/e/k1", "", map[string]any{"name": "app/other"}).json()["ids"].([]any)[0].(string)

			who := map[string]string{"anonymous": "", "user A": tokA, "user B": tokB, "event key": "k1", "service key": s.svc}
			type ep struct{ method, path string }
			onA := []ep{{"GET", "/v1/jobs/" + jobA}, {"GET", "/v1/jobs/" + jobA + "/steps"}, {"GET", "/v1/jobs/" + jobA + "/stream"}}
			adminOnly := []ep{{"GET", "/v1/events"}, {"GET", "/v1/events/" + ev}, {"GET", "/v1/functions"}, {"GET", "/v1/apps"}}
			for name, tok := range who {
				for _, e := range onA {
					want := map[string]int{"anonymous": 401, "user A": 200, "user B": 404, "event key": 401, "service key": 200}[name]
					if r := s.do(t, e.method, e.path, tok, nil); r.status != want {
						t.Errorf("%s %s as %s: %d %s, want %d", e.method, e.path, name, r.status, r.body, want)
					}
				}
				for _, e := range adminOnly {
					want := map[string]int{"anonymous": 401, "user A": 403, "user B": 403, "event key": 401, "service key": 200}[name]
					if r := s.do(t, e.method, e.path, tok, nil); r.status != want {
						t.Errorf("%s %s as %s: %d %s, want %d", e.method, e.path, name, r.status, r.body, want)
					}
				}
				r := s.do(t, "GET", "/v1/jobs", tok, nil)
				want := map[string]int{"anonymous": 401, "user A": 200, "user B": 200, "event key": 401, "service key": 200}[name]
				if r.status != want {
					t.Errorf("list as %s: %d, want %d", name, r.status, want)
				}
				if r.status == 200 {
					seen := map[string]bool{}
					for _, j := range r.json()["jobs"].([]any) {
						seen[j.(map[string]any)["id"].(string)] = true
					}
					wantA, wantB := name != "user B", name != "user A"
					if seen[jobA] != wantA || seen[jobB] != wantB {
						t.Errorf("list as %s saw A=%v B=%v", name, seen[jobA], seen[jobB])
					}
				}
				if r := s.do(t, "GET", "/v1/jobs/stream", tok, nil); r.status != want {
					t.Errorf("stream of all as %s: %d, want %d", name, r.status, want)
				}
				wantCreate := map[string]int{"anonymous": 401, "user A": 201, "user B": 201, "event key": 401, "service key": 201}[name]
				if r := s.do(t, "POST", "/v1/jobs", tok, map[string]any{"function": "nope"}); wantCreate == 201 && r.status != 404 || wantCreate != 201 && r.status != wantCreate {
					t.Errorf("create unknown function as %s: %d %s", name, r.status, r.body)
				}
			}
			// Another user's job cannot be cancelled, and guessing ids finds nothing.
			if r := s.do(t, "POST", "/v1/jobs/"+jobA+"/cancel", tokB, nil); r.status != 404 {
				t.Errorf("B cancelled A's job: %d", r.status)
			}
			near := jobA[:25] + "0"
			if near == jobA {
				near = jobA[:25] + "1"
			}
			for _, guess := range []string{near, strings.ToLower(jobA), jobA + " ", "../" + jobA, "%2e%2e"} {
				if r := s.do(t, "GET", "/v1/jobs/"+guess, tokB, nil); r.status != 404 && r.status != 400 {
					t.Errorf("guess %q: %d %s", guess, r.status, r.body)
				}
			}
			if r := s.do(t, "POST", "/v1/jobs", tokB, map[string]any{"function": "slow", "owner": "someone-else"}); r.status != 403 {
				t.Errorf("B started a job for someone else: %d %s", r.status, r.body)
			}
			// The app backend (service key) starts a job for user A, and A sees it.
			idA := s.do(t, "GET", "/auth/v1/user", tokA, nil).json()["id"].(string)
			forA := s.do(t, "POST", "/v1/jobs", s.svc, map[string]any{"function": "slow", "owner": idA})
			if forA.status != 201 || forA.json()["owner"] != idA {
				t.Fatalf("service key starting a job for A: %d %s", forA.status, forA.body)
			}
			if r := s.do(t, "GET", "/v1/jobs/"+forA.json()["id"].(string), tokA, nil); r.status != 200 {
				t.Errorf("A cannot see the job started for them: %d", r.status)
			}
			if r := s.do(t, "POST", "/v1/jobs", s.svc, map[string]any{"function": "slow", "owner": "not-a-user"}); r.status != 400 {
				t.Errorf("service key starting a job for a non-user: %d %s", r.status, r.body)
			}
			if r := s.do(t, "POST", "/v1/jobs/"+jobA+"/cancel", tokA, nil); r.status != 200 {
				t.Errorf("A could not cancel own job: %d %s", r.status, r.body)
			}
			waitStatus(t, s.c, jobA, errand.StatusCancelled)
			// A logged-out session's token is refused everywhere.
			if r := s.do(t, "POST", "/auth/v1/logout", tokB, nil); r.status != 204 {
				t.Fatal(r.status)
			}
			if r := s.do(t, "GET", "/v1/jobs", tokB, nil); r.status != 403 || r.json()["code"] != "session_not_found" {
				t.Errorf("logged-out token: %d %s", r.status, r.body)
			}
		})
	}
}

func TestEventsOwnedByVerifiedTokens(t *testing.T) {
	each(t, func(t *testing.T, _ func(*errand.Config) *errand.Client) {
		kind := "sqlite"
		if strings.HasSuffix(t.Name(), "postgres") {
			kind = "postgres"
		}
		var mu sync.Mutex
		seen := map[string]errand.JobInfo{}
		whoami := errand.NewFunction(errand.FunctionOpts{ID: "whoami"}, errand.OnEvent("app/export"),
			func(ctx context.Context, in errand.Input[map[string]any]) (string, error) {
				mu.Lock()
				seen[in.Job.ID] = in.Job
				mu.Unlock()
				return in.Job.Owner, nil
			})
		s := newSite(t, kind, whoami)
		idA, tokA, refreshA := s.signUp(t, "a@example.com")
		r := s.do(t, "POST", "/e/k1", "", map[string]any{"name": "app/export", "data": map[string]any{"fmt": "csv"},
			"user": map[string]any{"access_token": tokA, "id": "ignored"}})
		if r.status != 200 {
			t.Fatalf("send: %d %s", r.status, r.body)
		}
		evID := r.json()["ids"].([]any)[0].(string)
		jobs, _ := s.c.JobsForEvent(bg, evID)
		j := errandtest.WaitJob(t, s.c, jobs[0])
		if j.Owner != idA || string(j.Output) != fmt.Sprintf("%q", idA) {
			t.Fatalf("job owner %q output %s, want %s", j.Owner, j.Output, idA)
		}
		if strings.Contains(string(j.Input), tokA) {
			t.Fatal("the access token was stored in the job's input")
		}
		mu.Lock()
		info := seen[j.ID]
		mu.Unlock()
		if info.Token == "" || info.Token == tokA || !strings.Contains(string(info.User), "a@example.com") {
			t.Fatalf("the job had no job token of its own: %+v", info)
		}
		// The job token no longer works once its job has ended.
		if r := s.do(t, "GET", "/auth/v1/user", info.Token, nil); r.status != 403 {
			t.Fatalf("job token after its job: %d %s", r.status, r.body)
		}
		for name, c := range map[string]struct {
			ev   map[string]any
			code string
		}{
			"bad token":         {map[string]any{"name": "app/export", "user": map[string]any{"access_token": "forged"}}, "invalid_user_token"},
			"refresh in user":   {map[string]any{"name": "app/export", "user": map[string]any{"access_token": tokA, "refresh_token": refreshA}}, "refresh_token_in_event"},
			"refresh in data":   {map[string]any{"name": "app/export", "data": map[string]any{"refreshToken": refreshA}}, "refresh_token_in_event"},
			"number as a token": {map[string]any{"name": "app/export", "user": map[string]any{"access_token": 5}}, "invalid_user_token"},
		} {
			r := s.do(t, "POST", "/e/k1", "", c.ev)
			if r.json()["code"] != c.code || r.status < 400 || r.status >= 500 {
				t.Errorf("%s: %d %s, want %s", name, r.status, r.body, c.code)
			}
		}
		// No refresh token, and no user access token, anywhere errand keeps data.
		for _, secret := range []string{refreshA, tokA} {
			if where := findSecret(t, s, secret); where != "" {
				t.Errorf("a secret token was found in %s", where)
			}
		}
	})
}

// findSecret looks for a string in the database (file or tables) and logs.
func findSecret(t *testing.T, s *site, secret string) string {
	t.Helper()
	if strings.Contains(s.logs.String(), secret) {
		return "the logs"
	}
	if s.cfg.DatabaseURL == "" {
		files, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, "errand.db*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if bytes.Contains(b, []byte(secret)) {
				return f
			}
		}
		return ""
	}
	conn, err := pgx.Connect(bg, s.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	for _, table := range []string{"errand_events", "errand_jobs", "errand_steps", "errand_waits", "errand_users", "errand_sessions", "errand_refresh_tokens"} {
		var n int
		if err := conn.QueryRow(bg, "SELECT count(*) FROM "+table+" t WHERE strpos(t::text, $1) > 0", secret).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return table
		}
	}
	return ""
}

func TestOwnerUnavailableFailsTheJob(t *testing.T) {
	ran := make(chan struct{}, 1)
	fn := errand.NewFunction(errand.FunctionOpts{ID: "f"}, errand.OnEvent("app/f"),
		func(ctx context.Context, in errand.Input[struct{}]) (string, error) {
			ran <- struct{}{}
			return "", nil
		})
	s := newSite(t, "sqlite", fn)
	id, tok, _ := s.signUp(t, "gone@example.com")
	if err := s.c.Stop(bg); err != nil { // hold the job until the owner is gone
		t.Fatal(err)
	}
	r := s.do(t, "POST", "/v1/jobs", tok, map[string]any{"function": "f"})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	jobID := r.json()["id"].(string)
	if r := s.do(t, "DELETE", "/auth/v1/admin/users/"+id, s.svc, nil); r.status != 200 {
		t.Fatalf("delete user: %d %s", r.status, r.body)
	}
	c2 := errandtest.Start(t, &errand.Config{DataDir: s.cfg.DataDir, JWTSecret: jwtSecret, Functions: []*errand.Function{fn}})
	j := errandtest.WaitJob(t, c2, jobID)
	if j.Status != errand.StatusFailed || j.Error == nil || j.Error.Code != "owner_unavailable" {
		t.Fatalf("job of a deleted owner: %+v %+v", j, j.Error)
	}
	select {
	case <-ran:
		t.Fatal("the function ran without its owner")
	default:
	}
}

func TestJobTokenCannotReachAnotherUsersJob(t *testing.T) {
	tokens := make(chan string, 1)
	hold := make(chan struct{})
	defer close(hold)
	fn := errand.NewFunction(errand.FunctionOpts{ID: "f"}, errand.OnEvent("app/f"),
		func(ctx context.Context, in errand.Input[struct{}]) (string, error) {
			if in.Job.Token != "" {
				tokens <- in.Job.Token
			}
			select {
			case <-hold:
			case <-ctx.Done():
			}
			return "", nil
		})
	s := newSite(t, "sqlite", fn)
	_, tokA, _ := s.signUp(t, "a@example.com")
	_, tokB, _ := s.signUp(t, "b@example.com")
	jobA := s.do(t, "POST", "/v1/jobs", tokA, map[string]any{"function": "f"}).json()["id"].(string)
	jobToken := <-tokens
	jobB := s.do(t, "POST", "/v1/jobs", tokB, map[string]any{"function": "f"}).json()["id"].(string)
	<-tokens
	if r := s.do(t, "GET", "/v1/jobs/"+jobA, jobToken, nil); r.status != 200 {
		t.Fatalf("job token on its own job: %d %s", r.status, r.body)
	}
	if r := s.do(t, "GET", "/v1/jobs/"+jobB, jobToken, nil); r.status != 404 {
		t.Fatalf("A's job token read B's job: %d %s", r.status, r.body)
	}
	if r := s.do(t, "POST", "/auth/v1/token?grant_type=refresh_token", "", map[string]any{"refresh_token": jobToken}); r.status != 400 {
		t.Fatalf("a job token was refreshed: %d %s", r.status, r.body)
	}
}
