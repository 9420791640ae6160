package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/store"
)

// DB implements store.Store over a Pool with a Dialect.
type DB struct {
	// Write runs transactions; Read serves reads (the same pool on
	// Postgres, a separate pool of read connections on SQLite).
	Write      Pool
	Read       Conn
	D          *Dialect
	Migrations fs.FS
	// OnClose runs after the pools are closed.
	OnClose func() error
}

var _ store.Store = (*DB)(nil)

// Migrate applies the numbered *.sql files of Migrations in order, each
// in its own transaction, recording them in errand_migrations.
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.Write.Exec(ctx, `CREATE TABLE IF NOT EXISTS errand_migrations (
		version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(db.Migrations, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		body, err := fs.ReadFile(db.Migrations, name)
		if err != nil {
			return err
		}
		version := strings.TrimSuffix(name, ".sql")
		err = db.inTx(ctx, func(c Conn) error {
			if db.D.ClaimLock != "" {
				if _, err := c.Exec(ctx, "SELECT pg_advisory_xact_lock(4242000)"); err != nil {
					return err
				}
			}
			rows, err := c.Query(ctx, db.D.Q(`SELECT 1 FROM errand_migrations WHERE version = $1`), version)
			if err != nil {
				return err
			}
			done := rows.Next()
			rows.Close()
			if done {
				return nil
			}
			for _, stmt := range splitStatements(string(body)) {
				if _, err := c.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("migration %s: %w", name, err)
				}
			}
			_, err = c.Exec(ctx, db.D.Q(`INSERT INTO errand_migrations (version, applied_at) VALUES ($1, $2)`), version, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// splitStatements splits a migration on semicolons that end a line,
// outside $$-quoted bodies.
func splitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, line := range strings.Split(body, "\n") {
		t := strings.TrimSpace(line)
		if !quoted && (strings.HasPrefix(t, "--") || t == "") {
			continue
		}
		if strings.Count(line, "$$")%2 == 1 {
			quoted = !quoted
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if !quoted && strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func (db *DB) inTx(ctx context.Context, fn func(Conn) error) (err error) {
	tx, err := db.Write.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// InTx runs fn in a write transaction.
func (db *DB) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return db.inTx(ctx, func(c Conn) error { return fn(&Tx{C: c, D: db.D}) })
}

// Close closes the pools.
func (db *DB) Close() error {
	err := db.Write.Close()
	if c, ok := db.Read.(Pool); ok && c != db.Write {
		err = errors.Join(err, c.Close())
	}
	if db.OnClose != nil {
		err = errors.Join(err, db.OnClose())
	}
	return err
}
