package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// DecisionMetric is the controller's histogram of decision latency: seconds from a provisioning
// batch closing to its last launch call returning.
const DecisionMetric = "karpenter_provisioner_decision_duration_seconds"

// ControllerMetricsURLs returns the /metrics URLs of the controller pods that ran in the
// sandbox at sandboxDir, one per pod log (sorted by log name), each read from the "Serving
// metrics server" line of the log (the sandbox gives every pod a free loopback port). Every
// replica serves metrics but only the leader provisions, so callers sum over them
// (ScrapeControllers). Errors: no controller log, a log that cannot be read, or no such line in
// any of them.
func ControllerMetricsURLs(sandboxDir string) ([]string, error) {
	logs, _ := filepath.Glob(filepath.Join(sandboxDir, "pods", "*karpenter*.log"))
	var urls []string
	for _, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			if !strings.Contains(sc.Text(), `"Serving metrics server"`) {
				continue
			}
			var rec struct {
				BindAddress string `json:"bindAddress"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.BindAddress != "" {
				urls = append(urls, "http://"+rec.BindAddress+"/metrics")
				break
			}
		}
		_ = f.Close()
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("no \"Serving metrics server\" line in the controller's logs %v", logs)
	}
	return urls, nil
}

// ControllerMetrics is what ScrapeControllers read: the histogram and the counter summed over
// the controller replicas that answered.
type ControllerMetrics struct {
	URLs      []string // the replicas scraped
	Histogram *Histogram
	Counter   float64
}

// ScrapeControllers scrapes histogram hist and counter ctr (ScrapeHistogram, ScrapeCounter)
// from every URL of urls and sums them over the replicas. Replicas that do not answer (a pod of
// an earlier run whose port is gone) are left out, unless all fail. Errors: no replica answered
// (the last error), or the replicas' histograms have different buckets.
func ScrapeControllers(ctx context.Context, urls []string, hist, ctr string) (*ControllerMetrics, error) {
	out := &ControllerMetrics{}
	var lastErr error
	for _, url := range urls {
		families, err := scrape(ctx, url) // one request per replica for both metrics
		var h *Histogram
		var c float64
		if err == nil {
			h, err = histogramOf(families, url, hist)
		}
		if err == nil {
			c, err = counterOf(families, url, ctr)
		}
		if err != nil {
			lastErr = err
			continue
		}
		if out.Histogram == nil {
			out.Histogram = h
		} else if out.Histogram, err = out.Histogram.Add(h); err != nil {
			return nil, err
		}
		out.Counter += c
		out.URLs = append(out.URLs, url)
	}
	if len(out.URLs) == 0 {
		return nil, lastErr
	}
	return out, nil
}

// Histogram is one Prometheus histogram as scraped: cumulative counts per upper bound
// (ascending, the +Inf bucket last), the total count and the sum of the observations.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// DisagreementMetric is the controller's counter of scheduling disagreements: pods
// kube-scheduler did not bind to the node planned for them, one series per provisioner.
const DisagreementMetric = "karpenter_provisioner_scheduling_disagreements_total"

// scrape reads every metric family from the Prometheus text endpoint at url. Errors: the
// request fails or answers non-200, or the body does not parse.
func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", url, err)
	}
	return families, nil
}

// ScrapeCounter reads the counter name (without labels) from the Prometheus text endpoint at
// url and returns the sum of its series over all label values; 0 when the endpoint does not
// expose it (a counter vector is exposed only once a series was incremented). Errors: the
// request fails or answers non-200, the body does not parse, or name is not a counter.
func ScrapeCounter(ctx context.Context, url, name string) (float64, error) {
	families, err := scrape(ctx, url)
	if err != nil {
		return 0, err
	}
	return counterOf(families, url, name)
}

// counterOf is ScrapeCounter's reading of the families scraped from url.
func counterOf(families map[string]*dto.MetricFamily, url, name string) (float64, error) {
	fam, ok := families[name]
	if !ok {
		return 0, nil
	}
	if fam.GetType() != dto.MetricType_COUNTER {
		return 0, fmt.Errorf("%s: %s is a %s, not a counter", url, name, fam.GetType())
	}
	var sum float64
	for _, m := range fam.GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	return sum, nil
}

// ScrapeHistogram reads the histogram name (without labels) from the Prometheus text endpoint
// at url. Errors: the request fails or answers non-200, the body does not parse, or the metric
// is missing or not a histogram.
func ScrapeHistogram(ctx context.Context, url, name string) (*Histogram, error) {
	families, err := scrape(ctx, url)
	if err != nil {
		return nil, err
	}
	return histogramOf(families, url, name)
}

// histogramOf is ScrapeHistogram's reading of the families scraped from url.
func histogramOf(families map[string]*dto.MetricFamily, url, name string) (*Histogram, error) {
	fam, ok := families[name]
	if !ok || len(fam.GetMetric()) == 0 || fam.GetMetric()[0].GetHistogram() == nil {
		return nil, fmt.Errorf("%s: no histogram %s", url, name)
	}
	h := fam.GetMetric()[0].GetHistogram()
	out := &Histogram{Count: h.GetSampleCount(), Sum: h.GetSampleSum()}
	for _, b := range h.GetBucket() {
		out.Bounds = append(out.Bounds, b.GetUpperBound())
		out.Counts = append(out.Counts, b.GetCumulativeCount())
	}
	if len(out.Bounds) == 0 || !math.IsInf(out.Bounds[len(out.Bounds)-1], 1) {
		out.Bounds = append(out.Bounds, math.Inf(1))
		out.Counts = append(out.Counts, out.Count)
	}
	return out, nil
}

// Add returns the observations of h and o together (bucket by bucket), as Prometheus' sum()
// of two series. Errors: the two have different buckets.
func (h *Histogram) Add(o *Histogram) (*Histogram, error) {
	if len(o.Bounds) != len(h.Bounds) {
		return nil, fmt.Errorf("histograms do not match (buckets %d and %d)", len(h.Bounds), len(o.Bounds))
	}
	out := &Histogram{Bounds: h.Bounds, Count: h.Count + o.Count, Sum: h.Sum + o.Sum}
	for i := range h.Counts {
		if h.Bounds[i] != o.Bounds[i] {
			return nil, fmt.Errorf("histograms do not match at bucket %d", i)
		}
		out.Counts = append(out.Counts, h.Counts[i]+o.Counts[i])
	}
	return out, nil
}

// Since returns the observations made after before was scraped (h minus before, bucket by
// bucket). Errors: the two have different buckets, or before has more observations (the
// process restarted in between).
func (h *Histogram) Since(before *Histogram) (*Histogram, error) {
	if before == nil {
		return h, nil
	}
	if len(before.Bounds) != len(h.Bounds) || before.Count > h.Count {
		return nil, fmt.Errorf("histograms do not match (buckets %d and %d, counts %d and %d): did the controller restart?",
			len(before.Bounds), len(h.Bounds), before.Count, h.Count)
	}
	out := &Histogram{Bounds: h.Bounds, Count: h.Count - before.Count, Sum: h.Sum - before.Sum}
	for i := range h.Counts {
		if before.Bounds[i] != h.Bounds[i] || before.Counts[i] > h.Counts[i] {
			return nil, fmt.Errorf("histograms do not match at bucket %d", i)
		}
		out.Counts = append(out.Counts, h.Counts[i]-before.Counts[i])
	}
	return out, nil
}

// Quantile estimates the q-quantile (0 <= q <= 1) of the observations the way Prometheus'
// histogram_quantile does (prometheus.io/docs/prometheus/latest/querying/functions/): find the
// bucket holding rank q*Count and interpolate linearly between its lower and upper bound (the
// first bucket's lower bound is 0; a rank in the +Inf bucket answers the highest finite
// bound). NaN when there are no observations.
func (h *Histogram) Quantile(q float64) float64 {
	if h == nil || h.Count == 0 {
		return math.NaN()
	}
	rank := q * float64(h.Count)
	i := sort.Search(len(h.Counts), func(i int) bool { return float64(h.Counts[i]) >= rank })
	if i >= len(h.Counts) {
		i = len(h.Counts) - 1
	}
	if math.IsInf(h.Bounds[i], 1) {
		if i == 0 {
			return math.NaN()
		}
		return h.Bounds[i-1]
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = h.Bounds[i-1], float64(h.Counts[i-1])
	}
	inBucket := float64(h.Counts[i]) - below
	if inBucket <= 0 {
		return h.Bounds[i]
	}
	return lower + (h.Bounds[i]-lower)*(rank-below)/inBucket
}
