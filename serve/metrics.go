package serve

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the service's Prometheus metrics.
type metrics struct {
	requests *prometheus.HistogramVec
	embed    prometheus.Histogram
	search   prometheus.Histogram
	results  *prometheus.CounterVec
	checkins *prometheus.CounterVec
	handler  http.Handler
}

// gallerySizes reports each gallery's subject count at scrape time.
type gallerySizes struct {
	x    *index
	desc *prometheus.Desc
}

func (g gallerySizes) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g gallerySizes) Collect(ch chan<- prometheus.Metric) {
	for name, n := range g.x.sizes() {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n), name)
	}
}

func newMetrics(reg prometheus.Registerer, gat prometheus.Gatherer, x *index) (*metrics, error) {
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg, gat = r, r
	}
	if gat == nil {
		gat = prometheus.DefaultGatherer
	}
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "siamese_http_request_duration_seconds", Help: "HTTP request latency by route and status.", Buckets: buckets}, []string{"route", "code"}),
		embed:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "siamese_embed_duration_seconds", Help: "Decoding (detection included) and embedding one upload.", Buckets: buckets}),
		search:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "siamese_search_duration_seconds", Help: "Searching a gallery for one probe.", Buckets: []float64{1e-5, 5e-5, 1e-4, 5e-4, .001, .005, .01, .05, .1}}),
		results:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "siamese_identify_results_total", Help: "Probes identified, by result: matched or unknown."}, []string{"result"}),
		checkins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "siamese_checkins_total", Help: "Attendance check-ins by outcome: recorded, repeat (already in today), unknown (a stranger)."}, []string{"outcome"}),
	}
	sizes := gallerySizes{x, prometheus.NewDesc("siamese_gallery_subjects", "Subjects enrolled in each gallery (this replica's index).", []string{"gallery"}, nil)}
	for _, c := range []prometheus.Collector{m.requests, m.embed, m.search, m.results, m.checkins, sizes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.handler = promhttp.HandlerFor(gat, promhttp.HandlerOpts{})
	return m, nil
}

func (m *metrics) observeRequest(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Observe(d.Seconds())
}
