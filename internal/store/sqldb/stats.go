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
	// One scan of the window's jobs, then three groupings of it: by
	// creation, by first start, by end.
	rows, err := db.Read.Query(ctx, db.D.Q(`WITH j AS MATERIALIZED (
			SELECT created_at AS c, COALESCE(started_at, 0) AS s, COALESCE(ended_at, 0) AS e, status FROM errand_jobs
			WHERE id >= $3 AND (created_at >= $1 OR started_at >= $1 OR ended_at >= $1))
		SELECT 0, (c - $1) / $2, count(*), 0, 0 FROM j WHERE c >= $1 GROUP BY 2
		UNION ALL
		SELECT 1, (s - $1) / $2, count(*), COALESCE(sum(s - c), 0), COALESCE(max(s - c), 0) FROM j WHERE s >= $1 GROUP BY 2
		UNION ALL
		SELECT 2, (e - $1) / $2, count(*), COALESCE(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0),
			COALESCE(sum(CASE WHEN s = 0 THEN 1 ELSE 0 END), 0) FROM j WHERE e >= $1 GROUP BY 2`), p.Since, p.Bucket, p.MinID)
	if err != nil {
		return nil, fmt.Errorf("job stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, i, a, b, c int64
		if err := rows.Scan(&kind, &i, &a, &b, &c); err != nil {
			return nil, fmt.Errorf("job stats: %w", err)
		}
		if i < 0 || i >= int64(n) {
			continue
		}
		bk := &out.Buckets[i]
		switch kind {
		case 0:
			bk.Created = a
		case 1:
			bk.Started, bk.LatencySum, bk.LatencyMax = a, b, c
		case 2:
			bk.Ended, bk.Failed, bk.Dropped = a, b, c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("job stats: %w", err)
	}
	return out, nil
}
