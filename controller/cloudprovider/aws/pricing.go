package aws

//go:generate go run ../../../hack/pricinggen -source sandbox -out zz_generated.pricing.go

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"
	"github.com/aws/smithy-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws/pricelist"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
)

// Pricing answers on-demand prices. Spot prices are live (DescribeSpotPriceHistory, see
// instanceTypeProvider).
type Pricing interface {
	// OnDemandPrice returns the Linux on-demand price of the instance type in USD/hour, and
	// false when the type is unknown (its on-demand offerings are then unavailable).
	OnDemandPrice(instanceType string) (usdPerHour float64, ok bool)
}

// DefaultPricingRefreshInterval is how often on-demand prices are re-read from the Price List
// API by default (Karpenter's pricing controller refreshes every 12 hours too; list prices
// change a few times a year).
const DefaultPricingRefreshInterval = 12 * time.Hour

// PricingRetryInterval is the first wait after a failed price refresh; it doubles after each
// further failure, up to the refresh interval.
const PricingRetryInterval = time.Minute

// FallbackRegions returns, sorted, the regions whose prices the generated fallback table
// (zz_generated.pricing.go, written by hack/pricinggen) holds.
func FallbackRegions() []string { return slices.Sorted(maps.Keys(fallbackOnDemandPrices)) }

// FallbackOnDemandPrices returns a copy of the generated fallback prices of region (instance
// type -> USD/hour), or nil when the table holds no prices for it.
func FallbackOnDemandPrices(region string) map[string]float64 {
	if t, ok := fallbackOnDemandPrices[region]; ok {
		return maps.Clone(t)
	}
	return nil
}

// PricingProvider serves the on-demand prices of one region: the generated fallback table's
// until a refresh from the Price List API (pricing:GetProducts) succeeds, then the live prices
// of the latest successful refresh, which replace the table entirely. A failed refresh keeps
// the prices served so far. Safe for concurrent use.
type PricingProvider struct {
	region   string
	api      pricelist.API // nil: the fallback table only
	clk      clock.Clock
	interval time.Duration

	mu      sync.RWMutex
	prices  map[string]float64
	live    bool
	updated time.Time // of the last successful refresh
}

var _ Pricing = (*PricingProvider)(nil)

// NewPricingProvider returns a provider for region serving the fallback table until Refresh
// succeeds. api may be nil (the table only); interval <= 0 means
// DefaultPricingRefreshInterval.
func NewPricingProvider(region string, api pricelist.API, clk clock.Clock, interval time.Duration) *PricingProvider {
	if interval <= 0 {
		interval = DefaultPricingRefreshInterval
	}
	p := &PricingProvider{region: region, api: api, clk: clk, interval: interval, prices: FallbackOnDemandPrices(region)}
	p.observe()
	return p
}

// Region returns the region priced.
func (p *PricingProvider) Region() string { return p.region }

// OnDemandPrice implements Pricing.
func (p *PricingProvider) OnDemandPrice(instanceType string) (float64, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	price, ok := p.prices[instanceType]
	return price, ok
}

// Live reports whether the prices served come from a successful Price List refresh (else
// from the fallback table), and when that refresh was.
func (p *PricingProvider) Live() (live bool, at time.Time) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.live, p.updated
}

// Known returns how many instance types have a price.
func (p *PricingProvider) Known() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.prices)
}

// Refresh reads the region's prices from the Price List API now and serves them. On failure
// the prices served so far are kept, karpenter_pricing_refreshes_total counts the failure by
// result ("throttled"; "invalid" for a response the SDK cannot read or without the aws_v1
// shape; "error" otherwise) and the error is returned. Errors: no Price List client, API and
// transport errors, *smithy.DeserializationError, *pricelist.DocumentError.
func (p *PricingProvider) Refresh(ctx context.Context) error {
	if p.api == nil {
		return errors.New("no Price List API client")
	}
	prices, err := pricelist.OnDemandPrices(ctx, p.api, p.region)
	if err != nil {
		metrics.PricingRefreshes.WithLabelValues(refreshResult(err)).Inc()
		return err
	}
	p.mu.Lock()
	p.prices, p.live, p.updated = prices, true, p.clk.Now()
	p.mu.Unlock()
	metrics.PricingRefreshes.WithLabelValues("success").Inc()
	p.observe()
	return nil
}

// refreshResult classifies a failed refresh for the metric.
func refreshResult(err error) string {
	var throttled *pricingtypes.ThrottlingException
	var invalid *pricelist.DocumentError
	var unreadable *smithy.DeserializationError
	switch {
	case errors.As(err, &throttled):
		return "throttled"
	case errors.As(err, &invalid), errors.As(err, &unreadable):
		return "invalid"
	default:
		return "error"
	}
}

// observe sets the gauges of the prices served.
func (p *PricingProvider) observe() {
	p.mu.RLock()
	defer p.mu.RUnlock()
	source, other := "fallback", "live"
	if p.live {
		source, other = other, source
		metrics.PricingLastRefresh.Set(float64(p.updated.Unix()))
	}
	metrics.OnDemandPricesKnown.WithLabelValues(source).Set(float64(len(p.prices)))
	metrics.OnDemandPricesKnown.WithLabelValues(other).Set(0)
}

// Run refreshes the prices at once and then every refresh interval, on the provider's clock,
// until ctx ends; it always returns nil. After a failure (logged with the error; the prices
// served so far are kept) it retries after PricingRetryInterval, doubling up to the refresh
// interval. Without a Price List client it returns at once.
func (p *PricingProvider) Run(ctx context.Context) error {
	if p.api == nil {
		return nil
	}
	logger := log.FromContext(ctx).WithName("pricing")
	if p.Known() == 0 {
		logger.Info(fmt.Sprintf("no built-in on-demand prices for region %s; on-demand offerings are skipped until the Pricing API answers", p.region))
	}
	retry := PricingRetryInterval
	for {
		wait := p.interval
		if err := p.Refresh(ctx); err != nil && ctx.Err() == nil {
			live, _ := p.Live()
			source := "the built-in table"
			if live {
				source = "the previous live prices"
			}
			logger.Error(err, "refreshing on-demand prices from the Pricing API failed; keeping "+source,
				"region", p.region, "retryAfter", retry.String())
			wait, retry = retry, min(2*retry, p.interval)
		} else if ctx.Err() == nil {
			logger.Info("refreshed on-demand prices from the Pricing API", "region", p.region, "instanceTypes", p.Known())
			retry = PricingRetryInterval
		}
		timer := p.clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C():
		}
	}
}

// ReasonOnDemandPriceUnknown is the reason of the Warning event on a Provisioner whose
// instance types include some sold on demand without a known on-demand price.
const ReasonOnDemandPriceUnknown = "OnDemandPriceUnknown"

// maxNamedTypes bounds the instance types a price note names; the rest are counted.
const maxNamedTypes = 5

// priceNotes remembers the last note per provisioner, so that a note is logged and recorded
// once per change, not once per batch.
type priceNotes struct {
	events record.EventRecorder // may be nil
	mu     sync.Mutex
	last   map[string]string // provisioner name -> last message
}

func newPriceNotes(events record.EventRecorder) *priceNotes {
	return &priceNotes{events: events, last: map[string]string{}}
}

// unpricedMessage says which types lack an on-demand price in region and why, naming at most
// maxNamedTypes of them.
func unpricedMessage(unpriced []string, region string, live bool) string {
	names := strings.Join(unpriced[:min(len(unpriced), maxNamedTypes)], ", ")
	if n := len(unpriced) - maxNamedTypes; n > 0 {
		names += fmt.Sprintf(" and %d more", n)
	}
	if live {
		return fmt.Sprintf("the Pricing API lists no on-demand Linux price for %s in region %s; their on-demand offerings are skipped", names, region)
	}
	return fmt.Sprintf("no on-demand price known for %s in region %s; on-demand offerings skipped until the Pricing API answers", names, region)
}

// notePrices logs, and records as a Warning event on p, which instance types sold on demand
// in p's zones have no on-demand price (their on-demand offerings are unavailable), once per
// change of that list or of the prices' source.
func (c *CloudProvider) notePrices(ctx context.Context, p *v1alpha5.Provisioner, unpriced []string) {
	n := c.priceNotes
	msg := ""
	if len(unpriced) > 0 {
		live, _ := c.pricing.Live()
		msg = unpricedMessage(unpriced, c.pricing.Region(), live)
	}
	n.mu.Lock()
	changed := n.last[p.Name] != msg
	if msg == "" {
		delete(n.last, p.Name)
	} else {
		n.last[p.Name] = msg
	}
	n.mu.Unlock()
	if !changed || msg == "" {
		return
	}
	log.FromContext(ctx).WithName("pricing").Info(msg, "provisioner", p.Name, "instanceTypes", len(unpriced))
	if n.events != nil {
		n.events.Event(p, corev1.EventTypeWarning, ReasonOnDemandPriceUnknown, msg)
	}
}
