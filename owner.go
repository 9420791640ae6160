package errand

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// TxBeginner is a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ErrNoOwner is returned by OwnerTx outside an owned job with a token.
var ErrNoOwner = errors.New("errand: OwnerTx needs a job with an owner and accounts (Config.JWTSecret)")

// OwnerTx runs fn in a PostgreSQL transaction as the running job's owner,
// the way PostgREST runs a request: role "authenticated" and the owner's
// JWT claims in request.jwt.claims, so the app's Row Level Security
// policies (written with auth.uid()) apply to everything fn does. The
// transaction commits if fn returns nil.
func OwnerTx(ctx context.Context, db TxBeginner, fn func(tx pgx.Tx) error) (err error) {
	r, err := current(ctx)
	if err != nil {
		return err
	}
	if r.Job.Owner == "" || r.Token == "" {
		return ErrNoOwner
	}
	parts := strings.Split(r.Token, ".")
	if len(parts) != 3 {
		return fmt.Errorf("errand: malformed job token")
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("errand: malformed job token: %w", err)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err = tx.Exec(ctx, `SELECT set_config('request.jwt.claims', $1, true), set_config('request.jwt.claim.sub', $2, true),
		set_config('role', 'authenticated', true)`, string(claims), r.Job.Owner); err != nil {
		return fmt.Errorf("errand: act as the job's owner: %w", err)
	}
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
