// Package store defines errand's persistence contract: the records it keeps
// (events, jobs, steps, waits) and the Store interface that the SQLite and
// Postgres drivers implement. Every behaviour of that interface is exercised
// by the conformance suite in package storetest against both drivers.
//
// Times are int64 Unix microseconds throughout, in memory and in both
// databases, so that the two drivers share their queries and compare equal.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// Status is a job's public status.
type Status string

// The statuses a job moves through: waiting → running → finished | failed | cancelled.
const (
	StatusWaiting   Status = "waiting"
	StatusRunning   Status = "running"
	StatusFinished  Status = "finished"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Valid reports whether s is one of the five statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusWaiting, StatusRunning, StatusFinished, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// Queue is where a job sits in the scheduler. It is internal bookkeeping
// beside the public Status: a running job that sleeps between steps is
// StatusRunning but QueueScheduled.
type Queue string

// The queue positions of a job.
const (
	QueueReady     Queue = "ready"     // may be claimed now
	QueueScheduled Queue = "scheduled" // becomes ready at RunAt (sleep, retry backoff, wait timeout)
	QueueLeased    Queue = "leased"    // held by a worker until LeaseUntil
	QueueDone      Queue = "done"      // finished, failed or cancelled
)

// Event is one accepted event. IDs are ULIDs unless the sender chose one.
type Event struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Data       json.RawMessage `json:"data"`
	User       json.RawMessage `json:"user,omitempty"`
	TS         int64           `json:"ts"` // milliseconds, as Inngest events carry it
	Owner      string          `json:"owner,omitempty"`
	ReceivedAt int64           `json:"received_at"`
}

// Limit is one concurrency limit a job counts against while it is leased,
// or, with a Period, a throttle: at most Limit starts per Period.
type Limit struct {
	Key    string `json:"k"`
	Limit  int    `json:"n"`
	Period int64  `json:"p,omitempty"` // microseconds; 0 for a concurrency limit
}

// Job is one run of a function for its trigger.
type Job struct {
	ID              string          `json:"id"`
	FunctionID      string          `json:"function"`
	EventID         string          `json:"event_id,omitempty"`
	Owner           string          `json:"owner,omitempty"`
	Status          Status          `json:"status"`
	Queue           Queue           `json:"-"`
	Attempt         int             `json:"attempt"`
	MaxAttempts     int             `json:"max_attempts"`
	Priority        int             `json:"priority"`
	Part            string          `json:"-"`
	Limits          []Limit         `json:"-"`
	RunAt           int64           `json:"-"`
	LeaseOwner      string          `json:"-"`
	LeaseToken      string          `json:"-"`
	LeaseUntil      int64           `json:"-"`
	CancelRequested bool            `json:"-"`
	Input           json.RawMessage `json:"input"`
	Output          json.RawMessage `json:"output,omitempty"`
	Error           json.RawMessage `json:"error,omitempty"`
	Progress        float64         `json:"progress"`
	ProgressMessage string          `json:"progress_message,omitempty"`
	ParentJobID     string          `json:"parent_job_id,omitempty"`
	ParentStepID    string          `json:"parent_step_id,omitempty"`
	IdempotencyKey  string          `json:"-"`
	RateKey         string          `json:"-"` // rate limit key (RateLimit)
	DebounceKey     string          `json:"-"` // debounce key (Debounce)
	BatchKey        string          `json:"-"` // batch key (event batching)
	// Batch holds the events of a batch job (a JSON array), else nil.
	Batch     json.RawMessage `json:"batch,omitempty"`
	CreatedAt int64           `json:"created_at"`
	StartedAt int64           `json:"started_at,omitempty"`
	EndedAt   int64           `json:"ended_at,omitempty"`
	UpdatedAt int64           `json:"updated_at"`
	// Resumed is set by Claim when the job had started before, so it may
	// have memoized steps; a first run skips reading them.
	Resumed bool `json:"-"`
}

// Terminal reports whether the job has ended.
func (j *Job) Terminal() bool {
	return j.Status == StatusFinished || j.Status == StatusFailed || j.Status == StatusCancelled
}

// StepStatus is the state of a memoized step.
type StepStatus string

// Step states. A step in StepDone or StepFailed is never executed again.
const (
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
	StepWaiting StepStatus = "waiting" // sleep, waitForEvent or invoke not yet resolved
)

// Step is one memoized unit of a job.
type Step struct {
	JobID     string          `json:"job_id"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Status    StepStatus      `json:"status"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     json.RawMessage `json:"error,omitempty"`
	Attempts  int             `json:"attempts"`
	StartedAt int64           `json:"started_at"`
	EndedAt   int64           `json:"ended_at,omitempty"`
	WakeAt    int64           `json:"wake_at,omitempty"`
}

// Wait is a standing interest of a job in a future event: a waitForEvent
// step (StepID set) or a cancel-on rule (StepID empty).
type Wait struct {
	ID        int64  `json:"id"`
	JobID     string `json:"job_id"`
	StepID    string `json:"step_id,omitempty"`
	EventName string `json:"event"`
	Expr      string `json:"if,omitempty"`
	ExpiresAt int64  `json:"expires_at,omitempty"` // 0: never
	// Trigger is the job's triggering event, for expressions that compare
	// it ("event") with the incoming one ("async").
	Trigger json.RawMessage `json:"-"`
}

// Lease identifies one claim of a job by a worker. Writes fenced by a lease
// are refused once the lease was lost.
type Lease struct {
	JobID string
	Token string
}

// ClaimParams says how many jobs a worker wants and for how long.
type ClaimParams struct {
	Worker     string
	N          int
	Now        int64
	LeaseUntil int64
	// After is the partition cursor: claiming starts with the first
	// partition after it, so partitions are served round-robin.
	After string
	// MaxParts bounds the partitions visited by one claim (default 64).
	MaxParts int
	// Runnable, if set, says which functions the worker can run; jobs of
	// other functions are left for other processes.
	Runnable func(functionID string) bool
}

// PartSep separates the function id from the key in a job's Part.
const PartSep = "\x1f"

// PartFunction returns the function id of a partition.
func PartFunction(part string) string {
	fn, _, _ := strings.Cut(part, PartSep)
	return fn
}

// ClaimResult is what a claim returns.
type ClaimResult struct {
	Jobs []*Job
	// Cursor is the last partition served; pass it as After next time.
	Cursor string
}

// Outcome is how an attempt of a job ended.
type Outcome string

// The outcomes a worker reports.
const (
	OutcomeFinished  Outcome = "finished"
	OutcomeFailed    Outcome = "failed"    // final failure
	OutcomeRetry     Outcome = "retry"     // failed, scheduled again at RunAt
	OutcomeSuspend   Outcome = "suspend"   // waits (sleep, event, invoke) until RunAt or a wake-up
	OutcomeCancelled Outcome = "cancelled" // cancelled while running
)

// Completion is the end of one leased attempt.
type Completion struct {
	Lease   Lease
	Outcome Outcome
	Output  json.RawMessage
	Error   json.RawMessage
	RunAt   int64 // for retry and suspend
	Attempt int   // the job's attempt counter after this outcome
	// Step is the step a suspended job waits on; if it was resolved while
	// the job was still leased, the job is made ready at once.
	Step string
}

// JobFilter selects jobs for listing.
type JobFilter struct {
	Status     Status
	FunctionID string
	EventID    string
	Owner      string
	// OwnerSet filters on Owner even when it is empty (system jobs).
	OwnerSet bool
	// Before is a cursor: only jobs with ID < Before (newest first).
	Before string
	// UpdatedAfter lists jobs changed after this time instead, oldest
	// change first (for change streams).
	UpdatedAfter int64
	// CreatedAfter lists only jobs created after this time.
	CreatedAfter int64
	Limit        int
}

// StatsParams selects the window of JobStats.
type StatsParams struct {
	// The window runs from Since to Until in buckets of Bucket width, all
	// in Unix microseconds.
	Since, Until, Bucket int64
	// MinID bounds the jobs read from below (job ids sort by creation
	// time), so the statistics read no older part of the table.
	MinID string
}

// StatsBucket counts what happened to jobs in one bucket of time.
type StatsBucket struct {
	Created int64 // jobs created
	Started int64 // first starts
	Ended   int64 // jobs that ended (finished, failed or cancelled)
	Failed  int64 // jobs that ended failed
	// Dropped counts jobs that ended without ever starting (cancelled
	// while waiting): they left the queue without a start.
	Dropped int64
	// LatencySum and LatencyMax are over this bucket's starts: the time
	// from creation to first start, in microseconds.
	LatencySum, LatencyMax int64
}

// JobStats is the recent history of the jobs table, for charts.
type JobStats struct {
	Buckets []StatsBucket // oldest first; bucket i starts at Since + i*Bucket
}

// EventFilter selects events for listing.
type EventFilter struct {
	Name   string
	Before string
	Limit  int
}

// Function is the stored description of a registered function.
type Function struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	App       string          `json:"app"`
	Config    json.RawMessage `json:"config"`
	UpdatedAt int64           `json:"updated_at"`
}

// Errors a store returns. Drivers wrap nothing else around them.
var (
	ErrNotFound  = errors.New("not found")
	ErrLeaseLost = errors.New("lease lost")
)

// Tx is the set of writes the engine makes atomically. The same methods run
// inside an application's own transaction for transactional enqueue.
type Tx interface {
	// InsertEvents stores events; seen[i] is true when events[i].ID was
	// already stored, in which case nothing is written for it.
	InsertEvents(ctx context.Context, events []*Event) (seen []bool, err error)
	// InsertJobs stores new jobs; created[i] is false when a job for the
	// same function and event, or with the same idempotency key, exists.
	// A job may be inserted already leased (Queue leased, lease fields
	// and StartedAt set) by the process that will run it.
	InsertJobs(ctx context.Context, jobs []*Job) (created []bool, err error)
	// InsertWaits stores waits.
	InsertWaits(ctx context.Context, waits []*Wait) error
	// WaitsFor returns the open waits for any of the event names.
	WaitsFor(ctx context.Context, names []string) ([]*Wait, error)
	// ResolveWait completes a waitForEvent step with output and makes its
	// job ready. It reports false if the wait was already resolved.
	ResolveWait(ctx context.Context, w *Wait, output json.RawMessage, now int64) (bool, error)
	// ResolveStep completes a waiting step (invoke) and makes the job
	// ready. It reports false if the step was not waiting.
	ResolveStep(ctx context.Context, jobID, stepID string, output, errJSON json.RawMessage, now int64) (bool, error)
	// CancelJob ends a job that is not leased, or flags a leased one for
	// its worker. It returns the job as it is afterwards.
	CancelJob(ctx context.Context, id string, now int64) (*Job, error)
	// CompleteJobs ends leased attempts. Completions whose lease was lost
	// are skipped; applied[i] tells which were written.
	CompleteJobs(ctx context.Context, cs []Completion, now int64) (applied []bool, err error)
	// GetJob reads one job.
	GetJob(ctx context.Context, id string) (*Job, error)
	// CountRateKey counts a function's jobs with the rate key created
	// after since.
	CountRateKey(ctx context.Context, fnID, key string, since int64) (int, error)
	// AppendBatch adds an event to a function's pending batch job with the
	// key (one that has not started) and makes it ready once it holds max
	// events; it reports false when there is no such batch.
	AppendBatch(ctx context.Context, fnID, key string, event json.RawMessage, max int, now int64) (bool, error)
	// Debounce finds a function's pending debounced job with the key (one
	// that has not started) and gives it a new trigger and run time; it
	// reports false when there is none.
	Debounce(ctx context.Context, fnID, key, eventID string, input json.RawMessage, runAt, now int64) (bool, error)
}

// Store is a database errand keeps its state in.
type Store interface {
	// Migrate applies the embedded migrations not applied yet.
	Migrate(ctx context.Context) error
	// InTx runs fn in one write transaction.
	InTx(ctx context.Context, fn func(Tx) error) error
	// Claim leases ready jobs, serving partitions round-robin and
	// honouring each job's concurrency limits.
	Claim(ctx context.Context, p ClaimParams) (ClaimResult, error)
	// Heartbeat extends leases. It returns the leases that are gone and
	// the jobs whose cancellation was requested.
	Heartbeat(ctx context.Context, leases []Lease, until int64) (lost []string, cancel []string, err error)
	// SaveStep memoizes a step under the job's lease and stores attempt
	// as the job's attempt counter. A waiting step may come with the wait
	// for its event, stored once in the same transaction.
	SaveStep(ctx context.Context, l Lease, s *Step, attempt int, wait *Wait) error
	// ReportProgress records a job's progress under its lease.
	ReportProgress(ctx context.Context, l Lease, fraction float64, message string, now int64) error
	// Promote makes scheduled jobs whose time has come ready, and expired
	// leases ready again with one more attempt counted. It also expires
	// waits past their time. It returns how many jobs became ready.
	Promote(ctx context.Context, now int64) (int, error)
	// NextRunAt returns the earliest RunAt of a scheduled job, or 0.
	NextRunAt(ctx context.Context) (int64, error)
	// GetJob reads one job.
	GetJob(ctx context.Context, id string) (*Job, error)
	// ListJobs lists jobs newest first.
	ListJobs(ctx context.Context, f JobFilter) ([]*Job, error)
	// Steps lists a job's steps in the order they started.
	Steps(ctx context.Context, jobID string) ([]*Step, error)
	// GetEvent reads one event.
	GetEvent(ctx context.Context, id string) (*Event, error)
	// ListEvents lists events newest first.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	// CountByStatus counts jobs per status.
	CountByStatus(ctx context.Context) (map[Status]int64, error)
	// JobStats buckets the creations, starts and ends of jobs since a
	// time, in one scan of the jobs from MinID on.
	JobStats(ctx context.Context, p StatsParams) (*JobStats, error)
	// UpsertFunctions records the functions a process serves.
	UpsertFunctions(ctx context.Context, fns []*Function, now int64) error
	// Functions lists the recorded functions.
	Functions(ctx context.Context) ([]*Function, error)
	// AcquireLeader takes or renews the named leadership for holder until
	// the given time; it reports whether holder is the leader.
	AcquireLeader(ctx context.Context, name, holder string, now, until int64) (bool, error)
	// Close releases the database.
	Close() error
}
