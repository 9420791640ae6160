package sqldb

import (
	"context"
	"fmt"

	"github.com/errand-dev/errand/internal/store"
)

// SaveStep memoizes a step, fenced by the job's lease, and stores the job's
// attempt counter.
func (db *DB) SaveStep(ctx context.Context, l store.Lease, s *store.Step, attempt int, wait *store.Wait) error {
	return db.inTx(ctx, func(c Conn) error {
		n, err := c.Exec(ctx, db.D.Q(`UPDATE errand_jobs SET attempt = $3, updated_at = $4
			WHERE id = $1 AND lease_token = $2 AND queue = 'leased'`), l.JobID, l.Token, attempt, s.StartedAt)
		if err != nil {
			return fmt.Errorf("save step: %w", err)
		}
		if n == 0 {
			return store.ErrLeaseLost
		}
		_, err = c.Exec(ctx, db.D.Q(`INSERT INTO errand_steps (job_id, id, name, kind, status, output, error, attempts,
			started_at, ended_at, wake_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (job_id, id) DO UPDATE SET status = excluded.status, output = excluded.output,
			error = excluded.error, attempts = excluded.attempts, ended_at = excluded.ended_at, wake_at = excluded.wake_at
			WHERE errand_steps.status = 'waiting'`),
			l.JobID, s.ID, s.Name, s.Kind, string(s.Status), jsonOrNil(s.Output), jsonOrNil(s.Error), s.Attempts,
			s.StartedAt, nullIfZero(s.EndedAt), nullIfZero(s.WakeAt))
		if err != nil {
			return fmt.Errorf("save step: %w", err)
		}
		if wait != nil {
			_, err = c.Exec(ctx, db.D.Q(`INSERT INTO errand_waits (job_id, step_id, event_name, expr, expires_at)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`), l.JobID, s.ID, wait.EventName, wait.Expr, wait.ExpiresAt)
			if err != nil {
				return fmt.Errorf("save wait: %w", err)
			}
		}
		if s.Kind == "waitForEvent" && s.Status != store.StepWaiting {
			if _, err := c.Exec(ctx, db.D.Q(`DELETE FROM errand_waits WHERE job_id = $1 AND step_id = $2`), l.JobID, s.ID); err != nil {
				return fmt.Errorf("drop wait: %w", err)
			}
		}
		return nil
	})
}

func nullIfZero(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// ReportProgress records progress under the job's lease.
func (db *DB) ReportProgress(ctx context.Context, l store.Lease, fraction float64, message string, now int64) error {
	n, err := db.Write.Exec(ctx, db.D.Q(`UPDATE errand_jobs SET progress = $3, progress_message = $4, updated_at = $5
		WHERE id = $1 AND lease_token = $2 AND queue = 'leased'`), l.JobID, l.Token, fraction, message, now)
	if err != nil {
		return fmt.Errorf("report progress: %w", err)
	}
	if n == 0 {
		return store.ErrLeaseLost
	}
	return nil
}

// Heartbeat extends leases; it returns the job ids whose lease is gone and
// those whose cancellation was requested.
func (db *DB) Heartbeat(ctx context.Context, leases []store.Lease, until int64) (lost, cancel []string, err error) {
	if len(leases) == 0 {
		return nil, nil, nil
	}
	toks := make([]string, len(leases))
	for i, l := range leases {
		toks[i] = l.Token
	}
	arg, err := jsonArg(toks)
	if err != nil {
		return nil, nil, err
	}
	rows, err := db.Write.Query(ctx, db.D.Q(`UPDATE errand_jobs SET lease_until = $2
		WHERE queue = 'leased' AND lease_token IN (`+db.D.List("$1")+`) RETURNING id, cancel_requested`), arg, until)
	if err != nil {
		return nil, nil, fmt.Errorf("heartbeat: %w", err)
	}
	defer rows.Close()
	kept := map[string]bool{}
	for rows.Next() {
		var id string
		var c bool
		if err := rows.Scan(&id, &c); err != nil {
			return nil, nil, err
		}
		kept[id] = true
		if c {
			cancel = append(cancel, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for _, l := range leases {
		if !kept[l.JobID] {
			lost = append(lost, l.JobID)
		}
	}
	return lost, cancel, nil
}

// Promote readies scheduled jobs that are due and jobs whose lease expired
// (counting the lost attempt), and drops waits past their expiry.
func (db *DB) Promote(ctx context.Context, now int64) (int, error) {
	var total int64
	err := db.inTx(ctx, func(c Conn) error {
		n, err := c.Exec(ctx, db.D.Q(`UPDATE errand_jobs SET queue = 'ready', updated_at = $1
			WHERE queue = 'scheduled' AND run_at <= $1`), now)
		if err != nil {
			return err
		}
		m, err := c.Exec(ctx, db.D.Q(`UPDATE errand_jobs SET queue = 'ready', attempt = attempt + 1, lease_owner = NULL,
			lease_token = NULL, lease_until = NULL, updated_at = $1 WHERE queue = 'leased' AND lease_until < $1`), now)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, db.D.Q(`DELETE FROM errand_waits WHERE expires_at > 0 AND expires_at <= $1`), now); err != nil {
			return err
		}
		// Throttle periods are at most a week.
		if _, err := c.Exec(ctx, db.D.Q(`DELETE FROM errand_starts WHERE started_at < $1`), now-7*24*3600*1_000_000); err != nil {
			return err
		}
		total = n + m
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("promote: %w", err)
	}
	return int(total), nil
}

// NextRunAt returns the earliest time a scheduled job is due or a lease
// expires, or 0 when there is none.
func (db *DB) NextRunAt(ctx context.Context) (int64, error) {
	rows, err := db.Read.Query(ctx, `SELECT COALESCE((SELECT MIN(run_at) FROM errand_jobs WHERE queue = 'scheduled'), 0),
		COALESCE((SELECT MIN(lease_until) FROM errand_jobs WHERE queue = 'leased'), 0)`)
	if err != nil {
		return 0, fmt.Errorf("next run: %w", err)
	}
	defer rows.Close()
	var a, b int64
	if rows.Next() {
		if err := rows.Scan(&a, &b); err != nil {
			return 0, err
		}
	}
	if a == 0 || (b != 0 && b < a) {
		a = b
	}
	return a, rows.Err()
}
