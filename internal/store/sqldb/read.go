package sqldb

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/errand-dev/errand/internal/store"
)

const jobCols = `id, function_id, event_id, COALESCE(owner, ''), status, queue, attempt, max_attempts, priority, part,
	limits, run_at, COALESCE(lease_owner, ''), COALESCE(lease_token, ''), COALESCE(lease_until, 0), cancel_requested,
	input, output, error, progress, COALESCE(progress_message, ''), COALESCE(parent_job_id, ''),
	COALESCE(parent_step_id, ''), COALESCE(idempotency_key, ''), created_at, COALESCE(started_at, 0),
	COALESCE(ended_at, 0), updated_at, batch`

func scanJob(rows Rows) (*store.Job, error) {
	j := &store.Job{}
	var status, queue string
	var limits, input, output, errJSON, batch []byte
	err := rows.Scan(&j.ID, &j.FunctionID, &j.EventID, &j.Owner, &status, &queue, &j.Attempt, &j.MaxAttempts,
		&j.Priority, &j.Part, &limits, &j.RunAt, &j.LeaseOwner, &j.LeaseToken, &j.LeaseUntil, &j.CancelRequested,
		&input, &output, &errJSON, &j.Progress, &j.ProgressMessage, &j.ParentJobID, &j.ParentStepID,
		&j.IdempotencyKey, &j.CreatedAt, &j.StartedAt, &j.EndedAt, &j.UpdatedAt, &batch)
	if err != nil {
		return nil, fmt.Errorf("scan job: %w", err)
	}
	j.Status, j.Queue = store.Status(status), store.Queue(queue)
	if len(limits) > 0 {
		if err := json.Unmarshal(limits, &j.Limits); err != nil {
			return nil, fmt.Errorf("decode limits of job %s: %w", j.ID, err)
		}
	}
	j.Input, j.Output, j.Error, j.Batch = dup(input), dup(output), dup(errJSON), dup(batch)
	return j, nil
}

// dup copies bytes a driver may reuse after the next Scan.
func dup(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}

func scanJobs(rows Rows, err error) ([]*store.Job, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func getJob(ctx context.Context, c Conn, d *Dialect, id string) (*store.Job, error) {
	jobs, err := scanJobs(c.Query(ctx, d.Q(`SELECT `+jobCols+` FROM errand_jobs WHERE id = $1`), id))
	if err != nil {
		return nil, fmt.Errorf("get job: %w", err)
	}
	if len(jobs) == 0 {
		return nil, store.ErrNotFound
	}
	return jobs[0], nil
}

// GetJob reads one job.
func (db *DB) GetJob(ctx context.Context, id string) (*store.Job, error) {
	return getJob(ctx, db.Read, db.D, id)
}

// ListJobs lists jobs newest first, filtered.
func (db *DB) ListJobs(ctx context.Context, f store.JobFilter) ([]*store.Job, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.FunctionID != "" {
		add("function_id = ?", f.FunctionID)
	}
	if f.EventID != "" {
		add("event_id = ?", f.EventID)
	}
	if f.Owner != "" {
		add("owner = ?", f.Owner)
	} else if f.OwnerSet {
		where = append(where, "owner IS NULL")
	}
	if f.Before != "" {
		add("id < ?", f.Before)
	}
	if f.CreatedAfter > 0 {
		add("created_at > ?", f.CreatedAfter)
	}
	order := "id DESC"
	if f.UpdatedAfter > 0 {
		add("updated_at > ?", f.UpdatedAfter)
		order = "updated_at, id"
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := `SELECT ` + jobCols + ` FROM errand_jobs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	q += " ORDER BY " + order + " LIMIT $" + strconv.Itoa(len(args))
	jobs, err := scanJobs(db.Read.Query(ctx, db.D.Q(q), args...))
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return jobs, nil
}

// Steps lists a job's steps in the order they started.
func (db *DB) Steps(ctx context.Context, jobID string) ([]*store.Step, error) {
	return steps(ctx, db.Read, db.D, jobID)
}

func steps(ctx context.Context, c Conn, d *Dialect, jobID string) ([]*store.Step, error) {
	rows, err := c.Query(ctx, d.Q(`SELECT job_id, id, name, kind, status, output, error, attempts, started_at,
		COALESCE(ended_at, 0), COALESCE(wake_at, 0) FROM errand_steps WHERE job_id = $1 ORDER BY started_at, id`), jobID)
	if err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	defer rows.Close()
	var out []*store.Step
	for rows.Next() {
		s := &store.Step{}
		var status string
		var output, errJSON []byte
		if err := rows.Scan(&s.JobID, &s.ID, &s.Name, &s.Kind, &status, &output, &errJSON, &s.Attempts,
			&s.StartedAt, &s.EndedAt, &s.WakeAt); err != nil {
			return nil, fmt.Errorf("scan step: %w", err)
		}
		s.Status, s.Output, s.Error = store.StepStatus(status), dup(output), dup(errJSON)
		out = append(out, s)
	}
	return out, rows.Err()
}

const eventSelect = `SELECT id, name, data, user_data, ts, COALESCE(owner, ''), received_at FROM errand_events`

func scanEvents(rows Rows, err error) ([]*store.Event, error) {
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []*store.Event
	for rows.Next() {
		e := &store.Event{}
		var data, user []byte
		if err := rows.Scan(&e.ID, &e.Name, &data, &user, &e.TS, &e.Owner, &e.ReceivedAt); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		e.Data, e.User = dup(data), dup(user)
		out = append(out, e)
	}
	return out, rows.Err()
}

// GetEvent reads one event.
func (db *DB) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	evs, err := scanEvents(db.Read.Query(ctx, db.D.Q(eventSelect+` WHERE id = $1`), id))
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, store.ErrNotFound
	}
	return evs[0], nil
}

// ListEvents lists events newest first.
func (db *DB) ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	before := f.Before
	if before == "" {
		before = "\U0010FFFF"
	}
	if f.Name != "" {
		return scanEvents(db.Read.Query(ctx, db.D.Q(eventSelect+` WHERE name = $1 AND id < $2 ORDER BY id DESC LIMIT $3`), f.Name, before, f.Limit))
	}
	return scanEvents(db.Read.Query(ctx, db.D.Q(eventSelect+` WHERE id < $1 ORDER BY id DESC LIMIT $2`), before, f.Limit))
}

// CountByStatus counts jobs per status.
func (db *DB) CountByStatus(ctx context.Context) (map[store.Status]int64, error) {
	rows, err := db.Read.Query(ctx, `SELECT status, count(*) FROM errand_jobs GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	out := map[store.Status]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[store.Status(s)] = n
	}
	return out, rows.Err()
}

// UpsertFunctions records functions.
func (db *DB) UpsertFunctions(ctx context.Context, fns []*store.Function, now int64) error {
	if len(fns) == 0 {
		return nil
	}
	recs := make([]map[string]any, len(fns))
	for i, f := range fns {
		cfg := f.Config
		if len(cfg) == 0 {
			cfg = json.RawMessage("{}")
		}
		recs[i] = map[string]any{"id": f.ID, "name": f.Name, "app": f.App, "config": cfg, "updated_at": now}
	}
	arg, err := jsonArg(recs)
	if err != nil {
		return err
	}
	_, err = db.Write.Exec(ctx, db.D.Q(`INSERT INTO errand_functions (id, name, app, config, updated_at)
		SELECT id, name, app, config, updated_at FROM `+db.D.Records("$1", Col{"id", "text"}, Col{"name", "text"},
		Col{"app", "text"}, Col{"config", "json"}, Col{"updated_at", "bigint"})+` WHERE true
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, app = excluded.app, config = excluded.config,
		updated_at = excluded.updated_at`), arg)
	if err != nil {
		return fmt.Errorf("upsert functions: %w", err)
	}
	return nil
}

// Functions lists recorded functions.
func (db *DB) Functions(ctx context.Context) ([]*store.Function, error) {
	rows, err := db.Read.Query(ctx, `SELECT id, name, app, config, updated_at FROM errand_functions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	defer rows.Close()
	var out []*store.Function
	for rows.Next() {
		f := &store.Function{}
		var cfg []byte
		if err := rows.Scan(&f.ID, &f.Name, &f.App, &cfg, &f.UpdatedAt); err != nil {
			return nil, err
		}
		f.Config = dup(cfg)
		out = append(out, f)
	}
	return out, rows.Err()
}

// AcquireLeader takes or renews a named leadership.
func (db *DB) AcquireLeader(ctx context.Context, name, holder string, now, until int64) (bool, error) {
	got, err := collectStrings(db.Write.Query(ctx, db.D.Q(`INSERT INTO errand_leaders (name, holder, expires_at)
		VALUES ($1, $2, $4) ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE errand_leaders.holder = excluded.holder OR errand_leaders.expires_at < $3 RETURNING holder`),
		name, holder, now, until))
	if err != nil {
		return false, fmt.Errorf("acquire leader: %w", err)
	}
	return got[holder], nil
}
