package errand

import (
	"errors"
	"time"

	"github.com/errand-dev/errand/internal/engine"
)

// ErrNotInJob is returned by step tools called outside a running job.
var ErrNotInJob = errors.New("errand: step tools can only be used inside a function run by errand")

// NonRetriable wraps err so the job fails at once instead of retrying.
func NonRetriable(err error) error { return &engine.NonRetriableError{Err: err} }

// RetryAfter wraps err so the job is retried no sooner than d from now.
func RetryAfter(d time.Duration, err error) error { return &engine.RetryAfterError{Err: err, After: d} }

// StepError is the stored failure of a step or of an invoked job.
type StepError = engine.StepError
