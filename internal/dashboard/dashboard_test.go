package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/internal/store/storetest"
)

// browser is a cookie-keeping HTTP client that does not follow redirects
// and fills in the CSRF token of the last page it read, as a form would.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

func newBrowser(t testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return page{resp.StatusCode, string(body), resp.Header.Get("Location"), resp.Header}
}

// status opens path and reports the status without reading the body (for
// streams, which do not end).
func (b *browser) status(path string) int {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

// post sends a form with the current CSRF token (unless the form sets
// its own), from the same origin.
func (b *browser) post(path string, form url.Values, hdr ...string) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		if b.csrf == "" {
			b.get("/signin")
		}
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

func (b *browser) signUp(email string) {
	b.t.Helper()
	b.get("/signup")
	p := b.post("/signup", url.Values{"email": {email}, "password": {"password123"}, "confirm": {"password123"}})
	if p.status != http.StatusSeeOther || p.location != "/" {
		b.t.Fatalf("sign up %s: %d %s\n%s", email, p.status, p.location, p.body)
	}
}

func (b *browser) signInKey(key string) page {
	b.t.Helper()
	b.get("/signin")
	return b.post("/signin/key", url.Values{"key": {key}})
}

var jobLink = regexp.MustCompile(`Started job (\w+)\.`)

// startReport starts the report function from "my jobs" and returns the
// job's id, read from the page the redirect leads to.
func (b *browser) startReport(title string) string {
	b.t.Helper()
	b.get("/")
	input, _ := json.Marshal(map[string]string{"title": title})
	p := b.post("/jobs", url.Values{"function": {"report"}, "input": {string(input)}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("start: %d\n%s", p.status, p.body)
	}
	home := b.get("/")
	m := jobLink.FindStringSubmatch(home.body)
	if m == nil {
		b.t.Fatalf("no job id on my jobs:\n%s", home.body)
	}
	return m[1]
}

// TestAuthorizationMatrix checks every page and action for anonymous,
// user A, user B, a bearer key (which the dashboard does not take), an
// admin user and the service-key admin.
func TestAuthorizationMatrix(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := newSite(t, kind)
			a, bb, anon, keyed, admin := newBrowser(t, s.url), newBrowser(t, s.url), newBrowser(t, s.url), newBrowser(t, s.url), newBrowser(t, s.url)
			a.signUp("a@example.com")
			bb.signUp("b@example.com")
			aJob := a.startReport("A's secret report")
			bJob := bb.startReport("B's report")
			if p := admin.signInKey(s.svc); p.status != http.StatusSeeOther || p.location != "/admin" {
				t.Fatalf("admin sign-in: %d %s", p.status, p.location)
			}
			// A bearer header is not a dashboard credential.
			keyed.c.Transport = bearer{s.svc}

			adminPages := []string{"/admin", "/admin/jobs", "/admin/events", "/admin/functions", "/admin/users"}
			for _, path := range adminPages {
				for name, b := range map[string]*browser{"anonymous": anon, "bearer key": keyed} {
					if p := b.get(path); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/signin") {
						t.Errorf("%s GET %s: %d %s, want 303 to sign in", name, path, p.status, p.location)
					}
				}
				for name, b := range map[string]*browser{"A": a, "B": bb} {
					if p := b.get(path); p.status != http.StatusForbidden || strings.Contains(p.body, "a@example.com") && name == "B" {
						t.Errorf("%s GET %s: %d, want 403", name, path, p.status)
					}
				}
				if p := admin.get(path); p.status != http.StatusOK {
					t.Errorf("admin GET %s: %d", path, p.status)
				}
			}
			if p := admin.get("/admin/jobs"); !strings.Contains(p.body, aJob) || !strings.Contains(p.body, bJob) ||
				!strings.Contains(p.body, "a@example.com") || !strings.Contains(p.body, "b@example.com") {
				t.Errorf("admin's jobs page misses a user's job:\n%s", p.body)
			}

			// "My jobs" and the job page.
			if p := a.get("/"); p.status != 200 || !strings.Contains(p.body, aJob) || strings.Contains(p.body, bJob) {
				t.Errorf("A's jobs: %d, has A's %v, has B's %v", p.status, strings.Contains(p.body, aJob), strings.Contains(p.body, bJob))
			}
			if p := bb.get("/"); strings.Contains(p.body, aJob) || strings.Contains(p.body, "secret report") {
				t.Error("B's page shows A's job")
			}
			for _, path := range []string{"/jobs/" + aJob, "/live/jobs/" + aJob + "/steps"} {
				if p := a.get(path); p.status != 200 {
					t.Errorf("A GET %s: %d", path, p.status)
				}
				if p := bb.get(path); p.status != 404 || strings.Contains(p.body, "secret") {
					t.Errorf("B GET %s: %d, want 404 with nothing of A's", path, p.status)
				}
				if p := admin.get(path); p.status != 200 {
					t.Errorf("admin GET %s: %d", path, p.status)
				}
			}
			if p := bb.get("/jobs/no-such-job"); p.status != 404 {
				t.Errorf("missing job: %d", p.status)
			}
			if p := anon.get("/jobs/" + aJob); p.status != http.StatusSeeOther {
				t.Errorf("anonymous job page: %d", p.status)
			}
			if p := anon.get("/live/jobs/" + aJob + "/steps"); p.status != http.StatusUnauthorized {
				t.Errorf("anonymous live: %d", p.status)
			}
			if p := keyed.get("/live/jobs/" + aJob + "/steps"); p.status != http.StatusUnauthorized {
				t.Errorf("bearer-key live: %d", p.status)
			}

			// Streams: a user's own jobs; every job for admins only.
			for _, c := range []struct {
				who  string
				b    *browser
				path string
				want int
			}{
				{"anonymous", anon, "/live/jobs", 401}, {"bearer key", keyed, "/live/jobs", 401}, {"A", a, "/live/jobs", 200},
				{"B", bb, "/live/jobs/" + aJob, 404}, {"A", a, "/live/jobs/" + aJob, 200}, {"admin", admin, "/live/jobs/" + aJob, 200},
				{"anonymous", anon, "/live/all", 303}, {"A", a, "/live/all", 403}, {"B", bb, "/live/all", 403}, {"admin", admin, "/live/all", 200},
			} {
				if got := c.b.status(c.path); got != c.want {
					t.Errorf("%s GET %s: %d, want %d", c.who, c.path, got, c.want)
				}
			}

			// Actions: B cannot cancel A's job, users cannot use admin actions.
			if p := bb.post("/jobs/"+aJob+"/cancel", nil); p.status != 404 {
				t.Errorf("B cancels A's job: %d", p.status)
			}
			if j, _ := s.c.Job(context.Background(), aJob); j.Status == errand.StatusCancelled {
				t.Error("B cancelled A's job")
			}
			if p := anon.post("/jobs/"+aJob+"/cancel", nil); p.status != http.StatusSeeOther || p.location != "/signin" {
				t.Errorf("anonymous cancel: %d %s", p.status, p.location)
			}
			uid := userID(t, s, "b@example.com")
			for _, action := range []string{"/admin/users/" + uid + "/ban", "/admin/users/" + uid + "/delete", "/admin/users/" + uid + "/grant",
				"/admin/jobs/" + aJob + "/retry", "/admin/apps/sync"} {
				if p := a.post(action, nil); p.status != http.StatusForbidden {
					t.Errorf("A POST %s: %d, want 403", action, p.status)
				}
				if p := anon.post(action, nil); p.status != http.StatusUnauthorized {
					t.Errorf("anonymous POST %s: %d, want 401", action, p.status)
				}
			}
			if p := bb.get("/"); p.status != 200 {
				t.Fatalf("B was affected by A's attempts: %d", p.status)
			}

			// The admin grants A admin rights: A now sees the console.
			admin.get("/admin/users")
			if p := admin.post("/admin/users/"+userID(t, s, "a@example.com")+"/grant", nil); p.status != http.StatusSeeOther {
				t.Fatalf("grant: %d %s", p.status, p.body)
			}
			if p := a.get("/admin/jobs"); p.status != 200 || !strings.Contains(p.body, bJob) {
				t.Errorf("admin user A: %d", p.status)
			}
			if p := a.get("/live/jobs/" + bJob + "/steps"); p.status != 200 {
				t.Errorf("admin user A reads B's steps: %d", p.status)
			}
			// Banning B ends B's session at once.
			if p := admin.post("/admin/users/"+uid+"/ban", nil); p.status != http.StatusSeeOther {
				t.Fatalf("ban: %d", p.status)
			}
			if p := bb.get("/"); p.status != http.StatusSeeOther || p.location != "/signin" {
				t.Errorf("banned B: %d %s", p.status, p.location)
			}
			if p := admin.post("/admin/users/"+uid+"/delete", nil); p.status != http.StatusSeeOther {
				t.Fatalf("delete: %d", p.status)
			}
			if p := admin.get("/admin/users"); strings.Contains(p.body, `data-user="b@example.com"`) {
				t.Error("deleted user still listed")
			}
			for _, id := range []string{aJob, bJob} {
				s.gates.release(id + "/start")
				s.gates.release(id + "/finish")
			}
		})
	}
}

type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

var userRow = regexp.MustCompile(`action="/admin/users/([^/]+)/ban"`)

// userID reads a user's id from the users page (as the service key).
func userID(t *testing.T, s *site, email string) string {
	t.Helper()
	b := newBrowser(t, s.url)
	b.signInKey(s.svc)
	p := b.get("/admin/users")
	i := strings.Index(p.body, `data-user="`+email+`"`)
	if i < 0 {
		t.Fatalf("no user %s", email)
	}
	m := userRow.FindStringSubmatch(p.body[i:])
	if m == nil {
		t.Fatalf("no ban form for %s", email)
	}
	return m[1]
}
