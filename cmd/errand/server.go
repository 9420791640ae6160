package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/dashboard"
	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/httpapi"
	"github.com/errand-dev/errand/internal/inngest"
	"github.com/errand-dev/errand/internal/metrics"
	"github.com/errand-dev/errand/internal/store/dial"
	"github.com/errand-dev/errand/internal/store/sqldb"
)

// Config is every setting of the server, documented once here.
type Config struct {
	Mode            string        // dev or start
	Host            string        // --host: address to listen on; dev 127.0.0.1, start 0.0.0.0
	Port            int           // --port: default 8288, the port Inngest SDKs use in dev mode
	DataDir         string        // --data-dir: SQLite's folder when no database URL; default .errand
	DatabaseURL     string        // --database-url: postgres://... (required by start)
	EventKey        string        // --event-key: the key senders put in /e/{key}; dev accepts any when empty
	SigningKey      string        // --signing-key: admin bearer key for /v1 (required by start)
	Workers         int           // --workers: jobs run at once; default 100
	LeaseDuration   time.Duration // --lease: how long a crashed process holds a job; default 15s
	ShutdownTimeout time.Duration // --shutdown-timeout: how long SIGTERM waits for running jobs; default 30s
	LogLevel        string        // --log-level: debug, info, warn, error; default info
	JWTSecret       string        // --jwt-secret: HS256 secret of access tokens and API keys (required by start; dev makes one)
	JWTPrivateKey   string        // --jwt-private-key: PEM RSA/EC key file to sign access tokens (RS256/ES256) instead
	TrustJWTSecret  string        // --trust-jwt-secret: accept user tokens of an external issuer signed with this HS256 secret
	TrustJWKSURL    string        // --trust-jwks-url: accept user tokens of an external issuer with keys at this JWKS URL
	PublicURL       string        // --public-url: the URL clients reach errand at (the token issuer); default http://host:port
	DisableSignup   bool          // --disable-signup: turn POST /auth/v1/signup off
	ReuseInterval   time.Duration // --refresh-reuse-interval: how long a rotated refresh token stays usable; default 10s
	OwnerLimit      int           // --owner-limit: jobs of one owner running at once, across functions; default 10, 0 none
	SyncURLs        []string      // -u / --sync-url: serve URLs of Inngest apps to sync at start (repeatable)
}

// Main is the server process, driven by tests as by main.
type Main struct {
	Config Config
	Addr   string // the address actually listened on, after Run
	// AnonKey and ServiceKey are the API keys, after Run.
	AnonKey, ServiceKey string

	stdout, stderr io.Writer
	log            *slog.Logger
	db             *sqldb.DB
	eng            *engine.Engine
	srv            *http.Server
	ln             net.Listener
}

// NewMain returns a Main writing to stdout and stderr.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{stdout: stdout, stderr: stderr}
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv("ERRAND_" + name); ok {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(envOr(name, "")); err == nil {
		return v
	}
	return def
}

func envDur(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(envOr(name, "")); err == nil {
		return v
	}
	return def
}

// ParseFlags reads defaults, then ERRAND_* variables, then flags.
func (m *Main) ParseFlags(mode string, args []string) error {
	c := &m.Config
	c.Mode = mode
	host := "127.0.0.1"
	if mode == "start" {
		host = "0.0.0.0"
	}
	fs := flag.NewFlagSet("errand "+mode, flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&c.Host, "host", envOr("HOST", host), "address to listen on (ERRAND_HOST)")
	fs.IntVar(&c.Port, "port", envInt("PORT", 8288), "port to listen on (ERRAND_PORT)")
	fs.StringVar(&c.DataDir, "data-dir", envOr("DATA_DIR", ".errand"), "folder of the SQLite database when no --database-url (ERRAND_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", envOr("DATABASE_URL", ""), "postgres://user:pass@host/db; empty uses SQLite (ERRAND_DATABASE_URL)")
	fs.StringVar(&c.EventKey, "event-key", envOr("EVENT_KEY", ""), "key senders use in /e/{key}; dev accepts any when empty (ERRAND_EVENT_KEY)")
	fs.StringVar(&c.SigningKey, "signing-key", envOr("SIGNING_KEY", ""), "admin bearer key for /v1 (ERRAND_SIGNING_KEY)")
	fs.IntVar(&c.Workers, "workers", envInt("WORKERS", 100), "jobs run at once (ERRAND_WORKERS)")
	fs.DurationVar(&c.LeaseDuration, "lease", envDur("LEASE", 15*time.Second), "how long a job stays with a process that stopped heartbeating (ERRAND_LEASE)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDur("SHUTDOWN_TIMEOUT", 30*time.Second), "how long SIGTERM waits for running jobs (ERRAND_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.LogLevel, "log-level", envOr("LOG_LEVEL", "info"), "debug, info, warn or error (ERRAND_LOG_LEVEL)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", envOr("JWT_SECRET", ""), "HS256 secret (32+ chars) of access tokens and the anon/service keys (ERRAND_JWT_SECRET)")
	fs.StringVar(&c.JWTPrivateKey, "jwt-private-key", envOr("JWT_PRIVATE_KEY", ""), "PEM RSA or P-256 key file: sign access tokens with RS256/ES256 (ERRAND_JWT_PRIVATE_KEY)")
	fs.StringVar(&c.TrustJWTSecret, "trust-jwt-secret", envOr("TRUST_JWT_SECRET", ""), "also accept user tokens signed with this external HS256 secret (ERRAND_TRUST_JWT_SECRET)")
	fs.StringVar(&c.TrustJWKSURL, "trust-jwks-url", envOr("TRUST_JWKS_URL", ""), "also accept user tokens signed by keys at this JWKS URL (ERRAND_TRUST_JWKS_URL)")
	fs.StringVar(&c.PublicURL, "public-url", envOr("PUBLIC_URL", ""), "URL clients reach errand at; tokens' issuer is <url>/auth/v1 (ERRAND_PUBLIC_URL)")
	fs.DurationVar(&c.ReuseInterval, "refresh-reuse-interval", envDur("REFRESH_REUSE_INTERVAL", 10*time.Second), "how long a rotated refresh token may still be presented (ERRAND_REFRESH_REUSE_INTERVAL)")
	fs.IntVar(&c.OwnerLimit, "owner-limit", envInt("OWNER_LIMIT", 10), "jobs of one owner running at once unless a function says otherwise; 0: no limit (ERRAND_OWNER_LIMIT)")
	fs.Func("u", "serve URL of an Inngest app to sync at start (repeatable; also --sync-url)", func(v string) error {
		c.SyncURLs = append(c.SyncURLs, v)
		return nil
	})
	fs.Func("sync-url", "serve URL of an Inngest app to sync at start (repeatable)", func(v string) error {
		c.SyncURLs = append(c.SyncURLs, v)
		return nil
	})
	fs.BoolVar(&c.DisableSignup, "disable-signup", envOr("DISABLE_SIGNUP", "") == "true", "turn sign-up off (ERRAND_DISABLE_SIGNUP=true)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if mode == "start" {
		var missing []string
		if c.DatabaseURL == "" {
			missing = append(missing, "--database-url (or ERRAND_DATABASE_URL)")
		}
		if c.EventKey == "" {
			missing = append(missing, "--event-key (or ERRAND_EVENT_KEY)")
		}
		if c.SigningKey == "" {
			missing = append(missing, "--signing-key (or ERRAND_SIGNING_KEY)")
		}
		if c.JWTSecret == "" {
			missing = append(missing, "--jwt-secret (or ERRAND_JWT_SECRET)")
		}
		if len(missing) > 0 {
			return fmt.Errorf("start is for production and needs %s; for local use run `errand dev`", strings.Join(missing, ", "))
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	m.log = slog.New(slog.NewTextHandler(m.stderr, &slog.HandlerOptions{Level: lvl}))
	return nil
}

// Migrate opens the database, which applies the migrations, and closes it.
func (m *Main) Migrate(ctx context.Context) error {
	db, err := dial.Open(ctx, m.Config.DatabaseURL, m.Config.DataDir)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.stdout, "migrations applied")
	return db.Close()
}

// Run opens the database, starts the engine and serves the API.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	db, err := dial.Open(ctx, c.DatabaseURL, c.DataDir)
	if err != nil {
		return err
	}
	m.db = db
	met := metrics.New(db)
	m.ln, err = net.Listen("tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.Addr = m.ln.Addr().String()
	svc, err := m.authService(db)
	if err != nil {
		return err
	}
	exec := &inngest.Executor{SigningKey: c.SigningKey}
	if c.Mode == "start" {
		exec.Env = "production"
	}
	eng, err := engine.New(engine.Config{Store: db, Logger: m.log, Workers: c.Workers, LeaseDuration: c.LeaseDuration,
		Metrics: met, Identity: svc.Identity, OwnerLimit: c.OwnerLimit, RemoteHandler: exec.Handler})
	if err != nil {
		return err
	}
	m.eng = eng
	if err := eng.Start(ctx); err != nil {
		return err
	}
	api := httpapi.New(httpapi.Config{Engine: eng, Store: db, Metrics: met, Logger: m.log, Version: Version,
		EventKeys: nonEmpty(c.EventKey), AdminKeys: nonEmpty(c.SigningKey), Auth: svc, Inngest: exec})
	ui, err := dashboard.New(dashboard.Config{Engine: eng, Store: db, Auth: svc, API: api, AdminKeys: nonEmpty(c.SigningKey),
		Secure: c.Mode == "start", Sync: httpapi.SyncApp, Logger: m.log})
	if err != nil {
		return err
	}
	m.srv = &http.Server{Handler: ui, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("http server", "err", err)
		}
	}()
	m.banner()
	for _, u := range c.SyncURLs {
		if err := httpapi.SyncApp(ctx, u); err != nil {
			m.log.Error("sync app", "url", u, "err", err)
		}
	}
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func (m *Main) banner() {
	c := m.Config
	url := "http://" + m.Addr
	store := "SQLite at " + c.DataDir + "/errand.db"
	if c.DatabaseURL != "" {
		store = "PostgreSQL"
	}
	eventKey := c.EventKey
	if eventKey == "" {
		eventKey = "any (dev: every key is accepted; set --event-key to require one)"
	}
	admin := c.SigningKey
	if admin == "" {
		admin = "none (use the service key for /v1)"
	}
	fmt.Fprintf(m.stdout, `errand %s (%s) on %s
  dashboard:    %s/ (sign in with an account, or as admin with the service key)
  store:        %s
  send events:  POST %s/e/{eventKey}
  jobs API:     %s/v1/jobs
  auth API:     %s/auth/v1 (Supabase Auth compatible)
  health:       %s/healthz   metrics: %s/metrics
  event key:    %s
  signing key:  %s
  anon key:     %s
  service key:  %s
`, Version, c.Mode, url, url, store, url, url, url, url, url, eventKey, admin, m.AnonKey, m.ServiceKey)
}

// Close stops serving, drains running jobs up to the shutdown timeout,
// and closes the database.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	var errs []error
	if m.srv != nil {
		errs = append(errs, m.srv.Shutdown(ctx))
	}
	if m.eng != nil {
		errs = append(errs, m.eng.Stop(ctx))
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	m.log.Info("stopped")
	return errors.Join(errs...)
}

// authService sets up accounts: the JWT secret (dev keeps a generated one
// in the data dir), the keys, and the anon and service API keys.
func (m *Main) authService(db *sqldb.DB) (*auth.Service, error) {
	c := &m.Config
	if c.JWTSecret == "" {
		secret, err := devSecret(c.DataDir)
		if err != nil {
			return nil, err
		}
		c.JWTSecret = secret
	}
	keys, err := auth.NewKeys(auth.KeyConfig{Secret: c.JWTSecret, PrivateKeyFile: c.JWTPrivateKey,
		TrustSecret: c.TrustJWTSecret, TrustJWKSURL: c.TrustJWKSURL})
	if err != nil {
		return nil, err
	}
	public := c.PublicURL
	if public == "" {
		public = "http://" + m.Addr
	}
	svc, err := auth.New(db, auth.Config{Keys: keys, Issuer: strings.TrimRight(public, "/") + "/auth/v1",
		DisableSignup: c.DisableSignup, ReuseInterval: c.ReuseInterval, Logger: m.log})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if m.AnonKey, err = keys.SignAPIKey("anon", now, 10*365*24*time.Hour); err != nil {
		return nil, err
	}
	if m.ServiceKey, err = keys.SignAPIKey("service_role", now, 10*365*24*time.Hour); err != nil {
		return nil, err
	}
	return svc, nil
}

// devSecret reads the dev JWT secret from the data dir, making it once.
func devSecret(dir string) (string, error) {
	path := filepath.Join(dir, "jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(b[:])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save dev JWT secret: %w", err)
	}
	return secret, nil
}
