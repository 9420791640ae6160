package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/errand-dev/errand/internal/expr"
	"github.com/errand-dev/errand/internal/store"
)

// Event names errand itself sends.
const (
	// FailedEvent is sent when a job fails for good; data has
	// function_id, run_id, error and event (the trigger).
	FailedEvent = "errand/function.failed"
	// InvokedEvent records the start of a job by Invoke; its data is the
	// data passed to Invoke.
	InvokedEvent = "errand/function.invoked"
	// CronEvent is the trigger of a cron job; data.function_id names it.
	CronEvent = "errand/scheduled.timer"
	// RequestedEvent is the trigger of a job started directly through
	// the API (POST /v1/jobs); its data is the data given there.
	RequestedEvent = "errand/job.requested"
)

// NewID returns a new ULID.
func NewID() string { return ulid.Make().String() }

// eventJSON is the shape functions see their trigger in.
type eventJSON struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
	User json.RawMessage `json:"user,omitempty"`
	TS   int64           `json:"ts"`
}

// EventJSON encodes an event as functions see it.
func EventJSON(ev *store.Event) json.RawMessage {
	data := ev.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	b, _ := json.Marshal(eventJSON{ID: ev.ID, Name: ev.Name, Data: data, User: ev.User, TS: ev.TS})
	return b
}

// Result is what Send reports.
type Result struct {
	IDs []string
	// Jobs are the ids of the jobs created, in event order.
	Jobs []string
	// woke is set when something became ready or was cancelled.
	woke      bool
	cancelled []string
	// eager are jobs inserted already leased by this process, to launch
	// once the transaction has committed.
	eager []*store.Job
}

// Send stores events and everything they cause in one transaction, then
// wakes the workers.
func (e *Engine) Send(ctx context.Context, events []*store.Event) (*Result, error) {
	if err := e.refreshFunctions(ctx, false); err != nil {
		return nil, err
	}
	var res *Result
	err := e.st.InTx(ctx, func(tx store.Tx) (err error) {
		res, err = e.ingest(ctx, tx, events, true)
		return err
	})
	if err != nil {
		if res != nil {
			e.unreserve(len(res.eager))
		}
		return nil, err
	}
	for _, j := range res.eager {
		e.launch(j, true)
	}
	e.after(res)
	return res, nil
}

func (e *Engine) after(res *Result) {
	if res == nil {
		return
	}
	if len(res.Jobs) > 0 || res.woke {
		e.signal(e.wake)
	}
	e.changed(res.Jobs...)
	for _, id := range res.cancelled {
		e.cancelLocal(id)
	}
}

// Ingest stores events inside tx: new events create jobs for the functions
// they trigger, resolve waits and cancel jobs. Events whose id was seen
// before cause nothing. IDs and timestamps are filled in where missing.
func (e *Engine) Ingest(ctx context.Context, tx store.Tx, events []*store.Event) (*Result, error) {
	return e.ingest(ctx, tx, events, false)
}

// ingest is Ingest; with eager set, jobs this process can start at once
// are inserted already leased to it (see reserve).
func (e *Engine) ingest(ctx context.Context, tx store.Tx, events []*store.Event, eager bool) (*Result, error) {
	now := e.now()
	res := &Result{IDs: make([]string, len(events))}
	for i, ev := range events {
		if ev.ID == "" {
			ev.ID = NewID()
		}
		if ev.TS == 0 {
			ev.TS = now / 1000
		}
		ev.ReceivedAt = now
		res.IDs[i] = ev.ID
	}
	seen, err := tx.InsertEvents(ctx, events)
	if err != nil {
		return nil, err
	}
	var fresh []*store.Event
	for i, ev := range events {
		if !seen[i] {
			fresh = append(fresh, ev)
		}
	}
	if len(fresh) == 0 {
		return res, nil
	}
	var jobs []*store.Job
	var jobFns []*Function
	fc := flowCounts{rate: map[string]int{}, debounced: map[string]*store.Job{}, batches: map[string]*store.Job{}}
	for _, ev := range fresh {
		evJSON := EventJSON(ev)
		for _, f := range e.triggered(ev) {
			j, err := e.newJob(f, ev, evJSON, now)
			if err != nil {
				e.log.Warn("skipping job", "function", f.ID, "event", ev.ID, "err", err)
				continue
			}
			if j == nil {
				continue
			}
			keep, err := e.flowControl(ctx, tx, f, j, &fc, now)
			if err != nil {
				return res, err
			}
			if !keep {
				continue
			}
			if eager && len(j.Limits) == 0 && j.Queue == store.QueueReady && e.reserve(f) {
				e.preLease(j, now)
				res.eager = append(res.eager, j)
			}
			jobs = append(jobs, j)
			jobFns = append(jobFns, f)
		}
	}
	created, err := tx.InsertJobs(ctx, jobs)
	if err != nil {
		return res, err
	}
	if len(res.eager) > 0 {
		kept := res.eager[:0]
		for i, j := range jobs {
			if created[i] && j.Queue == store.QueueLeased {
				kept = append(kept, j)
			}
		}
		e.unreserve(len(res.eager) - len(kept))
		res.eager = kept
	}
	var waits []*store.Wait
	for i, j := range jobs {
		if !created[i] {
			continue
		}
		res.Jobs = append(res.Jobs, j.ID)
		for _, c := range jobFns[i].CancelOn {
			w := &store.Wait{JobID: j.ID, EventName: c.Event, Expr: c.If}
			if c.Timeout > 0 {
				w.ExpiresAt = now + c.Timeout.Microseconds()
			}
			waits = append(waits, w)
		}
	}
	if err := tx.InsertWaits(ctx, waits); err != nil {
		return res, err
	}
	if err := e.resolveWaits(ctx, tx, fresh, res, now); err != nil {
		return res, err
	}
	return res, nil
}

// triggered lists the functions an event starts.
func (e *Engine) triggered(ev *store.Event) []*Function {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.Name == InvokedEvent || ev.Name == RequestedEvent {
		return nil // Invoke and StartJob create their jobs themselves
	}
	if ev.Name == CronEvent {
		var d struct {
			FunctionID string `json:"function_id"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		if f := e.fns[d.FunctionID]; f != nil {
			return []*Function{f}
		}
		if f := e.known[d.FunctionID]; f != nil {
			return []*Function{f}
		}
		return nil
	}
	return append([]*Function(nil), e.byEvent[ev.Name]...)
}

// ErrUnknownFunction is returned by StartJob for a function no process
// has registered.
var ErrUnknownFunction = errors.New("unknown function")

// StartJob creates a job of one function directly, owned by owner (empty
// for a system job), with data as its trigger's data.
func (e *Engine) StartJob(ctx context.Context, fnID string, data json.RawMessage, owner string) (*store.Job, error) {
	if len(data) == 0 || string(data) == "null" {
		data = json.RawMessage("{}")
	}
	return e.startWith(ctx, fnID, &store.Event{ID: NewID(), Name: RequestedEvent, Data: data, Owner: owner})
}

// Rerun starts the function of a job again, as a new job, for a copy of
// the job's trigger: a new event id, the same name, data and owner. It is
// the dashboard's retry; the ended job is left as it was.
func (e *Engine) Rerun(ctx context.Context, jobID string) (*store.Job, error) {
	j, err := e.st.GetJob(ctx, jobID)
	if err != nil {
		return nil, err
	}
	var batch []json.RawMessage
	if json.Unmarshal(j.Batch, &batch) == nil && len(batch) > 1 {
		return nil, fmt.Errorf("%w: job %s ran a batch of events; replay the events instead", ErrNotRerunnable, jobID)
	}
	ev, err := e.st.GetEvent(ctx, j.EventID)
	if err != nil {
		return nil, fmt.Errorf("%w: the event of job %s is gone", ErrNotRerunnable, jobID)
	}
	return e.startWith(ctx, j.FunctionID, &store.Event{ID: NewID(), Name: ev.Name, Data: ev.Data, Owner: j.Owner})
}

// ErrNotRerunnable is returned by Rerun for a job it cannot start again.
var ErrNotRerunnable = errors.New("job cannot be rerun")

// startWith stores ev and one job of the function for it.
func (e *Engine) startWith(ctx context.Context, fnID string, ev *store.Event) (*store.Job, error) {
	if err := e.refreshFunctions(ctx, false); err != nil {
		return nil, err
	}
	f, ok := e.Function(fnID)
	if !ok {
		if err := e.refreshFunctions(ctx, true); err != nil {
			return nil, err
		}
		if f, ok = e.Function(fnID); !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownFunction, fnID)
		}
	}
	var job *store.Job
	err := e.st.InTx(ctx, func(tx store.Tx) error {
		now := e.now()
		ev.TS, ev.ReceivedAt = now/1000, now
		if _, err := tx.InsertEvents(ctx, []*store.Event{ev}); err != nil {
			return err
		}
		j, err := e.newJob(f, ev, EventJSON(ev), now)
		if err != nil {
			return err
		}
		if _, err := tx.InsertJobs(ctx, []*store.Job{j}); err != nil {
			return err
		}
		waits := make([]*store.Wait, 0, len(f.CancelOn))
		for _, c := range f.CancelOn {
			w := &store.Wait{JobID: j.ID, EventName: c.Event, Expr: c.If}
			if c.Timeout > 0 {
				w.ExpiresAt = now + c.Timeout.Microseconds()
			}
			waits = append(waits, w)
		}
		job = j
		return tx.InsertWaits(ctx, waits)
	})
	if err != nil {
		return nil, err
	}
	e.signal(e.wake)
	e.changed(job.ID)
	return job, nil
}

// invoke stores the event of an Invoke and the child job it starts, once:
// a second call with the same event id does nothing.
func (e *Engine) invoke(ctx context.Context, f *Function, ev *store.Event, parent, step string) error {
	err := e.st.InTx(ctx, func(tx store.Tx) error {
		now := e.now()
		ev.TS, ev.ReceivedAt = now/1000, now
		seen, err := tx.InsertEvents(ctx, []*store.Event{ev})
		if err != nil || seen[0] {
			return err
		}
		j, err := e.newJob(f, ev, EventJSON(ev), now)
		if err != nil {
			return err
		}
		j.ParentJobID, j.ParentStepID = parent, step
		_, err = tx.InsertJobs(ctx, []*store.Job{j})
		return err
	})
	if err == nil {
		e.signal(e.wake)
	}
	return err
}

func (e *Engine) newJob(f *Function, ev *store.Event, evJSON json.RawMessage, now int64) (*store.Job, error) {
	vars := expr.Vars{Event: evJSON}
	if ev.Name != InvokedEvent && ev.Name != CronEvent && ev.Name != RequestedEvent {
		matched := false
		for _, t := range f.Triggers {
			if t.Event != ev.Name {
				continue
			}
			ok, err := expr.Match(t.If, vars)
			if err != nil {
				return nil, err
			}
			if ok {
				matched = true
				break
			}
		}
		if !matched {
			return nil, nil
		}
	}
	j := &store.Job{
		ID: NewID(), FunctionID: f.ID, EventID: ev.ID, Owner: ev.Owner, Status: store.StatusWaiting,
		Queue: store.QueueReady, MaxAttempts: f.maxAttempts(), RunAt: now, Input: evJSON, CreatedAt: now, UpdatedAt: now,
	}
	partKey := ev.Owner
	firstKey := true
	for _, c := range f.Concurrency {
		if c.Key == "" {
			j.Limits = append(j.Limits, store.Limit{Key: "f:" + f.ID, Limit: c.Limit})
			continue
		}
		v, err := expr.Key(c.Key, vars)
		if err != nil {
			return nil, err
		}
		k := "f:" + f.ID + ":" + c.Key + "=" + v
		if c.Scope == "env" || c.Scope == "account" {
			k = "e:" + c.Key + "=" + v
		}
		j.Limits = append(j.Limits, store.Limit{Key: k, Limit: c.Limit})
		if firstKey {
			partKey, firstKey = v, false
		}
	}
	if th := f.Throttle; th != nil {
		v, err := flowKey(th.Key, vars)
		if err != nil {
			return nil, err
		}
		j.Limits = append(j.Limits, store.Limit{Key: "t:" + f.ID + ":" + v, Limit: th.Limit, Period: th.Period.Microseconds()})
	}
	ownerLimit := f.OwnerLimit
	if ownerLimit == 0 {
		ownerLimit = e.cfg.OwnerLimit
	}
	if ev.Owner != "" && ownerLimit > 0 {
		j.Limits = append(j.Limits, store.Limit{Key: "o:" + ev.Owner, Limit: ownerLimit})
	}
	j.Part = f.ID + store.PartSep + partKey
	if f.Priority != "" {
		if v, err := expr.Eval(f.Priority, vars); err == nil {
			j.Priority = clampPriority(v)
		}
	}
	if f.Idempotency != "" {
		v, err := expr.Key(f.Idempotency, vars)
		if err != nil {
			return nil, err
		}
		j.IdempotencyKey = v
	}
	return j, nil
}

// resolveWaits matches new events against open waits: waitForEvent steps
// resume, cancel-on rules cancel their job.
func (e *Engine) resolveWaits(ctx context.Context, tx store.Tx, events []*store.Event, res *Result, now int64) error {
	names := map[string][]*store.Event{}
	var list []string
	for _, ev := range events {
		if _, ok := names[ev.Name]; !ok {
			list = append(list, ev.Name)
		}
		names[ev.Name] = append(names[ev.Name], ev)
	}
	waits, err := tx.WaitsFor(ctx, list)
	if err != nil {
		return err
	}
	for _, w := range waits {
		for _, ev := range names[w.EventName] {
			evJSON := EventJSON(ev)
			ok, err := expr.Match(w.Expr, expr.Vars{Event: w.Trigger, Async: evJSON})
			if err != nil {
				e.log.Warn("wait expression", "job", w.JobID, "err", err)
				break
			}
			if !ok {
				continue
			}
			if w.ExpiresAt > 0 && w.ExpiresAt <= now {
				break
			}
			done, err := tx.ResolveWait(ctx, w, evJSON, now)
			if err != nil {
				return err
			}
			if done && w.StepID == "" {
				j, err := tx.CancelJob(ctx, w.JobID, now)
				if err != nil {
					return err
				}
				res.cancelled = append(res.cancelled, j.ID)
				if j.Status == store.StatusCancelled && j.ParentJobID != "" {
					if _, err := tx.ResolveStep(ctx, j.ParentJobID, j.ParentStepID, nil, errorJSON(errCancelled, "cancelled"), now); err != nil {
						return err
					}
				}
			}
			res.woke = res.woke || done
			break
		}
	}
	return nil
}

// ValidEventName reports whether a name may be sent by users: not empty,
// at most 256 bytes, and not in errand's own namespace.
func ValidEventName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("event name is empty: give every event a name such as \"app/user.signup\"")
	case len(name) > 256:
		return fmt.Errorf("event name is longer than 256 bytes")
	case strings.HasPrefix(name, "errand/"):
		return fmt.Errorf("event name %q is reserved: names starting with errand/ are sent by errand itself", name)
	}
	return nil
}

// clampPriority turns an expression's value into a priority in [-600, 600].
func clampPriority(v any) int {
	var n float64
	switch x := v.(type) {
	case int64:
		n = float64(x)
	case uint64:
		n = float64(x)
	case float64:
		n = x
	default:
		return 0
	}
	return int(max(-600, min(600, n)))
}

// flowKey evaluates a flow-control key expression; no expression is the
// one key "".
func flowKey(src string, vars expr.Vars) (string, error) {
	if src == "" {
		return "", nil
	}
	return expr.Key(src, vars)
}

// flowCounts tracks rate-limited and debounced jobs of one ingest batch.
type flowCounts struct {
	rate      map[string]int
	debounced map[string]*store.Job
	batches   map[string]*store.Job
}

// flowControl applies a function's rate limit and debounce to a new job:
// false means no job is created for it (rate limited, or folded into a
// pending debounced job).
func (e *Engine) flowControl(ctx context.Context, tx store.Tx, f *Function, j *store.Job, fc *flowCounts, now int64) (bool, error) {
	vars := expr.Vars{Event: j.Input}
	if rl := f.RateLimit; rl != nil {
		key, err := flowKey(rl.Key, vars)
		if err != nil {
			return false, err
		}
		j.RateKey = "r:" + key
		n, err := tx.CountRateKey(ctx, f.ID, j.RateKey, now-rl.Period.Microseconds())
		if err != nil {
			return false, err
		}
		id := f.ID + "\x00" + j.RateKey
		if n+fc.rate[id] >= rl.Limit {
			return false, nil
		}
		fc.rate[id]++
	}
	if d := f.Debounce; d != nil {
		key, err := flowKey(d.Key, vars)
		if err != nil {
			return false, err
		}
		j.DebounceKey = "d:" + key
		runAt := now + d.Period.Microseconds()
		id := f.ID + "\x00" + j.DebounceKey
		if pending := fc.debounced[id]; pending != nil { // an earlier event of this batch
			pending.Input, pending.EventID, pending.RunAt = j.Input, j.EventID, runAt
			return false, nil
		}
		moved, err := tx.Debounce(ctx, f.ID, j.DebounceKey, j.EventID, j.Input, runAt, now)
		if err != nil || moved {
			return false, err
		}
		j.Queue, j.RunAt = store.QueueScheduled, runAt
		fc.debounced[id] = j
	}
	if b := f.Batch; b != nil {
		key, err := flowKey(b.Key, vars)
		if err != nil {
			return false, err
		}
		j.BatchKey = "b:" + key
		id := f.ID + "\x00" + j.BatchKey
		if pending := fc.batches[id]; pending != nil { // an earlier event of this batch
			var evs []json.RawMessage
			_ = json.Unmarshal(pending.Batch, &evs)
			evs = append(evs, j.Input)
			pending.Batch, _ = json.Marshal(evs)
			if len(evs) >= b.MaxSize {
				pending.Queue, pending.RunAt = store.QueueReady, now
				delete(fc.batches, id)
			}
			return false, nil
		}
		added, err := tx.AppendBatch(ctx, f.ID, j.BatchKey, j.Input, b.MaxSize, now)
		if err != nil || added {
			return false, err
		}
		j.Batch, _ = json.Marshal([]json.RawMessage{j.Input})
		if b.MaxSize > 1 {
			j.Queue, j.RunAt = store.QueueScheduled, now+b.Timeout.Microseconds()
			fc.batches[id] = j
		}
	}
	return true, nil
}
