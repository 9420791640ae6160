package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/errand-dev/errand/internal/store"
	"github.com/errand-dev/errand/internal/store/sqldb"
)

var ctx = context.Background()

func newJob(id, fn, part string, limits ...store.Limit) *store.Job {
	return &store.Job{ID: id, FunctionID: fn, EventID: "ev-" + id, Status: store.StatusWaiting, Queue: store.QueueReady,
		MaxAttempts: 5, Part: part, Limits: limits, RunAt: 1, Input: json.RawMessage(`{"n":1}`), CreatedAt: 1, UpdatedAt: 1}
}

func insert(t *testing.T, db store.Store, jobs ...*store.Job) {
	t.Helper()
	err := db.InTx(ctx, func(tx store.Tx) error {
		created, err := tx.InsertJobs(ctx, jobs)
		for i, c := range created {
			if !c {
				return fmt.Errorf("job %s not created", jobs[i].ID)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func claim(t *testing.T, db store.Store, n int, after string) store.ClaimResult {
	t.Helper()
	r, err := db.Claim(ctx, store.ClaimParams{Worker: "w", N: n, Now: 10, LeaseUntil: 1000, After: after})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(jobs []*store.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

func TestEventsDedupe(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		evs := []*store.Event{{ID: "E1", Name: "a", Data: json.RawMessage(`{"x":"é"}`), TS: 5, ReceivedAt: 6},
			{ID: "E2", Name: "b", TS: 5, ReceivedAt: 6}, {ID: "E1", Name: "a", TS: 5, ReceivedAt: 6}}
		var seen []bool
		err := db.InTx(ctx, func(tx store.Tx) (err error) { seen, err = tx.InsertEvents(ctx, evs); return })
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seen) != "[false false true]" {
			t.Fatalf("seen = %v, want [false false true]", seen)
		}
		err = db.InTx(ctx, func(tx store.Tx) (err error) { seen, err = tx.InsertEvents(ctx, evs[:1]); return })
		if err != nil || !seen[0] {
			t.Fatalf("second insert: seen=%v err=%v", seen, err)
		}
		e, err := db.GetEvent(ctx, "E1")
		if err != nil {
			t.Fatal(err)
		}
		var data map[string]string
		if err := json.Unmarshal(e.Data, &data); err != nil || data["x"] != "é" || e.TS != 5 {
			t.Fatalf("event round trip: %+v %v", e, err)
		}
		if _, err := db.GetEvent(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing event: %v", err)
		}
		list, err := db.ListEvents(ctx, store.EventFilter{Name: "a"})
		if err != nil || len(list) != 1 {
			t.Fatalf("list events: %d %v", len(list), err)
		}
	})
}

func TestJobsDedupeAndRollback(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		insert(t, db, newJob("J1", "f", "p"))
		dup := newJob("J2", "f", "p")
		dup.EventID = "ev-J1" // same function and trigger
		idem := newJob("J3", "f", "p")
		idem.IdempotencyKey = "k"
		idem2 := newJob("J4", "f", "p")
		idem2.IdempotencyKey = "k"
		var created []bool
		err := db.InTx(ctx, func(tx store.Tx) (err error) {
			created, err = tx.InsertJobs(ctx, []*store.Job{dup, idem, idem2})
			return
		})
		if err != nil || fmt.Sprint(created) != "[false true false]" {
			t.Fatalf("created=%v err=%v", created, err)
		}
		boom := errors.New("app rolled back")
		err = db.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.InsertJobs(ctx, []*store.Job{newJob("J5", "f", "p")}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := db.GetJob(ctx, "J5"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rolled back job exists: %v", err)
		}
	})
}

func TestClaimRoundRobinAcrossPartitions(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		var jobs []*store.Job
		for i := 0; i < 50; i++ {
			jobs = append(jobs, newJob(fmt.Sprintf("A%03d", i), "f", "f|big"))
		}
		jobs = append(jobs, newJob("B000", "f", "f|small1"), newJob("C000", "f", "f|small2"))
		insert(t, db, jobs...)
		r := claim(t, db, 3, "")
		got := ids(r.Jobs)
		if len(got) != 3 || !contains(got, "B000") || !contains(got, "C000") {
			t.Fatalf("claimed %v: every partition should get a turn", got)
		}
		for _, j := range r.Jobs {
			if j.Queue != store.QueueLeased || j.LeaseToken == "" || j.StartedAt != 10 {
				t.Fatalf("claimed job not leased: %+v", j)
			}
		}
		again := claim(t, db, 100, r.Cursor)
		if len(again.Jobs) != 49 || contains(ids(again.Jobs), got[0]) {
			t.Fatalf("second claim got %d jobs", len(again.Jobs))
		}
		if n := len(claim(t, db, 10, "").Jobs); n != 0 {
			t.Fatalf("claimed %d jobs that were leased", n)
		}
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestClaimHonoursLimits(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		fnLimit := store.Limit{Key: "fn:f", Limit: 3}
		var jobs []*store.Job
		for _, user := range []string{"u1", "u2"} {
			for i := 0; i < 5; i++ {
				jobs = append(jobs, newJob(fmt.Sprintf("%s-%d", user, i), "f", "f|"+user, fnLimit, store.Limit{Key: "k:" + user, Limit: 1}))
			}
		}
		insert(t, db, jobs...)
		r := claim(t, db, 10, "")
		if len(r.Jobs) != 2 {
			t.Fatalf("claimed %v, want one per user", ids(r.Jobs))
		}
		if n := len(claim(t, db, 10, "").Jobs); n != 0 {
			t.Fatalf("claimed %d beyond per-user limit", n)
		}
		finish(t, db, r.Jobs[0])
		if r2 := claim(t, db, 10, ""); len(r2.Jobs) != 1 || r2.Jobs[0].Owner != "" || r2.Jobs[0].Part != r.Jobs[0].Part {
			t.Fatalf("after a finish, want one more job of the same user, got %v", ids(r2.Jobs))
		}
	})
}

func finish(t *testing.T, db store.Store, j *store.Job) {
	t.Helper()
	err := db.InTx(ctx, func(tx store.Tx) error {
		ok, err := tx.CompleteJobs(ctx, []store.Completion{{Lease: store.Lease{JobID: j.ID, Token: j.LeaseToken},
			Outcome: store.OutcomeFinished, Output: json.RawMessage(`"done"`)}}, 20)
		if err == nil && !ok[0] {
			err = errors.New("completion not applied")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentClaimsNeverShareAJob(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		var jobs []*store.Job
		for i := 0; i < 300; i++ {
			jobs = append(jobs, newJob(fmt.Sprintf("J%04d", i), "f", fmt.Sprintf("f|%d", i%7)))
		}
		insert(t, db, jobs...)
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					r, err := db.Claim(ctx, store.ClaimParams{Worker: "w", N: 7, Now: 10, LeaseUntil: 1000})
					if err != nil {
						t.Error(err)
						return
					}
					if len(r.Jobs) == 0 {
						return
					}
					mu.Lock()
					for _, j := range r.Jobs {
						got[j.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(got) != 300 {
			t.Fatalf("claimed %d distinct jobs, want 300", len(got))
		}
		for id, n := range got {
			if n != 1 {
				t.Fatalf("job %s claimed %d times", id, n)
			}
		}
	})
}

func TestCompleteIsFencedByLease(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		insert(t, db, newJob("J1", "f", "p"), newJob("J2", "f", "p"))
		r := claim(t, db, 2, "")
		var applied []bool
		err := db.InTx(ctx, func(tx store.Tx) (err error) {
			applied, err = tx.CompleteJobs(ctx, []store.Completion{
				{Lease: store.Lease{JobID: "J1", Token: "stale"}, Outcome: store.OutcomeFinished},
				{Lease: store.Lease{JobID: "J2", Token: r.Jobs[1].LeaseToken}, Outcome: store.OutcomeRetry, RunAt: 500, Attempt: 1,
					Error: json.RawMessage(`{"message":"boom"}`)},
			}, 30)
			return
		})
		if err != nil || fmt.Sprint(applied) != "[false true]" {
			t.Fatalf("applied=%v err=%v", applied, err)
		}
		j2, _ := db.GetJob(ctx, "J2")
		if j2.Queue != store.QueueScheduled || j2.RunAt != 500 || j2.Attempt != 1 || j2.Status != store.StatusRunning || len(j2.Error) == 0 {
			t.Fatalf("retry not scheduled: %+v", j2)
		}
		if n, err := db.Promote(ctx, 499); err != nil || n != 0 {
			t.Fatalf("promoted early: %d %v", n, err)
		}
		if n, err := db.NextRunAt(ctx); err != nil || n != 500 {
			t.Fatalf("next run at %d %v, want 500 (J1's lease ends at 1000)", n, err)
		}
		if n, err := db.Promote(ctx, 500); err != nil || n != 1 {
			t.Fatalf("promote: %d %v", n, err)
		}
		j1, _ := db.GetJob(ctx, "J1")
		if j1.Queue != store.QueueLeased {
			t.Fatalf("stale completion changed J1: %+v", j1)
		}
		// J1's lease expires: it becomes ready again with the attempt counted.
		if n, err := db.Promote(ctx, 1001); err != nil || n != 1 {
			t.Fatalf("expire lease: %d %v", n, err)
		}
		j1, _ = db.GetJob(ctx, "J1")
		if j1.Queue != store.QueueReady || j1.Attempt != 1 || j1.LeaseToken != "" {
			t.Fatalf("expired lease not recovered: %+v", j1)
		}
		lost, _, err := db.Heartbeat(ctx, []store.Lease{{JobID: "J1", Token: r.Jobs[0].LeaseToken}}, 2000)
		if err != nil || len(lost) != 1 {
			t.Fatalf("old lease still alive after expiry: lost=%v err=%v", lost, err)
		}
	})
}

func TestHeartbeatAndCancel(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		insert(t, db, newJob("J1", "f", "p"), newJob("J2", "f", "p"), newJob("J3", "f", "p"))
		r := claim(t, db, 2, "")
		var cancelled *store.Job
		err := db.InTx(ctx, func(tx store.Tx) (err error) {
			if _, err = tx.CancelJob(ctx, r.Jobs[0].ID, 50); err != nil {
				return err
			}
			cancelled, err = tx.CancelJob(ctx, "J3", 50)
			return err
		})
		if err != nil || cancelled.Status != store.StatusCancelled || cancelled.EndedAt != 50 {
			t.Fatalf("cancel waiting job: %+v %v", cancelled, err)
		}
		leases := []store.Lease{{JobID: r.Jobs[0].ID, Token: r.Jobs[0].LeaseToken}, {JobID: r.Jobs[1].ID, Token: "gone"}}
		lost, cancel, err := db.Heartbeat(ctx, leases, 5000)
		if err != nil || fmt.Sprint(lost) != "["+r.Jobs[1].ID+"]" || fmt.Sprint(cancel) != "["+r.Jobs[0].ID+"]" {
			t.Fatalf("heartbeat lost=%v cancel=%v err=%v", lost, cancel, err)
		}
		j, _ := db.GetJob(ctx, r.Jobs[0].ID)
		if j.LeaseUntil != 5000 || !j.CancelRequested {
			t.Fatalf("heartbeat did not extend: %+v", j)
		}
	})
}

func TestStepsAndWaits(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		insert(t, db, newJob("J1", "f", "p"))
		j := claim(t, db, 1, "").Jobs[0]
		l := store.Lease{JobID: j.ID, Token: j.LeaseToken}
		if err := db.SaveStep(ctx, l, &store.Step{ID: "s1", Name: "fetch", Kind: "run", Status: store.StepDone,
			Output: json.RawMessage(`{"v":1}`), Attempts: 1, StartedAt: 11, EndedAt: 12}, 0, nil); err != nil {
			t.Fatal(err)
		}
		if err := db.SaveStep(ctx, store.Lease{JobID: j.ID, Token: "x"}, &store.Step{ID: "s2", Kind: "run", Status: store.StepDone, StartedAt: 13}, 0, nil); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("unfenced step write: %v", err)
		}
		w := &store.Wait{JobID: j.ID, StepID: "w1", EventName: "app/approved", Expr: "async.data.ok", ExpiresAt: 900}
		for i := 0; i < 2; i++ { // saving a waiting step twice stores one wait
			if err := db.SaveStep(ctx, l, &store.Step{ID: "w1", Name: "approval", Kind: "waitForEvent", Status: store.StepWaiting, StartedAt: 14, WakeAt: 900}, 0, w); err != nil {
				t.Fatal(err)
			}
		}
		err := db.InTx(ctx, func(tx store.Tx) error {
			_, err := tx.CompleteJobs(ctx, []store.Completion{{Lease: l, Outcome: store.OutcomeSuspend, RunAt: 900, Step: "w1"}}, 15)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.ReportProgress(ctx, l, 0.5, "half", 16); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("progress after suspend: %v", err)
		}
		err = db.InTx(ctx, func(tx store.Tx) error {
			ws, err := tx.WaitsFor(ctx, []string{"app/approved", "other"})
			if err != nil || len(ws) != 1 || string(ws[0].Trigger) == "" || ws[0].Expr != "async.data.ok" {
				return fmt.Errorf("waits %+v %v", ws, err)
			}
			ok, err := tx.ResolveWait(ctx, ws[0], json.RawMessage(`{"name":"app/approved"}`), 20)
			if err != nil || !ok {
				return fmt.Errorf("resolve: %v %v", ok, err)
			}
			ok, err = tx.ResolveWait(ctx, ws[0], json.RawMessage(`{}`), 21)
			if err != nil || ok {
				return fmt.Errorf("resolved twice: %v %v", ok, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		steps, err := db.Steps(ctx, j.ID)
		if err != nil || len(steps) != 2 || steps[1].Status != store.StepDone || string(steps[0].Output) == "" {
			t.Fatalf("steps %+v %v", steps, err)
		}
		j2, _ := db.GetJob(ctx, j.ID)
		if j2.Queue != store.QueueReady || j2.RunAt != 20 {
			t.Fatalf("resolved wait did not wake the job: %+v", j2)
		}
		j3 := claim(t, db, 1, "").Jobs[0]
		if err := db.ReportProgress(ctx, store.Lease{JobID: j3.ID, Token: j3.LeaseToken}, 0.5, "half", 30); err != nil {
			t.Fatal(err)
		}
		finish(t, db, j3)
		j4, _ := db.GetJob(ctx, j.ID)
		if j4.Status != store.StatusFinished || j4.Progress != 1 || j4.ProgressMessage != "half" || string(j4.Output) != `"done"` || j4.EndedAt != 20 {
			t.Fatalf("finished job: %+v", j4)
		}
	})
}

func TestListJobsFiltersAndCursor(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		var jobs []*store.Job
		for i := 0; i < 5; i++ {
			j := newJob(fmt.Sprintf("J%d", i), "f", "p")
			if i%2 == 0 {
				j.Owner = "alice"
			}
			jobs = append(jobs, j)
		}
		jobs = append(jobs, newJob("K0", "g", "p"))
		insert(t, db, jobs...)
		mine, err := db.ListJobs(ctx, store.JobFilter{Owner: "alice", Limit: 2})
		if err != nil || fmt.Sprint(ids(mine)) != "[J4 J2]" {
			t.Fatalf("page 1: %v %v", ids(mine), err)
		}
		next, err := db.ListJobs(ctx, store.JobFilter{Owner: "alice", Limit: 2, Before: "J2"})
		if err != nil || fmt.Sprint(ids(next)) != "[J0]" {
			t.Fatalf("page 2: %v %v", ids(next), err)
		}
		sys, _ := db.ListJobs(ctx, store.JobFilter{OwnerSet: true})
		if fmt.Sprint(ids(sys)) != "[K0 J3 J1]" {
			t.Fatalf("system jobs: %v", ids(sys))
		}
		g, _ := db.ListJobs(ctx, store.JobFilter{FunctionID: "g", Status: store.StatusWaiting})
		if fmt.Sprint(ids(g)) != "[K0]" {
			t.Fatalf("by function: %v", ids(g))
		}
		counts, err := db.CountByStatus(ctx)
		if err != nil || counts[store.StatusWaiting] != 6 {
			t.Fatalf("counts %v %v", counts, err)
		}
	})
}

func TestLeaderAndFunctions(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		for _, c := range []struct {
			holder string
			now    int64
			want   bool
		}{{"a", 1, true}, {"b", 2, false}, {"a", 3, true}, {"b", 200, true}, {"a", 201, false}} {
			got, err := db.AcquireLeader(ctx, "maint", c.holder, c.now, c.now+100)
			if err != nil || got != c.want {
				t.Fatalf("%s at %d: leader=%v err=%v, want %v", c.holder, c.now, got, err, c.want)
			}
		}
		fns := []*store.Function{{ID: "app-hello", Name: "hello", App: "app", Config: json.RawMessage(`{"retries":3}`)}}
		if err := db.UpsertFunctions(ctx, fns, 5); err != nil {
			t.Fatal(err)
		}
		fns[0].Name = "hello2"
		if err := db.UpsertFunctions(ctx, fns, 6); err != nil {
			t.Fatal(err)
		}
		got, err := db.Functions(ctx)
		if err != nil || len(got) != 1 || got[0].Name != "hello2" || got[0].UpdatedAt != 6 {
			t.Fatalf("functions %+v %v", got, err)
		}
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSuspendAfterEarlyResolveIsReady(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		insert(t, db, newJob("J1", "f", "p"))
		j := claim(t, db, 1, "").Jobs[0]
		l := store.Lease{JobID: j.ID, Token: j.LeaseToken}
		if err := db.SaveStep(ctx, l, &store.Step{ID: "inv", Kind: "invoke", Status: store.StepWaiting, StartedAt: 11}, 0, nil); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(ctx, func(tx store.Tx) error {
			// The child finishes before the parent has suspended.
			if ok, err := tx.ResolveStep(ctx, j.ID, "inv", json.RawMessage(`1`), nil, 12); err != nil || !ok {
				return fmt.Errorf("resolve: %v %v", ok, err)
			}
			_, err := tx.CompleteJobs(ctx, []store.Completion{{Lease: l, Outcome: store.OutcomeSuspend, RunAt: 99999, Step: "inv"}}, 13)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if j2, _ := db.GetJob(ctx, j.ID); j2.Queue != store.QueueReady {
			t.Fatalf("job parked although its step was resolved: %+v", j2)
		}
	})
}

func TestClaimOnlyRunnableFunctions(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		var jobs []*store.Job
		for i := 0; i < 70; i++ { // more partitions of "other" than one page holds
			jobs = append(jobs, newJob(fmt.Sprintf("O%03d", i), "other", fmt.Sprintf("other%s%03d", store.PartSep, i)))
		}
		jobs = append(jobs, newJob("M1", "mine", "mine"+store.PartSep+"k"))
		insert(t, db, jobs...)
		r, err := db.Claim(ctx, store.ClaimParams{Worker: "w", N: 10, Now: 10, LeaseUntil: 1000,
			Runnable: func(fn string) bool { return fn == "mine" }})
		if err != nil || len(r.Jobs) != 1 || r.Jobs[0].ID != "M1" {
			t.Fatalf("claimed %v (%v); want only M1", ids(r.Jobs), err)
		}
		r, err = db.Claim(ctx, store.ClaimParams{Worker: "w", N: 10, Now: 10, LeaseUntil: 1000,
			Runnable: func(fn string) bool { return fn == "mine" }})
		if err != nil || len(r.Jobs) != 0 {
			t.Fatalf("claimed %v (%v) with nothing runnable left", ids(r.Jobs), err)
		}
	})
}

func TestJobStats(t *testing.T) {
	Each(t, func(t *testing.T, db *sqldb.DB) {
		at := func(j *store.Job, created int64) *store.Job { j.CreatedAt, j.UpdatedAt = created, created; return j }
		insert(t, db, at(newJob("J1", "f", "p"), 100), at(newJob("J2", "f", "p"), 150))
		r, err := db.Claim(ctx, store.ClaimParams{Worker: "w", N: 2, Now: 250, LeaseUntil: 1000})
		if err != nil || len(r.Jobs) != 2 {
			t.Fatalf("claim: %v %v", r.Jobs, err)
		}
		insert(t, db, at(newJob("J0", "f", "q"), 50), at(newJob("J3", "f", "q"), 300), at(newJob("J5", "f", "q"), 320))
		err = db.InTx(ctx, func(tx store.Tx) error {
			lease := func(id string) store.Lease {
				for _, j := range r.Jobs {
					if j.ID == id {
						return store.Lease{JobID: id, Token: j.LeaseToken}
					}
				}
				return store.Lease{}
			}
			if _, err := tx.CompleteJobs(ctx, []store.Completion{{Lease: lease("J1"), Outcome: store.OutcomeFinished}}, 400); err != nil {
				return err
			}
			if _, err := tx.CompleteJobs(ctx, []store.Completion{{Lease: lease("J2"), Outcome: store.OutcomeFailed}}, 420); err != nil {
				return err
			}
			_, err := tx.CancelJob(ctx, "J5", 350)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		st, err := db.JobStats(ctx, store.StatsParams{Since: 100, Until: 499, Bucket: 100})
		if err != nil {
			t.Fatal(err)
		}
		want := []store.StatsBucket{
			{Created: 2},
			{Started: 2, LatencySum: 250, LatencyMax: 150},
			{Created: 2, Ended: 1, Dropped: 1},
			{Ended: 2, Failed: 1},
		}
		if fmt.Sprint(st.Buckets) != fmt.Sprint(want) {
			t.Fatalf("stats %+v, want %+v", st.Buckets, want)
		}
		st, err = db.JobStats(ctx, store.StatsParams{Since: 100, Until: 499, Bucket: 100, MinID: "J2"})
		if err != nil || st.Buckets[0].Created != 1 {
			t.Fatalf("MinID J2: %+v %v", st, err)
		}
		if _, err := db.JobStats(ctx, store.StatsParams{Since: 0, Until: 1e12, Bucket: 1}); err == nil {
			t.Fatal("a million buckets: no error")
		}
		since, err := db.ListJobs(ctx, store.JobFilter{CreatedAfter: 150})
		if err != nil || fmt.Sprint(ids(since)) != "[J5 J3]" {
			t.Fatalf("created after 150: %v %v", ids(since), err)
		}
	})
}
