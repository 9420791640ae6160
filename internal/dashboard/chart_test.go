package dashboard

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/errand-dev/errand/internal/store"
)

func TestSeries(t *testing.T) {
	// Minute 0: 5 jobs arrive, 2 start (waits 10 ms and 30 ms). Minute 1:
	// 1 arrives, 3 start, 1 is cancelled unstarted, 4 end. Minute 2:
	// nothing. 0 wait now.
	st := &store.JobStats{Buckets: []store.StatsBucket{
		{Created: 5, Started: 2, LatencySum: 40000, LatencyMax: 30000},
		{Created: 1, Started: 3, Dropped: 1, Ended: 4, LatencySum: 3000},
		{},
	}}
	depth, thru, lat := series(st, 0, time.Minute)
	if fmt.Sprint(depth) != "[3 0 0]" || fmt.Sprint(thru) != "[0 4 0]" || fmt.Sprint(lat) != "[20 1 0]" {
		t.Fatalf("depth %v thru %v lat %v", depth, thru, lat)
	}
	// Five-minute buckets: ended per minute.
	_, thru, _ = series(&store.JobStats{Buckets: []store.StatsBucket{{Ended: 10}}}, 0, 5*time.Minute)
	if thru[0] != 2 {
		t.Fatalf("per minute: %v", thru)
	}
}

func TestChartDrawsEveryPoint(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	c := newChart("x", "X", "jobs", start, time.Minute, []float64{0, 2, 4})
	if c.Points != "0.0,160.0 300.0,80.0 600.0,0.0" || c.Max != "4" || len(c.Rows) != 3 || c.Rows[2].Time != "10:02" {
		t.Fatalf("%+v", c)
	}
	flat := newChart("x", "X", "jobs", start, time.Minute, []float64{0})
	if !strings.HasPrefix(flat.Points, "0.0,160.0") || flat.Max != "1" {
		t.Fatalf("%+v", flat)
	}
}
