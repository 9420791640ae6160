package sqldb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/errand-dev/errand/internal/store"
)

var _ store.AuthStore = (*DB)(nil)

const userCols = `id, email, encrypted_password, phone, role, app_metadata, user_metadata,
	COALESCE(email_confirmed_at, 0), COALESCE(banned_until, 0), COALESCE(last_sign_in_at, 0), created_at, updated_at`

func scanUsers(rows Rows, err error) ([]*store.User, error) {
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	defer rows.Close()
	var out []*store.User
	for rows.Next() {
		u := &store.User{}
		var app, meta []byte
		if err := rows.Scan(&u.ID, &u.Email, &u.EncryptedPassword, &u.Phone, &u.Role, &app, &meta,
			&u.EmailConfirmedAt, &u.BannedUntil, &u.LastSignInAt, &u.CreatedAt, &u.UpdatedAt); err != nil {
			return nil, fmt.Errorf("scan user: %w", err)
		}
		u.AppMetadata, u.UserMetadata = dup(app), dup(meta)
		out = append(out, u)
	}
	return out, rows.Err()
}

func oneUser(users []*store.User, err error) (*store.User, error) {
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, store.ErrNotFound
	}
	return users[0], nil
}

func objOrEmpty(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return "{}"
	}
	return string(r)
}

// isUnique reports a unique-constraint violation in either database.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}

// CreateUser stores a new user; ErrConflict if the email is taken.
func (db *DB) CreateUser(ctx context.Context, u *store.User) error {
	_, err := db.Write.Exec(ctx, db.D.Q(`INSERT INTO errand_users (id, email, encrypted_password, phone, role,
		app_metadata, user_metadata, email_confirmed_at, banned_until, last_sign_in_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`),
		u.ID, u.Email, u.EncryptedPassword, u.Phone, u.Role, objOrEmpty(u.AppMetadata), objOrEmpty(u.UserMetadata),
		nullIfZero(u.EmailConfirmedAt), nullIfZero(u.BannedUntil), nullIfZero(u.LastSignInAt), u.CreatedAt, u.UpdatedAt)
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

// GetUser reads a user by id.
func (db *DB) GetUser(ctx context.Context, id string) (*store.User, error) {
	return oneUser(scanUsers(db.Read.Query(ctx, db.D.Q(`SELECT `+userCols+` FROM errand_users WHERE id = $1`), id)))
}

// GetUserByEmail reads a user by (normalized) email.
func (db *DB) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	return oneUser(scanUsers(db.Read.Query(ctx, db.D.Q(`SELECT `+userCols+` FROM errand_users WHERE email = $1`), email)))
}

// UpdateUser writes a user.
func (db *DB) UpdateUser(ctx context.Context, u *store.User) error {
	n, err := db.Write.Exec(ctx, db.D.Q(`UPDATE errand_users SET email = $2, encrypted_password = $3, phone = $4, role = $5,
		app_metadata = $6, user_metadata = $7, email_confirmed_at = $8, banned_until = $9, last_sign_in_at = $10,
		updated_at = $11 WHERE id = $1`),
		u.ID, u.Email, u.EncryptedPassword, u.Phone, u.Role, objOrEmpty(u.AppMetadata), objOrEmpty(u.UserMetadata),
		nullIfZero(u.EmailConfirmedAt), nullIfZero(u.BannedUntil), nullIfZero(u.LastSignInAt), u.UpdatedAt)
	if isUnique(err) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteUser removes a user, their sessions and refresh tokens.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	return db.inTx(ctx, func(c Conn) error {
		n, err := c.Exec(ctx, db.D.Q(`DELETE FROM errand_users WHERE id = $1`), id)
		if err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		if n == 0 {
			return store.ErrNotFound
		}
		if _, err := c.Exec(ctx, db.D.Q(`DELETE FROM errand_refresh_tokens WHERE user_id = $1`), id); err != nil {
			return err
		}
		_, err = c.Exec(ctx, db.D.Q(`DELETE FROM errand_sessions WHERE user_id = $1`), id)
		return err
	})
}

// ListUsers pages through users.
func (db *DB) ListUsers(ctx context.Context, offset, limit int) ([]*store.User, int, error) {
	users, err := scanUsers(db.Read.Query(ctx, db.D.Q(`SELECT `+userCols+` FROM errand_users ORDER BY created_at, id LIMIT $1 OFFSET $2`), limit, offset))
	if err != nil {
		return nil, 0, err
	}
	rows, err := db.Read.Query(ctx, `SELECT count(*) FROM errand_users`)
	if err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	defer rows.Close()
	total := 0
	if rows.Next() {
		if err := rows.Scan(&total); err != nil {
			return nil, 0, err
		}
	}
	return users, total, rows.Err()
}

func insertToken(ctx context.Context, c Conn, d *Dialect, t *store.RefreshToken) error {
	_, err := c.Exec(ctx, d.Q(`INSERT INTO errand_refresh_tokens (id, token_hash, user_id, session_id, parent, revoked,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`),
		t.ID, t.TokenHash, t.UserID, t.SessionID, t.Parent, t.Revoked, t.CreatedAt, t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("store refresh token: %w", err)
	}
	return nil
}

// CreateSession stores a session and its first refresh token.
func (db *DB) CreateSession(ctx context.Context, s *store.Session, first *store.RefreshToken) error {
	return db.inTx(ctx, func(c Conn) error {
		if _, err := c.Exec(ctx, db.D.Q(`INSERT INTO errand_sessions (id, user_id, aal, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5)`), s.ID, s.UserID, s.AAL, s.CreatedAt, s.UpdatedAt); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return insertToken(ctx, c, db.D, first)
	})
}

// GetSession reads a session.
func (db *DB) GetSession(ctx context.Context, id string) (*store.Session, error) {
	rows, err := db.Read.Query(ctx, db.D.Q(`SELECT id, user_id, aal, created_at, updated_at FROM errand_sessions WHERE id = $1`), id)
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, store.ErrNotFound
	}
	s := &store.Session{}
	if err := rows.Scan(&s.ID, &s.UserID, &s.AAL, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, err
	}
	return s, nil
}

// DeleteSessions removes a user's sessions and their tokens.
func (db *DB) DeleteSessions(ctx context.Context, userID, only, except string) error {
	cond, arg := "", ""
	switch {
	case only != "":
		cond, arg = " AND id = $2", only
	case except != "":
		cond, arg = " AND id <> $2", except
	}
	return db.inTx(ctx, func(c Conn) error {
		args := []any{userID}
		if arg != "" {
			args = append(args, arg)
		}
		tokCond := strings.ReplaceAll(cond, "id", "session_id")
		if _, err := c.Exec(ctx, db.D.Q(`DELETE FROM errand_refresh_tokens WHERE user_id = $1`+tokCond), args...); err != nil {
			return fmt.Errorf("delete tokens: %w", err)
		}
		if _, err := c.Exec(ctx, db.D.Q(`DELETE FROM errand_sessions WHERE user_id = $1`+cond), args...); err != nil {
			return fmt.Errorf("delete sessions: %w", err)
		}
		return nil
	})
}

const tokenCols = `id, token_hash, user_id, session_id, parent, revoked, created_at, updated_at`

func oneToken(rows Rows, err error) (*store.RefreshToken, error) {
	if err != nil {
		return nil, fmt.Errorf("read refresh token: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, store.ErrNotFound
	}
	t := &store.RefreshToken{}
	if err := rows.Scan(&t.ID, &t.TokenHash, &t.UserID, &t.SessionID, &t.Parent, &t.Revoked, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, err
	}
	return t, nil
}

// GetRefreshToken finds a token by its hash.
func (db *DB) GetRefreshToken(ctx context.Context, hash string) (*store.RefreshToken, error) {
	return oneToken(db.Read.Query(ctx, db.D.Q(`SELECT `+tokenCols+` FROM errand_refresh_tokens WHERE token_hash = $1`), hash))
}

// ActiveRefreshToken returns a session's newest unrevoked token.
func (db *DB) ActiveRefreshToken(ctx context.Context, sessionID string) (*store.RefreshToken, error) {
	return oneToken(db.Read.Query(ctx, db.D.Q(`SELECT `+tokenCols+` FROM errand_refresh_tokens
		WHERE session_id = $1 AND revoked = $2 ORDER BY created_at DESC, id DESC LIMIT 1`), sessionID, false))
}

// RotateRefreshToken revokes old and stores next atomically.
func (db *DB) RotateRefreshToken(ctx context.Context, old, next *store.RefreshToken, now int64) (bool, error) {
	ok := false
	err := db.inTx(ctx, func(c Conn) error {
		n, err := c.Exec(ctx, db.D.Q(`UPDATE errand_refresh_tokens SET revoked = $2, updated_at = $3 WHERE id = $1 AND revoked = $4`),
			old.ID, true, now, false)
		if err != nil || n == 0 {
			return err
		}
		if err := insertToken(ctx, c, db.D, next); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, db.D.Q(`UPDATE errand_sessions SET updated_at = $2 WHERE id = $1`), old.SessionID, now); err != nil {
			return err
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("rotate refresh token: %w", err)
	}
	return ok, nil
}

// RevokeSession revokes every token of a session.
func (db *DB) RevokeSession(ctx context.Context, sessionID string, now int64) error {
	_, err := db.Write.Exec(ctx, db.D.Q(`UPDATE errand_refresh_tokens SET revoked = $2, updated_at = $3 WHERE session_id = $1`), sessionID, true, now)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}
