package errand

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/errand-dev/errand/internal/auth"
	"github.com/errand-dev/errand/internal/engine"
	"github.com/errand-dev/errand/internal/inngest"
	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/store/dial"
	"github.com/errand-dev/errand/internal/store/postgres"
	"github.com/errand-dev/errand/internal/store/sqldb"
	"github.com/errand-dev/errand/internal/store/sqlite"
	"github.com/errand-dev/errand/internal/wire"
)

// Config configures a Client. A nil *Config means an embedded client on
// SQLite under ./.errand with defaults.
type Config struct {
	// URL makes a remote client of the errand server at this address
	// (for example http://127.0.0.1:8288). Empty embeds the engine.
	URL string
	// EventKey is sent as /e/{key} by a remote client; default "dev".
	EventKey string
	// APIKey is the bearer credential of a remote client's job calls.
	APIKey string
	// HTTPClient is used by a remote client; default a client with a 30s timeout.
	HTTPClient *http.Client

	// DatabaseURL selects an embedded client's store: postgres://... for
	// PostgreSQL; empty for SQLite in DataDir.
	DatabaseURL string
	// DataDir holds the SQLite file; default ".errand".
	DataDir string
	// Functions are registered at once.
	Functions []*Function
	// Workers is how many jobs run at once; default 100.
	Workers int
	// LeaseDuration is how long a job is held without a heartbeat before
	// another process may take it over; default 15s.
	LeaseDuration time.Duration
	// PollInterval is how often the database is polled for work that no
	// local signal announced; default 100ms.
	PollInterval time.Duration
	// OwnerLimit is the default cap on running jobs per owner; 0 none.
	OwnerLimit int
	// JWTSecret turns on accounts (32+ characters): the Supabase-Auth
	// compatible API in Handler, and a job token for every attempt of an
	// owned job (JobInfo.Token, OwnerTx).
	JWTSecret string
	// PublicURL is where Handler is reached, for the tokens' issuer.
	PublicURL string
	// Backoff overrides the retry delay (attempt is 1-based).
	Backoff func(attempt int) time.Duration
	// Logger receives logs; default slog.Default().
	Logger *slog.Logger
}

// Client sends events and, when embedded, runs functions.
type Client struct {
	cfg    Config
	db     *sqldb.DB
	eng    *engine.Engine
	auth   *auth.Service
	exec   *inngest.Executor
	remote *remote
}

// Job is a job as errand reports it.
type Job = wire.Job

// Step is a step of a job.
type Step = wire.Step

// JobStatus is a job's status.
type JobStatus = store.Status

// The statuses of a job.
const (
	StatusWaiting   = store.StatusWaiting
	StatusRunning   = store.StatusRunning
	StatusFinished  = store.StatusFinished
	StatusFailed    = store.StatusFailed
	StatusCancelled = store.StatusCancelled
)

// ErrNotFound is returned for a job that does not exist (or that the
// caller may not see).
var ErrNotFound = errors.New("errand: not found")

// NewClient opens a client. An embedded client opens (and migrates) its
// database; call Start to run functions, Close when done.
func NewClient(ctx context.Context, cfg *Config) (*Client, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c := &Client{cfg: *cfg}
	if cfg.URL != "" {
		c.remote = newRemote(cfg)
		return c, nil
	}
	db, err := dial.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	c.exec = &inngest.Executor{}
	ecfg := engine.Config{Store: db, Logger: cfg.Logger, Workers: cfg.Workers, RemoteHandler: c.exec.Handler,
		LeaseDuration: cfg.LeaseDuration, PollInterval: cfg.PollInterval, OwnerLimit: cfg.OwnerLimit, Backoff: cfg.Backoff}
	if cfg.JWTSecret != "" {
		keys, err := auth.NewKeys(auth.KeyConfig{Secret: cfg.JWTSecret})
		if err != nil {
			db.Close()
			return nil, err
		}
		issuer := strings.TrimRight(cfg.PublicURL, "/") + "/auth/v1"
		if c.auth, err = auth.New(db, auth.Config{Keys: keys, Issuer: issuer, Logger: cfg.Logger}); err != nil {
			db.Close()
			return nil, err
		}
		ecfg.Identity = c.auth.Identity
	}
	eng, err := engine.New(ecfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	c.db, c.eng = db, eng
	if err := c.Register(cfg.Functions...); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

var errRemote = errors.New("errand: this needs an embedded client (Config.URL is set)")

// Register adds functions to an embedded client.
func (c *Client) Register(fns ...*Function) error {
	if c.eng == nil {
		return errRemote
	}
	defs := make([]*engine.Function, len(fns))
	for i, f := range fns {
		defs[i] = f.def
	}
	return c.eng.Register(defs...)
}

// Start runs registered functions until Stop.
func (c *Client) Start(ctx context.Context) error {
	if c.eng == nil {
		return errRemote
	}
	return c.eng.Start(ctx)
}

// Stop stops taking new jobs and waits for running ones until ctx ends;
// those still running then are released to run again later.
func (c *Client) Stop(ctx context.Context) error {
	if c.eng == nil {
		return nil
	}
	return c.eng.Stop(ctx)
}

// Close stops the client (waiting up to 10s for running jobs) and
// releases its database.
func (c *Client) Close() error {
	if c.eng == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.eng.Stop(ctx)
	return errors.Join(err, c.db.Close())
}

// Engine exposes the embedded engine to errand's own packages.
func (c *Client) Engine() *engine.Engine { return c.eng }

// Send sends events and returns their ids. Each event starts the
// functions it triggers; an event id seen before starts nothing.
func (c *Client) Send(ctx context.Context, events ...Sendable) ([]string, error) {
	evs, err := validEvents(events)
	if err != nil {
		return nil, err
	}
	if c.remote != nil {
		return c.remote.send(ctx, evs)
	}
	res, err := c.eng.Send(ctx, evs)
	if err != nil {
		return nil, err
	}
	return res.IDs, nil
}

// SendTx sends events inside the caller's transaction (a pgx.Tx or a
// *sql.Tx on the client's own database): the events and their jobs are
// committed or rolled back with the caller's own rows.
func (c *Client) SendTx(ctx context.Context, tx any, events ...Sendable) ([]string, error) {
	if c.eng == nil {
		return nil, errRemote
	}
	evs, err := validEvents(events)
	if err != nil {
		return nil, err
	}
	var stx store.Tx
	switch t := tx.(type) {
	case pgx.Tx:
		stx = postgres.WrapTx(t)
	case *sql.Tx:
		if c.db.D.Name == "postgres" {
			stx = postgres.WrapSQLTx(t)
		} else {
			stx = sqlite.WrapTx(t)
		}
	default:
		return nil, fmt.Errorf("errand: SendTx takes a pgx.Tx or a *sql.Tx, not %T", tx)
	}
	if err := c.eng.RefreshFunctions(ctx); err != nil {
		return nil, err
	}
	res, err := c.eng.Ingest(ctx, stx, evs)
	if err != nil {
		return nil, err
	}
	return res.IDs, nil
}

// Job returns a job by id.
func (c *Client) Job(ctx context.Context, id string) (*Job, error) {
	if c.remote != nil {
		return c.remote.job(ctx, id)
	}
	j, err := c.db.GetJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return wire.FromJob(j), nil
}

// JobsFilter selects jobs to list.
type JobsFilter struct {
	Status   JobStatus
	Function string
	Owner    string
	// Cursor is the Next of the previous page.
	Cursor string
	// Limit is the page size; default 100, at most 1000.
	Limit int
}

// Jobs lists jobs newest first, one page at a time.
func (c *Client) Jobs(ctx context.Context, f JobsFilter) (*wire.JobList, error) {
	if c.remote != nil {
		return c.remote.jobs(ctx, f)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	jobs, err := c.db.ListJobs(ctx, store.JobFilter{Status: f.Status, FunctionID: f.Function, Owner: f.Owner, Before: f.Cursor, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := &wire.JobList{Jobs: make([]*Job, len(jobs))}
	for i, j := range jobs {
		out.Jobs[i] = wire.FromJob(j)
	}
	if len(jobs) == limit {
		out.Next = jobs[len(jobs)-1].ID
	}
	return out, nil
}

// Steps lists a job's steps.
func (c *Client) Steps(ctx context.Context, jobID string) ([]*Step, error) {
	if c.remote != nil {
		return c.remote.steps(ctx, jobID)
	}
	steps, err := c.db.Steps(ctx, jobID)
	if err != nil {
		return nil, err
	}
	out := make([]*Step, len(steps))
	for i, s := range steps {
		out[i] = wire.FromStep(s)
	}
	return out, nil
}

// Cancel cancels a job. A running job's context is cancelled; a job that
// already ended is returned unchanged.
func (c *Client) Cancel(ctx context.Context, id string) (*Job, error) {
	if c.remote != nil {
		return c.remote.cancel(ctx, id)
	}
	j, err := c.eng.Cancel(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return wire.FromJob(j), nil
}

// WaitJob polls a job until it has ended or ctx is done.
func (c *Client) WaitJob(ctx context.Context, id string) (*Job, error) {
	delay := 5 * time.Millisecond
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return nil, err
		}
		if j.Status == StatusFinished || j.Status == StatusFailed || j.Status == StatusCancelled {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// JobsForEvent returns the ids of the jobs an event started.
func (c *Client) JobsForEvent(ctx context.Context, eventID string) ([]string, error) {
	if c.remote != nil {
		return nil, errRemote
	}
	jobs, err := c.db.ListJobs(ctx, store.JobFilter{EventID: eventID, Limit: 1000})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids, nil
}
