package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/errand-dev/errand/internal/store"
)

// Kind is who is calling.
type Kind int

// The kinds of callers.
const (
	Anonymous Kind = iota // no credential, or only the anon key
	User                  // a signed-in user (or a job acting as one)
	App                   // an app holding an event or signing key
	Admin                 // the service key, or the server's signing key
)

func (k Kind) String() string {
	return [...]string{"anonymous", "user", "app", "admin"}[k]
}

// Principal is the one caller of a request.
type Principal struct {
	Kind   Kind
	UserID string
	Claims *Claims
	User   *store.User
}

// IsAdmin reports admin rights.
func (p Principal) IsAdmin() bool { return p.Kind == Admin }

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// Resolver turns a request's credentials into its Principal. One resolver
// serves every endpoint of errand.
type Resolver struct {
	Service *Service
	// AdminKeys are plain bearer keys with admin rights (the server's
	// signing key).
	AdminKeys []string
	// JobActive, if set, is asked about job tokens: they are valid only
	// while their job is running for the same owner.
	JobActive func(ctx context.Context, jobID, owner string) bool
}

// ConstantTimeIn compares a presented secret with each accepted one in
// constant time.
func ConstantTimeIn(got string, accepted []string) bool {
	ok := 0
	for _, k := range accepted {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(k))
	}
	return ok == 1
}

// Token verifies a user's bare access token: for tokens carried in an
// event's user field.
func (rv *Resolver) Token(ctx context.Context, tok string) (Principal, error) {
	p, err := rv.Bearer(ctx, tok)
	if err == nil && p.Kind != User {
		return Principal{}, errf("bad_jwt", "the token is not a user's access token")
	}
	return p, err
}

// Resolve reads "Authorization: Bearer". No header is Anonymous. A bad or
// expired token, or a user token whose session was logged out, is an
// *Error (bad_jwt, session_not_found, user_not_found, user_banned).
func (rv *Resolver) Resolve(r *http.Request) (Principal, error) {
	tok, _ := BearerToken(r)
	return rv.Bearer(r.Context(), tok)
}

// Bearer resolves a token as Resolve resolves it in a bearer header: ""
// is Anonymous. The dashboard uses it for the token in its cookie.
func (rv *Resolver) Bearer(ctx context.Context, tok string) (Principal, error) {
	if tok == "" {
		return Principal{Kind: Anonymous}, nil
	}
	if len(rv.AdminKeys) > 0 && ConstantTimeIn(tok, rv.AdminKeys) {
		return Principal{Kind: Admin}, nil
	}
	if rv.Service == nil {
		return Principal{}, errf("bad_jwt", "invalid bearer token: use the server's signing key")
	}
	c, err := rv.Service.keys.Parse(ctx, tok)
	if err != nil {
		return Principal{}, errf("bad_jwt", "invalid JWT: unable to parse or verify signature, token is expired or was not issued by this server")
	}
	switch c.Role {
	case "service_role":
		if c.Subject == "" {
			return Principal{Kind: Admin, Claims: c}, nil
		}
	case "anon":
		if c.Subject == "" {
			return Principal{Kind: Anonymous, Claims: c}, nil
		}
	}
	if !hasAudience(c, Audience) {
		return Principal{}, errf("bad_jwt", "invalid JWT: the audience must be \"authenticated\"")
	}
	if c.JobID != "" && !c.External && (rv.JobActive == nil || !rv.JobActive(ctx, c.JobID, c.Subject)) {
		return Principal{}, errf("bad_jwt", "invalid JWT: this job token's job is not running any more")
	}
	if c.External {
		// A trusted issuer's user: errand keeps no account for them.
		if c.Subject == "" {
			return Principal{}, errf("bad_jwt", "invalid claim: missing sub claim")
		}
		return Principal{Kind: User, UserID: c.Subject, Claims: c}, nil
	}
	u, err := rv.Service.UserFor(ctx, c)
	if err != nil {
		return Principal{}, err
	}
	if u.Banned(rv.Service.now().UnixMicro()) {
		return Principal{}, errf("user_banned", "User is banned")
	}
	return Principal{Kind: User, UserID: u.ID, Claims: c, User: u}, nil
}

func hasAudience(c *Claims, aud string) bool {
	for _, a := range c.Audience {
		if a == aud {
			return true
		}
	}
	return false
}

// IsAuthError reports whether err is an *Error, for callers mapping codes.
func IsAuthError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
