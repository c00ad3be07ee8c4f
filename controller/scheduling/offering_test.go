package scheduling_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

func TestCheapestOffering(t *testing.T) {
	it := &cloudprovider.InstanceType{Name: "m5.large", Offerings: []cloudprovider.Offering{
		{Zone: "a", CapacityType: v1alpha5.CapacityTypeSpot, Price: 0.03, Available: false},
		{Zone: "b", CapacityType: v1alpha5.CapacityTypeSpot, Price: 0.04, Available: true},
		{Zone: "c", CapacityType: v1alpha5.CapacityTypeSpot, Price: 0.04, Available: true},
		{Zone: "a", CapacityType: v1alpha5.CapacityTypeOnDemand, Price: 0.096, Available: true},
	}}
	reqsOf := func(rs ...v1alpha5.NodeSelectorRequirement) scheduling.Requirements {
		out := scheduling.Requirements{}
		for _, r := range rs {
			sr, err := scheduling.NewRequirement(r.Key, r.Operator, r.Values...)
			if err != nil {
				t.Fatal(err)
			}
			out.Add(sr)
		}
		return out
	}
	cases := []struct {
		name string
		reqs scheduling.Requirements
		want cloudprovider.Offering
		ok   bool
	}{
		{"unavailable skipped, tie to the first", reqsOf(), it.Offerings[1], true},
		{"zone allowed", reqsOf(req(v1alpha5.LabelZone, corev1.NodeSelectorOpIn, "c")), it.Offerings[2], true},
		{"capacity type allowed", reqsOf(req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "on-demand")), it.Offerings[3], true},
		{"nothing allowed", reqsOf(req(v1alpha5.LabelZone, corev1.NodeSelectorOpIn, "a"), req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot")), cloudprovider.Offering{}, false},
	}
	for _, tc := range cases {
		got, ok := scheduling.CheapestOffering(it, tc.reqs)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPlannedOfferingIsTheFirstOptionsCheapest(t *testing.T) {
	types := fake.Catalog(40)
	res := solve(t, []*corev1.Pod{pod("a", "1", "1Gi")}, []*v1alpha5.Provisioner{provisioner("default")}, types)
	if len(res.NewNodes) != 1 {
		t.Fatalf("want one node, got %d", len(res.NewNodes))
	}
	c := res.NewNodes[0]
	it, o, ok := c.PlannedOffering()
	if !ok || it != c.InstanceTypeOptions[0] || o.Price != c.Prices[0] || !o.Available {
		t.Fatalf("planned %v %+v %v; options[0] %s at %v", it.Name, o, ok, c.InstanceTypeOptions[0].Name, c.Prices[0])
	}
	if _, _, ok := (&scheduling.NodeClaim{}).PlannedOffering(); ok {
		t.Fatal("a claim without options has no planned offering")
	}
}
