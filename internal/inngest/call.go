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
	"strconv"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
)

// Executor runs functions served by apps over HTTP.
type Executor struct {
	// SigningKey signs calls ("signkey-<env>-<hex>"); empty in dev.
	SigningKey string
	// Env is sent as ctx.env; default "dev".
	Env string
	// Client makes the calls; default a client with a 5-minute timeout.
	Client *http.Client
}

// maxCalls bounds the calls of one execution (one per step it finishes).
const maxCalls = 1000

// op is one opcode of a 206 reply.
type op struct {
	ID          string          `json:"id"`
	Op          string          `json:"op"`
	Name        string          `json:"name"`
	DisplayName string          `json:"displayName"`
	Opts        json.RawMessage `json:"opts"`
	Data        json.RawMessage `json:"data"`
	Error       json.RawMessage `json:"error"`
}

func (o *op) label() string {
	if o.DisplayName != "" {
		return o.DisplayName
	}
	if o.Name != "" {
		return o.Name
	}
	return o.ID
}

// Handler returns the engine handler of a function an app serves at f.URL.
func (x *Executor) Handler(f *engine.Function) engine.Handler {
	return func(ctx context.Context, r *engine.Run) (json.RawMessage, error) {
		for range maxCalls {
			status, body, err := x.call(ctx, f, r, "step")
			if err != nil {
				return nil, err
			}
			if status == http.StatusOK {
				if len(bytes.TrimSpace(body)) == 0 {
					return json.RawMessage("null"), nil
				}
				return body, nil
			}
			var ops []op
			if err := json.Unmarshal(body, &ops); err != nil {
				return nil, fmt.Errorf("the app's 206 reply is not a list of operations: %w", err)
			}
			out, done, err := x.handle(ctx, f, r, ops)
			if err != nil || done {
				return out, err
			}
		}
		return nil, &engine.NonRetriableError{Err: fmt.Errorf("the function took more than %d calls in one run", maxCalls)}
	}
}

// handle applies the operations of one reply. Sleep, WaitForEvent and
// InvokeFunction end the execution (the engine resumes it later).
func (x *Executor) handle(ctx context.Context, f *engine.Function, r *engine.Run, ops []op) (json.RawMessage, bool, error) {
	for _, o := range ops {
		switch o.Op {
		case "StepRun", "Step":
			if err := r.Record(ctx, o.ID, o.label(), "run", o.Data); err != nil {
				return nil, false, err
			}
		case "StepError":
			return nil, false, fmt.Errorf("step %s: %s", o.label(), errMessage(o.Error))
		case "StepFailed":
			if err := r.RecordFailure(ctx, o.ID, o.label(), o.Error); err != nil {
				return nil, false, err
			}
		case "StepPlanned":
			status, body, err := x.call(ctx, f, r, o.ID)
			if err != nil {
				return nil, false, err
			}
			var sub []op
			if status != http.StatusPartialContent || json.Unmarshal(body, &sub) != nil {
				return nil, false, fmt.Errorf("running planned step %s: unexpected reply %d", o.label(), status)
			}
			if out, done, err := x.handle(ctx, f, r, sub); err != nil || done {
				return out, done, err
			}
		case "Sleep":
			var opts struct {
				Duration string `json:"duration"`
			}
			_ = json.Unmarshal(o.Opts, &opts)
			spec := o.Name
			if opts.Duration != "" {
				spec = opts.Duration
			}
			until, err := ParseTime(spec, time.Now())
			if err != nil {
				return nil, false, &engine.NonRetriableError{Err: fmt.Errorf("sleep %s: %w", o.label(), err)}
			}
			if err := r.SleepExact(ctx, o.ID, o.label(), until); err != nil {
				return nil, false, err
			}
		case "WaitForEvent":
			var opts struct {
				Event   string `json:"event"`
				Timeout string `json:"timeout"`
				If      string `json:"if"`
			}
			_ = json.Unmarshal(o.Opts, &opts)
			if opts.Event == "" {
				opts.Event = o.Name
			}
			timeout, err := ParseDuration(opts.Timeout)
			if err != nil {
				return nil, false, &engine.NonRetriableError{Err: fmt.Errorf("waitForEvent %s: timeout: %w", o.label(), err)}
			}
			if _, err := r.WaitForEvent(ctx, o.ID, opts.Event, opts.If, timeout); err != nil {
				return nil, false, err
			}
		case "InvokeFunction":
			var opts struct {
				FunctionID string `json:"function_id"`
				Payload    struct {
					Data json.RawMessage `json:"data"`
				} `json:"payload"`
				Timeout string `json:"timeout"`
			}
			_ = json.Unmarshal(o.Opts, &opts)
			var timeout time.Duration
			if opts.Timeout != "" {
				if d, err := ParseDuration(opts.Timeout); err == nil {
					timeout = d
				}
			}
			if _, err := r.Invoke(ctx, o.ID, opts.FunctionID, opts.Payload.Data, timeout); err != nil {
				var se *engine.StepError
				if !errors.As(err, &se) {
					return nil, false, err
				}
				// A failed invocation is memoized; the function sees it.
			}
		case "RunComplete":
			var out struct {
				Data json.RawMessage `json:"data"`
			}
			if json.Unmarshal(o.Data, &out) == nil && len(out.Data) > 0 {
				return out.Data, true, nil
			}
			return o.Data, true, nil
		case "StepNotFound":
			return nil, false, fmt.Errorf("the app does not know step %s any more", o.ID)
		default:
			return nil, false, &engine.NonRetriableError{Err: fmt.Errorf("unsupported operation %q from the app", o.Op)}
		}
	}
	return nil, false, nil
}

func errMessage(raw json.RawMessage) string {
	var inner string
	if json.Unmarshal(raw, &inner) == nil && inner != "" {
		raw = json.RawMessage(inner) // 2.x sends the serialized error as a string
	}
	var e struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Message != "" {
		return e.Message
	}
	return string(raw)
}

// request is the body of a call, as the SDKs read it.
type request struct {
	Event   json.RawMessage            `json:"event"`
	Events  []json.RawMessage          `json:"events"`
	Steps   map[string]json.RawMessage `json:"steps"`
	Ctx     callCtx                    `json:"ctx"`
	Version int                        `json:"version"`
	UseAPI  bool                       `json:"use_api"`
}

type callCtx struct {
	RunID                     string `json:"run_id"`
	Env                       string `json:"env"`
	StepID                    string `json:"step_id"`
	Attempt                   int    `json:"attempt"`
	MaxAttempts               int    `json:"max_attempts"`
	Stack                     stack  `json:"stack"`
	DisableImmediateExecution bool   `json:"disable_immediate_execution"`
	UseAPI                    bool   `json:"use_api"`
}

type stack struct {
	Stack   []string `json:"stack"`
	Current int      `json:"current"`
}

// body builds the call: the trigger (with the owner's job token in
// event.user for owned jobs, never stored), the memoized steps and ctx.
// ctx.fn_id is left out so every SDK generation runs classic execution.
func (x *Executor) body(ctx context.Context, f *engine.Function, r *engine.Run, stepID string) ([]byte, error) {
	v0 := legacySDK(f.SDK)
	memo, err := r.Memo(ctx)
	if err != nil {
		return nil, err
	}
	steps := make(map[string]json.RawMessage, len(memo))
	order := make([]string, 0, len(memo))
	for _, s := range memo {
		order = append(order, s.ID)
		out := s.Output
		if len(out) == 0 {
			out = json.RawMessage("null")
		}
		switch {
		case v0:
			steps[s.ID] = out // SDKs before 3.x take the bare value
		case s.Status == store.StepFailed:
			steps[s.ID], _ = json.Marshal(map[string]json.RawMessage{"error": s.Error})
		default:
			steps[s.ID], _ = json.Marshal(map[string]json.RawMessage{"data": out})
		}
	}
	event := r.Job.Input
	if r.Job.Owner != "" && r.Token != "" {
		var ev map[string]json.RawMessage
		if json.Unmarshal(event, &ev) == nil {
			var u map[string]any
			_ = json.Unmarshal(ev["user"], &u)
			if u == nil {
				u = map[string]any{}
			}
			u["id"], u["access_token"], u["expires_at"] = r.Job.Owner, r.Token, r.TokenExpiresAt
			ev["user"], _ = json.Marshal(u)
			event, _ = json.Marshal(ev)
		}
	}
	env := x.Env
	if env == "" {
		env = "dev"
	}
	events := r.Events()
	if len(events) == 1 {
		events = []json.RawMessage{event} // with the owner's token, as in event
	}
	req := request{Event: event, Events: events, Steps: steps, Version: 1,
		Ctx: callCtx{RunID: r.Job.ID, Env: env, StepID: stepID, Attempt: r.Attempt, MaxAttempts: r.Job.MaxAttempts,
			Stack: stack{Stack: order, Current: len(order)}}}
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return Canonical(raw)
}

// call posts one request to the app and returns a 200 or 206 reply; any
// other reply is an error, non-retriable when the app says so.
func (x *Executor) call(ctx context.Context, f *engine.Function, r *engine.Run, stepID string) (int, []byte, error) {
	body, err := x.body(ctx, f, r, stepID)
	if err != nil {
		return 0, nil, err
	}
	u, err := url.Parse(f.URL)
	if err != nil {
		return 0, nil, &engine.NonRetriableError{Err: fmt.Errorf("function %s has an invalid URL: %w", f.ID, err)}
	}
	q := u.Query()
	q.Set("fnId", f.ID)
	q.Set("stepId", stepID)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "errand")
	if x.SigningKey != "" {
		req.Header.Set("X-Inngest-Signature", Sign(body, x.SigningKey, time.Now()))
	}
	hc := x.Client
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("call %s: %w", f.ID, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("read the reply of %s: %w", f.ID, err)
	}
	if resp.Header.Get("X-Inngest-SDK") == "" {
		return 0, nil, fmt.Errorf("the reply of %s (status %d) has no X-Inngest-SDK header: is %s an Inngest serve endpoint?", f.ID, resp.StatusCode, u.Host)
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent {
		return resp.StatusCode, data, nil
	}
	msg := fmt.Errorf("%s", errMessage(data))
	if strings.EqualFold(resp.Header.Get("X-Inngest-No-Retry"), "true") {
		return 0, nil, &engine.NonRetriableError{Err: msg}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil {
			return 0, nil, &engine.RetryAfterError{Err: msg, After: time.Duration(secs) * time.Second}
		}
		if t, err := time.Parse(time.RFC3339, ra); err == nil {
			return 0, nil, &engine.RetryAfterError{Err: msg, After: time.Until(t)}
		}
	}
	return 0, nil, msg
}

// Sign makes an X-Inngest-Signature value: t=<unix>&s=<hex HMAC-SHA256 of
// body followed by t>, keyed with the signing key without its prefix.
func Sign(body []byte, signingKey string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	m := hmac.New(sha256.New, []byte(stripPrefix(signingKey)))
	m.Write(body)
	m.Write([]byte(ts))
	return "t=" + ts + "&s=" + hex.EncodeToString(m.Sum(nil))
}

// stripPrefix removes "signkey-<env>-" from a signing key.
func stripPrefix(key string) string {
	if strings.HasPrefix(key, "signkey-") {
		if i := strings.Index(key[len("signkey-"):], "-"); i >= 0 {
			return key[len("signkey-")+i+1:]
		}
	}
	return key
}

// HashedSigningKey is how SDKs present a signing key as a bearer token:
// signkey-<env>-<hex(sha256(hexdecode(key)))>.
func HashedSigningKey(key string) (string, error) {
	raw := stripPrefix(key)
	b, err := hex.DecodeString(raw)
	if err != nil {
		return "", fmt.Errorf("signing key is not hex: %w", err)
	}
	sum := sha256.Sum256(b)
	prefix := strings.TrimSuffix(key, raw)
	return prefix + hex.EncodeToString(sum[:]), nil
}

// legacySDK reports an SDK before 3.x ("js:v2.0.1"), which reads memoized
// steps as bare values rather than {data} or {error}.
func legacySDK(sdk string) bool {
	v, ok := strings.CutPrefix(sdk, "js:v")
	if !ok {
		return false
	}
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n < 3
}
