package errand_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/errand-dev/errand"
	"github.com/errand-dev/errand/errandtest"
	"github.com/errand-dev/errand/internal/store/storetest"
)

func orderFunction() *errand.Function {
	return errand.NewFunction(errand.FunctionOpts{ID: "ship"}, errand.OnEvent("app/order.placed"),
		func(ctx context.Context, in errand.Input[map[string]string]) (string, error) {
			return "shipped " + in.Event.Data["order"], nil
		})
}

func placed(order string) errand.Event[map[string]string] {
	return errand.Event[map[string]string]{Name: "app/order.placed", Data: map[string]string{"order": order}}
}

// checkTx runs the commit and the rollback case of SendTx through begin,
// which opens a transaction of the app's own and inserts its row.
func checkTx(t *testing.T, c *errand.Client, begin func(order string) (tx any, commit, rollback func() error), countOrders func() int) {
	t.Helper()
	tx, commit, _ := begin("o1")
	ids, err := c.SendTx(bg, tx, placed("o1"))
	if err != nil {
		t.Fatal(err)
	}
	if jobs, _ := c.JobsForEvent(bg, ids[0]); len(jobs) != 0 {
		t.Fatalf("job visible before the app committed")
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	jobs, _ := c.JobsForEvent(bg, ids[0])
	if len(jobs) != 1 {
		t.Fatalf("committed SendTx created %d jobs", len(jobs))
	}
	if j := errandtest.WaitJob(t, c, jobs[0]); string(j.Output) != `"shipped o1"` {
		t.Fatalf("job %+v", j)
	}
	tx, _, rollback := begin("o2")
	ids, err = c.SendTx(bg, tx, placed("o2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rollback(); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := c.JobsForEvent(bg, ids[0]); len(jobs) != 0 {
		t.Fatalf("rolled back SendTx left %d jobs", len(jobs))
	}
	if n := countOrders(); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

func TestSendTxPostgres(t *testing.T) {
	url := storetest.FreshSchemaURL(t)
	c := errandtest.Start(t, &errand.Config{DatabaseURL: url, Functions: []*errand.Function{orderFunction()}})
	conn, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if _, err := conn.Exec(bg, `CREATE TABLE orders (id text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		_ = conn.QueryRow(bg, `SELECT count(*) FROM orders`).Scan(&n)
		return n
	}
	t.Run("pgx.Tx", func(t *testing.T) {
		checkTx(t, c, func(order string) (any, func() error, func() error) {
			tx, err := conn.Begin(bg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(bg, `INSERT INTO orders VALUES ($1)`, order); err != nil {
				t.Fatal(err)
			}
			return tx, func() error { return tx.Commit(bg) }, func() error { return tx.Rollback(bg) }
		}, count)
	})
	if _, err := conn.Exec(bg, `TRUNCATE orders`); err != nil {
		t.Fatal(err)
	}
	t.Run("sql.Tx", func(t *testing.T) {
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		checkTx(t, c, sqlBegin(t, db, "$1"), count)
	})
}

func sqlBegin(t *testing.T, db *sql.DB, ph string) func(string) (any, func() error, func() error) {
	return func(order string) (any, func() error, func() error) {
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO orders VALUES (`+ph+`)`, order); err != nil {
			t.Fatal(err)
		}
		return tx, tx.Commit, tx.Rollback
	}
}

func TestSendTxSQLite(t *testing.T) {
	dir := t.TempDir()
	c := errandtest.Start(t, &errand.Config{DataDir: dir, Functions: []*errand.Function{orderFunction()}})
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "errand.db")+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE orders (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	checkTx(t, c, sqlBegin(t, db, "?"), func() int {
		var n int
		_ = db.QueryRow(`SELECT count(*) FROM orders`).Scan(&n)
		return n
	})
}

func TestSendTxRejectsOtherTypes(t *testing.T) {
	c := errandtest.New(t)
	if _, err := c.SendTx(bg, "not a tx", placed("x")); err == nil {
		t.Fatal("SendTx accepted a string")
	}
}
