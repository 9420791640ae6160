package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/store/sqldb"
)

func newUser(id, email string) *store.User {
	return &store.User{ID: id, Email: email, EncryptedPassword: "$2a$hash", Role: "authenticated",
		AppMetadata: json.RawMessage(`{"provider":"email"}`), CreatedAt: 1, UpdatedAt: 1}
}

func TestUsers(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		u := newUser("u1", "ada@example.com")
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUser(ctx, newUser("u2", "ada@example.com")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate email: %v", err)
		}
		got, err := db.GetUserByEmail(ctx, "ada@example.com")
		if err != nil || got.ID != "u1" || string(got.UserMetadata) != "{}" || got.BannedUntil != 0 {
			t.Fatalf("by email: %+v %v", got, err)
		}
		got.UserMetadata, got.BannedUntil, got.UpdatedAt = json.RawMessage(`{"name":"Ada"}`), 99, 2
		if err := db.UpdateUser(ctx, got); err != nil {
			t.Fatal(err)
		}
		again, _ := db.GetUser(ctx, "u1")
		var meta map[string]string
		_ = json.Unmarshal(again.UserMetadata, &meta)
		if meta["name"] != "Ada" || again.BannedUntil != 99 || !again.Banned(98) || again.Banned(99) {
			t.Fatalf("updated user %+v", again)
		}
		if err := db.UpdateUser(ctx, newUser("nope", "x@example.com")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update missing: %v", err)
		}
		for i := 0; i < 3; i++ {
			u := newUser(fmt.Sprint("v", i), fmt.Sprint("v", i, "@example.com"))
			u.CreatedAt = int64(10 + i)
			if err := db.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		page, total, err := db.ListUsers(ctx, 1, 2)
		if err != nil || total != 4 || len(page) != 2 || page[0].ID != "v0" {
			t.Fatalf("list: %d %d %v", len(page), total, err)
		}
		if err := db.DeleteUser(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetUser(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted user: %v", err)
		}
		if err := db.DeleteUser(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func tok(id, session, parent string, at int64) *store.RefreshToken {
	return &store.RefreshToken{ID: id, TokenHash: "h-" + id, UserID: "u1", SessionID: session, Parent: parent, CreatedAt: at, UpdatedAt: at}
}

func TestSessionsAndRotation(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		if err := db.CreateUser(ctx, newUser("u1", "a@example.com")); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"s1", "s2", "s3"} {
			if err := db.CreateSession(ctx, &store.Session{ID: s, UserID: "u1", AAL: "aal1", CreatedAt: 1, UpdatedAt: 1}, tok("t-"+s, s, "", 1)); err != nil {
				t.Fatal(err)
			}
		}
		t1, err := db.GetRefreshToken(ctx, "h-t-s1")
		if err != nil || t1.SessionID != "s1" || t1.Revoked {
			t.Fatalf("token %+v %v", t1, err)
		}
		ok, err := db.RotateRefreshToken(ctx, t1, tok("t2", "s1", t1.ID, 5), 5)
		if err != nil || !ok {
			t.Fatalf("rotate: %v %v", ok, err)
		}
		ok, err = db.RotateRefreshToken(ctx, t1, tok("t3", "s1", t1.ID, 6), 6)
		if err != nil || ok {
			t.Fatalf("rotated a revoked token: %v %v", ok, err)
		}
		active, err := db.ActiveRefreshToken(ctx, "s1")
		if err != nil || active.ID != "t2" || active.Parent != t1.ID {
			t.Fatalf("active %+v %v", active, err)
		}
		if old, _ := db.GetRefreshToken(ctx, "h-t-s1"); !old.Revoked || old.UpdatedAt != 5 {
			t.Fatalf("old token %+v", old)
		}
		if err := db.RevokeSession(ctx, "s1", 7); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ActiveRefreshToken(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("active after revoke: %v", err)
		}
		if err := db.DeleteSessions(ctx, "u1", "", "s2"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetSession(ctx, "s2"); err != nil {
			t.Fatalf("kept session: %v", err)
		}
		for _, s := range []string{"s1", "s3"} {
			if _, err := db.GetSession(ctx, s); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("session %s survived: %v", s, err)
			}
		}
		if err := db.DeleteSessions(ctx, "u1", "s2", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetRefreshToken(ctx, "h-t-s2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("token of deleted session: %v", err)
		}
	})
}
