package scheduling

import (
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

// CheapestOffering returns the cheapest available offering of it (price in USD/hour) whose
// zone and capacity type reqs allow; a key missing from reqs allows any value. Among offerings
// of the same price the first in it.Offerings wins. ok is false when no offering qualifies.
func CheapestOffering(it *cloudprovider.InstanceType, reqs Requirements) (best cloudprovider.Offering, ok bool) {
	zone, ct := reqs[v1alpha5.LabelZone], reqs[v1alpha5.LabelCapacityType]
	for _, o := range it.Offerings {
		if !o.Available {
			continue
		}
		if zone != nil && !zone.Has(o.Zone) {
			continue
		}
		if ct != nil && !ct.Has(o.CapacityType) {
			continue
		}
		if !ok || o.Price < best.Price {
			best, ok = o, true
		}
	}
	return best, ok
}

// PlannedOffering is the offering a plan expects the claim to be launched on: the cheapest
// allowed available offering (CheapestOffering under c.Requirements) of the first, cheapest,
// instance type option, so its price is c.Prices[0]. The cloud provider decides the real
// offering at launch (EC2 CreateFleet with price-capacity-optimized spot or lowest-price
// on-demand over every option), so this is the planner's estimate, not a promise. ok is false
// when the claim has no option.
func (c *NodeClaim) PlannedOffering() (it *cloudprovider.InstanceType, o cloudprovider.Offering, ok bool) {
	if len(c.InstanceTypeOptions) == 0 {
		return nil, cloudprovider.Offering{}, false
	}
	it = c.InstanceTypeOptions[0]
	o, ok = CheapestOffering(it, c.Requirements)
	return it, o, ok
}

// PlannedLabels returns the labels the node registers with when launched as PlannedOffering:
// its instance type's labels, the claim's (Labels, which win), and the offering's zone and
// capacity type; and, as the kubelet and the AWS cloud provider set them, the legacy key of each
// of those GA keys that has one (beta.kubernetes.io/os, failure-domain.beta.kubernetes.io/zone:
// v1alpha5.LegacyLabels) with the same value. ok is false, and the labels are Labels alone (with
// their legacy keys), when the claim has no offering.
func (c *NodeClaim) PlannedLabels() (labels map[string]string, ok bool) {
	labels = c.Labels()
	it, o, ok := c.PlannedOffering()
	if ok {
		for k, v := range it.Labels {
			if _, fixed := labels[k]; !fixed {
				labels[k] = v
			}
		}
		labels[v1alpha5.LabelZone], labels[v1alpha5.LabelCapacityType] = o.Zone, o.CapacityType
	}
	for legacy, ga := range v1alpha5.LegacyLabels {
		if v, has := labels[ga]; has {
			labels[legacy] = v
		}
	}
	return labels, ok
}
