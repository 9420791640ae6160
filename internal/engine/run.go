package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/errand-dev/errand/internal/expr"
	"github.com/errand-dev/errand/internal/store"
)

// Run is one execution of a job. Its step methods memoize: a step that
// finished in an earlier execution returns its stored result without
// running again.
type Run struct {
	// Job is the job as claimed.
	Job *store.Job
	// Attempt is the 0-based attempt of the current step.
	Attempt int
	// Token is the owner's job token for this attempt (owned jobs only):
	// an access token with the owner's claims and this job's id.
	Token string
	// TokenExpiresAt is when Token expires (Unix seconds).
	TokenExpiresAt int64
	// User is the owner as the accounts API shows them (owned jobs only).
	User json.RawMessage

	be     Backend
	fn     *Function
	lease  store.Lease
	memo   map[string]*store.Step
	loaded bool
	counts map[string]int
}

// Backend is what a Run stores its steps with and acts through: the
// engine for jobs it runs, or an SDK serve handler that answers the
// Inngest protocol (its SaveStep ends the call with an operation).
type Backend interface {
	Steps(ctx context.Context, jobID string) ([]*store.Step, error)
	SaveStep(ctx context.Context, l store.Lease, s *store.Step, attempt int, w *store.Wait) error
	Progress(ctx context.Context, l store.Lease, fraction float64, message string) error
	Send(ctx context.Context, events []*store.Event) ([]string, error)
	Invoke(ctx context.Context, f *Function, ev *store.Event, parentJob, parentStep string) error
	Function(id string) (*Function, bool)
	Now() int64
}

// NewRun makes a Run outside the engine, for a serve handler: memo holds
// the steps the caller already finished.
func NewRun(job *store.Job, attempt int, token string, be Backend) *Run {
	job.Resumed = true
	return &Run{Job: job, Attempt: attempt, Token: token, be: be, counts: map[string]int{}, memo: map[string]*store.Step{}}
}

// engineBackend is the engine as a Run's backend.
type engineBackend struct{ e *Engine }

func (b engineBackend) Steps(ctx context.Context, jobID string) ([]*store.Step, error) {
	return b.e.st.Steps(ctx, jobID)
}

func (b engineBackend) SaveStep(ctx context.Context, l store.Lease, s *store.Step, attempt int, w *store.Wait) error {
	return b.e.st.SaveStep(ctx, l, s, attempt, w)
}

func (b engineBackend) Progress(ctx context.Context, l store.Lease, fraction float64, message string) error {
	if err := b.e.st.ReportProgress(ctx, l, fraction, message, b.e.now()); err != nil {
		return err
	}
	b.e.changed(l.JobID)
	return nil
}

func (b engineBackend) Send(ctx context.Context, events []*store.Event) ([]string, error) {
	res, err := b.e.Send(ctx, events)
	if err != nil {
		return nil, err
	}
	return res.IDs, nil
}

func (b engineBackend) Invoke(ctx context.Context, f *Function, ev *store.Event, parentJob, parentStep string) error {
	return b.e.invoke(ctx, f, ev, parentJob, parentStep)
}

func (b engineBackend) Function(id string) (*Function, bool) { return b.e.Function(id) }
func (b engineBackend) Now() int64                           { return b.e.now() }

type runKey struct{}

// WithRun returns a context carrying r.
func WithRun(ctx context.Context, r *Run) context.Context { return context.WithValue(ctx, runKey{}, r) }

// RunFrom returns the Run in ctx, if any.
func RunFrom(ctx context.Context) (*Run, bool) {
	r, ok := ctx.Value(runKey{}).(*Run)
	return r, ok
}

// Events returns the job's trigger events: the batch of a batched job,
// else the one trigger.
func (r *Run) Events() []json.RawMessage {
	var evs []json.RawMessage
	if len(r.Job.Batch) > 0 && json.Unmarshal(r.Job.Batch, &evs) == nil && len(evs) > 0 {
		return evs
	}
	return []json.RawMessage{r.Job.Input}
}

// stepID makes a repeated step name unique: name, name:1, name:2, ...
func (r *Run) stepID(name string) string {
	n := r.counts[name]
	r.counts[name]++
	if n == 0 {
		return name
	}
	return fmt.Sprintf("%s:%d", name, n)
}

func (r *Run) memoized(ctx context.Context, id string) (*store.Step, error) {
	if !r.loaded {
		r.loaded = true
		if r.Job.Resumed {
			steps, err := r.be.Steps(ctx, r.Job.ID)
			if err != nil {
				return nil, err
			}
			for _, s := range steps {
				r.memo[s.ID] = s
			}
		}
	}
	return r.memo[id], nil
}

func (r *Run) save(ctx context.Context, s *store.Step, w *store.Wait) error {
	s.JobID = r.Job.ID
	if err := r.be.SaveStep(ctx, r.lease, s, r.Attempt, w); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			return fmt.Errorf("step %s: %w", s.ID, err)
		}
		return err
	}
	r.memo[s.ID] = s
	return nil
}

func (r *Run) memoResult(s *store.Step) (json.RawMessage, error) {
	if s.Status == store.StepFailed {
		var ej ErrorJSON
		_ = json.Unmarshal(s.Error, &ej)
		return nil, &StepError{Step: s.ID, Message: ej.Message}
	}
	return s.Output, nil
}

// Step runs fn once for this job: its output is stored and returned again
// by later executions instead of running fn. An error fails the attempt;
// the job is retried from its start, where finished steps are skipped.
func (r *Run) Step(ctx context.Context, name string, fn func(context.Context) (json.RawMessage, error)) (json.RawMessage, error) {
	return r.stepAs(ctx, r.stepID(name), name, "run", fn)
}

// SleepUntil suspends the job until t.
func (r *Run) SleepUntil(ctx context.Context, name string, t time.Time) error {
	return r.sleepUntil(ctx, r.stepID(name), name, t)
}

func (r *Run) sleepUntil(ctx context.Context, id, name string, t time.Time) error {
	s, err := r.memoized(ctx, id)
	if err != nil {
		return err
	}
	if s != nil && s.Status != store.StepWaiting {
		return nil
	}
	now := r.be.Now()
	wake := t.UnixMicro()
	if s != nil {
		wake = s.WakeAt
	}
	if now >= wake {
		start := now
		if s != nil {
			start = s.StartedAt
		}
		return r.save(ctx, &store.Step{ID: id, Name: name, Kind: "sleep", Status: store.StepDone, Output: json.RawMessage("null"),
			StartedAt: start, EndedAt: now, WakeAt: wake}, nil)
	}
	if s == nil {
		if err := r.save(ctx, &store.Step{ID: id, Name: name, Kind: "sleep", Status: store.StepWaiting, StartedAt: now, WakeAt: wake}, nil); err != nil {
			return err
		}
	}
	panic(suspend{step: id, runAt: wake})
}

// WaitForEvent suspends the job until an event named event arrives for
// which the CEL expression ifExpr holds (event: this job's trigger, async:
// the new event), and returns that event; nil after timeout.
func (r *Run) WaitForEvent(ctx context.Context, name, event, ifExpr string, timeout time.Duration) (json.RawMessage, error) {
	id := r.stepID(name)
	if ifExpr != "" {
		if _, err := expr.Compile(ifExpr); err != nil {
			return nil, &NonRetriableError{err}
		}
	}
	s, err := r.memoized(ctx, id)
	if err != nil {
		return nil, err
	}
	if s != nil && s.Status != store.StepWaiting {
		if string(s.Output) == "null" {
			return nil, nil
		}
		return s.Output, nil
	}
	now := r.be.Now()
	if s == nil {
		expires := now + timeout.Microseconds()
		st := &store.Step{ID: id, Name: name, Kind: "waitForEvent", Status: store.StepWaiting, StartedAt: now, WakeAt: expires}
		w := &store.Wait{EventName: event, Expr: ifExpr, ExpiresAt: expires, StepID: id, JobID: r.Job.ID}
		if err := r.save(ctx, st, w); err != nil {
			return nil, err
		}
		panic(suspend{step: id, runAt: expires})
	}
	if now >= s.WakeAt {
		return nil, r.save(ctx, &store.Step{ID: id, Name: name, Kind: "waitForEvent", Status: store.StepDone,
			Output: json.RawMessage("null"), StartedAt: s.StartedAt, EndedAt: now, WakeAt: s.WakeAt}, nil)
	}
	panic(suspend{step: id, runAt: s.WakeAt})
}

// SendEvent sends events once for this job (a step), owned by the job's
// owner, with ids derived from the job and step so a re-run cannot send
// them twice.
func (r *Run) SendEvent(ctx context.Context, name string, events []*store.Event) ([]string, error) {
	id := r.stepID(name)
	out, err := r.stepAs(ctx, id, name, "sendEvent", func(ctx context.Context) (json.RawMessage, error) {
		for i, ev := range events {
			if err := ValidEventName(ev.Name); err != nil {
				return nil, &NonRetriableError{err}
			}
			if ev.ID == "" {
				ev.ID = r.derivedID(fmt.Sprintf("%s/%d", id, i))
			}
			ev.Owner = r.Job.Owner
		}
		ids, err := r.be.Send(ctx, events)
		if err != nil {
			return nil, err
		}
		return json.Marshal(ids)
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	_ = json.Unmarshal(out, &ids)
	return ids, nil
}

// stepAs is Step with an explicit id and kind. A failure that is final
// (non-retriable, or on the last attempt) is recorded for the timeline.
func (r *Run) stepAs(ctx context.Context, id, name, kind string, fn func(context.Context) (json.RawMessage, error)) (json.RawMessage, error) {
	s, err := r.memoized(ctx, id)
	if err != nil {
		return nil, err
	}
	if s != nil && s.Status != store.StepWaiting {
		return r.memoResult(s)
	}
	start := r.be.Now()
	out, err := fn(ctx)
	if err != nil {
		var nr *NonRetriableError
		if errors.As(err, &nr) || r.Attempt+1 >= r.Job.MaxAttempts {
			fail := &store.Step{ID: id, Name: name, Kind: kind, Status: store.StepFailed, Error: errorJSON(err, ""),
				Attempts: r.Attempt + 1, StartedAt: start, EndedAt: r.be.Now()}
			if serr := r.save(ctx, fail, nil); serr != nil {
				return nil, errors.Join(err, serr)
			}
		}
		return nil, err
	}
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	attempts := r.Attempt + 1
	r.Attempt = 0
	done := &store.Step{ID: id, Name: name, Kind: kind, Status: store.StepDone, Output: out, Attempts: attempts,
		StartedAt: start, EndedAt: r.be.Now()}
	if err := r.save(ctx, done, nil); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Run) derivedID(salt string) string {
	h := sha256.Sum256([]byte(r.Job.ID + "/" + salt))
	var id ulid.ULID
	_ = id.SetTime(uint64(r.Job.CreatedAt / 1000))
	_ = id.SetEntropy(h[:10])
	return id.String()
}

// Invoke starts function fnID with data (a JSON object) as a child job and
// suspends until it ends; it returns the child's output, or its error as
// a *StepError. timeout 0 waits as long as it takes.
func (r *Run) Invoke(ctx context.Context, name, fnID string, data json.RawMessage, timeout time.Duration) (json.RawMessage, error) {
	id := r.stepID(name)
	s, err := r.memoized(ctx, id)
	if err != nil {
		return nil, err
	}
	if s != nil && s.Status != store.StepWaiting {
		return r.memoResult(s)
	}
	f, ok := r.be.Function(fnID)
	if !ok {
		return nil, &NonRetriableError{fmt.Errorf("invoke: no function %q is registered", fnID)}
	}
	now := r.be.Now()
	wake := now + (10 * 365 * 24 * time.Hour).Microseconds()
	if timeout > 0 {
		wake = now + timeout.Microseconds()
	}
	if s == nil {
		if err := r.save(ctx, &store.Step{ID: id, Name: name, Kind: "invoke", Status: store.StepWaiting, StartedAt: now, WakeAt: wake}, nil); err != nil {
			return nil, err
		}
	} else {
		wake = s.WakeAt
		if now >= wake {
			err := fmt.Errorf("invoke %s: timed out", fnID)
			fail := &store.Step{ID: id, Name: name, Kind: "invoke", Status: store.StepFailed, Error: errorJSON(err, "timeout"),
				StartedAt: s.StartedAt, EndedAt: now, WakeAt: wake}
			if err := r.save(ctx, fail, nil); err != nil {
				return nil, err
			}
			return nil, &StepError{Step: id, Message: err.Error()}
		}
	}
	if len(data) == 0 || string(data) == "null" {
		data = json.RawMessage("{}")
	}
	// The child's event id is derived from this step, so a resumed
	// execution re-sending it creates nothing new.
	ev := &store.Event{ID: r.derivedID(id + "/invoke"), Name: InvokedEvent, Data: data, Owner: r.Job.Owner}
	if err := r.be.Invoke(ctx, f, ev, r.Job.ID, id); err != nil {
		return nil, err
	}
	panic(suspend{step: id, runAt: wake})
}

// Progress records how far the job has got: a fraction in [0, 1] and a
// message for people.
func (r *Run) Progress(ctx context.Context, fraction float64, message string) error {
	if fraction < 0 || fraction > 1 || fraction != fraction {
		return fmt.Errorf("progress %v is outside [0, 1]", fraction)
	}
	if len(message) > 1024 {
		message = message[:1024]
	}
	return r.be.Progress(ctx, r.lease, fraction, message)
}

// Memo returns the job's finished and failed steps, in the order they started.
func (r *Run) Memo(ctx context.Context) ([]*store.Step, error) {
	if _, err := r.memoized(ctx, ""); err != nil {
		return nil, err
	}
	out := make([]*store.Step, 0, len(r.memo))
	for _, s := range r.memo {
		if s.Status != store.StepWaiting {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].StartedAt != out[j].StartedAt {
			return out[i].StartedAt < out[j].StartedAt
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Record memoizes the result of a step that ran elsewhere (in an app
// serving the function over HTTP) under its exact id.
func (r *Run) Record(ctx context.Context, id, name, kind string, data json.RawMessage) error {
	_, err := r.stepAs(ctx, id, name, kind, func(context.Context) (json.RawMessage, error) {
		if len(data) == 0 {
			return json.RawMessage("null"), nil
		}
		return data, nil
	})
	return err
}

// RecordFailure memoizes a step that failed for good elsewhere: its error
// is handed back to the function each time it reaches the step.
func (r *Run) RecordFailure(ctx context.Context, id, name string, errJSON json.RawMessage) error {
	now := r.be.Now()
	return r.save(ctx, &store.Step{ID: id, Name: name, Kind: "run", Status: store.StepFailed, Error: errJSON,
		Attempts: r.Attempt + 1, StartedAt: now, EndedAt: now}, nil)
}

// SleepExact is SleepUntil under a step id chosen by an SDK, used as it
// is. (WaitForEvent and Invoke keep an id that is new in the execution.)
func (r *Run) SleepExact(ctx context.Context, id, name string, t time.Time) error {
	return r.sleepUntil(ctx, id, name, t)
}
