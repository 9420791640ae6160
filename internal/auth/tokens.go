package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are an access token's claims, as GoTrue issues them, plus the job
// id on job tokens.
type Claims struct {
	jwt.RegisteredClaims
	Email        string          `json:"email"`
	Phone        string          `json:"phone"`
	AppMetadata  json.RawMessage `json:"app_metadata,omitempty"`
	UserMetadata json.RawMessage `json:"user_metadata,omitempty"`
	Role         string          `json:"role"`
	AAL          string          `json:"aal,omitempty"`
	AMR          []AMR           `json:"amr,omitempty"`
	SessionID    string          `json:"session_id,omitempty"`
	IsAnonymous  bool            `json:"is_anonymous"`
	// JobID is set on job tokens: minted for one attempt of a job, with
	// no session, so they cannot be refreshed.
	JobID string `json:"job_id,omitempty"`
	// External is set on tokens of a trusted external issuer.
	External bool `json:"-"`
}

// AMR is an authentication method reference.
type AMR struct {
	Method    string `json:"method"`
	Timestamp int64  `json:"timestamp"`
}

// Audience is the aud of user access tokens.
const Audience = "authenticated"

// Keys signs errand's tokens and verifies its own and trusted issuers'.
type Keys struct {
	secret []byte        // HS256
	priv   crypto.Signer // optional RS256 or ES256
	kid    string
	alg    jwt.SigningMethod

	// Trusted external issuers.
	trustSecret []byte
	jwks        *jwksCache
	now         func() time.Time
}

// KeyConfig says how tokens are signed and which are trusted.
type KeyConfig struct {
	// Secret is the HS256 secret (ERRAND_JWT_SECRET), which also signs the
	// anon and service keys. Required, at least 32 bytes.
	Secret string
	// PrivateKeyFile, if set, is a PEM RSA or EC (P-256) private key that
	// signs access tokens instead (RS256/ES256); its public key is served
	// at /auth/v1/.well-known/jwks.json.
	PrivateKeyFile string
	// TrustSecret is an external issuer's HS256 secret (a Supabase
	// project's JWT secret): its user tokens are accepted too.
	TrustSecret string
	// TrustJWKSURL is an external issuer's JWKS; keys are cached for 10 minutes.
	TrustJWKSURL string
	// Now is the clock tokens are checked against; default time.Now.
	Now func() time.Time
}

// NewKeys loads keys.
func NewKeys(cfg KeyConfig) (*Keys, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("the JWT secret must be at least 32 characters: set --jwt-secret or ERRAND_JWT_SECRET")
	}
	k := &Keys{secret: []byte(cfg.Secret), alg: jwt.SigningMethodHS256, now: cfg.Now}
	if k.now == nil {
		k.now = time.Now
	}
	if cfg.PrivateKeyFile != "" {
		b, err := os.ReadFile(cfg.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read JWT private key: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, errors.New("JWT private key: no PEM block")
		}
		key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			if rk, err2 := x509.ParsePKCS1PrivateKey(blk.Bytes); err2 == nil {
				key = rk
			} else if ek, err3 := x509.ParseECPrivateKey(blk.Bytes); err3 == nil {
				key = ek
			} else {
				return nil, fmt.Errorf("JWT private key: %w", err)
			}
		}
		switch kk := key.(type) {
		case *rsa.PrivateKey:
			k.priv, k.alg = kk, jwt.SigningMethodRS256
		case *ecdsa.PrivateKey:
			k.priv, k.alg = kk, jwt.SigningMethodES256
		default:
			return nil, fmt.Errorf("JWT private key: %T is not RSA or EC", key)
		}
		der, _ := x509.MarshalPKIXPublicKey(k.priv.Public())
		sum := sha256.Sum256(der)
		k.kid = base64.RawURLEncoding.EncodeToString(sum[:8])
	}
	if cfg.TrustSecret != "" {
		k.trustSecret = []byte(cfg.TrustSecret)
	}
	if cfg.TrustJWKSURL != "" {
		k.jwks = &jwksCache{url: cfg.TrustJWKSURL, ttl: 10 * time.Minute, hc: &http.Client{Timeout: 10 * time.Second}}
	}
	return k, nil
}

// Sign signs access-token claims with the configured algorithm.
func (k *Keys) Sign(c *Claims) (string, error) {
	t := jwt.NewWithClaims(k.alg, c)
	if k.priv != nil {
		t.Header["kid"] = k.kid
		return t.SignedString(k.priv)
	}
	return t.SignedString(k.secret)
}

// SignAPIKey makes an anon or service key: an HS256 JWT with only a role,
// as Supabase's keys are.
func (k *Keys) SignAPIKey(role string, iat time.Time, ttl time.Duration) (string, error) {
	c := jwt.MapClaims{"iss": "errand", "role": role, "iat": iat.Unix(), "exp": iat.Add(ttl).Unix()}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
}

var errBadJWT = errors.New("invalid JWT")

// Parse verifies a token: signature by errand's keys or a trusted issuer,
// an accepted algorithm (never "none"), and expiry.
func (k *Keys) Parse(ctx context.Context, raw string) (*Claims, error) {
	c := &Claims{}
	_, err := jwt.ParseWithClaims(raw, c, func(t *jwt.Token) (any, error) {
		switch t.Method.Alg() {
		case "HS256":
			return k.secret, nil
		case "RS256", "ES256":
			if k.priv != nil {
				if kid, _ := t.Header["kid"].(string); kid == k.kid || kid == "" {
					return k.priv.Public(), nil
				}
			}
		}
		return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
	}, jwt.WithValidMethods([]string{"HS256", "RS256", "ES256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(k.now))
	if err == nil {
		return c, nil
	}
	// Not ours: a trusted issuer's user token?
	if k.trustSecret != nil || k.jwks != nil {
		c2 := &Claims{}
		_, err2 := jwt.ParseWithClaims(raw, c2, func(t *jwt.Token) (any, error) {
			if t.Method.Alg() == "HS256" && k.trustSecret != nil {
				return k.trustSecret, nil
			}
			if k.jwks != nil && (t.Method.Alg() == "RS256" || t.Method.Alg() == "ES256") {
				kid, _ := t.Header["kid"].(string)
				return k.jwks.key(ctx, kid)
			}
			return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
		}, jwt.WithValidMethods([]string{"HS256", "RS256", "ES256"}), jwt.WithExpirationRequired(), jwt.WithAudience(Audience),
			jwt.WithTimeFunc(k.now))
		if err2 == nil {
			c2.External = true
			return c2, nil
		}
	}
	return nil, fmt.Errorf("%w: %v", errBadJWT, err)
}

// JWKS is the public key set errand serves (empty with HS256 only).
func (k *Keys) JWKS() map[string]any {
	keys := []map[string]any{}
	if k.priv != nil {
		switch pub := k.priv.Public().(type) {
		case *rsa.PublicKey:
			keys = append(keys, map[string]any{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": k.kid,
				"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())})
		case *ecdsa.PublicKey:
			if raw, err := pub.Bytes(); err == nil && len(raw) == 65 { // 0x04 || X || Y on P-256
				keys = append(keys, map[string]any{"kty": "EC", "alg": "ES256", "use": "sig", "kid": k.kid, "crv": "P-256",
					"x": b64(raw[1:33]), "y": b64(raw[33:])})
			}
		}
	}
	return map[string]any{"keys": keys}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func pad32(b []byte) []byte {
	if len(b) >= 32 {
		return b
	}
	return append(make([]byte, 32-len(b)), b...)
}

// jwksCache fetches a trusted issuer's keys and keeps them for ttl.
type jwksCache struct {
	url     string
	ttl     time.Duration
	hc      *http.Client
	mu      sync.Mutex
	keys    map[string]any
	fetched time.Time
}

func (c *jwksCache) key(ctx context.Context, kid string) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[kid]; ok && time.Since(c.fetched) < c.ttl {
		return k, nil
	}
	// Refetch at most every 30s when a kid is unknown.
	if time.Since(c.fetched) < 30*time.Second && c.keys != nil {
		if k, ok := c.keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("no key %q in the trusted JWKS", kid)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch trusted JWKS: %w", err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kty, Kid, Crv, N, E, X, Y string
		} `json:"keys"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode trusted JWKS: %w", err)
	}
	keys := map[string]any{}
	for _, k := range set.Keys {
		dec := func(s string) *big.Int {
			b, _ := base64.RawURLEncoding.DecodeString(s)
			return new(big.Int).SetBytes(b)
		}
		switch k.Kty {
		case "RSA":
			keys[k.Kid] = &rsa.PublicKey{N: dec(k.N), E: int(dec(k.E).Int64())}
		case "EC":
			if k.Crv == "P-256" {
				pub, err := ecdsaP256(dec(k.X), dec(k.Y))
				if err == nil {
					keys[k.Kid] = pub
				}
			}
		}
	}
	c.keys, c.fetched = keys, time.Now()
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("no key %q in the trusted JWKS", kid)
}

func ecdsaP256(x, y *big.Int) (*ecdsa.PublicKey, error) {
	raw := append([]byte{4}, pad32(x.Bytes())...)
	raw = append(raw, pad32(y.Bytes())...)
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
}

// Derive returns a key for another purpose (HMAC-SHA256 of the label
// under the HS256 secret), so that one configured secret can also key,
// say, the dashboard's CSRF tokens without using it twice for one thing.
func (k *Keys) Derive(label string) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}
