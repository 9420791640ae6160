package store

import (
	"context"
	"encoding/json"
	"errors"
)

// User is an account.
type User struct {
	ID                string          `json:"id"`
	Email             string          `json:"email"`
	EncryptedPassword string          `json:"-"`
	Phone             string          `json:"phone"`
	Role              string          `json:"role"`
	AppMetadata       json.RawMessage `json:"app_metadata"`
	UserMetadata      json.RawMessage `json:"user_metadata"`
	EmailConfirmedAt  int64           `json:"email_confirmed_at,omitempty"`
	BannedUntil       int64           `json:"banned_until,omitempty"`
	LastSignInAt      int64           `json:"last_sign_in_at,omitempty"`
	CreatedAt         int64           `json:"created_at"`
	UpdatedAt         int64           `json:"updated_at"`
}

// Banned reports whether the user is banned at now (microseconds).
func (u *User) Banned(now int64) bool { return u.BannedUntil > now }

// Session is a signed-in session of a user.
type Session struct {
	ID        string
	UserID    string
	AAL       string
	CreatedAt int64
	UpdatedAt int64
}

// RefreshToken is one token of a session's rotation chain, stored hashed.
type RefreshToken struct {
	ID        string
	TokenHash string
	UserID    string
	SessionID string
	// Parent is the id of the token this one replaced.
	Parent    string
	Revoked   bool
	CreatedAt int64
	UpdatedAt int64
}

// ErrConflict is returned when a unique value (an email) is taken.
var ErrConflict = errors.New("already exists")

// AuthStore keeps accounts and sessions. Every behaviour is in the
// conformance suite.
type AuthStore interface {
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser writes every field of u.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes the user with their sessions and tokens.
	DeleteUser(ctx context.Context, id string) error
	// ListUsers pages through users oldest first; total counts them all.
	ListUsers(ctx context.Context, offset, limit int) (users []*User, total int, err error)
	// CreateSession stores a session with its first refresh token.
	CreateSession(ctx context.Context, s *Session, first *RefreshToken) error
	GetSession(ctx context.Context, id string) (*Session, error)
	// DeleteSessions removes sessions of a user (and their tokens): all,
	// only one (only != ""), or all but one (except != "").
	DeleteSessions(ctx context.Context, userID, only, except string) error
	GetRefreshToken(ctx context.Context, hash string) (*RefreshToken, error)
	// ActiveRefreshToken returns the session's newest unrevoked token.
	ActiveRefreshToken(ctx context.Context, sessionID string) (*RefreshToken, error)
	// RotateRefreshToken revokes old and stores next in one transaction;
	// it reports false when old was revoked meanwhile.
	RotateRefreshToken(ctx context.Context, old *RefreshToken, next *RefreshToken, now int64) (bool, error)
	// RevokeSession revokes every token of a session.
	RevokeSession(ctx context.Context, sessionID string, now int64) error
}
