package dashboard

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/errand-dev/errand/internal/store"
	"github.com/oklog/ulid/v2"
)

// windows are the overview's time ranges and their bucket widths.
var windows = []struct {
	Value  string
	Span   time.Duration
	Bucket time.Duration
}{
	{"1h", time.Hour, time.Minute},
	{"6h", 6 * time.Hour, 5 * time.Minute},
	{"24h", 24 * time.Hour, 15 * time.Minute},
}

// chart is one time series drawn as an SVG line, with its numbers in a
// table for screen readers and for reading exact values.
type chart struct {
	ID, Title, Unit string
	Points          string // the polyline's points, in the 600×160 view box
	Max             string // the top of the y axis
	Rows            []chartRow
}

type chartRow struct{ Time, Value string }

const chartW, chartH = 600.0, 160.0

func newChart(id, title, unit string, start time.Time, bucket time.Duration, values []float64) chart {
	c := chart{ID: id, Title: title, Unit: unit}
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	if top == 0 {
		top = 1
	}
	c.Max = trimFloat(top)
	var pts []string
	for i, v := range values {
		x := chartW * float64(i) / float64(max(len(values)-1, 1))
		y := chartH - chartH*v/top
		pts = append(pts, strconv.FormatFloat(x, 'f', 1, 64)+","+strconv.FormatFloat(y, 'f', 1, 64))
		c.Rows = append(c.Rows, chartRow{start.Add(time.Duration(i) * bucket).UTC().Format("15:04"), trimFloat(v)})
	}
	c.Points = strings.Join(pts, " ")
	return c
}

func trimFloat(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// overview is the admin overview's data.
type overview struct {
	Counts  []statusCount
	Window  string
	Windows []string
	Charts  []chart
}

type statusCount struct {
	Status string
	N      int64
}

func (d *Dashboard) overviewPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	win := windows[0]
	for _, x := range windows {
		if x.Value == r.URL.Query().Get("window") {
			win = x
		}
	}
	now := d.cfg.Now()
	start := now.Add(-win.Span).Truncate(win.Bucket)
	minID := ulid.ULID{}
	// Jobs created up to one window's span before it are read too, for
	// the ones that started or ended inside it after waiting that long.
	_ = minID.SetTime(ulid.Timestamp(start.Add(-win.Span)))
	st, err := d.cfg.Store.JobStats(r.Context(), store.StatsParams{Since: start.UnixMicro(), Until: now.UnixMicro(),
		Bucket: win.Bucket.Microseconds(), MinID: minID.String()})
	if err != nil {
		d.internal(w, r, v, "statistics", err)
		return
	}
	counts, err := d.cfg.Store.CountByStatus(r.Context())
	if err != nil {
		d.internal(w, r, v, "statistics", err)
		return
	}
	data := overview{Window: win.Value}
	for _, x := range windows {
		data.Windows = append(data.Windows, x.Value)
	}
	for _, s := range allStatuses {
		data.Counts = append(data.Counts, statusCount{string(s), counts[s]})
	}
	depth, thru, lat := series(st, counts[store.StatusWaiting], win.Bucket)
	data.Charts = []chart{
		newChart("depth", "Queue depth", "jobs waiting", start, win.Bucket, depth),
		newChart("throughput", "Throughput", "jobs ended per minute", start, win.Bucket, thru),
		newChart("latency", "Start latency", "ms from creation to start, mean", start, win.Bucket, lat),
	}
	d.render(w, r, v, http.StatusOK, "admin_overview", view{Title: "Overview", Section: "admin", Data: data})
}

// series turns bucketed counts into the three charts' values: the queue
// depth at each bucket's end, jobs ended per minute, and the mean start
// latency in milliseconds. The depth walks back from the waiting count
// now: at the end of bucket i the queue held what it holds now, less what
// arrived after, plus what left after (started, or ended unstarted).
func series(st *store.JobStats, waiting int64, bucket time.Duration) (depth, thru, lat []float64) {
	n := len(st.Buckets)
	depth, thru, lat = make([]float64, n), make([]float64, n), make([]float64, n)
	q := waiting
	for i := n - 1; i >= 0; i-- {
		b := st.Buckets[i]
		depth[i] = float64(q)
		q = max(q+b.Started+b.Dropped-b.Created, 0)
		thru[i] = float64(b.Ended) / bucket.Minutes()
		if b.Started > 0 {
			lat[i] = float64(b.LatencySum) / float64(b.Started) / 1000
		}
	}
	return depth, thru, lat
}
