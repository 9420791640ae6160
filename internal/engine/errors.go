package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// NonRetriableError fails a job at once, whatever attempts are left.
type NonRetriableError struct{ Err error }

func (e *NonRetriableError) Error() string { return e.Err.Error() }
func (e *NonRetriableError) Unwrap() error { return e.Err }

// RetryAfterError retries a job no sooner than After.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// StepError is the memoized failure of a step, returned to the function
// each time it reaches that step again.
type StepError struct {
	Step    string
	Message string
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s failed: %s", e.Step, e.Message) }

// ErrorJSON is how errors are stored on jobs and steps.
type ErrorJSON struct {
	Name    string `json:"name"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

func errorJSON(err error, code string) json.RawMessage {
	name := "Error"
	var nr *NonRetriableError
	if errors.As(err, &nr) {
		name = "NonRetriableError"
	}
	b, _ := json.Marshal(ErrorJSON{Name: name, Message: err.Error(), Code: code})
	return b
}

// suspend is the panic value a step uses to end an execution that must
// wait: for a sleep, an event or another job.
type suspend struct {
	step  string
	runAt int64
}

// ErrOwnerUnavailable is what Config.Identity returns for an owner who
// was deleted or banned.
var ErrOwnerUnavailable = errors.New("the job's owner was deleted or is banned")

// Sentinel causes of a running job's context being cancelled.
var (
	errCancelled = errors.New("job cancelled")
	errLeaseLost = errors.New("lease lost: the job is being run elsewhere")
	errShutdown  = errors.New("errand is shutting down")
	errTimeout   = errors.New("the job's finish timeout passed")
)
