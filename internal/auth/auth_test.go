package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/store/sqldb"
	"github.com/errand-dev/errand/internal/store/storetest"
)

const secret = "test-secret-test-secret-test-secret-0123"

// clock is a settable time for expiry and reuse-interval tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	active    sync.Map // job ids whose job tokens are valid (their job runs)
	url       string
	svc       *auth.Service
	db        *sqldb.DB
	clk       *clock
	anon, svk string
}

func start(t *testing.T, db *sqldb.DB, rl auth.RateLimit) *env {
	t.Helper()
	clk := &clock{t: time.Now()}
	keys, err := auth.NewKeys(auth.KeyConfig{Secret: secret, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(db, auth.Config{Keys: keys, Issuer: "http://errand.test/auth/v1", BcryptCost: 4, Now: clk.now, RateLimit: rl})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, db: db, clk: clk}
	rv := &auth.Resolver{Service: svc, JobActive: func(_ context.Context, job, _ string) bool {
		_, ok := e.active.Load(job)
		return ok
	}}
	mux := http.NewServeMux()
	mux.Handle("/auth/v1/", http.StripPrefix("/auth/v1", auth.NewHandler(svc, rv)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/auth/v1"
	e.anon, _ = keys.SignAPIKey("anon", time.Now(), 24*time.Hour)
	e.svk, _ = keys.SignAPIKey("service_role", time.Now(), 24*time.Hour)
	return e
}

type reply struct {
	status int
	body   map[string]any
	header http.Header
}

func (r reply) code() string {
	if c, ok := r.body["code"].(string); ok {
		return c
	}
	c, _ := r.body["error_code"].(string)
	return c
}

// call sends a request the way supabase-js does (apikey, API version).
func (e *env) call(t *testing.T, method, path, bearer string, body any, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("apikey", e.anon)
	req.Header.Set("X-Supabase-Api-Version", "2024-01-01")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := reply{status: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out.body)
	return out
}

func (e *env) signUp(t *testing.T, email string) (access, refresh string) {
	t.Helper()
	r := e.call(t, "POST", "/signup", "", map[string]any{"email": email, "password": "correct horse", "data": map[string]string{"name": "A"}})
	if r.status != 200 {
		t.Fatalf("signup %s: %d %v", email, r.status, r.body)
	}
	return r.body["access_token"].(string), r.body["refresh_token"].(string)
}

func TestSignUpAndSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, auth.RateLimit{})
		r := e.call(t, "POST", "/signup", "", map[string]any{"email": " Ada@Example.com ", "password": "correct horse"})
		if r.status != 200 || r.body["token_type"] != "bearer" || r.body["expires_in"] != float64(3600) || r.body["refresh_token"] == "" {
			t.Fatalf("signup: %d %v", r.status, r.body)
		}
		user := r.body["user"].(map[string]any)
		if user["email"] != "ada@example.com" || user["aud"] != "authenticated" || user["role"] != "authenticated" || user["last_sign_in_at"] == nil {
			t.Fatalf("user %v", user)
		}
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(r.body["access_token"].(string), claims, func(*jwt.Token) (any, error) { return []byte(secret), nil }); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "email", "phone", "app_metadata", "user_metadata", "role", "aal", "amr", "session_id", "is_anonymous"} {
			if _, ok := claims[k]; !ok {
				t.Errorf("access token lacks claim %s: %v", k, claims)
			}
		}
		for _, c := range []struct {
			body any
			want string
			st   int
		}{
			{map[string]any{"email": "ada@example.com", "password": "another one"}, "user_already_exists", 422},
			{map[string]any{"email": "bob@example.com", "password": "123"}, "weak_password", 422},
			{map[string]any{"email": "not-an-email", "password": "correct horse"}, "validation_failed", 400},
			{map[string]any{"email": "bób@exämple.com", "password": "correct horse"}, "validation_failed", 400},
			{map[string]any{"email": "a\u202e@example.com", "password": "correct horse"}, "validation_failed", 400},
			{map[string]any{"password": "correct horse"}, "validation_failed", 400},
			{map[string]any{"email": "c@example.com", "password": strings.Repeat("x", 73)}, "validation_failed", 400},
			{map[string]any{"email": "d@example.com", "password": "correct horse", "data": []int{1}}, "validation_failed", 400},
			{`{"email": "e@example.com",`, "bad_json", 400},
			{strings.Repeat(" ", 2<<20), "request_too_large", 413},
		} {
			r := e.call(t, "POST", "/signup", "", c.body)
			if r.status != c.st || r.code() != c.want {
				t.Errorf("signup %.60v: %d %v, want %d %s", c.body, r.status, r.body, c.st, c.want)
			}
		}
		if r := e.call(t, "POST", "/signup", "", "{}", "Content-Type", "text/plain"); r.status != 415 {
			t.Errorf("text/plain signup: %d %v", r.status, r.body)
		}
		if r := e.call(t, "POST", "/signup", "", map[string]any{"email": "x@example.com", "password": "correct horse"}, "apikey", ""); r.status != 401 || r.code() != "no_api_key" {
			t.Errorf("no apikey: %d %v", r.status, r.body)
		}
		if r := e.call(t, "POST", "/signup", "", map[string]any{"email": "x@example.com", "password": "correct horse"}, "apikey", "garbage"); r.status != 401 || r.code() != "invalid_api_key" {
			t.Errorf("bad apikey: %d %v", r.status, r.body)
		}
		// Nothing half-created by the refusals.
		if _, total, _ := db.ListUsers(context.Background(), 0, 10); total != 1 {
			t.Fatalf("%d users after refused sign-ups, want 1", total)
		}
		ok := e.call(t, "POST", "/token?grant_type=password", "", map[string]any{"email": "ADA@example.com", "password": "correct horse"})
		if ok.status != 200 || ok.body["access_token"] == "" {
			t.Fatalf("sign in: %d %v", ok.status, ok.body)
		}
		wrong := e.call(t, "POST", "/token?grant_type=password", "", map[string]any{"email": "ada@example.com", "password": "wrong horse"})
		unknown := e.call(t, "POST", "/token?grant_type=password", "", map[string]any{"email": "nobody@example.com", "password": "wrong horse"})
		if wrong.status != 400 || wrong.code() != "invalid_credentials" || fmt.Sprint(wrong.body) != fmt.Sprint(unknown.body) {
			t.Fatalf("wrong password %v vs unknown email %v: must be the same", wrong.body, unknown.body)
		}
		if r := e.call(t, "POST", "/token?grant_type=magic", "", map[string]any{}); r.code() != "unsupported_grant_type" {
			t.Errorf("bad grant: %v", r.body)
		}
		// The legacy error shape without the API version header.
		legacy := e.call(t, "POST", "/token?grant_type=password", "", map[string]any{"email": "ada@example.com", "password": "nope nope"}, "X-Supabase-Api-Version", "")
		if legacy.body["code"] != float64(400) || legacy.body["error_code"] != "invalid_credentials" || legacy.body["msg"] == nil {
			t.Errorf("legacy error shape: %v", legacy.body)
		}
		if r := e.call(t, "GET", "/settings", "", nil); r.status != 200 || r.body["mailer_autoconfirm"] != true {
			t.Errorf("settings %v", r.body)
		}
		if r := e.call(t, "GET", "/.well-known/jwks.json", "", nil); r.status != 200 || r.body["keys"] == nil {
			t.Errorf("jwks %v", r.body)
		}
	})
}

func TestRateLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, auth.RateLimit{PerIP: 100, PerEmail: 3, Window: time.Minute})
		var last reply
		for i := 0; i < 4; i++ {
			last = e.call(t, "POST", "/token?grant_type=password", "", map[string]any{"email": "v@example.com", "password": "guess" + fmt.Sprint(i)})
		}
		if last.status != 429 || last.code() != "over_request_rate_limit" || last.header.Get("Retry-After") == "" {
			t.Fatalf("4th attempt for one email: %d %v", last.status, last.body)
		}
		e2 := start(t, db, auth.RateLimit{PerIP: 2, PerEmail: 100, Window: time.Minute})
		for i := 0; i < 3; i++ {
			last = e2.call(t, "POST", "/signup", "", map[string]any{"email": fmt.Sprintf("w%d@example.com", i), "password": "correct horse"})
		}
		if last.status != 429 {
			t.Fatalf("3rd sign-up from one address: %d %v", last.status, last.body)
		}
		e.clk.add(61 * time.Second)
		if r := e.call(t, "POST", "/token?grant_type=password", "", map[string]any{"email": "v@example.com", "password": "x"}); r.status != 400 {
			t.Fatalf("after the window: %d %v", r.status, r.body)
		}
	})
}

func forge(t *testing.T, header, claims map[string]any, key []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	unsigned := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	if key == nil {
		return unsigned + "."
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokensAreVerified(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, auth.RateLimit{})
		access, _ := e.signUp(t, "ada@example.com")
		if r := e.call(t, "GET", "/user", access, nil); r.status != 200 || r.body["email"] != "ada@example.com" {
			t.Fatalf("GET /user: %d %v", r.status, r.body)
		}
		if r := e.call(t, "GET", "/user", "", nil); r.status != 401 || r.code() != "no_authorization" {
			t.Fatalf("no bearer: %d %v", r.status, r.body)
		}
		claims := jwt.MapClaims{}
		_, _ = jwt.ParseWithClaims(access, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil })
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for a, b := range claims {
				m[a] = b
			}
			m[k] = v
			return m
		}
		parts := strings.Split(access, ".")
		badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("not the signature"))
		hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString([]byte(secret))
		cases := map[string]string{
			"alg none":       forge(t, map[string]any{"alg": "none", "typ": "JWT"}, claims, nil),
			"wrong alg":      hs512,
			"wrong audience": forge(t, nil, with("aud", "someone-else"), []byte(secret)),
			"bad signature":  badSig,
			"other secret":   forge(t, nil, claims, []byte("another-secret-another-secret-0123456789")),
			"no expiry":      forge(t, nil, with("exp", nil), []byte(secret)),
			"garbage":        "not.a.jwt",
		}
		for name, tok := range cases {
			if r := e.call(t, "GET", "/user", tok, nil); r.status != 403 || r.code() != "bad_jwt" {
				t.Errorf("%s: %d %v, want 403 bad_jwt", name, r.status, r.body)
			}
		}
		e.clk.add(2 * time.Hour)
		if r := e.call(t, "GET", "/user", access, nil); r.status != 403 || r.code() != "bad_jwt" {
			t.Errorf("expired: %d %v", r.status, r.body)
		}
	})
}

func TestRefreshRotationAndReuse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, auth.RateLimit{})
		_, r0 := e.signUp(t, "ada@example.com")
		refresh := func(tok string) reply {
			return e.call(t, "POST", "/token?grant_type=refresh_token", "", map[string]any{"refresh_token": tok})
		}
		a := refresh(r0)
		if a.status != 200 || a.body["refresh_token"] == r0 {
			t.Fatalf("first refresh: %d %v", a.status, a.body)
		}
		r1 := a.body["refresh_token"].(string)
		// The client lost that reply: presenting r0 (the parent of the
		// current token) again works.
		if b := refresh(r0); b.status != 200 {
			t.Fatalf("parent reuse: %d %v", b.status, b.body)
		}
		if c := refresh("no-such-token"); c.status != 400 || c.code() != "refresh_token_not_found" {
			t.Fatalf("unknown token: %d %v", c.status, c.body)
		}
		// r1 was rotated away by the parent reuse; 11s later, presenting
		// it again is a reuse attack: the whole session is revoked.
		e.clk.add(11 * time.Second)
		cur := refresh(r1)
		if cur.status != 200 {
			// r1 is the parent of the current token: allowed.
			t.Fatalf("r1 as parent of the current token: %d %v", cur.status, cur.body)
		}
		e.clk.add(11 * time.Second)
		if d := refresh(r0); d.status != 400 || d.code() != "refresh_token_already_used" {
			t.Fatalf("old token reused: %d %v", d.status, d.body)
		}
		if f := refresh(cur.body["refresh_token"].(string)); f.status != 400 {
			t.Fatalf("the family was not revoked: %d %v", f.status, f.body)
		}
	})
}

func TestLogoutScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, auth.RateLimit{})
		a1, _ := e.signUp(t, "ada@example.com")
		signIn := func() string {
			r := e.call(t, "POST", "/token?grant_type=password", "", map[string]any{"email": "ada@example.com", "password": "correct horse"})
			return r.body["access_token"].(string)
		}
		a2, a3 := signIn(), signIn()
		if r := e.call(t, "POST", "/logout?scope=local", a1, nil); r.status != 204 {
			t.Fatalf("local logout: %d %v", r.status, r.body)
		}
		if r := e.call(t, "GET", "/user", a1, nil); r.status != 403 || r.code() != "session_not_found" {
			t.Fatalf("after local logout: %d %v", r.status, r.body)
		}
		if r := e.call(t, "GET", "/user", a2, nil); r.status != 200 {
			t.Fatalf("other session after local logout: %d", r.status)
		}
		if r := e.call(t, "POST", "/logout?scope=others", a2, nil); r.status != 204 {
			t.Fatal(r.status)
		}
		if r := e.call(t, "GET", "/user", a3, nil); r.code() != "session_not_found" {
			t.Fatalf("after others logout: %v", r.body)
		}
		if r := e.call(t, "GET", "/user", a2, nil); r.status != 200 {
			t.Fatalf("own session after others logout: %d", r.status)
		}
		if r := e.call(t, "POST", "/logout?scope=everything", a2, nil); r.code() != "validation_failed" {
			t.Fatalf("bad scope: %v", r.body)
		}
		if r := e.call(t, "POST", "/logout", a2, nil); r.status != 204 {
			t.Fatal(r.status)
		}
		if r := e.call(t, "GET", "/user", a2, nil); r.code() != "session_not_found" {
			t.Fatalf("after global logout: %v", r.body)
		}
	})
}

func TestUpdateUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, auth.RateLimit{})
		access, _ := e.signUp(t, "ada@example.com")
		r := e.call(t, "PUT", "/user", access, map[string]any{"data": map[string]any{"plan": "pro", "name": nil}, "password": "new password"})
		meta, _ := r.body["user_metadata"].(map[string]any)
		if r.status != 200 || meta["plan"] != "pro" || meta["name"] != nil {
			t.Fatalf("update: %d %v", r.status, r.body)
		}
		if r := e.call(t, "POST", "/token?grant_type=password", "", map[string]any{"email": "ada@example.com", "password": "new password"}); r.status != 200 {
			t.Fatalf("sign in with the new password: %d %v", r.status, r.body)
		}
		if r := e.call(t, "PUT", "/user", access, map[string]any{"app_metadata": map[string]any{"role": "admin"}}); r.status != 200 {
			t.Fatal(r.status)
		} else if app := r.body["app_metadata"].(map[string]any); app["role"] != nil {
			t.Fatalf("a user changed their own app_metadata: %v", app)
		}
	})
}

func TestAdminUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, auth.RateLimit{})
		userTok, _ := e.signUp(t, "ada@example.com")
		for name, bearer := range map[string]string{"anonymous": "", "anon key": e.anon, "user": userTok} {
			r := e.call(t, "GET", "/admin/users", bearer, nil)
			if r.status < 401 || r.status > 403 {
				t.Errorf("%s listed users: %d %v", name, r.status, r.body)
			}
		}
		created := e.call(t, "POST", "/admin/users", e.svk, map[string]any{"email": "bob@example.com", "password": "bob's password",
			"email_confirm": true, "user_metadata": map[string]any{"n": 1}, "app_metadata": map[string]any{"tier": "gold"}})
		if created.status != 200 || created.body["email"] != "bob@example.com" || created.body["app_metadata"].(map[string]any)["tier"] != "gold" {
			t.Fatalf("create: %d %v", created.status, created.body)
		}
		id := created.body["id"].(string)
		list := e.call(t, "GET", "/admin/users?page=1&per_page=10", e.svk, nil)
		if users, _ := list.body["users"].([]any); len(users) != 2 || list.header.Get("X-Total-Count") != "2" {
			t.Fatalf("list: %v", list.body)
		}
		if r := e.call(t, "GET", "/admin/users/"+id, e.svk, nil); r.body["id"] != id {
			t.Fatalf("get: %v", r.body)
		}
		if r := e.call(t, "PUT", "/admin/users/"+id, e.svk, map[string]any{"ban_duration": "24h"}); r.status != 200 || r.body["banned_until"] == nil {
			t.Fatalf("ban: %d %v", r.status, r.body)
		}
		if r := e.call(t, "POST", "/token?grant_type=password", "", map[string]any{"email": "bob@example.com", "password": "bob's password"}); r.code() != "user_banned" {
			t.Fatalf("banned sign-in: %v", r.body)
		}
		if r := e.call(t, "DELETE", "/admin/users/"+id, e.svk, nil); r.status != 200 {
			t.Fatalf("delete: %d %v", r.status, r.body)
		}
		if r := e.call(t, "GET", "/admin/users/"+id, e.svk, nil); r.status != 404 || r.code() != "user_not_found" {
			t.Fatalf("get deleted: %d %v", r.status, r.body)
		}
	})
}

func TestJobTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, auth.RateLimit{})
		e.signUp(t, "ada@example.com")
		u, _ := db.GetUserByEmail(context.Background(), "ada@example.com")
		tok, owner, err := e.svc.JobToken(context.Background(), u.ID, "job-1", e.clk.now().Add(time.Minute))
		if err != nil || owner.ID != u.ID {
			t.Fatal(err)
		}
		claims := jwt.MapClaims{}
		_, _ = jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithTimeFunc(e.clk.now))
		if claims["job_id"] != "job-1" || claims["session_id"] != nil || claims["sub"] != u.ID {
			t.Fatalf("job token claims %v", claims)
		}
		if r := e.call(t, "GET", "/user", tok, nil); r.status != 403 {
			t.Fatalf("job token of a job that is not running: %d %v", r.status, r.body)
		}
		e.active.Store("job-1", true)
		if r := e.call(t, "GET", "/user", tok, nil); r.status != 200 || r.body["id"] != u.ID {
			t.Fatalf("job token at /user: %d %v", r.status, r.body)
		}
		if r := e.call(t, "PUT", "/user", tok, map[string]any{"password": "hijacked!"}); r.status != 403 {
			t.Fatalf("job token changed the password: %d %v", r.status, r.body)
		}
		e.clk.add(2 * time.Minute)
		if r := e.call(t, "GET", "/user", tok, nil); r.status != 403 || r.code() != "bad_jwt" {
			t.Fatalf("expired job token: %d %v", r.status, r.body)
		}
		u.BannedUntil = e.clk.now().Add(time.Hour).UnixMicro()
		_ = db.UpdateUser(context.Background(), u)
		if _, _, err := e.svc.JobToken(context.Background(), u.ID, "job-2", e.clk.now().Add(time.Minute)); !errors.Is(err, auth.ErrOwnerUnavailable) {
			t.Fatalf("banned owner: %v", err)
		}
		if _, _, err := e.svc.JobToken(context.Background(), "no-such-user", "job-3", e.clk.now().Add(time.Minute)); !errors.Is(err, auth.ErrOwnerUnavailable) {
			t.Fatalf("deleted owner: %v", err)
		}
	})
}
