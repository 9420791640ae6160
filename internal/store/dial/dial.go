// Package dial opens the store a URL names: postgres:// or postgresql://
// for PostgreSQL, sqlite:PATH or an empty URL for SQLite under a data dir.
package dial

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/errand-dev/errand/internal/store/postgres"
	"github.com/errand-dev/errand/internal/store/sqldb"
	"github.com/errand-dev/errand/internal/store/sqlite"
)

// Open opens and migrates the store. dataDir holds the SQLite file when
// url is empty.
func Open(ctx context.Context, url, dataDir string) (*sqldb.DB, error) {
	switch {
	case url == "":
		if dataDir == "" {
			dataDir = ".errand"
		}
		return sqlite.Open(ctx, filepath.Join(dataDir, "errand.db"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url)
	case strings.HasPrefix(url, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//"))
	}
	return nil, fmt.Errorf("database url %q: use postgres://user@host/db or sqlite:/path/to/file.db", redact(url))
}

// redact hides a password in a URL for messages.
func redact(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if c := strings.Index(rest[:at], ":"); c >= 0 {
				return u[:i+3] + rest[:c] + ":***" + rest[at:]
			}
		}
	}
	return u
}
