package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/errand-dev/errand/internal/auth"
)

func userClaims(sub string, exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "aud": "authenticated", "role": "authenticated", "exp": exp.Unix(), "iat": time.Now().Unix()}
}

func resolve(t *testing.T, rv *auth.Resolver, tok string) (auth.Principal, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return rv.Resolve(req)
}

func TestTrustedExternalIssuers(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "k1", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(rsaKey.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(rsaKey.E)).Bytes())}}})
	}))
	defer jwks.Close()
	external := "supabase-project-secret-0123456789abcdef"
	keys, err := auth.NewKeys(auth.KeyConfig{Secret: secret, TrustSecret: external, TrustJWKSURL: jwks.URL})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(nil, auth.Config{Keys: keys, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	rv := &auth.Resolver{Service: svc}
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, userClaims("ext-user-1", time.Now().Add(time.Hour))).SignedString([]byte(external))
	rsTok := jwt.NewWithClaims(jwt.SigningMethodRS256, userClaims("ext-user-2", time.Now().Add(time.Hour)))
	rsTok.Header["kid"] = "k1"
	rs, _ := rsTok.SignedString(rsaKey)
	for name, c := range map[string]struct{ tok, sub string }{"HS256 secret": {hs, "ext-user-1"}, "JWKS": {rs, "ext-user-2"}} {
		p, err := resolve(t, rv, c.tok)
		if err != nil || p.Kind != auth.User || p.UserID != c.sub || !p.Claims.External {
			t.Errorf("%s: %+v %v", name, p, err)
		}
	}
	// Not trusted: expired, wrong audience, unknown kid, and an external
	// token claiming the service role.
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, userClaims("x", time.Now().Add(-time.Minute))).SignedString([]byte(external))
	aud := userClaims("x", time.Now().Add(time.Hour))
	aud["aud"] = "other"
	wrongAud, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, aud).SignedString([]byte(external))
	unknownKid := jwt.NewWithClaims(jwt.SigningMethodRS256, userClaims("x", time.Now().Add(time.Hour)))
	unknownKid.Header["kid"] = "k2"
	uk, _ := unknownKid.SignedString(rsaKey)
	svcClaims := jwt.MapClaims{"role": "service_role", "exp": time.Now().Add(time.Hour).Unix()}
	extService, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, svcClaims).SignedString([]byte(external))
	for name, tok := range map[string]string{"expired": expired, "audience": wrongAud, "unknown kid": uk, "external service role": extService} {
		if p, err := resolve(t, rv, tok); err == nil {
			t.Errorf("%s accepted as %+v", name, p)
		}
	}
}

func TestAsymmetricSigningPublishesJWKS(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeys(auth.KeyConfig{Secret: secret, PrivateKeyFile: path})
	if err != nil {
		t.Fatal(err)
	}
	c := &auth.Claims{Role: "authenticated", RegisteredClaims: jwt.RegisteredClaims{Subject: "u", Audience: jwt.ClaimStrings{"authenticated"},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}}
	tok, err := keys.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, _ := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if parsed.Method.Alg() != "ES256" {
		t.Fatalf("signed with %s", parsed.Method.Alg())
	}
	if got, err := keys.Parse(context.Background(), tok); err != nil || got.Subject != "u" {
		t.Fatalf("verify own ES256 token: %v", err)
	}
	set := keys.JWKS()["keys"].([]map[string]any)
	if len(set) != 1 || set[0]["kty"] != "EC" || set[0]["crv"] != "P-256" || set[0]["kid"] != parsed.Header["kid"] {
		t.Fatalf("jwks %v", set)
	}
	if _, err := auth.NewKeys(auth.KeyConfig{Secret: "short"}); err == nil {
		t.Fatal("a short secret was accepted")
	}
}
