package fake

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

func TestCreatePicksCheapestAllowedAndHonoursICE(t *testing.T) {
	ctx := context.Background()
	cp := New(nil, Catalog(20))
	types, err := cp.GetInstanceTypes(ctx, nil)
	if err != nil || len(types) != 20 {
		t.Fatalf("%d types, %v", len(types), err)
	}
	req := &cloudprovider.NodeRequest{
		InstanceTypeOptions: types[:3],
		Requirements: []corev1.NodeSelectorRequirement{
			{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"on-demand"}},
			{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"us-east-1a"}},
		},
		Labels: map[string]string{"team": "x"},
	}
	n, err := cp.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if n.InstanceType != types[0].Name || n.CapacityType != "on-demand" || n.Zone == "us-east-1a" || n.Labels["team"] != "x" {
		t.Fatalf("launched %+v", n)
	}
	cp.SetInsufficientCapacity(Pool(n.InstanceType, n.Zone, n.CapacityType))
	_, err = cp.Create(ctx, req)
	if !cloudprovider.IsInsufficientCapacity(err) {
		t.Fatalf("want ICE, got %v", err)
	}
	refreshed, _ := cp.GetInstanceTypes(ctx, nil)
	for _, o := range refreshed[0].Offerings {
		if o.Zone == n.Zone && o.CapacityType == n.CapacityType && o.Available {
			t.Fatal("failed pool still available")
		}
	}
	n2, err := cp.Create(ctx, req)
	if err != nil || (n2.InstanceType == n.InstanceType && n2.Zone == n.Zone) {
		t.Fatalf("second launch %+v, %v", n2, err)
	}
	if got := len(cp.CreateCalls()); got != 3 {
		t.Fatalf("%d calls recorded", got)
	}
	list, _ := cp.List(ctx)
	if len(list) != 2 {
		t.Fatalf("%d instances", len(list))
	}
	if err := cp.Delete(ctx, n.ProviderID); err != nil {
		t.Fatal(err)
	}
	if list, _ := cp.List(ctx); len(list) != 1 {
		t.Fatal("delete did not remove the instance")
	}
}

func TestCatalogShape(t *testing.T) {
	types := Catalog(400)
	if len(types) != 400 {
		t.Fatalf("%d types", len(types))
	}
	seen := map[string]bool{}
	for _, it := range types {
		if seen[it.Name] {
			t.Fatalf("duplicate %s", it.Name)
		}
		seen[it.Name] = true
		for _, o := range it.Offerings {
			if o.Price <= 0 {
				t.Fatalf("%s has price %v", it.Name, o.Price)
			}
		}
	}
}
