// Package auth is errand's accounts and sessions: users with bcrypt
// passwords, access tokens (JWT with GoTrue's claims), refresh-token
// rotation with reuse detection, anon and service keys, job tokens, and
// the Supabase-Auth-compatible HTTP API under /auth/v1. It also resolves
// the one Principal of every request for the rest of errand.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/store"
)

// Config configures accounts. Zero fields take the documented defaults.
type Config struct {
	Keys *Keys
	// Issuer is the iss of access tokens, e.g. http://host:8288/auth/v1.
	Issuer string
	// AccessTokenTTL is an access token's life; default 1h (GoTrue's).
	AccessTokenTTL time.Duration
	// ReuseInterval is how long a rotated refresh token may still be
	// presented; default 10s (GoTrue's).
	ReuseInterval time.Duration
	// BcryptCost is the password hashing cost; default 10 (bcrypt's and
	// GoTrue's default).
	BcryptCost int
	// MinPasswordLength defaults to 6 (GoTrue's).
	MinPasswordLength int
	// DisableSignup turns POST /signup off.
	DisableSignup bool
	// RateLimit caps sign-ins and sign-ups per client IP and per email.
	RateLimit RateLimit
	Logger    *slog.Logger
	Now       func() time.Time
}

// Service manages accounts and sessions.
type Service struct {
	cfg   Config
	st    store.AuthStore
	keys  *Keys
	log   *slog.Logger
	ipRL  *limiter
	emRL  *limiter
	dummy []byte // a bcrypt hash compared against for unknown emails
}

// New returns the service.
func New(st store.AuthStore, cfg Config) (*Service, error) {
	if cfg.Keys == nil {
		return nil, errors.New("auth: keys are required")
	}
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = time.Hour
	}
	if cfg.ReuseInterval <= 0 {
		cfg.ReuseInterval = 10 * time.Second
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.MinPasswordLength <= 0 {
		cfg.MinPasswordLength = 6
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rl := cfg.RateLimit.withDefaults()
	dummy, err := bcrypt.GenerateFromPassword([]byte("errand-timing-equalizer"), cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, st: st, keys: cfg.Keys, log: cfg.Logger,
		ipRL: newLimiter(rl.PerIP, rl.Window), emRL: newLimiter(rl.PerEmail, rl.Window), dummy: dummy}, nil
}

// Keys returns the signing keys.
func (s *Service) Keys() *Keys { return s.keys }

func (s *Service) now() time.Time { return s.cfg.Now() }

// Session is a signed-in session as GoTrue returns it.
type Session struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int64     `json:"expires_in"`
	ExpiresAt    int64     `json:"expires_at"`
	RefreshToken string    `json:"refresh_token"`
	User         *UserJSON `json:"user"`
}

func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken is how refresh tokens are stored.
func HashToken(t string) string {
	s := sha256.Sum256([]byte(t))
	return hex.EncodeToString(s[:])
}

// normalizeEmail trims and lower-cases an email and checks its form.
func normalizeEmail(e string) (string, error) {
	e = strings.ToLower(strings.TrimSpace(e))
	if e == "" {
		return "", errf("validation_failed", "an email address is required")
	}
	if len(e) > 255 {
		return "", errf("validation_failed", "Unable to validate email address: longer than 255 characters")
	}
	at := strings.LastIndexByte(e, '@')
	if at < 1 || at == len(e)-1 || strings.Count(e, "@") != 1 || !strings.Contains(e[at:], ".") {
		return "", errf("validation_failed", "Unable to validate email address: invalid format")
	}
	for _, r := range e {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return "", errf("validation_failed", "Unable to validate email address: invalid format (only plain ASCII addresses are accepted)")
		}
	}
	return e, nil
}

func (s *Service) checkPassword(p string) error {
	if len(p) < s.cfg.MinPasswordLength {
		return &Error{Code: "weak_password", Msg: fmt.Sprintf("Password should be at least %d characters.", s.cfg.MinPasswordLength),
			Reasons: []string{"length"}}
	}
	if len(p) > 72 {
		return errf("validation_failed", "Password cannot be longer than 72 characters")
	}
	return nil
}

// SignUpParams is the body of POST /signup and of admin user creation.
type SignUpParams struct {
	Email        string          `json:"email"`
	Password     string          `json:"password"`
	Data         json.RawMessage `json:"data"`
	UserMetadata json.RawMessage `json:"user_metadata"`
	AppMetadata  json.RawMessage `json:"app_metadata"`
	EmailConfirm bool            `json:"email_confirm"`
	BanDuration  string          `json:"ban_duration"`
	Role         string          `json:"role"`
}

func metaObject(r json.RawMessage, field string) (json.RawMessage, error) {
	if len(r) == 0 || string(r) == "null" {
		return json.RawMessage("{}"), nil
	}
	var m map[string]any
	if err := json.Unmarshal(r, &m); err != nil {
		return nil, errf("validation_failed", field+" must be a JSON object")
	}
	return r, nil
}

// createUser makes a user; emails are confirmed at once (errand sends no mail).
func (s *Service) createUser(ctx context.Context, p SignUpParams, admin bool) (*store.User, error) {
	email, err := normalizeEmail(p.Email)
	if err != nil {
		return nil, err
	}
	if err := s.checkPassword(p.Password); err != nil && !(admin && p.Password == "") {
		return nil, err
	}
	meta := p.Data
	if len(meta) == 0 {
		meta = p.UserMetadata
	}
	if meta, err = metaObject(meta, "user_metadata"); err != nil {
		return nil, err
	}
	app := json.RawMessage(`{"provider":"email","providers":["email"]}`)
	if admin && len(p.AppMetadata) > 0 {
		var extra map[string]any
		if err := json.Unmarshal(p.AppMetadata, &extra); err != nil {
			return nil, errf("validation_failed", "app_metadata must be a JSON object")
		}
		extra["provider"], extra["providers"] = "email", []string{"email"}
		app, _ = json.Marshal(extra)
	}
	hash := ""
	if p.Password != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(p.Password), s.cfg.BcryptCost)
		if err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
		hash = string(h)
	}
	now := s.now().UnixMicro()
	u := &store.User{ID: uuid.NewString(), Email: email, EncryptedPassword: hash, Role: "authenticated",
		AppMetadata: app, UserMetadata: meta, EmailConfirmedAt: now, CreatedAt: now, UpdatedAt: now}
	if !admin {
		u.LastSignInAt = now // a sign-up signs the user in, as GoTrue records it
	}
	if admin && p.Role != "" {
		u.Role = p.Role
	}
	if admin && p.BanDuration != "" {
		if err := applyBan(u, p.BanDuration, s.now()); err != nil {
			return nil, err
		}
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errf("user_already_exists", "User already registered")
		}
		return nil, err
	}
	return u, nil
}

func applyBan(u *store.User, d string, now time.Time) error {
	if d == "none" {
		u.BannedUntil = 0
		return nil
	}
	dur, err := time.ParseDuration(d)
	if err != nil || dur <= 0 {
		return errf("validation_failed", `ban_duration must be a duration such as "24h" or "none"`)
	}
	u.BannedUntil = now.Add(dur).UnixMicro()
	return nil
}

// SignUp creates a user and signs them in.
func (s *Service) SignUp(ctx context.Context, ip string, p SignUpParams) (*Session, error) {
	if s.cfg.DisableSignup {
		return nil, errf("signup_disabled", "Signups not allowed for this instance")
	}
	if err := s.limit(ip, p.Email); err != nil {
		return nil, err
	}
	u, err := s.createUser(ctx, p, false)
	if err != nil {
		return nil, err
	}
	return s.newSession(ctx, u)
}

func (s *Service) limit(ip, email string) error {
	now := s.now()
	if !s.ipRL.allow(ip, now) {
		return errf("over_request_rate_limit", "Request rate limit reached: too many sign-in attempts from this address; wait a minute")
	}
	if e := strings.ToLower(strings.TrimSpace(email)); e != "" && !s.emRL.allow(e, now) {
		return errf("over_request_rate_limit", "Request rate limit reached: too many sign-in attempts for this email; wait a minute")
	}
	return nil
}

// SignIn checks an email and password and opens a session. Unknown
// emails and wrong passwords get the same error after the same work.
func (s *Service) SignIn(ctx context.Context, ip, email, password string) (*Session, error) {
	if err := s.limit(ip, email); err != nil {
		return nil, err
	}
	if email == "" || password == "" {
		return nil, errf("validation_failed", "email and password are required")
	}
	bad := errf("invalid_credentials", "Invalid login credentials")
	norm, err := normalizeEmail(email)
	if err != nil {
		_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return nil, bad
	}
	u, err := s.st.GetUserByEmail(ctx, norm)
	if errors.Is(err, store.ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if u.EncryptedPassword == "" || bcrypt.CompareHashAndPassword([]byte(u.EncryptedPassword), []byte(password)) != nil {
		if u.EncryptedPassword == "" {
			_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		}
		return nil, bad
	}
	if u.Banned(s.now().UnixMicro()) {
		return nil, errf("user_banned", "User is banned")
	}
	u.LastSignInAt = s.now().UnixMicro()
	u.UpdatedAt = u.LastSignInAt
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	return s.newSession(ctx, u)
}

func (s *Service) newSession(ctx context.Context, u *store.User) (*Session, error) {
	now := s.now().UnixMicro()
	sess := &store.Session{ID: uuid.NewString(), UserID: u.ID, AAL: "aal1", CreatedAt: now, UpdatedAt: now}
	rt := newSecret()
	tok := &store.RefreshToken{ID: uuid.NewString(), TokenHash: HashToken(rt), UserID: u.ID, SessionID: sess.ID, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateSession(ctx, sess, tok); err != nil {
		return nil, err
	}
	return s.sessionFor(u, sess.ID, rt, sess.CreatedAt)
}

// sessionFor mints an access token for a user's session.
func (s *Service) sessionFor(u *store.User, sessionID, refresh string, signedInAt int64) (*Session, error) {
	now := s.now()
	exp := now.Add(s.cfg.AccessTokenTTL)
	c := s.claims(u, now, exp)
	c.SessionID = sessionID
	c.AMR = []AMR{{Method: "password", Timestamp: signedInAt / 1e6}}
	at, err := s.keys.Sign(c)
	if err != nil {
		return nil, err
	}
	return &Session{AccessToken: at, TokenType: "bearer", ExpiresIn: int64(s.cfg.AccessTokenTTL.Seconds()),
		ExpiresAt: exp.Unix(), RefreshToken: refresh, User: ToJSON(u)}, nil
}

func (s *Service) claims(u *store.User, now, exp time.Time) *Claims {
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: s.cfg.Issuer, Subject: u.ID, Audience: jwt.ClaimStrings{Audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp)},
		Email: u.Email, Phone: u.Phone, AppMetadata: u.AppMetadata, UserMetadata: u.UserMetadata,
		Role: u.Role, AAL: "aal1",
	}
}

// Refresh exchanges a refresh token for a new session token pair, with
// GoTrue's rotation rules.
func (s *Service) Refresh(ctx context.Context, ip, refresh string) (*Session, error) {
	if refresh == "" {
		return nil, errf("validation_failed", "refresh_token is required")
	}
	notFound := errf("refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
	tok, err := s.st.GetRefreshToken(ctx, HashToken(refresh))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	sess, err := s.st.GetSession(ctx, tok.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	u, err := s.st.GetUser(ctx, tok.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errf("user_not_found", "User from refresh token not found")
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if u.Banned(now.UnixMicro()) {
		return nil, errf("user_banned", "User is banned")
	}
	if tok.Revoked {
		active, err := s.st.ActiveRefreshToken(ctx, sess.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		recent := now.Sub(time.UnixMicro(tok.UpdatedAt)) < s.cfg.ReuseInterval
		if active != nil && (active.Parent == tok.ID || recent) {
			// The client lost the reply of its last refresh: hand back the
			// current token instead of rotating again. Its secret is not
			// stored, so the current token is replaced by a fresh child.
			return s.rotate(ctx, u, sess, active)
		}
		if err := s.st.RevokeSession(ctx, sess.ID, now.UnixMicro()); err != nil {
			return nil, err
		}
		s.log.Warn("refresh token reused: session revoked", "session", sess.ID, "user", u.ID)
		return nil, errf("refresh_token_already_used", "Invalid Refresh Token: Already Used")
	}
	return s.rotate(ctx, u, sess, tok)
}

func (s *Service) rotate(ctx context.Context, u *store.User, sess *store.Session, old *store.RefreshToken) (*Session, error) {
	now := s.now().UnixMicro()
	rt := newSecret()
	next := &store.RefreshToken{ID: uuid.NewString(), TokenHash: HashToken(rt), UserID: u.ID, SessionID: sess.ID, Parent: old.ID, CreatedAt: now, UpdatedAt: now}
	ok, err := s.st.RotateRefreshToken(ctx, old, next, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errf("refresh_token_already_used", "Invalid Refresh Token: Already Used")
	}
	return s.sessionFor(u, sess.ID, rt, sess.CreatedAt)
}

// UserFor returns the user of verified claims, checking the session is
// still there (403 session_not_found once logged out).
func (s *Service) UserFor(ctx context.Context, c *Claims) (*store.User, error) {
	if c.Subject == "" {
		return nil, errf("bad_jwt", "invalid claim: missing sub claim")
	}
	if c.SessionID != "" && !c.External {
		if _, err := s.st.GetSession(ctx, c.SessionID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, errf("session_not_found", "Session from session_id claim in JWT does not exist")
			}
			return nil, err
		}
	}
	u, err := s.st.GetUser(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errf("user_not_found", "User from sub claim in JWT does not exist")
	}
	return u, err
}

// UpdateParams is the body of PUT /user and PUT /admin/users/{id}.
type UpdateParams struct {
	Email        *string         `json:"email"`
	Password     *string         `json:"password"`
	Data         json.RawMessage `json:"data"`
	UserMetadata json.RawMessage `json:"user_metadata"`
	AppMetadata  json.RawMessage `json:"app_metadata"`
	BanDuration  string          `json:"ban_duration"`
	Role         string          `json:"role"`
}

// Update changes a user; admin may also change app_metadata, role and bans.
func (s *Service) Update(ctx context.Context, u *store.User, p UpdateParams, admin bool) (*store.User, error) {
	if p.Email != nil {
		e, err := normalizeEmail(*p.Email)
		if err != nil {
			return nil, err
		}
		u.Email = e
	}
	if p.Password != nil {
		if err := s.checkPassword(*p.Password); err != nil {
			return nil, err
		}
		h, err := bcrypt.GenerateFromPassword([]byte(*p.Password), s.cfg.BcryptCost)
		if err != nil {
			return nil, err
		}
		u.EncryptedPassword = string(h)
	}
	meta := p.Data
	if len(meta) == 0 {
		meta = p.UserMetadata
	}
	if len(meta) > 0 && string(meta) != "null" {
		merged, err := mergeObjects(u.UserMetadata, meta, "user_metadata")
		if err != nil {
			return nil, err
		}
		u.UserMetadata = merged
	}
	if admin {
		if len(p.AppMetadata) > 0 && string(p.AppMetadata) != "null" {
			merged, err := mergeObjects(u.AppMetadata, p.AppMetadata, "app_metadata")
			if err != nil {
				return nil, err
			}
			u.AppMetadata = merged
		}
		if p.BanDuration != "" {
			if err := applyBan(u, p.BanDuration, s.now()); err != nil {
				return nil, err
			}
		}
		if p.Role != "" {
			u.Role = p.Role
		}
	}
	u.UpdatedAt = s.now().UnixMicro()
	if err := s.st.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errf("email_exists", "A user with this email address has already been registered")
		}
		return nil, err
	}
	return u, nil
}

// mergeObjects merges patch's top-level keys into base, as GoTrue does
// (a null value deletes a key).
func mergeObjects(base, patch json.RawMessage, field string) (json.RawMessage, error) {
	m := map[string]any{}
	if len(base) > 0 {
		_ = json.Unmarshal(base, &m)
	}
	var p map[string]any
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, errf("validation_failed", field+" must be a JSON object")
	}
	for k, v := range p {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Logout ends sessions: scope "global" (all of the user's), "local" (this
// one) or "others" (all but this one).
func (s *Service) Logout(ctx context.Context, c *Claims, scope string) error {
	switch scope {
	case "", "global":
		return s.st.DeleteSessions(ctx, c.Subject, "", "")
	case "local":
		if c.SessionID == "" {
			return nil
		}
		return s.st.DeleteSessions(ctx, c.Subject, c.SessionID, "")
	case "others":
		if c.SessionID == "" {
			return s.st.DeleteSessions(ctx, c.Subject, "", "")
		}
		return s.st.DeleteSessions(ctx, c.Subject, "", c.SessionID)
	}
	return errf("validation_failed", `scope must be "global", "local" or "others"`)
}

// ErrOwnerUnavailable is returned by JobToken for a deleted or banned
// owner; it is the engine's, so a failed token fails the job clearly.
var ErrOwnerUnavailable = engine.ErrOwnerUnavailable

// JobToken mints an access token for a job's owner: the normal claims plus
// job_id, with no session (it cannot be refreshed) and the given expiry.
func (s *Service) JobToken(ctx context.Context, ownerID, jobID string, exp time.Time) (string, *store.User, error) {
	u, err := s.st.GetUser(ctx, ownerID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrOwnerUnavailable
	}
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	if u.Banned(now.UnixMicro()) {
		return "", nil, ErrOwnerUnavailable
	}
	c := s.claims(u, now, exp)
	c.JobID = jobID
	c.AMR = []AMR{{Method: "job", Timestamp: now.Unix()}}
	t, err := s.keys.Sign(c)
	return t, u, err
}

// User reads a user by id.
func (s *Service) User(ctx context.Context, id string) (*store.User, error) {
	return s.st.GetUser(ctx, id)
}

// Identity mints an owned job's token and describes its owner: the
// engine's Config.Identity.
func (s *Service) Identity(ctx context.Context, owner, jobID string, exp time.Time) (string, json.RawMessage, error) {
	tok, u, err := s.JobToken(ctx, owner, jobID, exp)
	if err != nil {
		return "", nil, err
	}
	b, err := json.Marshal(ToJSON(u))
	return tok, b, err
}

// UserByEmail reads a user by email (as normalized at sign-up).
func (s *Service) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	norm, err := normalizeEmail(email)
	if err != nil {
		return nil, store.ErrNotFound
	}
	return s.st.GetUserByEmail(ctx, norm)
}

// Users pages through the users, oldest first, with their total.
func (s *Service) Users(ctx context.Context, offset, limit int) ([]*store.User, int, error) {
	return s.st.ListUsers(ctx, offset, limit)
}

// DeleteUser removes a user with their sessions.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	return s.st.DeleteUser(ctx, id)
}

// SignOutEverywhere ends every session of a user.
func (s *Service) SignOutEverywhere(ctx context.Context, userID string) error {
	return s.st.DeleteSessions(ctx, userID, "", "")
}

// LimitAttempt counts one sign-in attempt from ip that is not a password
// sign-in (the dashboard's admin-key form) against the same per-address
// limit, so a weak key cannot be guessed quickly.
func (s *Service) LimitAttempt(ip string) error { return s.limit(ip, "") }

// SignupDisabled reports whether sign-up is turned off.
func (s *Service) SignupDisabled() bool { return s.cfg.DisableSignup }
