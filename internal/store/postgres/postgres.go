// Package postgres is errand's production store: PostgreSQL through pgx.
// Several errand processes may share one database; claims are serialized
// with an advisory lock and jobs are fenced by lease tokens, so no job runs
// in two places at once.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/store/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database at url and applies the migrations.
func Open(ctx context.Context, url string) (*sqldb.DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	p := Pool{pool}
	db := &sqldb.DB{Write: p, Read: p, D: sqldb.Postgres(), Migrations: sub}
	if err := db.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// WrapTx returns the store writes that run inside an application's pgx
// transaction, for transactional enqueue.
func WrapTx(tx pgx.Tx) store.Tx {
	return &sqldb.Tx{C: conn{tx}, D: sqldb.Postgres()}
}

// WrapSQLTx is WrapTx for a database/sql transaction (the pgx stdlib driver).
func WrapSQLTx(tx *sql.Tx) store.Tx {
	return &sqldb.Tx{C: sqldb.SQLConn{Q: tx}, D: sqldb.Postgres()}
}

type conn struct{ q pgx.Tx }

func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	t, err := c.q.Exec(ctx, q, args...)
	return t.RowsAffected(), err
}

func (c conn) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	r, err := c.q.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (c conn) Commit(ctx context.Context) error   { return c.q.Commit(ctx) }
func (c conn) Rollback(ctx context.Context) error { return c.q.Rollback(ctx) }

// Pool adapts a pgx pool to the shared SQL code.
type Pool struct{ P *pgxpool.Pool }

// Exec runs a statement.
func (p Pool) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	t, err := p.P.Exec(ctx, q, args...)
	return t.RowsAffected(), err
}

// Query runs a query.
func (p Pool) Query(ctx context.Context, q string, args ...any) (sqldb.Rows, error) {
	r, err := p.P.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Begin opens a transaction.
func (p Pool) Begin(ctx context.Context) (sqldb.TxConn, error) {
	tx, err := p.P.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return conn{tx}, nil
}

// Close closes the pool.
func (p Pool) Close() error { p.P.Close(); return nil }
