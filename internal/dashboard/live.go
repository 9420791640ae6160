package dashboard

import (
	"net/http"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/auth"
)

// live forwards a live stream or a read of the viewer's job to the API
// with the session's token, so the browser's EventSource (which cannot
// send headers) sees exactly what the API shows that user.
func (d *Dashboard) live(apiPath string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := d.viewer(w, r)
		if !v.SignedIn() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":"unauthorized","message":"sign in first"}` + "\n"))
			return
		}
		tok := v.token
		if v.Admin && v.Kind == auth.User && r.PathValue("id") != "" {
			// An admin user looks at someone's job: the API shows it to
			// the service role only.
			tok = d.serviceToken()
		}
		d.forward(w, r, strings.ReplaceAll(apiPath, "{id}", r.PathValue("id")), tok)
	}
}

// liveAll streams every job's changes to an admin (the admin jobs page).
func (d *Dashboard) liveAll(w http.ResponseWriter, r *http.Request, v *viewer) {
	d.forward(w, r, "/v1/jobs/stream", d.serviceToken())
}

// serviceToken is a service-role token that lives long enough to open a
// stream: the API checks it once, at the start.
func (d *Dashboard) serviceToken() string {
	tok, err := d.cfg.Auth.Keys().SignAPIKey("service_role", d.cfg.Now(), time.Minute)
	if err != nil {
		d.log.Error("dashboard: sign a service token", "err", err)
	}
	return tok
}

// forward serves the request with the API at path, as the bearer of tok.
func (d *Dashboard) forward(w http.ResponseWriter, r *http.Request, path, tok string) {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = path, ""
	r2.Header.Del("Cookie")
	r2.Header.Set("Authorization", "Bearer "+tok)
	d.cfg.API.ServeHTTP(w, r2)
}
