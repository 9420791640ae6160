package sqldb

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/errand-dev/errand/internal/store"
)

// Tx implements store.Tx on any Conn: the engine's own transactions and an
// application's transaction for transactional enqueue.
type Tx struct {
	C Conn
	D *Dialect
}

var _ store.Tx = (*Tx)(nil)

func (t *Tx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return t.C.Exec(ctx, t.D.Q(q), args...)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (Rows, error) {
	return t.C.Query(ctx, t.D.Q(q), args...)
}

// jsonArg turns a record set into the string bound as one parameter.
func jsonArg(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode records: %w", err)
	}
	return string(b), nil
}

// rawOrNil makes an empty or JSON-null value absent, so it is stored as NULL.
func rawOrNil(r json.RawMessage) json.RawMessage {
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return r
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func collectStrings(rows Rows, err error) (map[string]bool, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out[s] = true
	}
	return out, rows.Err()
}

var eventCols = []Col{{"id", "text"}, {"name", "text"}, {"data", "json"}, {"user_data", "json"}, {"ts", "bigint"}, {"owner", "text"}, {"received_at", "bigint"}}

// InsertEvents stores events not seen before.
func (t *Tx) InsertEvents(ctx context.Context, events []*store.Event) ([]bool, error) {
	if len(events) == 0 {
		return nil, nil
	}
	recs := make([]map[string]any, len(events))
	for i, e := range events {
		data := e.Data
		if len(data) == 0 {
			data = json.RawMessage("{}")
		}
		recs[i] = map[string]any{"id": e.ID, "name": e.Name, "data": data, "user_data": rawOrNil(e.User),
			"ts": e.TS, "owner": strOrNil(e.Owner), "received_at": e.ReceivedAt}
	}
	arg, err := jsonArg(recs)
	if err != nil {
		return nil, err
	}
	q := `INSERT INTO errand_events (id, name, data, user_data, ts, owner, received_at)
		SELECT id, name, data, user_data, ts, owner, received_at FROM ` + t.D.Records("$1", eventCols...) +
		` WHERE true ON CONFLICT DO NOTHING RETURNING id`
	inserted, err := collectStrings(t.query(ctx, q, arg))
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	seen := make([]bool, len(events))
	for i, e := range events {
		seen[i] = !inserted[e.ID]
		delete(inserted, e.ID) // a repeated id in one batch is seen the second time
	}
	return seen, nil
}

var jobInsertCols = []Col{{"id", "text"}, {"function_id", "text"}, {"event_id", "text"}, {"owner", "text"},
	{"status", "text"}, {"queue", "text"}, {"attempt", "int"}, {"max_attempts", "int"}, {"priority", "int"},
	{"part", "text"}, {"limits", "json"}, {"run_at", "bigint"}, {"input", "json"}, {"parent_job_id", "text"},
	{"parent_step_id", "text"}, {"idempotency_key", "text"}, {"created_at", "bigint"}, {"updated_at", "bigint"},
	{"lease_owner", "text"}, {"lease_token", "text"}, {"lease_until", "bigint"}, {"started_at", "bigint"},
	{"rate_key", "text"}, {"debounce_key", "text"}, {"batch_key", "text"}, {"batch", "json"}}

// InsertJobs stores new jobs, skipping duplicates.
func (t *Tx) InsertJobs(ctx context.Context, jobs []*store.Job) ([]bool, error) {
	if len(jobs) == 0 {
		return nil, nil
	}
	recs := make([]map[string]any, len(jobs))
	for i, j := range jobs {
		var limits any
		if len(j.Limits) > 0 {
			limits = j.Limits
		}
		recs[i] = map[string]any{"id": j.ID, "function_id": j.FunctionID, "event_id": j.EventID, "owner": strOrNil(j.Owner),
			"status": j.Status, "queue": j.Queue, "attempt": j.Attempt, "max_attempts": j.MaxAttempts, "priority": j.Priority,
			"part": j.Part, "limits": limits, "run_at": j.RunAt, "input": j.Input, "parent_job_id": strOrNil(j.ParentJobID),
			"parent_step_id": strOrNil(j.ParentStepID), "idempotency_key": strOrNil(j.IdempotencyKey),
			"created_at": j.CreatedAt, "updated_at": j.UpdatedAt, "rate_key": strOrNil(j.RateKey), "debounce_key": strOrNil(j.DebounceKey),
			"batch_key": strOrNil(j.BatchKey), "batch": rawOrNil(j.Batch)}
		if j.Queue == store.QueueLeased { // inserted already claimed (eager dispatch)
			recs[i]["lease_owner"], recs[i]["lease_token"] = j.LeaseOwner, j.LeaseToken
			recs[i]["lease_until"], recs[i]["started_at"] = j.LeaseUntil, j.StartedAt
		}
	}
	arg, err := jsonArg(recs)
	if err != nil {
		return nil, err
	}
	names := ""
	for i, c := range jobInsertCols {
		if i > 0 {
			names += ", "
		}
		names += c.Name
	}
	q := `INSERT INTO errand_jobs (` + names + `) SELECT ` + names + ` FROM ` + t.D.Records("$1", jobInsertCols...) +
		` WHERE true ON CONFLICT DO NOTHING RETURNING id`
	inserted, err := collectStrings(t.query(ctx, q, arg))
	if err != nil {
		return nil, fmt.Errorf("insert jobs: %w", err)
	}
	created := make([]bool, len(jobs))
	for i, j := range jobs {
		created[i] = inserted[j.ID]
	}
	return created, nil
}

// InsertWaits stores waits.
func (t *Tx) InsertWaits(ctx context.Context, waits []*store.Wait) error {
	if len(waits) == 0 {
		return nil
	}
	recs := make([]map[string]any, len(waits))
	for i, w := range waits {
		recs[i] = map[string]any{"job_id": w.JobID, "step_id": w.StepID, "event_name": w.EventName, "expr": w.Expr, "expires_at": w.ExpiresAt}
	}
	arg, err := jsonArg(recs)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO errand_waits (job_id, step_id, event_name, expr, expires_at)
		SELECT job_id, step_id, event_name, expr, expires_at FROM `+t.D.Records("$1",
		Col{"job_id", "text"}, Col{"step_id", "text"}, Col{"event_name", "text"}, Col{"expr", "text"}, Col{"expires_at", "bigint"}), arg)
	if err != nil {
		return fmt.Errorf("insert waits: %w", err)
	}
	return nil
}

// WaitsFor returns open waits for the event names, with each job's trigger.
func (t *Tx) WaitsFor(ctx context.Context, names []string) ([]*store.Wait, error) {
	if len(names) == 0 {
		return nil, nil
	}
	arg, err := jsonArg(names)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT w.id, w.job_id, w.step_id, w.event_name, w.expr, w.expires_at, j.input
		FROM errand_waits w JOIN errand_jobs j ON j.id = w.job_id
		WHERE w.event_name IN (`+t.D.List("$1")+`) ORDER BY w.id`, arg)
	if err != nil {
		return nil, fmt.Errorf("read waits: %w", err)
	}
	defer rows.Close()
	var out []*store.Wait
	for rows.Next() {
		w := &store.Wait{}
		var input []byte
		if err := rows.Scan(&w.ID, &w.JobID, &w.StepID, &w.EventName, &w.Expr, &w.ExpiresAt, &input); err != nil {
			return nil, err
		}
		w.Trigger = input
		out = append(out, w)
	}
	return out, rows.Err()
}

// ResolveWait completes a waitForEvent step and wakes its job.
func (t *Tx) ResolveWait(ctx context.Context, w *store.Wait, output json.RawMessage, now int64) (bool, error) {
	n, err := t.exec(ctx, `DELETE FROM errand_waits WHERE id = $1`, w.ID)
	if err != nil || n == 0 {
		return false, err
	}
	if w.StepID == "" {
		return true, nil
	}
	return t.ResolveStep(ctx, w.JobID, w.StepID, output, nil, now)
}

// ResolveStep completes a waiting step and makes its job ready.
func (t *Tx) ResolveStep(ctx context.Context, jobID, stepID string, output, errJSON json.RawMessage, now int64) (bool, error) {
	status := store.StepDone
	if len(errJSON) > 0 {
		status = store.StepFailed
	}
	n, err := t.exec(ctx, `UPDATE errand_steps SET status = $3, output = $4, error = $5, ended_at = $6
		WHERE job_id = $1 AND id = $2 AND status = 'waiting'`, jobID, stepID, string(status), jsonOrNil(output), jsonOrNil(errJSON), now)
	if err != nil || n == 0 {
		return false, err
	}
	// Touch the job row either way: a job still leased (about to park)
	// gets wake, which its parking reads from this same row, so the two
	// writes are ordered by the row lock whichever commits first.
	_, err = t.exec(ctx, `UPDATE errand_jobs SET
		run_at = CASE WHEN queue = 'scheduled' THEN $2 ELSE run_at END,
		wake = CASE WHEN queue = 'leased' THEN $3 ELSE wake END,
		queue = CASE WHEN queue = 'scheduled' THEN 'ready' ELSE queue END,
		updated_at = $2
		WHERE id = $1`, jobID, now, true)
	return err == nil, err
}

// jsonOrNil binds a JSON value as text, or NULL when absent.
func jsonOrNil(r json.RawMessage) any {
	if r = rawOrNil(r); r == nil {
		return nil
	}
	return string(r)
}

// CancelJob cancels a job that is not leased, or flags a leased one.
func (t *Tx) CancelJob(ctx context.Context, id string, now int64) (*store.Job, error) {
	n, err := t.exec(ctx, `UPDATE errand_jobs SET status = 'cancelled', queue = 'done', ended_at = $2, updated_at = $2
		WHERE id = $1 AND queue IN ('ready', 'scheduled')`, id, now)
	if err != nil {
		return nil, fmt.Errorf("cancel job: %w", err)
	}
	if n > 0 {
		if _, err := t.exec(ctx, `DELETE FROM errand_waits WHERE job_id = $1`, id); err != nil {
			return nil, err
		}
	} else if _, err := t.exec(ctx, `UPDATE errand_jobs SET cancel_requested = $2, updated_at = $3
		WHERE id = $1 AND queue = 'leased'`, id, true, now); err != nil {
		return nil, fmt.Errorf("request cancel: %w", err)
	}
	return t.GetJob(ctx, id)
}

var completionCols = []Col{{"id", "text"}, {"token", "text"}, {"outcome", "text"}, {"output", "json"},
	{"error", "json"}, {"run_at", "bigint"}, {"attempt", "int"}, {"step", "text"}}

// CompleteJobs ends leased attempts in one statement.
func (t *Tx) CompleteJobs(ctx context.Context, cs []store.Completion, now int64) ([]bool, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	recs := make([]map[string]any, len(cs))
	for i, c := range cs {
		recs[i] = map[string]any{"id": c.Lease.JobID, "token": c.Lease.Token, "outcome": c.Outcome,
			"output": rawOrNil(c.Output), "error": rawOrNil(c.Error), "run_at": c.RunAt, "attempt": c.Attempt, "step": c.Step}
	}
	arg, err := jsonArg(recs)
	if err != nil {
		return nil, err
	}
	q := `UPDATE errand_jobs SET
		status = CASE x.outcome WHEN 'finished' THEN 'finished' WHEN 'failed' THEN 'failed' WHEN 'cancelled' THEN 'cancelled' ELSE 'running' END,
		queue = CASE WHEN x.outcome = 'retry' THEN 'scheduled'
			WHEN x.outcome = 'suspend' THEN CASE WHEN NOT errand_jobs.wake AND (x.step IS NULL OR x.step = '' OR EXISTS (SELECT 1 FROM errand_steps s
				WHERE s.job_id = x.id AND s.id = x.step AND s.status = 'waiting')) THEN 'scheduled' ELSE 'ready' END
			ELSE 'done' END,
		output = CASE WHEN x.outcome = 'finished' THEN x.output ELSE errand_jobs.output END,
		error = CASE WHEN x.outcome = 'finished' OR x.outcome = 'suspend' THEN errand_jobs.error ELSE x.error END,
		run_at = CASE WHEN x.outcome IN ('retry', 'suspend') THEN x.run_at ELSE errand_jobs.run_at END,
		attempt = x.attempt,
		progress = CASE WHEN x.outcome = 'finished' THEN 1 ELSE errand_jobs.progress END,
		ended_at = CASE WHEN x.outcome IN ('retry', 'suspend') THEN NULL ELSE CAST($2 AS BIGINT) END,
		lease_owner = NULL, lease_token = NULL, lease_until = NULL, wake = $3, updated_at = CAST($2 AS BIGINT)
		FROM ` + t.D.Records("$1", completionCols...) + `
		WHERE errand_jobs.id = x.id AND errand_jobs.lease_token = x.token AND errand_jobs.queue = 'leased'
		RETURNING errand_jobs.id`
	done, err := collectStrings(t.query(ctx, q, arg, now, false))
	if err != nil {
		return nil, fmt.Errorf("complete jobs: %w", err)
	}
	applied := make([]bool, len(cs))
	var ended []string
	for i, c := range cs {
		applied[i] = done[c.Lease.JobID]
		if applied[i] && c.Outcome != store.OutcomeRetry && c.Outcome != store.OutcomeSuspend {
			ended = append(ended, c.Lease.JobID)
		}
	}
	if len(ended) > 0 {
		arg, err := jsonArg(ended)
		if err != nil {
			return nil, err
		}
		if _, err := t.exec(ctx, `DELETE FROM errand_waits WHERE job_id IN (`+t.D.List("$1")+`)`, arg); err != nil {
			return nil, fmt.Errorf("drop waits: %w", err)
		}
	}
	return applied, nil
}

// GetJob reads one job inside the transaction.
func (t *Tx) GetJob(ctx context.Context, id string) (*store.Job, error) {
	return getJob(ctx, t.C, t.D, id)
}

// CountRateKey counts recent jobs with a rate key.
func (t *Tx) CountRateKey(ctx context.Context, fnID, key string, since int64) (int, error) {
	rows, err := t.query(ctx, `SELECT count(*) FROM errand_jobs WHERE function_id = $1 AND rate_key = $2 AND created_at > $3`, fnID, key, since)
	if err != nil {
		return 0, fmt.Errorf("count rate key: %w", err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		err = rows.Scan(&n)
	}
	return n, err
}

// Debounce moves a pending debounced job to a new trigger and time.
func (t *Tx) Debounce(ctx context.Context, fnID, key, eventID string, input json.RawMessage, runAt, now int64) (bool, error) {
	n, err := t.exec(ctx, `UPDATE errand_jobs SET event_id = $3, input = $4, run_at = $5, updated_at = $6
		WHERE function_id = $1 AND debounce_key = $2 AND queue = 'scheduled' AND started_at IS NULL`,
		fnID, key, eventID, string(input), runAt, now)
	if err != nil {
		return false, fmt.Errorf("debounce: %w", err)
	}
	return n > 0, nil
}

// AppendBatch adds an event to a pending batch job.
func (t *Tx) AppendBatch(ctx context.Context, fnID, key string, event json.RawMessage, max int, now int64) (bool, error) {
	n, err := t.exec(ctx, t.D.AppendBatch, fnID, key, string(event), max, now)
	if err != nil {
		return false, fmt.Errorf("append to batch: %w", err)
	}
	return n > 0, nil
}
