package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

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
	return d.csrfFor(seed)
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
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(d.csrfFor(seed)))
}

// csrfFor is the form token for a csrf cookie: its HMAC under a key
// derived from the server's secret, so only the server can make it and
// only for that browser.
func (d *Dashboard) csrfFor(seed string) string {
	m := hmac.New(sha256.New, d.csrfKey)
	m.Write([]byte(seed))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
