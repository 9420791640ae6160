// Package metrics exposes errand's Prometheus metrics: jobs started and
// ended, enqueue→start latency, run duration, events received, and the
// number of jobs per status read from the store at scrape time.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/errand-dev/errand/internal/store"
)

// Metrics holds errand's collectors in their own registry.
type Metrics struct {
	reg      *prometheus.Registry
	started  prometheus.Counter
	ended    *prometheus.CounterVec
	latency  prometheus.Histogram
	duration prometheus.Histogram
	events   prometheus.Counter
}

// New registers errand's metrics; st is read for the queue depth.
func New(st store.Store) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.started = prometheus.NewCounter(prometheus.CounterOpts{Name: "errand_jobs_started_total", Help: "Jobs started for the first time."})
	m.ended = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "errand_jobs_ended_total", Help: "Jobs that ended, by final status."}, []string{"status"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "errand_job_start_latency_seconds",
		Help: "Time from a job's creation to its first start.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)})
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "errand_job_duration_seconds",
		Help: "Time from a job's first start to its end.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 20)})
	m.events = prometheus.NewCounter(prometheus.CounterOpts{Name: "errand_events_received_total", Help: "Events accepted."})
	m.reg.MustRegister(m.started, m.ended, m.latency, m.duration, m.events, &depth{st: st},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// JobStarted counts a first start and its latency.
func (m *Metrics) JobStarted(latency time.Duration) {
	m.started.Inc()
	m.latency.Observe(latency.Seconds())
}

// JobEnded counts an end.
func (m *Metrics) JobEnded(status store.Status, d time.Duration) {
	m.ended.WithLabelValues(string(status)).Inc()
	m.duration.Observe(d.Seconds())
}

// EventsReceived counts accepted events.
func (m *Metrics) EventsReceived(n int) { m.events.Add(float64(n)) }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// depth reports jobs per status at scrape time.
type depth struct{ st store.Store }

var depthDesc = prometheus.NewDesc("errand_jobs", "Jobs per status (queue depth is status=\"waiting\").", []string{"status"}, nil)

func (d *depth) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc }

func (d *depth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := d.st.CountByStatus(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
		return
	}
	for _, s := range []store.Status{store.StatusWaiting, store.StatusRunning, store.StatusFinished, store.StatusFailed, store.StatusCancelled} {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}
