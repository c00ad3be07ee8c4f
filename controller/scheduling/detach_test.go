package scheduling_test

import (
	"fmt"
	"math"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// A pod that requires on-demand (or that a capacity-type anti-affinity fixes to on-demand) does
// not pull pods that accept any capacity type onto on-demand nodes: they run on spot, the
// on-demand pods on on-demand nodes of their own, whether the claims are pooled (pack.go) or not
// (a host port keeps a pod out of the pools), with or without limits. A pod counted by a
// capacity-type term keeps its capacity type.
func TestFreePodsLeaveNarrowedClaims(t *testing.T) {
	// No overhead, one zone; spot is a fifth to a quarter of on-demand.
	types := []*cloudprovider.InstanceType{
		exactType("small", 4, 8, 0, 0.15, 0.035),
		exactType("large", 8, 16, 0, 0.30, 0.0623),
		exactType("xlarge", 16, 32, 0, 0.60, 0.13),
	}
	backends := func(opts ...podOpt) []*corev1.Pod {
		var out []*corev1.Pod
		for _, p := range replicas(3, "backend", "2", opts...) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("4Gi")
			out = append(out, p)
		}
		return out
	}
	od := withSelector(v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand)
	ha := withAntiAffinity(domainTerm(v1alpha5.LabelCapacityType, "app", "ha"))
	prov := func(limit string) *v1alpha5.Provisioner {
		p := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
		if limit != "" {
			p.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(limit)}}
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		pods  []*corev1.Pod
		limit string
		// want is the plan's cost, USD/hour; onDemand the pods that must run on on-demand nodes.
		want     float64
		onDemand []string
	}{
		// The trial's example: before, 2 backends and needs-od on a large on-demand node and the
		// third backend on a small one (0.45).
		{name: "3-cpu pod on on-demand", pods: append(backends(), pod("needs-od", "3", "1Gi", od)),
			want: 0.15 + 0.0623, onDemand: []string{"needs-od"}},
		{name: "250m pod on on-demand", pods: append(backends(), pod("needs-od", "250m", "256Mi", od)),
			want: 0.15 + 0.0623, onDemand: []string{"needs-od"}},
		{name: "with limits", pods: append(backends(), pod("needs-od", "3", "1Gi", od)), limit: "100",
			want: 0.15 + 0.0623, onDemand: []string{"needs-od"}},
		{name: "capacity-type anti-affinity", pods: append(backends(), replicas(2, "ha", "3", ha)...),
			want: 0.15 + 0.035 + 0.0623},
		// A host port keeps needs-od, so its node, out of the pools: the claim is sized alone
		// (resize).
		{name: "not pooled", pods: append(backends(),
			pod("needs-od", "3", "1Gi", od, withHostPort(9090, corev1.ProtocolTCP, ""))),
			want: 0.15 + 0.0623, onDemand: []string{"needs-od"}},
		// needs-od requires the capacity type of the backends: they are counted by its term and
		// stay on on-demand with it.
		{name: "counted by a capacity-type term", pods: append(backends(), pod("needs-od", "3", "1Gi", od,
			withPodAffinity(domainTerm(v1alpha5.LabelCapacityType, "app", "backend")))),
			want: 0.30 + 0.15, onDemand: []string{"needs-od", "backend-0", "backend-1", "backend-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := solve(t, tc.pods, []*v1alpha5.Provisioner{prov(tc.limit)}, types)
			checkClaims(t, tc.pods, res, nil)
			if len(res.Errors) != 0 {
				t.Fatalf("errors: %v", reasons(res))
			}
			if got := cost(res); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("cost %.4f USD/h, want %.4f; plan:\n%s", got, tc.want, plan(res))
			}
			capacity := domainOf(t, res, nil, v1alpha5.LabelCapacityType)
			for _, name := range tc.onDemand {
				if capacity[name] != v1alpha5.CapacityTypeOnDemand {
					t.Fatalf("%s on %q, want on-demand; plan:\n%s", name, capacity[name], plan(res))
				}
			}
		})
	}
}

// plan renders res's new nodes, one a line: cheapest option, price, capacity type, pods.
func plan(res *scheduling.Result) string {
	out := ""
	for _, c := range res.NewNodes {
		var names []string
		for _, p := range c.Pods {
			names = append(names, p.Name)
		}
		it, o, _ := c.PlannedOffering()
		out += fmt.Sprintf("  %s %.4f %s %v\n", it.Name, o.Price, o.CapacityType, names)
	}
	return out
}

// TestFreePoolsJoinOnlyWhenCheaper: pods that accept any capacity type, pooled beside a pool of
// on-demand pods (two pods narrowed their claim to on-demand, so detach let the others go), are
// packed with that pool on on-demand only when that costs less than packing the two apart.
func TestFreePoolsJoinOnlyWhenCheaper(t *testing.T) {
	// No overhead, one zone; on-demand costs more per CPU on the large type, spot a quarter.
	types := []*cloudprovider.InstanceType{
		exactType("small", 4, 8, 0, 0.10, 0.035),
		exactType("large", 8, 16, 0, 0.30, 0.0623),
	}
	var pods []*corev1.Pod
	for _, p := range replicas(12, "free", "500m") {
		p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("1Gi")
		pods = append(pods, p)
	}
	pods = append(pods, replicas(2, "needs-od", "3", withSelector(v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand))...)
	for _, limit := range []string{"", "100"} {
		t.Run("limit="+limit, func(t *testing.T) {
			prov := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
			if limit != "" {
				prov.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(limit)}}
			}
			freePoolsCheck(t, pods, prov, types)
		})
	}
}

// solveAtCost solves pods on types with one provisioner of spot and on-demand, checks the claims
// and that every pod is placed, and fails unless the plan costs want, USD/hour.
func solveAtCost(t *testing.T, pods []*corev1.Pod, types []*cloudprovider.InstanceType, want float64) *scheduling.Result {
	t.Helper()
	prov := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	res := solve(t, pods, []*v1alpha5.Provisioner{prov}, types)
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", reasons(res))
	}
	if got := cost(res); math.Abs(got-want) > 1e-9 {
		t.Fatalf("cost %.4f USD/h, want %.4f; plan:\n%s", got, want, plan(res))
	}
	return res
}

func freePoolsCheck(t *testing.T, pods []*corev1.Pod, prov *v1alpha5.Provisioner, types []*cloudprovider.InstanceType) {
	t.Helper()
	res := solve(t, pods, []*v1alpha5.Provisioner{prov}, types)
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", reasons(res))
	}
	// Together on on-demand: 3 small, 0.30 (before). The optimum: the on-demand nodes' room
	// filled with four free pods, the other eight on a small spot node.
	if got, want := cost(res), 2*0.10+0.035; math.Abs(got-want) > 1e-9 {
		t.Fatalf("cost %.4f USD/h, want %.4f; plan:\n%s", got, want, plan(res))
	}
	capacity := domainOf(t, res, nil, v1alpha5.LabelCapacityType)
	for _, name := range []string{"needs-od-0", "needs-od-1"} {
		if capacity[name] != v1alpha5.CapacityTypeOnDemand {
			t.Fatalf("%s on %q, want on-demand; plan:\n%s", name, capacity[name], plan(res))
		}
	}
}

// TestFreePodsLeaveTypeNarrowedClaims: a pod that narrows its node's instance types (a family,
// an architecture, a GPU it requests) does not pull pods that accept any type onto its kind of
// node: they run on the cheapest type their own requirements allow, the narrow pod on a node of
// its own (with free pods only in the room its type has anyway), whether the claims are pooled
// or not (a host port keeps a pod out of the pools).
// familyTypes returns types without overhead in one zone, labelled with their family, arch and
// CPU count: the "t" family is arm64 and costs a quarter of the amd64 "c" family per CPU; the
// GPU types (with gpus) cost a little less per CPU than the "c" family.
func familyTypes(gpus bool) []*cloudprovider.InstanceType {
	typed := func(it *cloudprovider.InstanceType, family, arch string) *cloudprovider.InstanceType {
		it.Labels[v1alpha5.LabelInstanceFamily] = family
		it.Labels[v1alpha5.LabelArch] = arch
		it.Labels[v1alpha5.LabelInstanceCPU] = it.Capacity.Cpu().String()
		return it
	}
	types := []*cloudprovider.InstanceType{
		typed(exactType("t.large", 2, 4, 0, 0.05, 0.01), "t", "arm64"),
		typed(exactType("c.large", 2, 4, 0, 0.10, 0.04), "c", "amd64"),
		typed(exactType("c.2xlarge", 8, 16, 0, 0.40, 0.16), "c", "amd64"),
		typed(exactType("c.8xlarge", 32, 64, 0, 1.60, 0.64), "c", "amd64"),
	}
	if gpus {
		types = append(types,
			typed(exactType("g.xlarge", 4, 16, 1, 0.20, 0.08), "g", "amd64"),
			typed(exactType("g.16xlarge", 64, 128, 2, 1.55, 0.62), "g", "amd64"))
	}
	return types
}

func TestFreePodsLeaveTypeNarrowedClaims(t *testing.T) {
	types := familyTypes(true)
	free := func() []*corev1.Pod {
		var out []*corev1.Pod
		for _, p := range replicas(30, "free", "1500m") {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("3Gi")
			out = append(out, p)
		}
		return out
	}
	family := withSelector(v1alpha5.LabelInstanceFamily, "c")
	amd64 := withSelector(v1alpha5.LabelArch, "amd64")
	port := withHostPort(9090, corev1.ProtocolTCP, "")
	for _, tc := range []struct {
		name string
		pods []*corev1.Pod
		// want is the plan's cost, USD/hour: the free pods on 30 t.large spot nodes (0.30), the
		// narrow pod alone. narrowType is the type family the narrow pod must run on.
		want       float64
		narrowType string
	}{
		// Before: all 31 on c types (c.8xlarge and two c.2xlarge, 0.96).
		{name: "instance family", pods: append(free(), pod("narrow", "1", "1Gi", family)), want: 0.30 + 0.04, narrowType: "c"},
		{name: "architecture", pods: append(free(), pod("narrow", "1", "1Gi", amd64)), want: 0.30 + 0.04, narrowType: "c"},
		// Before: all 31 on a g.16xlarge (0.62). The g.xlarge's room beside the GPU pod (3 cpu,
		// 12Gi) takes two free pods, without growing it: 28 t.large nodes.
		{name: "gpu", pods: append(free(), pod("narrow", "1", "4Gi", withGPU(1))), want: 0.28 + 0.08, narrowType: "g"},
		{name: "instance family, not pooled", pods: append(free(), pod("narrow", "1", "1Gi", family, port)), want: 0.30 + 0.04, narrowType: "c"},
		{name: "gpu, not pooled", pods: append(free(), pod("narrow", "1", "4Gi", withGPU(1), port)), want: 0.28 + 0.08, narrowType: "g"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := solveAtCost(t, tc.pods, types, tc.want)
			for _, c := range res.NewNodes {
				it, _, _ := c.PlannedOffering()
				withNarrow := slices.ContainsFunc(c.Pods, func(p *corev1.Pod) bool { return p.Name == "narrow" })
				for _, p := range c.Pods {
					// A free pod may share the narrow pod's node, in the room its type has anyway.
					if want := map[bool]string{true: tc.narrowType, false: "t"}[withNarrow]; it.Labels[v1alpha5.LabelInstanceFamily] != want {
						t.Fatalf("%s on %s, want the %s family; plan:\n%s", p.Name, it.Name, want, plan(res))
					}
				}
			}
		})
	}
}

func TestNodeAffinityTermsPricedCheapestFirst(t *testing.T) {
	// Node affinity terms are ORed and unordered in Kubernetes: a pod whose first term needs a
	// large type and whose second admits the small arm64 "t" family costs the cheapest node
	// either term admits, alone or beside pods that narrow a claim.
	types := familyTypes(false)
	bigOrT := withTerms(
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"7"}}},
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceFamily, Operator: corev1.NodeSelectorOpIn, Values: []string{"t"}}},
	)
	tOrBig := withTerms(
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceFamily, Operator: corev1.NodeSelectorOpIn, Values: []string{"t"}}},
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"7"}}},
	)
	bigOrZone := withTerms(
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"7"}}},
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"us-east-1b"}}},
	)
	od := withSelector(v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand)
	family := withSelector(v1alpha5.LabelInstanceFamily, "c")
	for _, tc := range []struct {
		name string
		pods []*corev1.Pod
		// want is the plan's cost, USD/hour: the two-term pod on a t.large spot node (0.01).
		want float64
	}{
		// Before: a c.2xlarge spot node (0.16) for the first term.
		{name: "alone", pods: []*corev1.Pod{pod("two-terms", "1", "1Gi", bigOrT)}, want: 0.01},
		{name: "alone, terms swapped", pods: []*corev1.Pod{pod("two-terms", "1", "1Gi", tOrBig)}, want: 0.01},
		// Before: a c.2xlarge on-demand node (0.40).
		{name: "alone, on-demand", pods: []*corev1.Pod{pod("two-terms", "1", "1Gi", bigOrT, od)}, want: 0.05},
		{name: "alone, zone term", pods: []*corev1.Pod{pod("two-terms", "1", "1Gi", bigOrZone, od)}, want: 0.05},
		// The two pods do not fit one c.2xlarge. Before: the two-term pod stayed on the
		// on-demand claim's requirements, first term (two c.2xlarge on-demand, 0.80); it is let
		// go on the term that costs least.
		{name: "beside an on-demand pod", pods: []*corev1.Pod{pod("needs-od", "7", "8Gi", od), pod("two-terms", "1500m", "1Gi", bigOrT)}, want: 0.40 + 0.01},
		// Before: on the c family with the narrow pod (two c.2xlarge spot nodes, 0.32).
		{name: "beside a family pod", pods: []*corev1.Pod{pod("needs-c", "7", "8Gi", family), pod("two-terms", "1500m", "1Gi", bigOrT)}, want: 0.16 + 0.01},
	} {
		t.Run(tc.name, func(t *testing.T) {
			solveAtCost(t, tc.pods, types, tc.want)
		})
	}
}

// A pod joining a planned node by one of several node affinity terms takes the term that keeps
// the node cheapest, not the first that fits: the second replica of a Deployment whose terms are
// instance-cpu > 7 OR arm64 joins the first's small arm64 node without growing it to 8 CPUs.
func TestNodeAffinityTermJoiningCheapest(t *testing.T) {
	typed := func(it *cloudprovider.InstanceType, arch string) *cloudprovider.InstanceType {
		it.Labels[v1alpha5.LabelArch] = arch
		it.Labels[v1alpha5.LabelInstanceCPU] = it.Capacity.Cpu().String()
		return it
	}
	types := []*cloudprovider.InstanceType{
		typed(exactType("t.large", 2, 4, 0, 0.05, 0.01), "arm64"),
		typed(exactType("t.2xlarge", 8, 16, 0, 0.20, 0.04), "arm64"),
		typed(exactType("c.2xlarge", 8, 16, 0, 0.40, 0.16), "amd64"),
	}
	big := []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"7"}}}
	arm := []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelArch, Operator: corev1.NodeSelectorOpIn, Values: []string{"arm64"}}}
	for _, tc := range []struct {
		name  string
		terms podOpt
	}{
		{name: "big first", terms: withTerms(big, arm)},
		{name: "arm64 first", terms: withTerms(arm, big)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			solveAtCost(t, replicas(2, "w", "500m", tc.terms), types, 0.01) // one t.large
		})
	}
}
