// Command seed-app is the seed's application written with errand: users
// sign up and sign in, press "Start report", and a background job runs as
// that user — it writes to the app's own table through OwnerTx, so the
// table's Row Level Security policy (owner = auth.uid()) applies — while
// the page shows the job going waiting → running → finished, live.
//
// It needs PostgreSQL (for Row Level Security). One command starts a
// throwaway PostgreSQL and the app:
//
//	examples/seed-app/run.sh        # then open http://127.0.0.1:8300
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/errand-dev/errand"
)

//go:embed index.html
var indexHTML string

// ReportData is what the page sends to start a report.
type ReportData struct {
	Title string `json:"title"`
}

func main() {
	dbURL := flag.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (required)")
	addr := flag.String("addr", "127.0.0.1:8300", "address to serve on")
	secret := flag.String("jwt-secret", envOr("JWT_SECRET", "seed-app-dev-secret-change-me-0123456789"), "JWT secret (32+ chars)")
	flag.Parse()
	if *dbURL == "" {
		log.Fatal("seed-app needs --database-url (PostgreSQL); examples/seed-app/run.sh starts one for you")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	h, closeApp, err := newApp(ctx, *dbURL, *secret, "http://"+*addr)
	if err != nil {
		log.Fatal(err)
	}
	defer closeApp()
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(c)
	}()
	fmt.Printf("seed-app on http://%s\n", *addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// newApp starts errand inside the app and returns the app's handler: the
// page at /, and errand's API (accounts, jobs, streams) beside it.
func newApp(ctx context.Context, dbURL, secret, publicURL string) (http.Handler, func(), error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	client, err := errand.NewClient(ctx, &errand.Config{DatabaseURL: dbURL, JWTSecret: secret, PublicURL: publicURL,
		Functions: []*errand.Function{reportFunction(pool)}})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	closeApp := func() { _ = client.Close(); pool.Close() }
	if err := setupTable(ctx, pool); err != nil {
		closeApp()
		return nil, nil, err
	}
	if err := client.Start(ctx); err != nil {
		closeApp()
		return nil, nil, err
	}
	anon, _, err := client.APIKeys()
	if err != nil {
		closeApp()
		return nil, nil, err
	}
	page := template.Must(template.New("index").Parse(indexHTML))
	mux := http.NewServeMux()
	mux.Handle("/", client.Handler()) // /auth/v1, /v1/jobs, streams
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, map[string]string{"AnonKey": anon})
	})
	return mux, closeApp, nil
}

// reportFunction is the seed's background job: it runs as the user who
// started it.
func reportFunction(pool *pgxpool.Pool) *errand.Function {
	return errand.NewFunction(errand.FunctionOpts{ID: "report", Name: "Build a report"}, errand.OnEvent("app/report.requested"),
		func(ctx context.Context, in errand.Input[ReportData]) (map[string]any, error) {
			// Step 1: record the report in the app's own table, as the user.
			id, err := errand.Run(ctx, "create-row", func(ctx context.Context) (int64, error) {
				var id int64
				err := errand.OwnerTx(ctx, pool, func(tx pgx.Tx) error {
					return tx.QueryRow(ctx, `INSERT INTO reports (owner, title, status) VALUES (auth.uid(), $1, 'running') RETURNING id`,
						in.Event.Data.Title).Scan(&id)
				})
				return id, err
			})
			if err != nil {
				return nil, err
			}
			// Step 2..4: the slow work, reporting progress.
			for i := 1; i <= 3; i++ {
				if _, err := errand.Run(ctx, fmt.Sprintf("part-%d", i), func(ctx context.Context) (int, error) {
					time.Sleep(700 * time.Millisecond)
					return i, nil
				}); err != nil {
					return nil, err
				}
				if err := errand.Progress(ctx, float64(i)/3, fmt.Sprintf("part %d of 3", i)); err != nil {
					return nil, err
				}
			}
			// Step 5: mark the row finished, again only as its owner.
			rows, err := errand.Run(ctx, "finish-row", func(ctx context.Context) (int64, error) {
				var n int64
				err := errand.OwnerTx(ctx, pool, func(tx pgx.Tx) error {
					tag, err := tx.Exec(ctx, `UPDATE reports SET status = 'finished', finished_at = now() WHERE id = $1`, id)
					n = tag.RowsAffected()
					return err
				})
				return n, err
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"report_id": id, "rows_updated": rows}, nil
		})
}

// setupTable creates the app's table with an owner-only policy, the way a
// Supabase app would.
func setupTable(ctx context.Context, pool *pgxpool.Pool) error {
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS reports (id bigserial PRIMARY KEY, owner uuid NOT NULL, title text NOT NULL,
			status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz)`,
		`ALTER TABLE reports ENABLE ROW LEVEL SECURITY`,
		`DROP POLICY IF EXISTS own_reports ON reports`,
		`CREATE POLICY own_reports ON reports USING (owner = auth.uid()) WITH CHECK (owner = auth.uid())`,
		`GRANT USAGE ON SCHEMA ` + pgx.Identifier{schema}.Sanitize() + ` TO authenticated`,
		`GRANT SELECT, INSERT, UPDATE ON reports TO authenticated`,
		`GRANT USAGE ON SEQUENCE reports_id_seq TO authenticated`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("set up the reports table: %w", err)
		}
	}
	return nil
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}
