package sqldb

import (
	"context"
	"errors"
	"fmt"

	"github.com/errand-dev/errand/internal/store"
)

// JobStats buckets the jobs table's recent history in three grouped scans
// (creations, starts, ends) bounded below by the id range.
func (db *DB) JobStats(ctx context.Context, p store.StatsParams) (*store.JobStats, error) {
	if p.Bucket <= 0 {
		return nil, errors.New("job stats: the bucket must be positive")
	}
	n := int((p.Until-p.Since)/p.Bucket) + 1
	if p.Until < p.Since || n > 10000 {
		return nil, fmt.Errorf("job stats: %d buckets is out of range (1 to 10000)", n)
	}
	out := &store.JobStats{Buckets: make([]store.StatsBucket, n)}
	scan := func(what, q string, fn func(b *store.StatsBucket, v []int64)) error {
		rows, err := db.Read.Query(ctx, db.D.Q(q), p.Since, p.Bucket, p.MinID)
		if err != nil {
			return fmt.Errorf("job stats (%s): %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			v := make([]int64, 4)
			if err := rows.Scan(&v[0], &v[1], &v[2], &v[3]); err != nil {
				return fmt.Errorf("job stats (%s): %w", what, err)
			}
			if i := int(v[0]); i >= 0 && i < n {
				fn(&out.Buckets[i], v[1:])
			}
		}
		return rows.Err()
	}
	err := scan("created", `SELECT (created_at - $1) / $2, count(*), 0, 0 FROM errand_jobs
		WHERE id >= $3 AND created_at >= $1 GROUP BY 1`, func(b *store.StatsBucket, v []int64) { b.Created = v[0] })
	if err == nil {
		err = scan("started", `SELECT (started_at - $1) / $2, count(*), COALESCE(sum(started_at - created_at), 0),
			COALESCE(max(started_at - created_at), 0) FROM errand_jobs
			WHERE id >= $3 AND started_at >= $1 GROUP BY 1`, func(b *store.StatsBucket, v []int64) {
			b.Started, b.LatencySum, b.LatencyMax = v[0], v[1], v[2]
		})
	}
	if err == nil {
		err = scan("ended", `SELECT (ended_at - $1) / $2, count(*),
			COALESCE(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0),
			COALESCE(sum(CASE WHEN started_at IS NULL THEN 1 ELSE 0 END), 0) FROM errand_jobs
			WHERE id >= $3 AND ended_at >= $1 GROUP BY 1`, func(b *store.StatsBucket, v []int64) {
			b.Ended, b.Failed, b.Dropped = v[0], v[1], v[2]
		})
	}
	if err != nil {
		return nil, err
	}
	rows, err := db.Read.Query(ctx, `SELECT count(*) FROM errand_jobs WHERE status = 'waiting'`)
	if err != nil {
		return nil, fmt.Errorf("job stats (waiting): %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&out.Waiting); err != nil {
			return nil, fmt.Errorf("job stats (waiting): %w", err)
		}
	}
	return out, rows.Err()
}
