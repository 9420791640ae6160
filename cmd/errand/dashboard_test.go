package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/errand-dev/errand/internal/store/storetest"
)

// TestDashboardInStartMode: errand start serves the dashboard with Secure
// __Host- cookies, and the server's signing key signs an admin in (the
// key itself never becomes a cookie).
func TestDashboardInStartMode(t *testing.T) {
	signing := "signkey-test-" + strings.Repeat("cd34", 16)
	m := NewMain(&bytes.Buffer{}, &syncBuf{})
	if err := m.ParseFlags("start", []string{"--host", "127.0.0.1", "--port", "0", "--database-url", storetest.FreshSchemaURL(t),
		"--event-key", "ek", "--signing-key", signing, "--jwt-secret", strings.Repeat("k", 40)}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base := "http://" + m.Addr
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := noRedirect.Get(base + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var csrfCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-errand_csrf" {
			csrfCookie = c
		}
	}
	if csrfCookie == nil || !csrfCookie.Secure || !csrfCookie.HttpOnly || csrfCookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("start mode's csrf cookie: %+v", csrfCookie)
	}
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if token == nil {
		t.Fatal("no csrf token on the sign-in page")
	}
	form := url.Values{"key": {signing}, "csrf": {string(token[1])}}
	req, _ := http.NewRequest(http.MethodPost, base+"/signin/key", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrfCookie)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		t.Fatalf("sign in with the signing key: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var access *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-errand_access" {
			access = c
		}
	}
	if access == nil || !access.Secure || access.Value == signing || strings.Contains(access.Value, signing) {
		t.Fatalf("admin session cookie: %+v", access)
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/admin/users", nil)
	req.AddCookie(access)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin page with the session: %d", resp.StatusCode)
	}
}

// TestDashboardWithSignupOff: --disable-signup hides sign-up and refuses
// its page.
func TestDashboardWithSignupOff(t *testing.T) {
	m := startDev(t, "sqlite", "--disable-signup")
	resp, err := http.Get("http://" + m.Addr + "/signup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /signup with sign-up off: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + m.Addr + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(body), `href="/signup"`) {
		t.Fatalf("the sign-in page links to sign-up: %d", resp.StatusCode)
	}
}
