package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/errand-dev/errand/internal/store"
)

// maintLoop makes due jobs ready (timers, retries, expired leases) in
// every process, and fires cron schedules in the leader only.
func (e *Engine) maintLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.maintWake:
		case <-timer.C:
		}
		if err := e.refreshFunctions(ctx, false); err != nil && ctx.Err() == nil {
			e.log.Warn("load registered functions", "err", err)
		}
		now := e.now()
		if n, err := e.st.Promote(ctx, now); err != nil {
			if ctx.Err() == nil {
				e.log.Error("promote due jobs", "err", err)
			}
		} else if n > 0 {
			e.signal(e.wake)
		}
		leader, err := e.st.AcquireLeader(ctx, "maintenance", e.worker, now, now+e.cfg.LeaseDuration.Microseconds())
		if err != nil && ctx.Err() == nil {
			e.log.Error("leader election", "err", err)
		}
		delay := time.Second
		if leader {
			if d := e.fireCron(ctx); d < delay {
				delay = d
			}
		}
		if next, err := e.st.NextRunAt(ctx); err == nil && next > 0 {
			if d := time.Duration(next-e.now()) * time.Microsecond; d < delay {
				delay = d
			}
		}
		delay = max(delay, 2*time.Millisecond)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(delay)
	}
}

// fireCron sends the trigger of every cron schedule that is due and
// returns how long until the next one. Trigger ids are derived from the
// function and the time, so a new leader cannot fire a tick twice.
func (e *Engine) fireCron(ctx context.Context) time.Duration {
	now := e.cfg.Now()
	next := time.Hour
	e.mu.Lock()
	type tick struct {
		fn, spec string
		at       time.Time
	}
	var due []tick
	for _, f := range e.fns {
		for _, t := range f.Triggers {
			if t.Cron == "" {
				continue
			}
			sched, err := cronParser.Parse(t.Cron)
			if err != nil {
				continue
			}
			key := f.ID + "\x00" + t.Cron
			last, ok := e.cronState[key]
			if !ok {
				last = now
				e.cronState[key] = last
			}
			at := sched.Next(last)
			if !at.After(now) {
				due = append(due, tick{f.ID, t.Cron, at})
				e.cronState[key] = at
				at = sched.Next(at)
			}
			if d := at.Sub(now); d < next {
				next = d
			}
		}
	}
	e.mu.Unlock()
	var events []*store.Event
	for _, t := range due {
		h := sha256.Sum256([]byte(t.fn + "\x00" + t.spec))
		var id ulid.ULID
		_ = id.SetTime(uint64(t.at.UnixMilli()))
		_ = id.SetEntropy(h[:10])
		data, _ := json.Marshal(map[string]string{"function_id": t.fn, "cron": t.spec})
		events = append(events, &store.Event{ID: id.String(), Name: CronEvent, Data: data, TS: t.at.UnixMilli()})
	}
	if len(events) > 0 {
		if _, err := e.Send(ctx, events); err != nil {
			e.log.Error("fire cron", "err", err)
		}
	}
	return next
}
