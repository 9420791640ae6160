package sqldb

import (
	"fmt"
	"strings"
	"sync"
)

// Col names one field of a JSON record set and its SQL type: text, int,
// bigint, float, bool or json.
type Col struct{ Name, Type string }

// Dialect is what differs between the SQL of two databases.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Numbered placeholders: "$" for Postgres, "?" for SQLite (as ?1, ?2).
	Placeholder string
	// ClaimLock is run first in a claim transaction to serialize claims
	// across processes; empty when the database has one writer anyway.
	ClaimLock string
	// ClaimNoSync is run in a claim transaction so its commit does not
	// wait for the disk: a claim lost in a database crash only means the
	// job is claimed again, which leases already allow for.
	ClaimNoSync string
	// ForUpdate is appended to candidate selects in a claim.
	ForUpdate string
	// LimitCounts counts leased jobs per concurrency key.
	LimitCounts string
	// AppendBatch appends the JSON value $3 to errand_jobs.batch of the
	// pending batch of function $1 with key $2, making it ready at $5 when
	// it reaches $4 events.
	AppendBatch string

	mu    sync.Mutex
	cache map[string]string
}

// Q rewrites a query written with $1-style placeholders for the dialect.
func (d *Dialect) Q(q string) string {
	if d.Placeholder == "$" {
		return q
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.cache[q]; ok {
		return r
	}
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
			b.WriteString(d.Placeholder)
			continue
		}
		b.WriteByte(q[i])
	}
	r := b.String()
	if d.cache == nil {
		d.cache = map[string]string{}
	}
	d.cache[q] = r
	return r
}

// Records returns a FROM item, aliased x, that reads the JSON array bound
// to param as rows with the given columns.
func (d *Dialect) Records(param string, cols ...Col) string {
	var b strings.Builder
	if d.Name == "postgres" {
		fmt.Fprintf(&b, "jsonb_to_recordset(%s::jsonb) AS x(", param)
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			t := map[string]string{"text": "text", "int": "int", "bigint": "bigint", "float": "float8", "bool": "boolean", "json": "jsonb"}[c.Type]
			fmt.Fprintf(&b, "%s %s", c.Name, t)
		}
		b.WriteString(")")
		return b.String()
	}
	b.WriteString("(SELECT ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		op := "->>"
		if c.Type == "json" {
			op = "->"
		}
		fmt.Fprintf(&b, "value %s '$.%s' AS %s", op, c.Name, c.Name)
	}
	fmt.Fprintf(&b, " FROM json_each(%s)) AS x", param)
	return b.String()
}

// List returns a subquery yielding the strings of the JSON array bound to param.
func (d *Dialect) List(param string) string {
	if d.Name == "postgres" {
		return fmt.Sprintf("SELECT jsonb_array_elements_text(%s::jsonb)", param)
	}
	return fmt.Sprintf("SELECT value FROM json_each(%s)", param)
}

// Postgres is the dialect of PostgreSQL 13 and later.
func Postgres() *Dialect {
	return &Dialect{
		Name:        "postgres",
		Placeholder: "$",
		ClaimLock:   "SELECT pg_advisory_xact_lock(4242001)",
		ClaimNoSync: "SET LOCAL synchronous_commit = off",
		ForUpdate:   "FOR UPDATE SKIP LOCKED",
		LimitCounts: `SELECT l->>'k', count(*) FROM errand_jobs j, jsonb_array_elements(j.limits) l
			WHERE j.queue = 'leased' AND j.limits IS NOT NULL GROUP BY 1`,
		AppendBatch: `UPDATE errand_jobs SET batch = batch || jsonb_build_array($3::jsonb),
			queue = CASE WHEN jsonb_array_length(batch) + 1 >= $4 THEN 'ready' ELSE queue END,
			run_at = CASE WHEN jsonb_array_length(batch) + 1 >= $4 THEN $5 ELSE run_at END, updated_at = $5
			WHERE function_id = $1 AND batch_key = $2 AND queue = 'scheduled' AND started_at IS NULL`,
	}
}

// SQLite is the dialect of SQLite 3.38 and later.
func SQLite() *Dialect {
	return &Dialect{
		Name:        "sqlite",
		Placeholder: "?",
		LimitCounts: `SELECT l.value ->> '$.k', count(*) FROM errand_jobs j, json_each(j.limits) l
			WHERE j.queue = 'leased' AND j.limits IS NOT NULL GROUP BY 1`,
		AppendBatch: `UPDATE errand_jobs SET batch = json_insert(batch, '$[#]', json($3)),
			queue = CASE WHEN json_array_length(batch) + 1 >= $4 THEN 'ready' ELSE queue END,
			run_at = CASE WHEN json_array_length(batch) + 1 >= $4 THEN $5 ELSE run_at END, updated_at = $5
			WHERE function_id = $1 AND batch_key = $2 AND queue = 'scheduled' AND started_at IS NULL`,
	}
}
