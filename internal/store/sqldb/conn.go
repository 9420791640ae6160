// Package sqldb is the SQL both store drivers share. A Dialect supplies what
// differs between SQLite and Postgres (placeholders, JSON record sets, claim
// locking); the drivers open connections and run migrations.
package sqldb

import (
	"context"
	"database/sql"
)

// Rows is the part of a result set the queries use.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Conn runs statements: a pool, a connection or a transaction.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// TxConn is a Conn inside a transaction.
type TxConn interface {
	Conn
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Pool opens transactions.
type Pool interface {
	Conn
	Begin(ctx context.Context) (TxConn, error)
	Close() error
}

// SQLQuerier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type SQLQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// SQLConn adapts database/sql to Conn.
type SQLConn struct{ Q SQLQuerier }

// Exec runs a statement and returns the rows it affected.
func (c SQLConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	r, err := c.Q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// Query runs a query.
func (c SQLConn) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	r, err := c.Q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// SQLPool adapts a *sql.DB to Pool.
type SQLPool struct {
	DB *sql.DB
}

// Exec runs a statement outside a transaction.
func (p SQLPool) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return SQLConn{p.DB}.Exec(ctx, query, args...)
}

// Query runs a query outside a transaction.
func (p SQLPool) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return SQLConn{p.DB}.Query(ctx, query, args...)
}

// Begin opens a transaction.
func (p SQLPool) Begin(ctx context.Context) (TxConn, error) {
	tx, err := p.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTx{SQLConn{tx}, tx}, nil
}

// Close closes the pool.
func (p SQLPool) Close() error { return p.DB.Close() }

type sqlTx struct {
	SQLConn
	tx *sql.Tx
}

func (t sqlTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t sqlTx) Rollback(context.Context) error { return t.tx.Rollback() }
