package inngest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
)

// ServeConfig configures a serve handler.
type ServeConfig struct {
	// AppID prefixes function ids ("<app>-<function>"). Required.
	AppID string
	// ErrandURL is the errand server to register with and send events to.
	ErrandURL string
	// EventKey is used for events sent from steps.
	EventKey string
	// SigningKey, if set, is required on calls and presented, hashed, on
	// registration.
	SigningKey string
	// ServeURL is the URL errand reaches this handler at; default the URL
	// of the sync request.
	ServeURL string
	// SDK names the serving SDK in registrations.
	SDK string
}

// Server serves functions over the Inngest protocol, as an SDK does.
type Server struct {
	cfg ServeConfig
	fns map[string]*engine.Function // by served id
	hc  *http.Client
}

// NewServer returns a handler serving fns.
func NewServer(cfg ServeConfig, fns []*engine.Function) *Server {
	s := &Server{cfg: cfg, fns: map[string]*engine.Function{}, hc: &http.Client{Timeout: 30 * time.Second}}
	for _, f := range fns {
		s.fns[cfg.AppID+"-"+f.ID] = f
	}
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Inngest-SDK", s.cfg.SDK)
	switch r.Method {
	case http.MethodPut:
		if err := s.register(r); err != nil {
			writeProto(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
			return
		}
		writeProto(w, http.StatusOK, map[string]string{"message": "Successfully registered"})
	case http.MethodPost:
		s.call(w, r)
	case http.MethodGet:
		writeProto(w, http.StatusOK, map[string]any{"function_count": len(s.fns), "mode": "errand"})
	default:
		writeProto(w, http.StatusMethodNotAllowed, map[string]string{"message": "use PUT to sync or POST to run"})
	}
}

func writeProto(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// register posts this app's functions to errand's /fn/register.
func (s *Server) register(r *http.Request) error {
	serve := s.cfg.ServeURL
	if serve == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		serve = scheme + "://" + r.Host + r.URL.Path
	}
	var fns []map[string]any
	for id, f := range s.fns {
		u, _ := url.Parse(serve)
		q := u.Query()
		q.Set("fnId", id)
		q.Set("stepId", "step")
		u.RawQuery = q.Encode()
		var triggers []map[string]string
		for _, t := range f.Triggers {
			if t.Cron != "" {
				triggers = append(triggers, map[string]string{"cron": t.Cron})
			} else {
				triggers = append(triggers, map[string]string{"event": t.Event, "expression": t.If})
			}
		}
		retries := f.Retries
		if retries < 0 {
			retries = engine.DefaultRetries
		}
		cfg := map[string]any{"id": id, "name": f.Name, "triggers": triggers,
			"steps": map[string]any{"step": map[string]any{"id": "step", "name": "step",
				"runtime": map[string]string{"type": "http", "url": u.String()}, "retries": map[string]int{"attempts": retries}}}}
		if len(f.Concurrency) > 0 {
			cfg["concurrency"] = f.Concurrency
		}
		if f.Idempotency != "" {
			cfg["idempotency"] = f.Idempotency
		}
		if f.Priority != "" {
			cfg["priority"] = map[string]string{"run": f.Priority}
		}
		var cancel []map[string]string
		for _, c := range f.CancelOn {
			m := map[string]string{"event": c.Event, "if": c.If}
			if c.Timeout > 0 {
				m["timeout"] = strconv.FormatInt(c.Timeout.Milliseconds(), 10)
			}
			cancel = append(cancel, m)
		}
		if cancel != nil {
			cfg["cancel"] = cancel
		}
		fns = append(fns, cfg)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i]["id"].(string) < fns[j]["id"].(string) })
	body, _ := json.Marshal(map[string]any{"url": serve, "deployType": "ping", "appName": s.cfg.AppID, "sdk": s.cfg.SDK,
		"v": "0.1", "framework": "go", "functions": fns})
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, strings.TrimRight(s.cfg.ErrandURL, "/")+"/fn/register", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.cfg.SigningKey != "" {
		h, err := HashedSigningKey(s.cfg.SigningKey)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+h)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("register with errand: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("register with errand: %s: %s", resp.Status, b)
	}
	return nil
}

// verify checks X-Inngest-Signature: HMAC-SHA256 of body and timestamp,
// at most five minutes old.
func verify(body []byte, header, key string, now time.Time) bool {
	vals, err := url.ParseQuery(header)
	if err != nil {
		return false
	}
	t, err := strconv.ParseInt(vals.Get("t"), 10, 64)
	if err != nil || now.Sub(time.Unix(t, 0)).Abs() > 5*time.Minute {
		return false
	}
	m := hmac.New(sha256.New, []byte(stripPrefix(key)))
	m.Write(body)
	m.Write([]byte(vals.Get("t")))
	want := hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(want), []byte(vals.Get("s")))
}

// errOp ends a call early with an operation to report.
var errOp = errors.New("operation ready")

// call runs one request: memoized steps come in, and the reply is the
// output (200) or the next operation (206).
func (s *Server) call(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err != nil {
		writeProto(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "body too large"})
		return
	}
	if s.cfg.SigningKey != "" && !verify(body, r.Header.Get("X-Inngest-Signature"), s.cfg.SigningKey, time.Now()) {
		writeProto(w, http.StatusUnauthorized, map[string]string{"message": "invalid or expired signature"})
		return
	}
	f := s.fns[r.URL.Query().Get("fnId")]
	if f == nil {
		w.Header().Set("X-Inngest-No-Retry", "true")
		writeProto(w, http.StatusBadRequest, map[string]string{"name": "Error", "message": "unknown function " + r.URL.Query().Get("fnId")})
		return
	}
	var req struct {
		Event  json.RawMessage            `json:"event"`
		Events []json.RawMessage          `json:"events"`
		Steps  map[string]json.RawMessage `json:"steps"`
		Ctx    struct {
			RunID       string `json:"run_id"`
			Attempt     int    `json:"attempt"`
			MaxAttempts int    `json:"max_attempts"`
			Stack       stack  `json:"stack"`
		} `json:"ctx"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		w.Header().Set("X-Inngest-No-Retry", "true")
		writeProto(w, http.StatusBadRequest, map[string]string{"name": "Error", "message": "bad request: " + err.Error()})
		return
	}
	var user struct {
		User struct {
			ID          string `json:"id"`
			AccessToken string `json:"access_token"`
		} `json:"user"`
	}
	_ = json.Unmarshal(req.Event, &user)
	job := &store.Job{ID: req.Ctx.RunID, FunctionID: f.ID, Input: req.Event, Owner: user.User.ID, MaxAttempts: max(req.Ctx.MaxAttempts, 1)}
	if len(req.Events) > 1 {
		job.Batch, _ = json.Marshal(req.Events)
	}
	be := &serveBackend{srv: s, memo: memoSteps(req.Steps, req.Ctx.Stack.Stack)}
	run := engine.NewRun(job, req.Ctx.Attempt, user.User.AccessToken, be)
	out, err := s.invoke(r.Context(), f, run, be)
	w.Header().Set("X-Inngest-SDK", s.cfg.SDK)
	switch {
	case be.op != nil:
		writeProto(w, http.StatusPartialContent, []*op{be.op})
	case err != nil:
		var nr *engine.NonRetriableError
		status := http.StatusInternalServerError
		w.Header().Set("X-Inngest-No-Retry", "false")
		if errors.As(err, &nr) {
			status = http.StatusBadRequest
			w.Header().Set("X-Inngest-No-Retry", "true")
		}
		writeProto(w, status, map[string]string{"name": "Error", "message": err.Error()})
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if len(out) == 0 {
			out = json.RawMessage("null")
		}
		_, _ = w.Write(out)
	}
}

// invoke runs the handler; a step that needs reporting ends it with a
// panic, recovered here once the backend holds the operation.
func (s *Server) invoke(ctx context.Context, f *engine.Function, run *engine.Run, be *serveBackend) (out json.RawMessage, err error) {
	defer func() {
		if v := recover(); v != nil {
			if be.op == nil {
				err = fmt.Errorf("function panicked: %v", v)
			}
		}
	}()
	return f.Handler(engine.WithRun(ctx, run), run)
}

// memoSteps turns the call's steps into memoized steps, in stack order.
func memoSteps(steps map[string]json.RawMessage, order []string) []*store.Step {
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i + 1
	}
	var out []*store.Step
	for id, raw := range steps {
		var v struct {
			Data  json.RawMessage `json:"data"`
			Error json.RawMessage `json:"error"`
		}
		st := &store.Step{ID: id, Name: id, Kind: "run", Status: store.StepDone, StartedAt: int64(pos[id])}
		if json.Unmarshal(raw, &v) == nil && len(v.Error) > 0 && string(v.Error) != "null" {
			st.Status, st.Error = store.StepFailed, v.Error
		} else {
			st.Output = v.Data
		}
		out = append(out, st)
	}
	return out
}

// serveBackend answers a Run's needs from the call and records the one
// operation the reply reports.
type serveBackend struct {
	srv  *Server
	memo []*store.Step
	op   *op
}

func (b *serveBackend) Steps(context.Context, string) ([]*store.Step, error) { return b.memo, nil }

func (b *serveBackend) SaveStep(_ context.Context, _ store.Lease, s *store.Step, _ int, w *store.Wait) error {
	switch {
	case s.Status == store.StepDone:
		b.op = &op{ID: s.ID, Op: "StepRun", Name: s.Name, DisplayName: s.Name, Data: s.Output}
		panic(errOp)
	case s.Status == store.StepFailed:
		b.op = &op{ID: s.ID, Op: "StepFailed", Name: s.Name, DisplayName: s.Name, Error: s.Error}
		panic(errOp)
	case s.Kind == "sleep":
		b.op = &op{ID: s.ID, Op: "Sleep", Name: time.UnixMicro(s.WakeAt).UTC().Format(time.RFC3339Nano), DisplayName: s.Name}
	case s.Kind == "waitForEvent" && w != nil:
		ms := max((s.WakeAt-s.StartedAt)/1000, 1)
		opts, _ := json.Marshal(map[string]string{"event": w.EventName, "timeout": strconv.FormatInt(ms, 10), "if": w.Expr})
		b.op = &op{ID: s.ID, Op: "WaitForEvent", Name: w.EventName, DisplayName: s.Name, Opts: opts}
	}
	return nil
}

func (b *serveBackend) Progress(context.Context, store.Lease, float64, string) error {
	return nil // the protocol carries no progress; jobs run in errand report it
}

func (b *serveBackend) Send(ctx context.Context, events []*store.Event) ([]string, error) {
	type ev struct {
		ID   string          `json:"id,omitempty"`
		Name string          `json:"name"`
		Data json.RawMessage `json:"data"`
	}
	body := make([]ev, len(events))
	for i, e := range events {
		body[i] = ev{e.ID, e.Name, e.Data}
	}
	raw, _ := json.Marshal(body)
	key := b.srv.cfg.EventKey
	if key == "" {
		key = "dev"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(b.srv.cfg.ErrandURL, "/")+"/e/"+url.PathEscape(key), bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.srv.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send events: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		IDs []string `json:"ids"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return nil, fmt.Errorf("send events: %s", resp.Status)
	}
	return out.IDs, nil
}

func (b *serveBackend) Invoke(_ context.Context, f *engine.Function, ev *store.Event, _, step string) error {
	opts, _ := json.Marshal(map[string]any{"function_id": f.ID, "payload": map[string]json.RawMessage{"data": ev.Data}})
	b.op = &op{ID: step, Op: "InvokeFunction", Name: f.ID, DisplayName: step, Opts: opts}
	return nil
}

func (b *serveBackend) Function(id string) (*engine.Function, bool) {
	if _, ok := b.srv.fns[id]; ok {
		return &engine.Function{ID: id}, true
	}
	return &engine.Function{ID: b.srv.cfg.AppID + "-" + id}, true
}

func (b *serveBackend) Now() int64 { return time.Now().UnixMicro() }
