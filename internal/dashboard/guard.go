package dashboard

import (
	"net/http"
	"net/url"
	"strings"
)

// maxForm bounds a form's body.
const maxForm = 1 << 20

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
