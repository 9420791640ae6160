package dashboard

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/store"
)

// The session's cookies. The access cookie holds the access token (or,
// for an admin signed in with a key, a short-lived service token), the
// refresh cookie the refresh token that renews it, the csrf cookie the
// random value form tokens are bound to.
const (
	accessCookie  = "errand_access"
	refreshCookie = "errand_refresh"
	csrfCookie    = "errand_csrf"
	flashCookie   = "errand_flash"
	// sessionAge is how long the cookies of a user's session last; the
	// access token inside is renewed with the refresh token.
	sessionAge = 30 * 24 * time.Hour
	// adminKeyAge is how long a sign-in with an admin key lasts.
	adminKeyAge = 8 * time.Hour
)

// viewer is who is looking at a page.
type viewer struct {
	auth.Principal
	Email string
	// Admin: the service key, an admin key, or a user with errand_admin.
	Admin bool
	token string // the bearer forwarded to the API
}

// SignedIn reports whether the viewer is a user or an admin.
func (v *viewer) SignedIn() bool { return v.Kind == auth.User || v.Kind == auth.Admin }

// HasUser reports whether the viewer is a user (who can own jobs).
func (v *viewer) HasUser() bool { return v.Kind == auth.User }

func (d *Dashboard) cookieName(n string) string {
	if d.cfg.Secure {
		return "__Host-" + n
	}
	return n
}

func (d *Dashboard) cookie(r *http.Request, n string) string {
	c, err := r.Cookie(d.cookieName(n))
	if err != nil {
		return ""
	}
	return c.Value
}

func (d *Dashboard) setCookie(w http.ResponseWriter, n, v string, age time.Duration) {
	c := &http.Cookie{Name: d.cookieName(n), Value: v, Path: "/", HttpOnly: true, Secure: d.cfg.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(age.Seconds())}
	if age <= 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func (d *Dashboard) setSession(w http.ResponseWriter, s *auth.Session) {
	d.setCookie(w, accessCookie, s.AccessToken, sessionAge)
	d.setCookie(w, refreshCookie, s.RefreshToken, sessionAge)
}

func (d *Dashboard) clearSession(w http.ResponseWriter) {
	d.setCookie(w, accessCookie, "", 0)
	d.setCookie(w, refreshCookie, "", 0)
}

// viewer reads the session. An expired access token is renewed with the
// refresh token (the new cookies are set on w); a session that cannot be
// renewed, or was signed out elsewhere, is cleared.
func (d *Dashboard) viewer(w http.ResponseWriter, r *http.Request) *viewer {
	v := &viewer{Principal: auth.Principal{Kind: auth.Anonymous}}
	tok := d.cookie(r, accessCookie)
	if tok == "" {
		return v
	}
	p, err := d.rv.Bearer(r.Context(), tok)
	if err != nil || (p.Kind != auth.User && p.Kind != auth.Admin) {
		refresh := d.cookie(r, refreshCookie)
		if refresh == "" {
			d.clearSession(w)
			return v
		}
		s, rerr := d.cfg.Auth.Refresh(r.Context(), auth.ClientIP(r), refresh)
		if rerr != nil {
			d.clearSession(w)
			return v
		}
		d.setSession(w, s)
		tok = s.AccessToken
		if p, err = d.rv.Bearer(r.Context(), tok); err != nil {
			d.clearSession(w)
			return v
		}
	}
	v.Principal, v.token = p, tok
	switch {
	case p.Kind == auth.Admin:
		v.Admin = true
	case p.Kind == auth.User && p.User != nil:
		v.Email = p.User.Email
		v.Admin = isAdminUser(p.User)
	}
	return v
}

// isAdminUser reports whether the user's app_metadata (which only admins
// can write) has "errand_admin": true.
func isAdminUser(u *store.User) bool {
	var m struct {
		Admin bool `json:"errand_admin"`
	}
	return json.Unmarshal(u.AppMetadata, &m) == nil && m.Admin
}
