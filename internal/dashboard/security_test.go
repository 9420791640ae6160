package dashboard_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
)

// jobCount counts the jobs the user's page lists.
func jobCount(b *browser) int { return strings.Count(b.get("/").body, `<tr data-job=`) }

func TestFormsNeedTheirCSRFToken(t *testing.T) {
	s := newSite(t, "sqlite")
	a := newBrowser(t, s.url)
	a.signUp("a@example.com")
	other := newBrowser(t, s.url)
	other.get("/signin") // a token bound to another browser's cookie
	start := url.Values{"function": {"report"}, "input": {"{}"}}
	cases := []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"no token", url.Values{"function": {"report"}, "input": {"{}"}, "csrf": {""}}, nil},
		{"forged token", url.Values{"function": {"report"}, "input": {"{}"}, "csrf": {"AAAA"}}, nil},
		{"another browser's token", url.Values{"function": {"report"}, "input": {"{}"}, "csrf": {other.csrf}}, nil},
		{"cross-site request with the right token", start, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
	}
	for _, c := range cases {
		a.get("/")
		if p := a.post("/jobs", c.form, c.hdr...); p.status != http.StatusForbidden || !strings.Contains(p.body, "reload the page") {
			t.Errorf("%s: %d, want 403 with a hint", c.name, p.status)
		}
	}
	if n := jobCount(a); n != 0 {
		t.Fatalf("%d jobs started by refused forms", n)
	}
	a.get("/")
	if p := a.post("/jobs", start); p.status != http.StatusSeeOther {
		t.Fatalf("the real form: %d\n%s", p.status, p.body)
	}
	// Sign-out is a form too: a forged one leaves the session alone.
	if p := a.post("/signout", url.Values{"csrf": {"nope"}}); p.status != http.StatusForbidden {
		t.Errorf("forged sign-out: %d", p.status)
	}
	if p := a.get("/"); p.status != http.StatusOK {
		t.Errorf("signed out by a forged form: %d", p.status)
	}
}

func TestOutputIsEscaped(t *testing.T) {
	s := newSite(t, "sqlite")
	a := newBrowser(t, s.url)
	a.signUp("a@example.com")
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	id := a.startReport(evil)
	s.gates.release(id + "/start")
	s.gates.release(id + "/finish")
	errandtest.WaitJob(t, s.c, id)
	admin := newBrowser(t, s.url)
	admin.signInKey(s.svc)
	for b, path := range map[*browser]string{a: "/", admin: "/admin/jobs"} {
		p := b.get(path)
		if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<img src=x") {
			t.Errorf("%s shows the payload unescaped", path)
		}
		if !strings.Contains(p.body, "&lt;script&gt;") {
			t.Errorf("%s does not show the escaped payload", path)
		}
	}
	for _, path := range []string{"/jobs/" + id, "/admin/events"} {
		if p := admin.get(path); strings.Contains(p.body, "<script>alert") || !strings.Contains(p.body, "&lt;script&gt;") {
			t.Errorf("%s: payload not escaped", path)
		}
	}
	if csp := a.get("/").header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestSessionCookies(t *testing.T) {
	s := newSite(t, "sqlite")
	b := newBrowser(t, s.url)
	b.get("/signup")
	p := b.post("/signup", url.Values{"email": {"c@example.com"}, "password": {"password123"}, "confirm": {"password123"}})
	cookies := p.header.Values("Set-Cookie")
	var access string
	for _, c := range cookies {
		if strings.HasPrefix(c, "errand_access=") {
			access = c
		}
	}
	if access == "" || !strings.Contains(access, "HttpOnly") || !strings.Contains(access, "SameSite=Lax") || strings.Contains(access, "Secure") {
		t.Fatalf("dev access cookie %q (all: %q)", access, cookies)
	}

	// Served as https (start mode, or Config.PublicURL https): Secure and
	// __Host- names.
	cfg := &errand.Config{JWTSecret: jwtSecret, PublicURL: "https://errand.example"}
	c := errandtest.Start(t, cfg)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(sc, "__Host-errand_csrf=") || !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("https cookie %q", sc)
	}
}

func TestSignInNeverRedirectsAway(t *testing.T) {
	s := newSite(t, "sqlite")
	newBrowser(t, s.url).signUp("d@example.com")
	for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)", ""} {
		b := newBrowser(t, s.url)
		b.get("/signin")
		p := b.post("/signin", url.Values{"email": {"d@example.com"}, "password": {"password123"}, "next": {next}})
		if p.status != http.StatusSeeOther || p.location != "/" {
			t.Errorf("next=%q: %d to %q", next, p.status, p.location)
		}
	}
	b := newBrowser(t, s.url)
	b.get("/signin")
	if p := b.post("/signin", url.Values{"email": {"d@example.com"}, "password": {"password123"}, "next": {"/jobs/x?y=1"}}); p.location != "/jobs/x?y=1" {
		t.Errorf("a local next: %q", p.location)
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	s := newSite(t, "sqlite")
	a := newBrowser(t, s.url)
	a.signUp("e@example.com")
	cases := []struct {
		path   string
		form   url.Values
		status int
		says   string
	}{
		{"/jobs", url.Values{"function": {"report"}, "input": {"[1,2]"}}, 400, "must be one JSON object"},
		{"/jobs", url.Values{"function": {"report"}, "input": {`{"a":1} {"b":2}`}}, 400, "must be one JSON object"},
		{"/jobs", url.Values{"function": {"report"}, "input": {`{"a":`}}, 400, "must be one JSON object"},
		{"/jobs", url.Values{"function": {"nope"}, "input": {"{}"}}, 400, "No function nope"},
		{"/jobs", url.Values{"input": {"{}"}}, 400, "Choose a function"},
		{"/jobs", url.Values{"function": {"report"}, "input": {strings.Repeat("x", 2<<20)}}, 413, "too large"},
	}
	for _, c := range cases {
		a.get("/")
		p := a.post(c.path, c.form)
		if p.status != c.status || !strings.Contains(p.body, c.says) {
			t.Errorf("%s %v: %d, want %d saying %q", c.path, c.form.Get("input")[:min(len(c.form.Get("input")), 20)], p.status, c.status, c.says)
		}
	}
	if n := jobCount(a); n != 0 {
		t.Errorf("%d jobs from bad input", n)
	}
	b := newBrowser(t, s.url)
	b.get("/signup")
	if p := b.post("/signup", url.Values{"email": {"f@example.com"}, "password": {"password123"}, "confirm": {"password124"}}); p.status != 400 ||
		!strings.Contains(p.body, "passwords differ") || !strings.Contains(p.body, `value="f@example.com"`) {
		t.Errorf("mismatched passwords: %d", p.status)
	}
	if p := b.post("/signup", url.Values{"email": {"not-an-email"}, "password": {"password123"}, "confirm": {"password123"}}); p.status != 400 {
		t.Errorf("bad email: %d", p.status)
	}
	b.get("/signin")
	if p := b.post("/signin", url.Values{"email": {"e@example.com"}, "password": {"wrong"}}); p.status != 400 ||
		!strings.Contains(p.body, "Invalid login credentials") || strings.Contains(p.body, "wrong") {
		t.Errorf("wrong password: %d", p.status)
	}
	if p := b.signInKey("not-a-key"); p.status != http.StatusUnauthorized {
		t.Errorf("bad admin key: %d", p.status)
	}
	anonKey, _, _ := s.c.APIKeys()
	if p := b.signInKey(anonKey); p.status != http.StatusUnauthorized {
		t.Errorf("anon key as admin key: %d", p.status)
	}
	admin := newBrowser(t, s.url)
	admin.signInKey(s.svc)
	for _, c := range []struct {
		path   string
		form   url.Values
		status int
	}{
		{"/admin/apps/sync", url.Values{"url": {"file:///etc/passwd"}}, 400},
		{"/admin/apps/sync", url.Values{"url": {"http://127.0.0.1:1/api/inngest"}}, 502},
		{"/admin/jobs/nope/retry", nil, 404},
		{"/admin/events/nope/replay", nil, 404},
		{"/admin/users/nope/ban", nil, 404},
		{"/admin/users/" + userID(t, s, "e@example.com") + "/explode", nil, 404},
	} {
		admin.get("/admin")
		if p := admin.post(c.path, c.form); p.status != c.status {
			t.Errorf("admin POST %s: %d, want %d", c.path, p.status, c.status)
		}
	}
	if p := admin.get("/admin/jobs?status=sleeping"); p.status != 400 || !strings.Contains(p.body, "Status must be") {
		t.Errorf("bad status filter: %d", p.status)
	}
	if p := admin.get("/admin/jobs?owner=ghost@example.com"); p.status != 400 {
		t.Errorf("unknown owner filter: %d", p.status)
	}
	if p := admin.get("/admin/jobs?since=yesterday"); p.status != 400 {
		t.Errorf("bad time filter: %d", p.status)
	}
	// Unknown paths still get the API's JSON 404.
	if p := admin.get("/v1/nope"); p.status != 404 || !strings.Contains(p.body, `"code":"not_found"`) {
		t.Errorf("API 404: %d %s", p.status, p.body)
	}
}

// TestExpiredAccessTokenIsRenewed: with an unusable access cookie the
// refresh cookie renews the session; once that session is signed out
// elsewhere, the browser is signed out too.
func TestExpiredAccessTokenIsRenewed(t *testing.T) {
	s := newSite(t, "sqlite")
	a := newBrowser(t, s.url)
	a.signUp("g@example.com")
	u, _ := url.Parse(s.url)
	var refresh string
	for _, c := range a.c.Jar.Cookies(u) {
		if c.Name == "errand_refresh" {
			refresh = c.Value
		}
	}
	a.c.Jar.SetCookies(u, []*http.Cookie{{Name: "errand_access", Value: "expired.or.garbage", Path: "/"}})
	p := a.get("/")
	if p.status != http.StatusOK || !strings.Contains(p.body, "g@example.com") {
		t.Fatalf("renewal: %d", p.status)
	}
	var renewed bool
	for _, c := range p.header.Values("Set-Cookie") {
		renewed = renewed || strings.HasPrefix(c, "errand_access=ey")
	}
	if !renewed {
		t.Fatalf("no new access cookie: %q", p.header.Values("Set-Cookie"))
	}
	// Another browser of the same user signs out globally through the
	// API: this browser's refresh token is revoked with the session.
	anon, _, _ := s.c.APIKeys()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/auth/v1/token?grant_type=refresh_token",
		strings.NewReader(`{"refresh_token": "`+refresh+`"}`))
	req.Header.Set("apikey", anon)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh through the API: %v %v", resp, err)
	}
	var sess struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	req, _ = http.NewRequest(http.MethodPost, s.url+"/auth/v1/logout?scope=global", nil)
	req.Header.Set("Authorization", "Bearer "+sess.AccessToken)
	req.Header.Set("apikey", anon)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("global logout: %v %v", resp, err)
	}
	if p := a.get("/"); p.status != http.StatusSeeOther || p.location != "/signin" {
		t.Fatalf("after a global sign-out: %d %s", p.status, p.location)
	}
}

// TestAdminKeyGuessesAreLimited: the admin-key form counts against the
// per-address sign-in limit.
func TestAdminKeyGuessesAreLimited(t *testing.T) {
	s := newSite(t, "sqlite")
	b := newBrowser(t, s.url)
	var last page
	for i := 0; i < 31; i++ {
		last = b.signInKey("guess-" + strings.Repeat("x", i))
	}
	if last.status != http.StatusTooManyRequests || !strings.Contains(last.body, "rate limit") {
		t.Fatalf("31st guess: %d", last.status)
	}
	if p := b.signInKey(s.svc); p.status != http.StatusTooManyRequests {
		t.Fatalf("the right key while limited: %d", p.status)
	}
}
