package errand

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/errand-dev/errand/internal/engine"
)

// Trigger says what starts a function: an event (with an optional CEL
// filter such as `event.data.plan == "pro"`) or a cron schedule.
type Trigger struct {
	Event string
	If    string
	Cron  string
}

// OnEvent triggers a function on every event with this name.
func OnEvent(name string) Trigger { return Trigger{Event: name} }

// OnCron triggers a function on a cron schedule ("*/5 * * * *", "@hourly").
func OnCron(spec string) Trigger { return Trigger{Cron: spec} }

// Concurrency limits how many jobs of a function run at once: in total, or
// per value of Key, a CEL expression such as `event.data.user_id`. Scope
// "env" shares a keyed limit across every function using the same Key.
type Concurrency struct {
	Limit int
	Key   string
	Scope string
}

// CancelOn cancels a job when a matching event arrives. If sees the job's
// trigger as event and the new one as async, e.g.
// `event.data.id == async.data.id`. Timeout 0 keeps the rule for the
// job's whole life.
type CancelOn struct {
	Event   string
	If      string
	Timeout time.Duration
}

// FunctionOpts configures a function.
type FunctionOpts struct {
	// ID identifies the function; required, stable across deploys.
	ID string
	// Name is for people; default ID.
	Name string
	// Retries is how many times a failed job is retried; nil means 4.
	Retries *int
	// Concurrency limits, at most two of them keyed.
	Concurrency []Concurrency
	// CancelOn rules.
	CancelOn []CancelOn
	// Idempotency is a CEL expression; only the first job per value is
	// created, e.g. `event.data.order_id`.
	Idempotency string
	// RateLimit starts at most Limit jobs per Period (per value of the CEL
	// Key, if set); further events start nothing.
	RateLimit *RateLimit
	// Batch collects events into one job (Input.Events): it starts with
	// MaxSize events, or with what it has Timeout after the first.
	Batch *Batch
	// Throttle starts at most Limit jobs per Period (per value of Key);
	// the rest wait their turn. Periods are at most 7 days.
	Throttle *Throttle
	// Debounce runs one job after Period without a new event (per value
	// of Key), with the latest event.
	Debounce *Debounce
	// Priority is a CEL expression from -600 to 600, e.g.
	// `event.data.plan == "pro" ? 100 : 0`; higher runs first.
	Priority string
	// TimeoutStart cancels a job not started this long after it was
	// created; TimeoutFinish one not finished this long after it started.
	TimeoutStart, TimeoutFinish time.Duration
	// OwnerLimit caps how many jobs of one owner run at once; 0 takes
	// the client's default, -1 means unlimited.
	OwnerLimit int
	// OnFailure runs after a job of this function failed for good.
	OnFailure func(ctx context.Context, in Input[FailedData]) error
}

// RateLimit is a function's rate limit.
type RateLimit = engine.RateLimit

// Debounce is a function's debounce.
type Debounce = engine.Debounce

// Throttle is a function's throttle.
type Throttle = engine.Throttle

// Batch is a function's event batching.
type Batch = engine.Batch

// FailedData is the data of the event sent when a job fails for good.
type FailedData struct {
	FunctionID string          `json:"function_id"`
	RunID      string          `json:"run_id"`
	Error      ErrorInfo       `json:"error"`
	Event      json.RawMessage `json:"event"`
}

// ErrorInfo is how errors are stored on jobs.
type ErrorInfo = engine.ErrorJSON

// Input is what a function receives.
type Input[T any] struct {
	// Event is the trigger, decoded.
	Event Event[T]
	// Events are the triggers of a batched function (FunctionOpts.Batch);
	// otherwise Event alone.
	Events []Event[T]
	// Job describes the running job.
	Job JobInfo
}

// JobInfo describes the job a function runs as.
type JobInfo struct {
	ID         string
	FunctionID string
	// Owner is the user the job runs for; empty for system jobs.
	Owner string
	// Attempt is the 0-based attempt of the current step.
	Attempt int
	// Token is the owner's job token for this attempt: an access token
	// with the owner's claims and this job's id, to call APIs as the user.
	// Empty for system jobs or without accounts.
	Token string
	// User is the owner as the accounts API shows them.
	User json.RawMessage
}

// Function is a function ready to register with a Client.
type Function struct {
	def *engine.Function
}

// ID returns the function's id.
func (f *Function) ID() string { return f.def.ID }

// Ptr returns a pointer to v, for optional fields such as Retries.
func Ptr[T any](v T) *T { return &v }

// NewFunction defines a function whose trigger data is T and output R.
func NewFunction[T any, R any](opts FunctionOpts, trigger Trigger, fn func(ctx context.Context, in Input[T]) (R, error)) *Function {
	return NewFunctionTriggers(opts, []Trigger{trigger}, fn)
}

// NewFunctionTriggers is NewFunction with several triggers.
func NewFunctionTriggers[T any, R any](opts FunctionOpts, triggers []Trigger, fn func(ctx context.Context, in Input[T]) (R, error)) *Function {
	def := &engine.Function{ID: opts.ID, Name: opts.Name, Retries: -1, Idempotency: opts.Idempotency, OwnerLimit: opts.OwnerLimit,
		Priority: opts.Priority, Timeouts: engine.Timeouts{Start: opts.TimeoutStart, Finish: opts.TimeoutFinish},
		RateLimit: opts.RateLimit, Debounce: opts.Debounce, Throttle: opts.Throttle, Batch: opts.Batch}
	if def.Name == "" {
		def.Name = opts.ID
	}
	if opts.Retries != nil {
		def.Retries = *opts.Retries
	}
	for _, t := range triggers {
		def.Triggers = append(def.Triggers, engine.Trigger{Event: t.Event, If: t.If, Cron: t.Cron})
	}
	for _, c := range opts.Concurrency {
		def.Concurrency = append(def.Concurrency, engine.Concurrency{Limit: c.Limit, Key: c.Key, Scope: c.Scope})
	}
	for _, c := range opts.CancelOn {
		def.CancelOn = append(def.CancelOn, engine.CancelOn{Event: c.Event, If: c.If, Timeout: c.Timeout})
	}
	def.Handler = handler(fn)
	if opts.OnFailure != nil {
		onFail := opts.OnFailure
		def.OnFailure = handler(func(ctx context.Context, in Input[FailedData]) (struct{}, error) {
			return struct{}{}, onFail(ctx, in)
		})
	}
	return &Function{def: def}
}

func handler[T any, R any](fn func(ctx context.Context, in Input[T]) (R, error)) engine.Handler {
	return func(ctx context.Context, r *engine.Run) (json.RawMessage, error) {
		ev, err := decodeEvent[T](r.Job.Input)
		if err != nil {
			return nil, NonRetriable(err)
		}
		var evs []Event[T]
		for _, raw := range r.Events() {
			e, err := decodeEvent[T](raw)
			if err != nil {
				return nil, NonRetriable(err)
			}
			evs = append(evs, e)
		}
		in := Input[T]{Event: ev, Events: evs, Job: JobInfo{ID: r.Job.ID, FunctionID: r.Job.FunctionID, Owner: r.Job.Owner,
			Attempt: r.Attempt, Token: r.Token, User: r.User}}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, NonRetriable(fmt.Errorf("encode output: %w", err))
		}
		return b, nil
	}
}
