package sqldb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/errand-dev/errand/internal/store"
)

// partsQuery walks the distinct partitions of ready jobs after a cursor with
// one index seek each (a loose index scan), so a partition with a huge
// backlog costs no more than one with a single job.
const partsQuery = `WITH RECURSIVE p(part, n) AS (
	SELECT (SELECT part FROM errand_jobs WHERE queue = 'ready' AND part > $1 ORDER BY part LIMIT 1), 1
	UNION ALL
	SELECT (SELECT j.part FROM errand_jobs j WHERE j.queue = 'ready' AND j.part > p.part ORDER BY j.part LIMIT 1), p.n + 1
	FROM p WHERE p.part IS NOT NULL AND p.n < $2
) SELECT part FROM p WHERE part IS NOT NULL`

// Claim leases up to p.N ready jobs. Claims are serialized (an advisory
// lock on Postgres, the single writer on SQLite), which makes the running
// counts per concurrency key exact. Partitions after p.After are visited in
// order and served round-robin: the first ready job of each, then the
// second of each, and so on.
func (db *DB) Claim(ctx context.Context, p store.ClaimParams) (store.ClaimResult, error) {
	var res store.ClaimResult
	if p.N <= 0 {
		return res, nil
	}
	if p.MaxParts <= 0 {
		p.MaxParts = 64
	}
	err := db.inTx(ctx, func(c Conn) error {
		for _, stmt := range []string{db.D.ClaimNoSync, db.D.ClaimLock} {
			if stmt == "" {
				continue
			}
			if _, err := c.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		parts, err := db.readParts(ctx, c, p.After, p.MaxParts, p.Runnable)
		if err != nil || len(parts) == 0 {
			return err
		}
		k := (p.N + len(parts) - 1) / len(parts)
		perPart := make([][]*store.Job, len(parts))
		hasLimits := false
		for i, part := range parts {
			jobs, err := scanJobs(c.Query(ctx, db.D.Q(`SELECT `+jobCols+` FROM errand_jobs
				WHERE queue = 'ready' AND part = $1 ORDER BY priority DESC, run_at, id LIMIT $2 `+db.D.ForUpdate), part, k))
			if err != nil {
				return fmt.Errorf("read candidates: %w", err)
			}
			perPart[i] = jobs
			for _, j := range jobs {
				hasLimits = hasLimits || len(j.Limits) > 0
			}
		}
		running := map[string]int{}
		if hasLimits {
			if running, err = db.limitCounts(ctx, c); err != nil {
				return err
			}
			if err := db.throttleCounts(ctx, c, perPart, p.Now, running); err != nil {
				return err
			}
		}
		picked, cursor := pickRoundRobin(parts, perPart, running, p.N)
		if len(picked) == 0 {
			res.Cursor = parts[len(parts)-1]
			return nil
		}
		res.Jobs, res.Cursor = picked, cursor
		if err := db.recordStarts(ctx, c, picked, p.Now); err != nil {
			return err
		}
		return db.lease(ctx, c, picked, p)
	})
	if err != nil {
		return store.ClaimResult{}, fmt.Errorf("claim: %w", err)
	}
	return res, nil
}

// readParts returns up to max partitions with ready jobs that the worker
// can run, in order after the cursor and then wrapping around to it.
// Partitions of functions it cannot run cost one index seek each.
func (db *DB) readParts(ctx context.Context, c Conn, after string, max int, runnable func(fn string) bool) ([]string, error) {
	var got []string
	seen := map[string]bool{}
	cursor, wrapped := after, after == ""
	for pages := 0; len(got) < max && pages < 64; pages++ {
		page, err := orderedStrings(c.Query(ctx, db.D.Q(partsQuery), cursor, max))
		if err != nil {
			return nil, fmt.Errorf("read partitions: %w", err)
		}
		for _, p := range page {
			if (wrapped && after != "" && p > after) || seen[p] {
				return got, nil // every partition has been visited
			}
			seen[p] = true
			if runnable == nil || runnable(store.PartFunction(p)) {
				if got = append(got, p); len(got) == max {
					return got, nil
				}
			}
		}
		if len(page) < max {
			if wrapped {
				break
			}
			cursor, wrapped = "", true
			continue
		}
		cursor = page[len(page)-1]
	}
	return got, nil
}

func orderedStrings(rows Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// throttleKey is how a throttle's count is kept apart from a concurrency
// limit's in the running map.
func throttleKey(l store.Limit) string { return "\x00t:" + l.Key }

// throttleCounts adds, for every throttle among the candidates, the starts
// within its period.
func (db *DB) throttleCounts(ctx context.Context, c Conn, perPart [][]*store.Job, now int64, counts map[string]int) error {
	seen := map[string]bool{}
	for _, jobs := range perPart {
		for _, j := range jobs {
			for _, l := range j.Limits {
				if l.Period <= 0 || seen[l.Key] {
					continue
				}
				seen[l.Key] = true
				rows, err := c.Query(ctx, db.D.Q(`SELECT count(*) FROM errand_starts WHERE key = $1 AND started_at > $2`), l.Key, now-l.Period)
				if err != nil {
					return fmt.Errorf("count throttled starts: %w", err)
				}
				n := 0
				if rows.Next() {
					err = rows.Scan(&n)
				}
				rows.Close()
				if err != nil {
					return err
				}
				counts[throttleKey(l)] = n
			}
		}
	}
	return nil
}

// recordStarts notes the start of every throttled job being leased.
func (db *DB) recordStarts(ctx context.Context, c Conn, jobs []*store.Job, now int64) error {
	var keys []string // as records {"k": key}
	for _, j := range jobs {
		if j.StartedAt != 0 {
			continue // a throttle counts first starts only
		}
		for _, l := range j.Limits {
			if l.Period > 0 {
				keys = append(keys, l.Key)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	recs := make([]map[string]string, len(keys))
	for i, k := range keys {
		recs[i] = map[string]string{"k": k}
	}
	arg, err := jsonArg(recs)
	if err != nil {
		return err
	}
	_, err = c.Exec(ctx, db.D.Q(`INSERT INTO errand_starts (key, started_at) SELECT k, $2 FROM `+db.D.Records("$1", Col{"k", "text"})), arg, now)
	if err != nil {
		return fmt.Errorf("record throttled starts: %w", err)
	}
	return nil
}

func (db *DB) limitCounts(ctx context.Context, c Conn) (map[string]int, error) {
	rows, err := c.Query(ctx, db.D.LimitCounts)
	if err != nil {
		return nil, fmt.Errorf("count running per key: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// pickRoundRobin takes candidates rank by rank across partitions while
// every limit of a candidate has room; it returns them and the last
// partition served.
func pickRoundRobin(parts []string, perPart [][]*store.Job, running map[string]int, n int) ([]*store.Job, string) {
	var picked []*store.Job
	cursor := ""
	blocked := make([]bool, len(parts))
	for rank := 0; len(picked) < n; rank++ {
		found := false
		for i := range parts {
			if blocked[i] || rank >= len(perPart[i]) {
				continue
			}
			found = true
			j := perPart[i][rank]
			if !fits(j, running) {
				// Jobs of a partition share its keys: once one does not
				// fit, later ones of that partition usually do not either.
				blocked[i] = true
				continue
			}
			for _, l := range j.Limits {
				if l.Period > 0 {
					if j.StartedAt == 0 {
						running[throttleKey(l)]++
					}
					continue
				}
				running[l.Key]++
			}
			picked = append(picked, j)
			cursor = parts[i]
			if len(picked) == n {
				break
			}
		}
		if !found {
			break
		}
	}
	return picked, cursor
}

func fits(j *store.Job, running map[string]int) bool {
	for _, l := range j.Limits {
		switch {
		case l.Period > 0:
			if j.StartedAt == 0 && running[throttleKey(l)] >= l.Limit {
				return false
			}
		case l.Limit > 0 && running[l.Key] >= l.Limit:
			return false
		}
	}
	return true
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (db *DB) lease(ctx context.Context, c Conn, jobs []*store.Job, p store.ClaimParams) error {
	recs := make([]map[string]any, len(jobs))
	for i, j := range jobs {
		j.LeaseToken = newToken()
		j.LeaseOwner, j.LeaseUntil, j.Queue, j.Status = p.Worker, p.LeaseUntil, store.QueueLeased, store.StatusRunning
		j.Resumed = j.StartedAt != 0
		if !j.Resumed {
			// A job committed while this claim began may look created
			// after p.Now; it cannot have started before it was created.
			j.StartedAt = max(p.Now, j.CreatedAt)
		}
		recs[i] = map[string]any{"id": j.ID, "token": j.LeaseToken}
	}
	arg, err := jsonArg(recs)
	if err != nil {
		return err
	}
	_, err = c.Exec(ctx, db.D.Q(`UPDATE errand_jobs SET queue = 'leased', status = 'running', lease_owner = $2,
		lease_token = x.token, lease_until = $3, started_at = COALESCE(errand_jobs.started_at,
		CASE WHEN errand_jobs.created_at > $4 THEN errand_jobs.created_at ELSE $4 END), updated_at = $4
		FROM `+db.D.Records("$1", Col{"id", "text"}, Col{"token", "text"})+` WHERE errand_jobs.id = x.id`),
		arg, p.Worker, p.LeaseUntil, p.Now)
	if err != nil {
		return fmt.Errorf("lease jobs: %w", err)
	}
	return nil
}
