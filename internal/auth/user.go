package auth

import (
	"encoding/json"
	"time"

	"github.com/errand-dev/errand/internal/store"
)

// UserJSON is a user as GoTrue shows it.
type UserJSON struct {
	ID               string          `json:"id"`
	Aud              string          `json:"aud"`
	Role             string          `json:"role"`
	Email            string          `json:"email"`
	EmailConfirmedAt *time.Time      `json:"email_confirmed_at,omitempty"`
	Phone            string          `json:"phone"`
	ConfirmedAt      *time.Time      `json:"confirmed_at,omitempty"`
	LastSignInAt     *time.Time      `json:"last_sign_in_at,omitempty"`
	AppMetadata      json.RawMessage `json:"app_metadata"`
	UserMetadata     json.RawMessage `json:"user_metadata"`
	Identities       []Identity      `json:"identities"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	BannedUntil      *time.Time      `json:"banned_until,omitempty"`
	IsAnonymous      bool            `json:"is_anonymous"`
}

// Identity is a user's sign-in identity (email only here).
type Identity struct {
	IdentityID   string          `json:"identity_id"`
	ID           string          `json:"id"`
	UserID       string          `json:"user_id"`
	IdentityData json.RawMessage `json:"identity_data"`
	Provider     string          `json:"provider"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	Email        string          `json:"email"`
}

func tp(us int64) *time.Time {
	if us == 0 {
		return nil
	}
	t := time.UnixMicro(us).UTC()
	return &t
}

// ToJSON converts a stored user.
func ToJSON(u *store.User) *UserJSON {
	data, _ := json.Marshal(map[string]any{"sub": u.ID, "email": u.Email, "email_verified": true, "phone_verified": false})
	created, updated := time.UnixMicro(u.CreatedAt).UTC(), time.UnixMicro(u.UpdatedAt).UTC()
	return &UserJSON{ID: u.ID, Aud: Audience, Role: u.Role, Email: u.Email, EmailConfirmedAt: tp(u.EmailConfirmedAt),
		Phone: u.Phone, ConfirmedAt: tp(u.EmailConfirmedAt), LastSignInAt: tp(u.LastSignInAt), AppMetadata: u.AppMetadata,
		UserMetadata: u.UserMetadata, CreatedAt: created, UpdatedAt: updated, BannedUntil: tp(u.BannedUntil),
		Identities: []Identity{{IdentityID: u.ID, ID: u.ID, UserID: u.ID, IdentityData: data, Provider: "email",
			CreatedAt: created, UpdatedAt: updated, Email: u.Email}}}
}
