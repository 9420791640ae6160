package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/errand-dev/errand/internal/expr"
)

// Handler runs one execution of a function. It returns the job's output;
// step calls on the Run memoize work across executions.
type Handler func(ctx context.Context, r *Run) (json.RawMessage, error)

// Trigger starts a function: an event name with an optional CEL filter,
// or a cron schedule.
type Trigger struct {
	Event string `json:"event,omitempty"`
	If    string `json:"if,omitempty"`
	Cron  string `json:"cron,omitempty"`
}

// Concurrency limits how many jobs run at once: in total for the function
// (Key empty), or per value of the CEL key expression. Scope "fn" (the
// default) counts this function's jobs; "env" counts the jobs of every
// function sharing the same key expression.
type Concurrency struct {
	Limit int    `json:"limit"`
	Key   string `json:"key,omitempty"`
	Scope string `json:"scope,omitempty"`
}

// CancelOn cancels a job when a matching event arrives: If sees the job's
// trigger as event and the new event as async.
type CancelOn struct {
	Event   string        `json:"event"`
	If      string        `json:"if,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Function is a unit of work the engine runs.
type Function struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	App         string        `json:"app,omitempty"`
	Triggers    []Trigger     `json:"triggers"`
	Retries     int           `json:"retries"` // -1: the default (4)
	Concurrency []Concurrency `json:"concurrency,omitempty"`
	CancelOn    []CancelOn    `json:"cancel,omitempty"`
	// Idempotency is a CEL expression; of jobs with the same value only
	// the first is created.
	Idempotency string `json:"idempotency,omitempty"`
	// Priority is a CEL expression giving a job a priority from -600 to
	// 600 (Inngest's priority.run); within a partition higher runs first.
	Priority string `json:"priority,omitempty"`
	// RateLimit skips events beyond Limit jobs per Period (per value of
	// the CEL Key): they are stored but start no job.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// Throttle starts at most Limit jobs per Period (per value of Key);
	// the others wait their turn.
	Throttle *Throttle `json:"throttle,omitempty"`
	// Batch collects events into one job: it starts with MaxSize events,
	// or with what it has Timeout after the first (per value of Key).
	Batch *Batch `json:"batch,omitempty"`
	// Debounce delays a job until Period has passed without another
	// event (per value of Key); the job runs with the latest event.
	Debounce *Debounce `json:"debounce,omitempty"`
	// Timeouts cancel a job that has not started (Start, from creation)
	// or finished (Finish, from its first start) in time.
	Timeouts Timeouts `json:"timeouts,omitzero"`
	// OwnerLimit caps the jobs of one owner running at once; 0 uses the
	// engine's default, -1 means no limit.
	OwnerLimit int `json:"owner_limit,omitempty"`
	// URL is set for functions an app serves over HTTP (the Inngest
	// protocol); any process can run them, with Config.RemoteHandler.
	URL string `json:"url,omitempty"`
	// SDK names the SDK serving it ("js:v3.54.2"), which fixes the
	// protocol generation errand speaks to it.
	SDK     string  `json:"sdk,omitempty"`
	Handler Handler `json:"-"`
	// OnFailure runs, as the function "<ID>-failure", after a job of this
	// function failed for good. It is triggered by FailedEvent.
	OnFailure Handler `json:"-"`
}

// RateLimit is a function's rate limit.
type RateLimit struct {
	Limit  int           `json:"limit"`
	Period time.Duration `json:"period"`
	Key    string        `json:"key,omitempty"`
}

// Batch is a function's event batching.
type Batch struct {
	MaxSize int           `json:"max_size"`
	Timeout time.Duration `json:"timeout"`
	Key     string        `json:"key,omitempty"`
}

// Throttle is a function's throttle.
type Throttle struct {
	Limit  int           `json:"limit"`
	Period time.Duration `json:"period"`
	Key    string        `json:"key,omitempty"`
}

// Debounce is a function's debounce.
type Debounce struct {
	Period time.Duration `json:"period"`
	Key    string        `json:"key,omitempty"`
}

// Timeouts bound how long a job may wait to start and take to finish.
type Timeouts struct {
	Start  time.Duration `json:"start,omitempty"`
	Finish time.Duration `json:"finish,omitempty"`
}

// DefaultRetries is how many times a failed job is retried unless its
// function says otherwise, as in Inngest.
const DefaultRetries = 4

// MaxRetries is the most retries a function may ask for.
const MaxRetries = 20

func (f *Function) maxAttempts() int {
	r := f.Retries
	if r < 0 {
		r = DefaultRetries
	}
	return r + 1
}

// Validate checks a function's configuration, compiling its expressions.
func (f *Function) Validate() error {
	if f.ID == "" {
		return fmt.Errorf("function has no id")
	}
	if f.Handler == nil {
		return fmt.Errorf("function %s has no handler", f.ID)
	}
	if f.Retries > MaxRetries {
		return fmt.Errorf("function %s: retries %d is more than %d", f.ID, f.Retries, MaxRetries)
	}
	for _, t := range f.Triggers {
		switch {
		case t.Event != "" && t.Cron != "":
			return fmt.Errorf("function %s: a trigger has both event and cron", f.ID)
		case t.Cron != "":
			if _, err := cronParser.Parse(t.Cron); err != nil {
				return fmt.Errorf("function %s: invalid cron %q: %w", f.ID, t.Cron, err)
			}
		case t.Event == "":
			return fmt.Errorf("function %s: a trigger needs an event name or a cron schedule", f.ID)
		}
		if t.If != "" {
			if _, err := expr.Compile(t.If); err != nil {
				return fmt.Errorf("function %s: %w", f.ID, err)
			}
		}
	}
	keyed := 0
	for _, c := range f.Concurrency {
		if c.Limit < 0 {
			return fmt.Errorf("function %s: concurrency limit %d is negative", f.ID, c.Limit)
		}
		if c.Key != "" {
			keyed++
			if _, err := expr.Compile(c.Key); err != nil {
				return fmt.Errorf("function %s: concurrency key: %w", f.ID, err)
			}
		}
	}
	if keyed > 2 {
		return fmt.Errorf("function %s: at most two keyed concurrency limits", f.ID)
	}
	for _, c := range f.CancelOn {
		if c.Event == "" {
			return fmt.Errorf("function %s: cancel needs an event name", f.ID)
		}
		if _, err := expr.Compile(c.If); c.If != "" && err != nil {
			return fmt.Errorf("function %s: cancel: %w", f.ID, err)
		}
	}
	if f.Priority != "" {
		if _, err := expr.Compile(f.Priority); err != nil {
			return fmt.Errorf("function %s: priority: %w", f.ID, err)
		}
	}
	if rl := f.RateLimit; rl != nil {
		if rl.Limit <= 0 || rl.Period <= 0 {
			return fmt.Errorf("function %s: rate limit needs a positive limit and period", f.ID)
		}
		if _, err := expr.Compile(rl.Key); rl.Key != "" && err != nil {
			return fmt.Errorf("function %s: rate limit key: %w", f.ID, err)
		}
	}
	if b := f.Batch; b != nil {
		if b.MaxSize < 1 || b.MaxSize > 1000 || b.Timeout <= 0 {
			return fmt.Errorf("function %s: batch needs a max size from 1 to 1000 and a positive timeout", f.ID)
		}
		if _, err := expr.Compile(b.Key); b.Key != "" && err != nil {
			return fmt.Errorf("function %s: batch key: %w", f.ID, err)
		}
	}
	if th := f.Throttle; th != nil {
		if th.Limit <= 0 || th.Period <= 0 || th.Period > 7*24*time.Hour {
			return fmt.Errorf("function %s: throttle needs a positive limit and a period of at most 7 days", f.ID)
		}
		if _, err := expr.Compile(th.Key); th.Key != "" && err != nil {
			return fmt.Errorf("function %s: throttle key: %w", f.ID, err)
		}
	}
	if d := f.Debounce; d != nil {
		if d.Period <= 0 {
			return fmt.Errorf("function %s: debounce needs a positive period", f.ID)
		}
		if _, err := expr.Compile(d.Key); d.Key != "" && err != nil {
			return fmt.Errorf("function %s: debounce key: %w", f.ID, err)
		}
	}
	if f.Timeouts.Start < 0 || f.Timeouts.Finish < 0 {
		return fmt.Errorf("function %s: timeouts must be positive", f.ID)
	}
	if f.Idempotency != "" {
		if _, err := expr.Compile(f.Idempotency); err != nil {
			return fmt.Errorf("function %s: idempotency: %w", f.ID, err)
		}
	}
	return nil
}

// cronParser accepts standard five-field specs and descriptors (@hourly),
// with an optional "TZ=Zone " prefix.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ValidateCron checks a cron schedule.
func ValidateCron(spec string) error {
	_, err := cronParser.Parse(spec)
	return err
}
