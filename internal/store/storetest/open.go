// Package storetest opens fresh stores of both kinds for tests and holds the
// conformance suite every store driver must pass.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/errand-dev/errand/internal/store/postgres"
	"github.com/errand-dev/errand/internal/store/sqldb"
	"github.com/errand-dev/errand/internal/store/sqlite"
)

// EnvURL names the variable holding the test PostgreSQL's URL. The test
// command (make test) starts a throwaway server and sets it; under CI a
// missing URL fails the tests instead of skipping the Postgres half.
const EnvURL = "ERRAND_TEST_DATABASE_URL"

// Kinds are the store drivers, in the order tests run them.
var Kinds = []string{"sqlite", "postgres"}

// Open returns a new empty store of the kind, closed when the test ends.
func Open(t testing.TB, kind string) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	switch kind {
	case "sqlite":
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "errand.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	case "postgres":
		u := FreshSchemaURL(t)
		db, err := postgres.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	t.Fatalf("unknown store kind %q", kind)
	return nil
}

// FreshSchemaURL creates a new schema in the test database and returns a
// URL whose connections use it, so tests never see each other's rows.
func FreshSchemaURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: run the tests with `make test`, which starts PostgreSQL", EnvURL)
		}
		t.Skipf("%s is not set; run `make test` for the Postgres half", EnvURL)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to test postgres: %v", err)
	}
	defer c.Close(ctx)
	schema := fmt.Sprintf("t_%d", rand.Int64())
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Each runs fn as a subtest against a fresh store of every kind.
func Each(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) { fn(t, Open(t, kind)) })
	}
}
