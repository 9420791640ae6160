package errand_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
)

// The app's own table has an owner-only policy written with auth.uid();
// a job of user A, through OwnerTx, sees and changes only A's rows.
func TestOwnerTxAppliesRowLevelSecurity(t *testing.T) {
	var pool *pgxpool.Pool // set once the site's schema is known
	type result struct {
		Visible   int    `json:"visible"`
		Others    int64  `json:"others_updated"`
		InsertErr string `json:"insert_error"`
		Own       int64  `json:"own_updated"`
	}
	fn := errand.NewFunction(errand.FunctionOpts{ID: "notes"}, errand.OnEvent("app/notes"),
		func(ctx context.Context, in errand.Input[map[string]string]) (result, error) {
			var res result
			err := errand.OwnerTx(ctx, pool, func(tx pgx.Tx) error {
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM notes`).Scan(&res.Visible); err != nil {
					return err
				}
				tag, err := tx.Exec(ctx, `UPDATE notes SET body = 'hacked' WHERE owner <> auth.uid()`)
				if err != nil {
					return err
				}
				res.Others = tag.RowsAffected()
				tag, err = tx.Exec(ctx, `UPDATE notes SET body = 'done' WHERE owner = auth.uid()`)
				if err != nil {
					return err
				}
				res.Own = tag.RowsAffected()
				return nil
			})
			if err != nil {
				return res, err
			}
			// Writing a row for someone else violates the policy.
			err = errand.OwnerTx(ctx, pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO notes (owner, body) VALUES ($1, 'forged')`, in.Event.Data["victim"])
				return err
			})
			if err != nil {
				res.InsertErr = err.Error()
			}
			return res, nil
		})
	s := newSite(t, "postgres", fn)
	// The site's store is its own schema; put the app's table there too.
	conn, err := pgx.Connect(bg, s.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if pool, err = pgxpool.New(bg, s.cfg.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	idA, tokA, _ := s.signUp(t, "a@example.com")
	idB, _, _ := s.signUp(t, "b@example.com")
	schema := strings.Split(strings.Split(s.cfg.DatabaseURL, "search_path=")[1], "&")[0]
	for _, q := range []string{
		`CREATE TABLE notes (id serial PRIMARY KEY, owner uuid NOT NULL, body text NOT NULL)`,
		`ALTER TABLE notes ENABLE ROW LEVEL SECURITY`,
		`CREATE POLICY own_notes ON notes USING (owner = auth.uid()) WITH CHECK (owner = auth.uid())`,
		`GRANT USAGE ON SCHEMA ` + schema + ` TO authenticated`,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO authenticated`,
		`GRANT USAGE ON SEQUENCE notes_id_seq TO authenticated`,
		`INSERT INTO notes (owner, body) VALUES ('` + idA + `', 'a1'), ('` + idA + `', 'a2'), ('` + idB + `', 'b1')`,
	} {
		if _, err := conn.Exec(bg, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	r := s.do(t, "POST", "/v1/jobs", tokA, map[string]any{"function": "notes", "data": map[string]string{"victim": idB}})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	j := errandtest.WaitJob(t, s.c, r.json()["id"].(string))
	var res result
	if err := jsonUnmarshal(j.Output, &res); err != nil || j.Status != errand.StatusFinished {
		t.Fatalf("job %+v %s %v", j, j.Output, err)
	}
	if res.Visible != 2 || res.Others != 0 || res.Own != 2 || !strings.Contains(res.InsertErr, "row-level security") {
		t.Fatalf("A's job saw %d rows, changed %d of B's and %d of its own; forged insert: %q", res.Visible, res.Others, res.Own, res.InsertErr)
	}
	var bBody string
	if err := conn.QueryRow(bg, `SELECT body FROM notes WHERE owner = $1`, idB).Scan(&bBody); err != nil || bBody != "b1" {
		t.Fatalf("B's row is %q (%v)", bBody, err)
	}
	// Outside a job there is no owner to act as.
	if err := errand.OwnerTx(bg, pool, func(pgx.Tx) error { return nil }); !errors.Is(err, errand.ErrNotInJob) {
		t.Fatalf("OwnerTx outside a job: %v", err)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
