package errand

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/errand-dev/errand/internal/engine"
)

func current(ctx context.Context) (*engine.Run, error) {
	r, ok := engine.RunFrom(ctx)
	if !ok {
		return nil, ErrNotInJob
	}
	return r, nil
}

// Run runs fn as a step named id: once per job. When the job runs again
// (a retry, a resume after a sleep, a restart), Run returns the stored
// result instead of calling fn. A repeated id gets a counter suffix.
func Run[R any](ctx context.Context, id string, fn func(ctx context.Context) (R, error)) (R, error) {
	var zero R
	r, err := current(ctx)
	if err != nil {
		return zero, err
	}
	raw, err := r.Step(ctx, id, func(ctx context.Context) (json.RawMessage, error) {
		out, err := fn(ctx)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, NonRetriable(fmt.Errorf("encode output of step %s: %w", id, err))
		}
		return b, nil
	})
	if err != nil {
		return zero, err
	}
	var out R
	if err := json.Unmarshal(raw, &out); err != nil {
		return zero, NonRetriable(fmt.Errorf("decode output of step %s: %w", id, err))
	}
	return out, nil
}

// Sleep pauses the job for d, measured from the first time this step is
// reached. No worker is held while it sleeps.
func Sleep(ctx context.Context, id string, d time.Duration) error {
	return SleepUntil(ctx, id, time.Now().Add(d))
}

// SleepUntil pauses the job until t.
func SleepUntil(ctx context.Context, id string, t time.Time) error {
	r, err := current(ctx)
	if err != nil {
		return err
	}
	return r.SleepUntil(ctx, id, t)
}

// WaitOpts says which event WaitForEvent waits for.
type WaitOpts struct {
	// Event is the name to wait for. Required.
	Event string
	// If is a CEL expression over event (this job's trigger) and async
	// (the candidate), e.g. `async.data.order_id == event.data.order_id`.
	If string
	// Timeout is how long to wait. Required.
	Timeout time.Duration
}

// WaitForEvent pauses the job until a matching event arrives and returns
// it, or returns nil when the timeout passes first.
func WaitForEvent[T any](ctx context.Context, id string, opts WaitOpts) (*Event[T], error) {
	r, err := current(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Event == "" || opts.Timeout <= 0 {
		return nil, NonRetriable(fmt.Errorf("wait %s: an event name and a positive timeout are required", id))
	}
	raw, err := r.WaitForEvent(ctx, id, opts.Event, opts.If, opts.Timeout)
	if err != nil || raw == nil {
		return nil, err
	}
	ev, err := decodeEvent[T](raw)
	if err != nil {
		return nil, NonRetriable(err)
	}
	return &ev, nil
}

// SendEvent sends events from inside a job, once: a retried or resumed
// job does not send them again. The events are owned by the job's owner.
func SendEvent(ctx context.Context, id string, events ...Sendable) ([]string, error) {
	r, err := current(ctx)
	if err != nil {
		return nil, err
	}
	evs, err := toStoreEvents(events)
	if err != nil {
		return nil, NonRetriable(err)
	}
	return r.SendEvent(ctx, id, evs)
}

// InvokeOpts configures Invoke.
type InvokeOpts struct {
	// Timeout fails the step if the invoked job has not ended by then;
	// 0 waits as long as it takes.
	Timeout time.Duration
}

// Invoke runs another function with data as its trigger's data, waits for
// its job to end, and returns its output. If that job fails, the error is
// a *StepError.
func Invoke[R any](ctx context.Context, id string, fn *Function, data any, opts *InvokeOpts) (R, error) {
	var zero R
	r, err := current(ctx)
	if err != nil {
		return zero, err
	}
	body, err := json.Marshal(data)
	if err != nil {
		return zero, NonRetriable(fmt.Errorf("encode data for invoke %s: %w", id, err))
	}
	var timeout time.Duration
	if opts != nil {
		timeout = opts.Timeout
	}
	raw, err := r.Invoke(ctx, id, fn.ID(), body, timeout)
	if err != nil {
		return zero, err
	}
	var out R
	if err := json.Unmarshal(raw, &out); err != nil {
		return zero, NonRetriable(fmt.Errorf("decode output of invoke %s: %w", id, err))
	}
	return out, nil
}

// Progress records how far the running job has got: fraction in [0, 1]
// and a short message, shown to the user watching the job.
func Progress(ctx context.Context, fraction float64, message string) error {
	r, err := current(ctx)
	if err != nil {
		return err
	}
	return r.Progress(ctx, fraction, message)
}
