package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/errand-dev/errand/internal/store"
)

// claimBatch is the most jobs one claim asks for.
const claimBatch = 1000

// pending is a finished attempt waiting to be written.
type pending struct {
	c    store.Completion
	job  *store.Job
	fail *store.Event // the failure event of a job that failed for good
}

func (e *Engine) fetchLoop(ctx context.Context) {
	timer := time.NewTimer(e.cfg.PollInterval)
	defer timer.Stop()
	for {
		select {
		case <-e.done:
			return
		default:
		}
		e.mu.Lock()
		free := e.cfg.Workers - len(e.running) - e.reserved
		cursor := e.cursor
		e.mu.Unlock()
		full := false
		if free > 0 {
			n := min(free, claimBatch)
			now := e.now()
			res, err := e.st.Claim(ctx, store.ClaimParams{Worker: e.worker, N: n, Now: now,
				LeaseUntil: now + e.cfg.LeaseDuration.Microseconds(), After: cursor, Runnable: e.canRun})
			if err != nil {
				if ctx.Err() == nil {
					e.log.Error("claim jobs", "err", err)
				}
			} else {
				e.mu.Lock()
				e.cursor = res.Cursor
				e.mu.Unlock()
				for _, j := range res.Jobs {
					e.launch(j, false)
				}
				full = len(res.Jobs) == n
			}
		}
		if full {
			continue
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(e.cfg.PollInterval)
		select {
		case <-e.done:
			return
		case <-e.wake:
		case <-timer.C:
		}
	}
}

// reserve takes a worker slot for a job of f that is being sent by this
// process, so it can be inserted already leased and started without a
// claim. It does so only while a quarter of the workers are idle, so a
// busy engine keeps serving its queue fairly. A reservation counts as a
// running execution for Stop until it is launched or released.
func (e *Engine) reserve(f *Function) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started || e.stopping || e.fns[f.ID] == nil {
		return false
	}
	free := e.cfg.Workers - len(e.running) - e.reserved
	if free <= max(1, e.cfg.Workers/4) {
		return false
	}
	e.reserved++
	e.wg.Add(1)
	return true
}

// unreserve releases n reservations that will not be launched.
func (e *Engine) unreserve(n int) {
	e.mu.Lock()
	e.reserved -= n
	e.mu.Unlock()
	for range n {
		e.wg.Done()
	}
}

// preLease makes j a job leased to this process, started now.
func (e *Engine) preLease(j *store.Job, now int64) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	j.Queue, j.Status, j.LeaseOwner, j.LeaseToken = store.QueueLeased, store.StatusRunning, e.worker, hex.EncodeToString(b[:])
	j.LeaseUntil, j.StartedAt = now+e.cfg.LeaseDuration.Microseconds(), now
}

// launch runs a leased job in its own goroutine; reserved says it takes
// up a reservation made by reserve.
func (e *Engine) launch(j *store.Job, reserved bool) {
	e.mu.Lock()
	rctx, cancel := context.WithCancelCause(e.baseCtx)
	e.running[j.ID] = &active{job: j, cancel: cancel}
	f := e.runnable(j.FunctionID)
	if reserved {
		e.reserved--
	} else {
		e.wg.Add(1)
	}
	e.mu.Unlock()
	if e.cfg.Metrics != nil && !j.Resumed {
		e.cfg.Metrics.JobStarted(time.Duration(j.StartedAt-j.CreatedAt) * time.Microsecond)
	}
	e.changed(j.ID)
	go func() {
		defer e.wg.Done()
		p := e.execute(rctx, j, f)
		cancel(nil)
		if p != nil {
			e.comp <- *p
		}
		e.mu.Lock()
		delete(e.running, j.ID)
		left := len(e.running)
		e.mu.Unlock()
		if left == e.cfg.Workers/2 || left == 0 {
			e.signal(e.wake)
		}
	}()
}

// runnable finds a function this process can run: its own, or one served
// over HTTP that another process registered. e.mu is held.
func (e *Engine) runnable(id string) *Function {
	if f := e.fns[id]; f != nil {
		return f
	}
	if f := e.known[id]; f != nil && f.Handler != nil {
		return f
	}
	return nil
}

// canRun reports whether this process can run a function's jobs.
func (e *Engine) canRun(id string) bool { return e.lockedRunnable(id) != nil }

func (e *Engine) lockedRunnable(id string) *Function {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runnable(id)
}

// execute runs one attempt and says how it ended; nil means write nothing.
func (e *Engine) execute(ctx context.Context, j *store.Job, f *Function) *pending {
	lease := store.Lease{JobID: j.ID, Token: j.LeaseToken}
	p := &pending{job: j, c: store.Completion{Lease: lease, Attempt: j.Attempt}}
	switch {
	case j.CancelRequested:
		p.c.Outcome = store.OutcomeCancelled
		p.c.Error = errorJSON(errCancelled, "cancelled")
		return p
	case f == nil: // claims take only runnable functions; kept as a guard
		return e.failFor(p, &NonRetriableError{fmt.Errorf("function %q is not registered in this errand process", j.FunctionID)}, "function_not_found")
	case j.Attempt >= j.MaxAttempts:
		return e.failFor(p, fmt.Errorf("attempt %d of %d was lost: the process running it stopped", j.Attempt, j.MaxAttempts), "attempt_lost")
	}
	now := e.now()
	if t := f.Timeouts.Start; t > 0 && !j.Resumed && j.StartedAt-j.CreatedAt > t.Microseconds() {
		p.c.Outcome, p.c.Error = store.OutcomeCancelled, errorJSON(fmt.Errorf("the job did not start within %s", t), "timeout")
		return p
	}
	if t := f.Timeouts.Finish; t > 0 {
		deadline := j.StartedAt + t.Microseconds()
		if now >= deadline {
			p.c.Outcome, p.c.Error = store.OutcomeCancelled, errorJSON(fmt.Errorf("the job did not finish within %s", t), "timeout")
			return p
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(ctx, time.UnixMicro(deadline), errTimeout)
		defer cancel()
	}
	r := &Run{Job: j, Attempt: j.Attempt, be: engineBackend{e}, fn: f, lease: lease, counts: map[string]int{}, memo: map[string]*store.Step{}}
	if j.Owner != "" && e.cfg.Identity != nil {
		exp := e.cfg.Now().Add(e.cfg.JobTokenTTL)
		tok, user, err := e.cfg.Identity(ctx, j.Owner, j.ID, exp)
		if errors.Is(err, ErrOwnerUnavailable) {
			return e.failFor(p, &NonRetriableError{fmt.Errorf("owner %s: %w", j.Owner, err)}, "owner_unavailable")
		}
		if err != nil {
			p.c.Outcome, p.c.Error, p.c.RunAt = store.OutcomeRetry, errorJSON(err, ""), e.now()+time.Second.Microseconds()
			return p
		}
		r.Token, r.User, r.TokenExpiresAt = tok, user, exp.Unix()
	}
	out, susp, err := e.call(WithRun(ctx, r), f, r)
	p.c.Attempt = r.Attempt
	if susp != nil {
		p.c.Outcome, p.c.RunAt, p.c.Step = store.OutcomeSuspend, susp.runAt, susp.step
		return p
	}
	if err == nil {
		p.c.Outcome, p.c.Output = store.OutcomeFinished, out
		return p
	}
	switch context.Cause(ctx) {
	case errTimeout:
		p.c.Outcome, p.c.Error = store.OutcomeCancelled, errorJSON(fmt.Errorf("the job did not finish within %s", f.Timeouts.Finish), "timeout")
		return p
	case errCancelled:
		p.c.Outcome, p.c.Error = store.OutcomeCancelled, errorJSON(errCancelled, "cancelled")
		return p
	case errLeaseLost:
		e.log.Warn("lease lost; leaving the job to its new holder", "job", j.ID)
		return nil
	case errShutdown:
		p.c.Outcome, p.c.RunAt = store.OutcomeRetry, e.now()
		return p
	}
	var nr *NonRetriableError
	if errors.As(err, &nr) || r.Attempt+1 >= j.MaxAttempts {
		p.c.Attempt = r.Attempt + 1
		return e.failFor(p, err, "")
	}
	r.Attempt++
	delay := e.cfg.Backoff(r.Attempt)
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > 0 {
		delay = ra.After
	}
	p.c.Outcome, p.c.Attempt, p.c.Error = store.OutcomeRetry, r.Attempt, errorJSON(err, "")
	p.c.RunAt = e.now() + delay.Microseconds()
	e.log.Info("job attempt failed; retrying", "job", j.ID, "function", j.FunctionID, "attempt", r.Attempt, "delay", delay, "err", err)
	return p
}

func (e *Engine) failFor(p *pending, err error, code string) *pending {
	p.c.Outcome, p.c.Error = store.OutcomeFailed, errorJSON(err, code)
	j := p.job
	data, _ := json.Marshal(map[string]any{"function_id": j.FunctionID, "run_id": j.ID,
		"error": json.RawMessage(p.c.Error), "event": json.RawMessage(j.Input)})
	p.fail = &store.Event{ID: NewID(), Name: FailedEvent, Data: data, Owner: j.Owner}
	e.log.Warn("job failed", "job", j.ID, "function", j.FunctionID, "err", err)
	return p
}

// call runs the handler, turning a suspend panic into susp and any other
// panic into an error.
func (e *Engine) call(ctx context.Context, f *Function, r *Run) (out json.RawMessage, susp *suspend, err error) {
	defer func() {
		if v := recover(); v != nil {
			if s, ok := v.(suspend); ok {
				susp = &s
				return
			}
			e.log.Error("function panicked", "function", f.ID, "job", r.Job.ID, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("function panicked: %v", v)
		}
	}()
	out, err = f.Handler(ctx, r)
	return out, nil, err
}

// completer writes finished attempts in batches: one transaction for
// whatever has queued up while the previous one was written.
func (e *Engine) completer() {
	defer close(e.compDone)
	batch := make([]pending, 0, claimBatch)
	for p := range e.comp {
		batch = append(batch[:0], p)
	drain:
		for len(batch) < claimBatch {
			select {
			case q, ok := <-e.comp:
				if !ok {
					break drain
				}
				batch = append(batch, q)
			default:
				break drain
			}
		}
		e.flush(batch)
	}
}

func (e *Engine) flush(batch []pending) {
	cs := make([]store.Completion, len(batch))
	for i, p := range batch {
		cs[i] = p.c
	}
	var results []*Result
	suspended := false
	for try := 0; ; try++ {
		results = results[:0]
		now := e.now()
		var applied []bool
		err := e.st.InTx(context.Background(), func(tx store.Tx) (err error) {
			applied, err = tx.CompleteJobs(context.Background(), cs, now)
			if err != nil {
				return err
			}
			for i, p := range batch {
				if !applied[i] {
					continue
				}
				if err := e.afterEnd(tx, p, now, &results); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for i, p := range batch {
				if !applied[i] {
					e.log.Warn("completion skipped: lease lost", "job", p.job.ID)
					continue
				}
				suspended = suspended || p.c.Outcome == store.OutcomeSuspend || p.c.Outcome == store.OutcomeRetry
				if e.cfg.Metrics != nil && p.c.Outcome != store.OutcomeRetry && p.c.Outcome != store.OutcomeSuspend {
					e.cfg.Metrics.JobEnded(store.Status(p.c.Outcome), time.Duration(now-p.job.StartedAt)*time.Microsecond)
				}
			}
			break
		}
		if try == 4 {
			e.log.Error("writing job results failed; their leases will expire and the jobs run again", "jobs", len(batch), "err", err)
			return
		}
		e.log.Warn("writing job results", "err", err, "try", try+1)
		time.Sleep(time.Duration(50*(try+1)) * time.Millisecond)
	}
	for _, r := range results {
		e.after(r)
	}
	ids := make([]string, len(batch))
	for i, p := range batch {
		ids[i] = p.job.ID
	}
	e.changed(ids...)
	if suspended {
		e.signal(e.maintWake)
	}
}

// afterEnd does what an ended job causes, in the completion's transaction:
// the failure event, and resuming the job that invoked it.
func (e *Engine) afterEnd(tx store.Tx, p pending, now int64, results *[]*Result) error {
	ctx := context.Background()
	if p.fail != nil {
		res, err := e.Ingest(ctx, tx, []*store.Event{p.fail})
		if err != nil {
			return err
		}
		*results = append(*results, res)
	}
	j := p.job
	if j.ParentJobID == "" {
		return nil
	}
	var output, errJSON json.RawMessage
	switch p.c.Outcome {
	case store.OutcomeFinished:
		output = p.c.Output
		if len(output) == 0 {
			output = json.RawMessage("null")
		}
	case store.OutcomeFailed, store.OutcomeCancelled:
		errJSON = p.c.Error
	default:
		return nil
	}
	ok, err := tx.ResolveStep(ctx, j.ParentJobID, j.ParentStepID, output, errJSON, now)
	if ok {
		*results = append(*results, &Result{woke: true})
	}
	return err
}

func (e *Engine) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.LeaseDuration / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		leases := make([]store.Lease, 0, len(e.running))
		for id, a := range e.running {
			leases = append(leases, store.Lease{JobID: id, Token: a.job.LeaseToken})
		}
		e.mu.Unlock()
		lost, cancel, err := e.st.Heartbeat(ctx, leases, e.now()+e.cfg.LeaseDuration.Microseconds())
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("heartbeat", "err", err)
			}
			continue
		}
		e.mu.Lock()
		for _, id := range lost {
			if a := e.running[id]; a != nil {
				a.cancel(errLeaseLost)
			}
		}
		for _, id := range cancel {
			if a := e.running[id]; a != nil {
				a.cancel(errCancelled)
			}
		}
		e.mu.Unlock()
	}
}
