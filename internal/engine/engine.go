// Package engine schedules and runs errand's jobs: it turns events into
// jobs, claims them fairly from the store, runs their functions with
// memoized steps, retries, suspends and resumes them, and recovers jobs of
// crashed processes.
//
// Lock order: Engine.mu is never held while calling the store (the store
// may call back into the engine, which then takes it briefly).
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/errand-dev/errand/internal/store"
)

// Config configures an Engine. Zero fields take the documented defaults.
type Config struct {
	// Store keeps all state. Required.
	Store store.Store
	// Logger receives the engine's logs; default slog.Default().
	Logger *slog.Logger
	// Workers is how many jobs run at once in this process; default 100.
	Workers int
	// LeaseDuration is how long a claim lasts without a heartbeat;
	// default 15s. A crashed process's jobs run again after at most this.
	LeaseDuration time.Duration
	// PollInterval is how often the store is asked for work when nothing
	// in this process signals any; default 100ms.
	PollInterval time.Duration
	// Backoff gives the delay before retry n (1-based); default
	// exponential from 1s, doubling, capped at 1h, with ±20% jitter.
	Backoff func(attempt int) time.Duration
	// OwnerLimit is the default number of jobs of one owner running at
	// once across all functions; 0 means none.
	OwnerLimit int
	// Metrics, if set, observes jobs.
	Metrics Metrics
	// Identity, if set, mints the owner's job token for each attempt of
	// an owned job. It returns ErrOwnerUnavailable for a deleted or
	// banned owner, which fails the job with code owner_unavailable.
	Identity func(ctx context.Context, owner, jobID string, exp time.Time) (token string, user json.RawMessage, err error)
	// JobTokenTTL is the life of a job token; default 15 minutes. A job
	// token is also refused once its job is no longer running.
	JobTokenTTL time.Duration
	// RemoteHandler, if set, makes the handler of a function served over
	// HTTP (Function.URL) that another process registered.
	RemoteHandler func(f *Function) Handler
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Metrics is what the engine reports to; see package metrics.
type Metrics interface {
	JobStarted(latency time.Duration)
	JobEnded(status store.Status, duration time.Duration)
}

// Engine runs functions for events.
type Engine struct {
	cfg    Config
	st     store.Store
	log    *slog.Logger
	worker string

	mu        sync.Mutex
	fns       map[string]*Function   // registered in this process
	byEvent   map[string][]*Function // every known function by trigger event
	known     map[string]*Function   // registered by other processes (no handler)
	loadedAt  time.Time
	running   map[string]*active // job id → running execution
	reserved  int                // worker slots promised to eager jobs
	baseCtx   context.Context    // parent of executions, set by Start
	started   bool
	stopping  bool
	cursor    string
	cronState map[string]time.Time

	watch     watchers
	wake      chan struct{}
	maintWake chan struct{}
	done      chan struct{}
	comp      chan pending
	wg        sync.WaitGroup // execution goroutines
	fetching  sync.WaitGroup // the fetch loop, which starts executions
	loops     sync.WaitGroup // heartbeat and maintenance loops
	cancel    context.CancelFunc
	compDone  chan struct{}
}

type active struct {
	job    *store.Job
	cancel context.CancelCauseFunc
}

// New returns an engine; register functions, then Start it.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: a store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 100
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = 15 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.JobTokenTTL <= 0 {
		cfg.JobTokenTTL = 15 * time.Minute
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Engine{
		cfg: cfg, st: cfg.Store, log: cfg.Logger, worker: hex.EncodeToString(b[:]),
		fns: map[string]*Function{}, byEvent: map[string][]*Function{}, running: map[string]*active{},
		cronState: map[string]time.Time{},
		wake:      make(chan struct{}, 1), maintWake: make(chan struct{}, 1),
		comp: make(chan pending, 4096),
	}, nil
}

// DefaultBackoff is 1s·2^(n-1), at most 1h, with ±20% jitter.
func DefaultBackoff(attempt int) time.Duration {
	d := time.Second * time.Duration(math.Pow(2, float64(attempt-1)))
	if d > time.Hour || d <= 0 {
		d = time.Hour
	}
	j := 0.8 + 0.4*mrand.Float64()
	return time.Duration(float64(d) * j)
}

// Store returns the engine's store.
func (e *Engine) Store() store.Store { return e.st }

// Register adds functions. It may be called before or after Start.
func (e *Engine) Register(fns ...*Function) error {
	var all []*Function
	for _, f := range fns {
		if err := f.Validate(); err != nil {
			return err
		}
		all = append(all, f)
		if f.OnFailure != nil {
			all = append(all, &Function{
				ID: f.ID + "-failure", Name: f.Name + " (failure)", App: f.App, Retries: f.Retries,
				Triggers: []Trigger{{Event: FailedEvent, If: fmt.Sprintf("event.data.function_id == %q", f.ID)}},
				Handler:  f.OnFailure,
			})
		}
	}
	e.mu.Lock()
	for _, f := range all {
		e.fns[f.ID] = f
	}
	e.reindex()
	e.mu.Unlock()
	recs := make([]*store.Function, len(all))
	for i, f := range all {
		cfg, _ := json.Marshal(f)
		recs[i] = &store.Function{ID: f.ID, Name: f.Name, App: f.App, Config: cfg}
	}
	return e.st.UpsertFunctions(context.Background(), recs, e.now())
}

// reindex rebuilds byEvent from local and known functions; e.mu is held.
func (e *Engine) reindex() {
	e.byEvent = map[string][]*Function{}
	add := func(f *Function) {
		for _, t := range f.Triggers {
			if t.Event != "" {
				e.byEvent[t.Event] = append(e.byEvent[t.Event], f)
			}
		}
	}
	for _, f := range e.fns {
		add(f)
	}
	for id, f := range e.known {
		if e.fns[id] == nil {
			add(f)
		}
	}
}

// functionsMaxAge is how stale the view of other processes' functions
// may be when an event arrives.
const functionsMaxAge = 2 * time.Second

// RefreshFunctions reloads other processes' functions if the view is
// stale; Ingest inside an application's transaction needs it first.
func (e *Engine) RefreshFunctions(ctx context.Context) error { return e.refreshFunctions(ctx, false) }

// refreshFunctions loads the functions every process registered, so
// events sent here start jobs for functions that run elsewhere.
func (e *Engine) refreshFunctions(ctx context.Context, force bool) error {
	e.mu.Lock()
	fresh := time.Since(e.loadedAt) < functionsMaxAge
	e.mu.Unlock()
	if fresh && !force {
		return nil
	}
	recs, err := e.st.Functions(ctx)
	if err != nil {
		return err
	}
	known := map[string]*Function{}
	for _, r := range recs {
		f := &Function{}
		if err := json.Unmarshal(r.Config, f); err != nil || f.ID == "" {
			e.log.Warn("unreadable function record", "function", r.ID, "err", err)
			continue
		}
		if f.URL != "" && e.cfg.RemoteHandler != nil {
			f.Handler = e.cfg.RemoteHandler(f)
		}
		known[f.ID] = f
	}
	e.mu.Lock()
	e.known, e.loadedAt = known, time.Now()
	e.reindex()
	e.mu.Unlock()
	return nil
}

// Function returns a registered function.
func (e *Engine) Function(id string) (*Function, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.fns[id]
	if !ok {
		f, ok = e.known[id]
	}
	return f, ok
}

func (e *Engine) now() int64 { return e.cfg.Now().UnixMicro() }

// Start runs the engine's loops until Stop.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errors.New("engine already started")
	}
	e.started = true
	e.mu.Unlock()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	e.mu.Lock()
	e.baseCtx = ctx
	e.mu.Unlock()
	if err := e.refreshFunctions(ctx, true); err != nil {
		e.log.Warn("load registered functions", "err", err)
	}
	e.done = make(chan struct{})
	e.compDone = make(chan struct{})
	go e.completer()
	e.fetching.Add(1)
	e.loops.Add(2)
	go func() { defer e.fetching.Done(); e.fetchLoop(ctx) }()
	go func() { defer e.loops.Done(); e.heartbeatLoop(ctx) }()
	go func() { defer e.loops.Done(); e.maintLoop(ctx) }()
	return nil
}

// Stop stops claiming work and waits for running jobs to finish until ctx
// ends; jobs still running then are released to run again elsewhere.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if !e.started || e.stopping {
		e.mu.Unlock()
		return nil
	}
	e.stopping = true
	e.mu.Unlock()
	close(e.done)
	e.fetching.Wait() // no execution starts after this
	drained := make(chan struct{})
	go func() { e.wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		e.mu.Lock()
		for _, a := range e.running {
			a.cancel(errShutdown)
		}
		e.mu.Unlock()
		<-drained
	}
	e.cancel()
	e.loops.Wait()
	close(e.comp)
	<-e.compDone
	return nil
}

func (e *Engine) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Cancel cancels a job: at once if it is not running, or by cancelling
// the running execution's context.
func (e *Engine) Cancel(ctx context.Context, id string) (*store.Job, error) {
	var j *store.Job
	err := e.st.InTx(ctx, func(tx store.Tx) (err error) {
		j, err = tx.GetJob(ctx, id)
		if err != nil || j.Terminal() {
			return err
		}
		if j, err = tx.CancelJob(ctx, id, e.now()); err != nil {
			return err
		}
		if j.Status == store.StatusCancelled && j.ParentJobID != "" {
			_, err = tx.ResolveStep(ctx, j.ParentJobID, j.ParentStepID, nil, errorJSON(errCancelled, "cancelled"), e.now())
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	e.cancelLocal(id)
	e.changed(id)
	return j, nil
}

func (e *Engine) cancelLocal(id string) {
	e.mu.Lock()
	a := e.running[id]
	e.mu.Unlock()
	if a != nil {
		a.cancel(errCancelled)
	}
}
