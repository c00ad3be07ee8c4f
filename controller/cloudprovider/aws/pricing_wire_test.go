package aws_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws/pricelist"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

// onDemand returns the type's on-demand offerings: how many, how many available, their price.
func onDemand(it *cloudprovider.InstanceType) (n, available int, price float64) {
	for _, o := range it.Offerings {
		if o.CapacityType == v1alpha5.CapacityTypeOnDemand {
			n++
			if o.Available {
				available++
			}
			price = o.Price
		}
	}
	return n, available, price
}

// A region the fallback table does not hold, priced through the emulator over the wire: no
// on-demand offering (said once in a log line and a Provisioner event) until the Pricing API
// answers, none while it is throttled, every one at the catalogue's price once it answers.
func TestPricesOverTheWire(t *testing.T) {
	const region = "xx-test-1"
	for _, r := range awscloud.FallbackRegions() {
		if r == region {
			t.Fatalf("the fallback table holds %s", region)
		}
	}
	emu := sandboxaws.New(sandboxaws.Options{Region: region, ClusterName: testCluster, NoBootDelay: true})
	url, err := emu.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	cfg := awssdk.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(sandboxaws.DefaultAdminAccessKeyID, sandboxaws.DefaultAdminSecretAccessKey, ""),
		BaseEndpoint: awssdk.String(url),
		HTTPClient:   sdkhttp.New(),
		Retryer: func() awssdk.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 2
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		},
	}
	events := record.NewFakeRecorder(100)
	cp, err := awscloud.New(awscloud.Options{ClusterName: testCluster, Region: region}, awscloud.Clients{
		EC2: ec2.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), Versions: staticVersion{},
		Pricing: pricelist.NewClient(cfg, region), Events: events,
	}, clocktesting.NewFakeClock(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	zones, err := cp.OfferedZones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := provisioner("default")
	list := func() map[string]*cloudprovider.InstanceType {
		t.Helper()
		types, err := cp.GetInstanceTypesInZones(ctx, p, zones)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*cloudprovider.InstanceType{}
		for _, it := range types {
			out[it.Name] = it
		}
		return out
	}
	types := list()
	for name, it := range types {
		if n, avail, _ := onDemand(it); n == 0 || avail != 0 {
			t.Fatalf("%s: %d of %d on-demand offerings available before any price", name, avail, n)
		}
	}
	event := <-events.Events
	for _, want := range []string{"Warning", awscloud.ReasonOnDemandPriceUnknown, "no on-demand price known for c5.12xlarge, ",
		"more in region xx-test-1; on-demand offerings skipped until the Pricing API answers"} {
		if !strings.Contains(event, want) {
			t.Errorf("event %q does not contain %q", event, want)
		}
	}
	list()
	if len(events.Events) != 0 {
		t.Errorf("the same note was recorded again: %q", <-events.Events)
	}

	// Throttled beyond the SDK's retries: still no prices.
	before := refreshes("throttled")
	if err := emu.AddThrottle(sandboxaws.ThrottleFault{Service: "pricing", Next: 2}); err != nil {
		t.Fatal(err)
	}
	err = cp.Pricing().Refresh(ctx)
	var te *pricingtypes.ThrottlingException
	if !errors.As(err, &te) || refreshes("throttled")-before != 1 {
		t.Fatalf("throttled refresh: %v, metric +%v", err, refreshes("throttled")-before)
	}
	if _, avail, _ := onDemand(list()["m5.large"]); avail != 0 {
		t.Error("on-demand offered after a throttled refresh")
	}

	// The API answers: every type is launchable on demand at the catalogue's price.
	if err := cp.Pricing().Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	types = list()
	for _, want := range catalog.All() {
		it := types[want.Name]
		if it == nil {
			continue // not launched by the controller (architecture)
		}
		if _, avail, price := onDemand(it); avail != len(want.Zones) || price != want.OnDemandPrice {
			t.Errorf("%s: %d on-demand offerings available at %v, want one per zone offered (%d) at the catalogue's %v",
				want.Name, avail, price, len(want.Zones), want.OnDemandPrice)
		}
	}
	if len(events.Events) != 0 {
		t.Errorf("an event once every type is priced: %q", <-events.Events)
	}
}

// BenchmarkPricingRefresh measures one refresh of every on-demand price of the emulator's
// region over the wire (GetProducts pages of 100 aws_v1 documents, parsed).
func BenchmarkPricingRefresh(b *testing.B) {
	emu := sandboxaws.New(sandboxaws.Options{NoBootDelay: true})
	url, err := emu.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = emu.Close() })
	cfg := awssdk.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(sandboxaws.DefaultAdminAccessKeyID, sandboxaws.DefaultAdminSecretAccessKey, ""),
		BaseEndpoint: awssdk.String(url),
		HTTPClient:   sdkhttp.New(),
	}
	p := awscloud.NewPricingProvider("us-east-1", pricelist.NewClient(cfg, "us-east-1"), clocktesting.NewFakeClock(time.Now()), 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.Known()), "types")
}

// Garbage over the wire: a Price List endpoint answering bodies the SDK cannot read, or
// documents without the aws_v1 shape, fails the refresh and keeps the fallback prices.
func TestPricingGarbageOverTheWire(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   string
		result string
	}{
		"html":             {200, "<html>maintenance</html>", "invalid"},
		"wrong shape":      {200, `{"FormatVersion":"aws_v1","PriceList":"m5.large=0.096"}`, "invalid"},
		"garbage document": {200, `{"FormatVersion":"aws_v1","PriceList":["{\"product\":42}"]}`, "invalid"},
		"server error":     {500, `{"__type":"InternalErrorException","Message":"oops"}`, "error"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Amz-Target") != "AWSPriceListService.GetProducts" {
					http.Error(w, "unexpected target", http.StatusBadRequest)
					return
				}
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			cfg := awssdk.Config{
				Region:       "us-east-1",
				Credentials:  credentials.NewStaticCredentialsProvider(sandboxaws.DefaultAdminAccessKeyID, sandboxaws.DefaultAdminSecretAccessKey, ""),
				BaseEndpoint: awssdk.String(srv.URL),
				HTTPClient:   sdkhttp.New(),
				Retryer: func() awssdk.Retryer {
					return retry.NewStandard(func(o *retry.StandardOptions) {
						o.MaxAttempts = 2
						o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
					})
				},
			}
			region := awscloud.FallbackRegions()[0]
			p := awscloud.NewPricingProvider(region, pricelist.NewClient(cfg, region), clocktesting.NewFakeClock(time.Now()), 0)
			want := awscloud.FallbackOnDemandPrices(region)["m5.large"]
			before := refreshes(tc.result)
			if err := p.Refresh(context.Background()); err == nil {
				t.Fatal("refresh succeeded")
			}
			if got := refreshes(tc.result) - before; got != 1 {
				t.Errorf("metric result=%s +%v", tc.result, got)
			}
			if got, ok := p.OnDemandPrice("m5.large"); !ok || got != want {
				t.Errorf("m5.large = %v (%v), want the fallback %v", got, ok, want)
			}
		})
	}
}
