package aws_test

import (
	"testing"

	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

// TestStaticPricingMatchesCatalogue fails when zz_generated.pricing.go is stale: run
// `go generate ./controller/cloudprovider/aws/`.
func TestStaticPricingMatchesCatalogue(t *testing.T) {
	p := awscloud.StaticPricing{}
	if p.Region() != catalog.Region {
		t.Errorf("table region %s, catalogue region %s", p.Region(), catalog.Region)
	}
	for _, it := range catalog.All() {
		got, ok := p.OnDemandPrice(it.Name)
		if !ok || got != it.OnDemandPrice {
			t.Errorf("%s: table %v (%v), catalogue %v; regenerate with go generate", it.Name, got, ok, it.OnDemandPrice)
		}
	}
	if _, ok := p.OnDemandPrice("x99.nonexistent"); ok {
		t.Error("unknown type has a price")
	}
}
