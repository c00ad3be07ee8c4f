package aws_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
)

// priceDoc is an aws_v1 price list document with one hourly on-demand price.
func priceDoc(instanceType, usd string) string {
	return fmt.Sprintf(`{"product":{"productFamily":"Compute Instance","sku":"SKU%[1]s","attributes":{"instanceType":%[1]q,"operatingSystem":"Linux"}},`+
		`"serviceCode":"AmazonEC2","terms":{"OnDemand":{"SKU%[1]s.JRTCKXETXF":{"priceDimensions":{"SKU%[1]s.JRTCKXETXF.6YS6EN2CT7":`+
		`{"unit":"Hrs","pricePerUnit":{"USD":%[2]q}}},"offerTermCode":"JRTCKXETXF"}}},"version":"1","publicationDate":"2026-01-01T00:00:00Z"}`, instanceType, usd)
}

// fakePriceList answers GetProducts from pages of documents, or with the next queued error.
type fakePriceList struct {
	mu      sync.Mutex
	pages   [][]string
	format  string
	errs    []error // consumed one per call before pages are served
	calls   int
	regions []string // regionCode filter values seen
}

func (f *fakePriceList) GetProducts(_ context.Context, in *pricing.GetProductsInput, _ ...func(*pricing.Options)) (*pricing.GetProductsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	for _, flt := range in.Filters {
		if awssdk.ToString(flt.Field) == "regionCode" {
			f.regions = append(f.regions, awssdk.ToString(flt.Value))
		}
	}
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	i := 0
	if in.NextToken != nil {
		_, _ = fmt.Sscan(*in.NextToken, &i)
	}
	out := &pricing.GetProductsOutput{FormatVersion: awssdk.String("aws_v1")}
	if f.format != "" {
		out.FormatVersion = awssdk.String(f.format)
	}
	if i < len(f.pages) {
		out.PriceList = f.pages[i]
	}
	if i+1 < len(f.pages) {
		out.NextToken = awssdk.String(fmt.Sprint(i + 1))
	}
	return out, nil
}

func (f *fakePriceList) GetAttributeValues(context.Context, *pricing.GetAttributeValuesInput, ...func(*pricing.Options)) (*pricing.GetAttributeValuesOutput, error) {
	return nil, errors.New("not used")
}

func (f *fakePriceList) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func refreshes(result string) float64 {
	return testutil.ToFloat64(metrics.PricingRefreshes.WithLabelValues(result))
}

// The fallback table serves its region; another region has no prices until a refresh.
func TestPricingFallback(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	regions := awscloud.FallbackRegions()
	if len(regions) == 0 {
		t.Fatal("the fallback table holds no region")
	}
	table := awscloud.FallbackOnDemandPrices(regions[0])
	p := awscloud.NewPricingProvider(regions[0], nil, clk, 0)
	if p.Known() != len(table) || len(table) == 0 {
		t.Fatalf("%s: %d prices served, table has %d", regions[0], p.Known(), len(table))
	}
	for name, want := range table {
		if got, ok := p.OnDemandPrice(name); !ok || got != want || got <= 0 {
			t.Errorf("%s: %v (%v), table %v", name, got, ok, want)
		}
	}
	if live, _ := p.Live(); live {
		t.Error("fallback reported as live")
	}
	if err := p.Refresh(context.Background()); err == nil {
		t.Error("refresh without a client succeeded")
	}
	none := awscloud.NewPricingProvider("xx-nowhere-1", nil, clk, 0)
	if _, ok := none.OnDemandPrice("m5.large"); ok || none.Known() != 0 {
		t.Errorf("a region outside the table has %d prices", none.Known())
	}
}

// A successful refresh replaces the table with the live prices of the controller's region.
func TestPricingRefresh(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	api := &fakePriceList{pages: [][]string{
		{priceDoc("m5.large", "0.1070000000"), priceDoc("x9.huge", "12.5")},
		{priceDoc("zero.type", "0.0000000000"), priceDoc("m5.large", "0.1")},
	}}
	p := awscloud.NewPricingProvider("xx-nowhere-1", api, clk, 0)
	before := refreshes("success")
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := refreshes("success") - before; got != 1 {
		t.Errorf("success metric +%v", got)
	}
	if live, at := p.Live(); !live || !at.Equal(clk.Now()) {
		t.Errorf("Live = %v at %v", live, at)
	}
	for name, want := range map[string]float64{"m5.large": 0.107, "x9.huge": 12.5} {
		if got, ok := p.OnDemandPrice(name); !ok || got != want {
			t.Errorf("%s = %v (%v), want %v", name, got, ok, want)
		}
	}
	if _, ok := p.OnDemandPrice("zero.type"); ok {
		t.Error("a product priced 0 is priced")
	}
	if len(api.regions) != 2 || api.regions[0] != "xx-nowhere-1" {
		t.Errorf("regionCode filters %v", api.regions)
	}
	if got := testutil.ToFloat64(metrics.OnDemandPricesKnown.WithLabelValues("live")); got != 2 {
		t.Errorf("live prices gauge %v, want 2", got)
	}
}

// A failing, throttled or garbage-returning Pricing API keeps the prices served so far: the
// fallback table before any success, the last live prices after one.
func TestPricingRefreshFaults(t *testing.T) {
	good := priceDoc("m5.large", "0.2")
	for name, tc := range map[string]struct {
		api    *fakePriceList
		result string
		want   string
	}{
		"api error":      {&fakePriceList{errs: []error{&smithy.GenericAPIError{Code: "InternalErrorException", Message: "boom"}}}, "error", "InternalErrorException"},
		"access denied":  {&fakePriceList{errs: []error{&pricingtypes.AccessDeniedException{Message: awssdk.String("no")}}}, "error", "AccessDenied"},
		"throttled":      {&fakePriceList{errs: []error{&pricingtypes.ThrottlingException{Message: awssdk.String("Rate exceeded")}}}, "throttled", "Throttling"},
		"not json":       {&fakePriceList{pages: [][]string{{good, "<html>"}}}, "invalid", "document 1: not JSON"},
		"no type":        {&fakePriceList{pages: [][]string{{`{"product":{"attributes":{}},"terms":{}}`}}}, "invalid", "no instanceType"},
		"no USD":         {&fakePriceList{pages: [][]string{{strings.Replace(good, `"USD"`, `"EUR"`, 1)}}}, "invalid", "no USD amount"},
		"not a number":   {&fakePriceList{pages: [][]string{{priceDoc("m5.large", "cheap")}}}, "invalid", "is not a USD amount"},
		"negative":       {&fakePriceList{pages: [][]string{{priceDoc("m5.large", "-1")}}}, "invalid", "is not a USD amount"},
		"infinite":       {&fakePriceList{pages: [][]string{{priceDoc("m5.large", "+Inf")}}}, "invalid", "is not a USD amount"},
		"monthly unit":   {&fakePriceList{pages: [][]string{{strings.Replace(good, `"Hrs"`, `"Mo"`, 1)}}}, "invalid", `unit "Mo"`},
		"format version": {&fakePriceList{pages: [][]string{{good}}, format: "aws_v2"}, "invalid", "format version"},
		"nothing listed": {&fakePriceList{pages: [][]string{{}}}, "invalid", "no on-demand Linux price"},
	} {
		t.Run(name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Now())
			region := awscloud.FallbackRegions()[0]
			p := awscloud.NewPricingProvider(region, tc.api, clk, 0)
			fallback, _ := p.OnDemandPrice("m5.large")
			before := refreshes(tc.result)
			err := p.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refresh error %v, want one containing %q", err, tc.want)
			}
			if got := refreshes(tc.result) - before; got != 1 {
				t.Errorf("metric result=%s +%v, want +1", tc.result, got)
			}
			if got, ok := p.OnDemandPrice("m5.large"); !ok || got != fallback {
				t.Errorf("after the failure m5.large = %v (%v), want the fallback %v", got, ok, fallback)
			}
			if live, _ := p.Live(); live {
				t.Error("a failed refresh made the prices live")
			}
		})
	}

	// After a success, a failure keeps the live prices.
	api := &fakePriceList{pages: [][]string{{priceDoc("m5.large", "0.5")}}}
	p := awscloud.NewPricingProvider("xx-nowhere-1", api, clocktesting.NewFakeClock(time.Now()), 0)
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	api.errs = []error{&pricingtypes.ThrottlingException{Message: awssdk.String("Rate exceeded")}}
	if err := p.Refresh(context.Background()); err == nil {
		t.Fatal("throttled refresh succeeded")
	}
	if got, ok := p.OnDemandPrice("m5.large"); !ok || got != 0.5 {
		t.Errorf("live price after a failure %v (%v), want 0.5", got, ok)
	}
}

// Run refreshes at once, retries a failure after PricingRetryInterval (doubling) and refreshes
// again every interval after a success.
func TestPricingRun(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	api := &fakePriceList{
		pages: [][]string{{priceDoc("m5.large", "0.3")}},
		errs:  []error{errors.New("connection refused"), errors.New("connection refused")},
	}
	p := awscloud.NewPricingProvider("xx-nowhere-1", api, clk, 6*time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor := func(what string, calls int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for api.callCount() != calls || !clk.HasWaiters() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%d calls)", what, api.callCount())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the first refresh", 1)
	clk.Step(awscloud.PricingRetryInterval - time.Second)
	time.Sleep(20 * time.Millisecond)
	if n := api.callCount(); n != 1 {
		t.Fatalf("retried before the retry interval (%d calls)", n)
	}
	clk.Step(time.Second)
	waitFor("the first retry", 2)
	clk.Step(2 * awscloud.PricingRetryInterval) // the wait doubled
	waitFor("the second retry", 3)
	if live, _ := p.Live(); !live {
		t.Fatal("prices not live after a successful retry")
	}
	clk.Step(6 * time.Hour)
	waitFor("the periodic refresh", 4)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
}
