package bench

import (
	"context"
	"testing"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

// TestCatalogue checks that every catalogue type comes back with an available spot and
// on-demand offering in each zone the catalogue offers it in, at the catalogue's prices.
func TestCatalogue(t *testing.T) {
	types, err := Catalogue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(types) != catalog.Len() {
		t.Fatalf("%d types, catalogue has %d", len(types), catalog.Len())
	}
	for _, it := range types {
		c, ok := catalog.Lookup(it.Name)
		if !ok {
			t.Fatalf("%s is not in the catalogue", it.Name)
		}
		available := 0
		for _, o := range it.Offerings {
			if !o.Available {
				continue
			}
			available++
			want := c.OnDemandPrice
			if o.CapacityType == v1alpha5.CapacityTypeSpot {
				want = catalog.SpotPrice(c, o.Zone)
			}
			if o.Price != want {
				t.Errorf("%s %s %s: price %v, catalogue %v", it.Name, o.Zone, o.CapacityType, o.Price, want)
			}
		}
		if available != 2*len(c.Zones) {
			t.Errorf("%s: %d available offerings, want spot and on-demand in %v", it.Name, available, c.Zones)
		}
	}
}
