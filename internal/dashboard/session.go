package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
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
	// maxForm bounds a form's body.
	maxForm = 1 << 20
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

// resolve checks a token as the API would see it in a bearer header.
func (d *Dashboard) resolve(ctx context.Context, tok string) (auth.Principal, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return d.rv.Resolve(req)
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
	p, err := d.resolve(r.Context(), tok)
	if err != nil || (p.Kind != auth.User && p.Kind != auth.Admin) {
		refresh := d.cookie(r, refreshCookie)
		if refresh == "" {
			d.clearSession(w)
			return v
		}
		s, rerr := d.cfg.Auth.Refresh(r.Context(), clientIP(r), refresh)
		if rerr != nil {
			d.clearSession(w)
			return v
		}
		d.setSession(w, s)
		tok = s.AccessToken
		if p, err = d.resolve(r.Context(), tok); err != nil {
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

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// csrfToken returns the token forms carry, setting the random cookie it is
// bound to when the browser has none yet.
func (d *Dashboard) csrfToken(w http.ResponseWriter, r *http.Request) string {
	seed := d.cookie(r, csrfCookie)
	if len(seed) < 32 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		seed = base64.RawURLEncoding.EncodeToString(b)
		d.setCookie(w, csrfCookie, seed, sessionAge)
		// Later reads in this request see the new value.
		r.AddCookie(&http.Cookie{Name: d.cookieName(csrfCookie), Value: seed})
	}
	m := hmac.New(sha256.New, d.csrfKey)
	m.Write([]byte(seed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF verifies a posted form: a same-origin request (by the
// browser's Sec-Fetch-Site or Origin) carrying the token bound to the
// browser's csrf cookie.
func (d *Dashboard) checkCSRF(r *http.Request) bool {
	if d.cop.Check(r) != nil {
		return false
	}
	seed := d.cookie(r, csrfCookie)
	if len(seed) < 32 {
		return false
	}
	m := hmac.New(sha256.New, d.csrfKey)
	m.Write([]byte(seed))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(want))
}

// handler is a dashboard handler given its viewer.
type handler func(w http.ResponseWriter, r *http.Request, v *viewer)

// form guards a POST: the body is bounded and parsed, and the CSRF check
// must pass (403 otherwise, nothing done).
func (d *Dashboard) form(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			d.fail(w, r, nil, http.StatusRequestEntityTooLarge, "The form is too large or malformed", "Send less than 1 MiB.")
			return
		}
		if !d.checkCSRF(r) {
			d.fail(w, r, nil, http.StatusForbidden, "This form has expired", "Go back, reload the page and send the form again.")
			return
		}
		h(w, r, d.viewer(w, r))
	}
}

// user lets only signed-in users through (303 to sign-in otherwise).
func (d *Dashboard) user(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		if !v.HasUser() {
			if v.SignedIn() {
				d.fail(w, r, v, http.StatusForbidden, "This needs a user account", "You are signed in with an admin key; sign in as a user to own jobs.")
				return
			}
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		h(w, r, v)
	}
}

// page runs a GET handler with the viewer.
func (d *Dashboard) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h(w, r, d.viewer(w, r)) }
}

// admin lets only admins through: anonymous viewers are sent to sign in,
// signed-in users who are not admins get 403, and nothing else is shown.
func (d *Dashboard) admin(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		switch {
		case v.Admin:
			h(w, r, v)
		case !v.SignedIn() && r.Method == http.MethodGet:
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		case !v.SignedIn():
			d.fail(w, r, v, http.StatusUnauthorized, "Sign in first", "This is for admins.")
		default:
			d.fail(w, r, v, http.StatusForbidden, "Admins only", "Your account is not an admin. An admin can grant it on the Users page.")
		}
	}
}

// localPath returns next if it is a path on this site, else "/": sign-in
// never redirects elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, c := range next {
		// Browsers read "\" as "/" and drop tabs and newlines.
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}
