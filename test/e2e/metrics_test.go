package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHistogramQuantile(t *testing.T) {
	// 10 observations: 4 <= 0.1, 4 in (0.1, 0.2], 2 in (0.2, 0.4].
	h := &Histogram{Bounds: []float64{0.1, 0.2, 0.4, math.Inf(1)}, Counts: []uint64{4, 8, 10, 10}, Count: 10, Sum: 1.5}
	for _, tc := range []struct{ q, want float64 }{
		{0.2, 0.05},  // rank 2 of 4 in [0, 0.1]
		{0.5, 0.125}, // rank 5: 1 of 4 in (0.1, 0.2]
		{0.9, 0.3},   // rank 9: 1 of 2 in (0.2, 0.4]
		{1, 0.4},
	} {
		if got := h.Quantile(tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// A rank in the +Inf bucket answers the highest finite bound.
	inf := &Histogram{Bounds: []float64{1, math.Inf(1)}, Counts: []uint64{1, 3}, Count: 3}
	if got := inf.Quantile(0.99); got != 1 {
		t.Errorf("Quantile in +Inf bucket = %v, want 1", got)
	}
	if got := (&Histogram{Bounds: []float64{math.Inf(1)}, Counts: []uint64{0}}).Quantile(0.5); !math.IsNaN(got) {
		t.Errorf("Quantile of nothing = %v, want NaN", got)
	}
}

func TestHistogramSince(t *testing.T) {
	before := &Histogram{Bounds: []float64{1, math.Inf(1)}, Counts: []uint64{2, 3}, Count: 3, Sum: 2}
	after := &Histogram{Bounds: []float64{1, math.Inf(1)}, Counts: []uint64{5, 7}, Count: 7, Sum: 9}
	d, err := after.Since(before)
	if err != nil {
		t.Fatal(err)
	}
	if d.Count != 4 || d.Sum != 7 || d.Counts[0] != 3 || d.Counts[1] != 4 {
		t.Errorf("Since = %+v", d)
	}
	// A restarted process has fewer observations than before: an error, not a wrap-around.
	if _, err := before.Since(after); err == nil {
		t.Error("Since of a smaller histogram: no error")
	}
	if _, err := after.Since(&Histogram{Bounds: []float64{2, math.Inf(1)}, Counts: []uint64{1, 1}, Count: 1}); err == nil {
		t.Error("Since across different buckets: no error")
	}
}

func TestScrapeHistogram(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `# HELP %[1]s x
# TYPE %[1]s histogram
%[1]s_bucket{le="0.5"} 1
%[1]s_bucket{le="1"} 3
%[1]s_bucket{le="+Inf"} 4
%[1]s_sum 3.5
%[1]s_count 4
`, DecisionMetric)
	}))
	defer srv.Close()
	h, err := ScrapeHistogram(context.Background(), srv.URL, DecisionMetric)
	if err != nil {
		t.Fatal(err)
	}
	if h.Count != 4 || h.Sum != 3.5 || len(h.Bounds) != 3 || h.Counts[1] != 3 || !math.IsInf(h.Bounds[2], 1) {
		t.Errorf("scraped %+v", h)
	}
	if _, err := ScrapeHistogram(context.Background(), srv.URL, "no_such_metric"); err == nil {
		t.Error("missing metric: no error")
	}
}

func TestScrapeCounter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `# HELP %[1]s x
# TYPE %[1]s counter
%[1]s{provisioner="default"} 3
%[1]s{provisioner=""} 2
# HELP %[2]s x
# TYPE %[2]s histogram
%[2]s_bucket{le="+Inf"} 1
%[2]s_sum 1
%[2]s_count 1
`, DisagreementMetric, DecisionMetric)
	}))
	defer srv.Close()
	ctx := context.Background()
	if got, err := ScrapeCounter(ctx, srv.URL, DisagreementMetric); err != nil || got != 5 {
		t.Errorf("ScrapeCounter = %v, %v; want the sum over the provisioners, 5", got, err)
	}
	// A counter vector no series of which was incremented yet is not exposed: zero.
	if got, err := ScrapeCounter(ctx, srv.URL, "no_such_metric"); err != nil || got != 0 {
		t.Errorf("missing counter = %v, %v; want 0", got, err)
	}
	if _, err := ScrapeCounter(ctx, srv.URL, DecisionMetric); err == nil {
		t.Error("a histogram read as a counter: no error")
	}
}

// Every controller replica's metrics URL is found (the leader's is not known from the logs),
// and ScrapeControllers sums the replicas that answer: the standby's empty histogram adds
// nothing, the leader's observations are all counted, a replica whose port is gone is left out.
func TestControllerMetricsOfEveryReplica(t *testing.T) {
	dir := t.TempDir()
	if _, err := ControllerMetricsURLs(dir); err == nil {
		t.Error("no log: no error")
	}
	if err := os.MkdirAll(filepath.Join(dir, "pods"), 0o755); err != nil {
		t.Fatal(err)
	}
	serve := func(count int, disagreements int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "# TYPE %[1]s histogram\n%[1]s_bucket{le=\"1\"} %[2]d\n%[1]s_bucket{le=\"+Inf\"} %[2]d\n%[1]s_sum %[2]d\n%[1]s_count %[2]d\n",
				DecisionMetric, count)
			if disagreements > 0 {
				fmt.Fprintf(w, "# TYPE %[1]s counter\n%[1]s{provisioner=\"default\"} %[2]d\n", DisagreementMetric, disagreements)
			}
		}))
	}
	standby, leader, gone := serve(0, 0), serve(7, 2), serve(1, 1)
	defer standby.Close()
	defer leader.Close()
	gone.Close()
	for name, srv := range map[string]*httptest.Server{"a": standby, "b": leader, "c": gone} {
		log := `{"level":"info","msg":"starting controller"}
{"level":"info","logger":"controller-runtime.metrics","msg":"Serving metrics server","bindAddress":"` + strings.TrimPrefix(srv.URL, "http://") + `","secure":false}
`
		if err := os.WriteFile(filepath.Join(dir, "pods", "karpenter_karpenter-"+name+".log"), []byte(log), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	urls, err := ControllerMetricsURLs(dir)
	if err != nil || len(urls) != 3 || urls[0] != standby.URL+"/metrics" || urls[1] != leader.URL+"/metrics" {
		t.Fatalf("ControllerMetricsURLs = %q, %v; want the 3 replicas' URLs in log order", urls, err)
	}
	m, err := ScrapeControllers(context.Background(), urls, DecisionMetric, DisagreementMetric)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.URLs) != 2 || m.Histogram.Count != 7 || m.Histogram.Counts[0] != 7 || m.Counter != 2 {
		t.Errorf("ScrapeControllers = %+v (histogram %+v); want the 2 live replicas summed: 7 decisions, 2 disagreements", m, m.Histogram)
	}
	if _, err := ScrapeControllers(context.Background(), urls[2:], DecisionMetric, DisagreementMetric); err == nil {
		t.Error("no replica answered: no error")
	}
}
