package scheduling_test

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

type podOpt func(*corev1.Pod)

func pod(name, cpu, mem string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: k8stypes.UID("uid-default-" + name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withSelector(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func withTerms(terms ...[]corev1.NodeSelectorRequirement) podOpt {
	return func(p *corev1.Pod) {
		ns := &corev1.NodeSelector{}
		for _, t := range terms {
			ns.NodeSelectorTerms = append(ns.NodeSelectorTerms, corev1.NodeSelectorTerm{MatchExpressions: t})
		}
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: ns}}
	}
}

func withToleration(key, value string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpEqual, Value: value, Effect: corev1.TaintEffectNoSchedule})
	}
}

func withGPU(n int64) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests["nvidia.com/gpu"] = *resource.NewQuantity(n, resource.DecimalSI)
	}
}

func provisioner(name string, reqs ...v1alpha5.NodeSelectorRequirement) *v1alpha5.Provisioner {
	return &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha5.ProvisionerSpec{Requirements: reqs}}
}

func req(key string, op corev1.NodeSelectorOperator, values ...string) v1alpha5.NodeSelectorRequirement {
	return v1alpha5.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func solve(t testing.TB, pods []*corev1.Pod, provs []*v1alpha5.Provisioner, types []*cloudprovider.InstanceType, mods ...func(*scheduling.Input)) *scheduling.Result {
	t.Helper()
	in := scheduling.Input{Pods: pods}
	for _, p := range provs {
		in.Provisioners = append(in.Provisioners, scheduling.ProvisionerInput{Provisioner: p, InstanceTypes: types})
	}
	for _, m := range mods {
		m(&in)
	}
	return scheduling.Solve(in)
}

// checkClaims verifies every invariant of a plan: each option holds its pods, satisfies the
// claim's requirements and every pod's requirement term, has an allowed available offering;
// prices are sorted; every pod is placed exactly once or has an error.
func checkClaims(t *testing.T, pods []*corev1.Pod, res *scheduling.Result, dsOverhead func(*cloudprovider.InstanceType) scheduling.Resources) {
	t.Helper()
	seen := map[*corev1.Pod]int{}
	for _, ps := range res.ExistingNodes {
		for _, p := range ps {
			seen[p]++
		}
	}
	for _, e := range res.Errors {
		seen[e.Pod]++
	}
	for i, c := range res.NewNodes {
		if len(c.InstanceTypeOptions) == 0 {
			t.Fatalf("claim %d has no options", i)
		}
		for j := 1; j < len(c.Prices); j++ {
			if c.Prices[j] < c.Prices[j-1] {
				t.Fatalf("claim %d prices not sorted: %v", i, c.Prices)
			}
		}
		total := scheduling.Resources{}
		for _, p := range c.Pods {
			seen[p]++
			total.AddInPlace(scheduling.PodRequests(p))
		}
		if !reflect.DeepEqual(total, c.Requests) {
			t.Fatalf("claim %d requests %v, pods sum %v", i, c.Requests, total)
		}
		for _, it := range c.InstanceTypeOptions {
			usable := scheduling.FromList(it.Allocatable())
			if dsOverhead != nil {
				usable = usable.Sub(dsOverhead(it))
			}
			if !total.Fits(usable) {
				t.Fatalf("claim %d option %s (usable %v) cannot hold %v", i, it.Name, usable, total)
			}
			labels := map[string]string{}
			for k, v := range it.Labels {
				labels[k] = v
			}
			for k, v := range c.Labels() {
				labels[k] = v
			}
			okOffering := false
			for _, o := range it.Offerings {
				l := map[string]string{}
				for k, v := range labels {
					l[k] = v
				}
				l[v1alpha5.LabelZone], l[v1alpha5.LabelCapacityType] = o.Zone, o.CapacityType
				if !o.Available || c.Requirements.MatchLabels(l) != nil {
					continue
				}
				allPods := true
				for _, p := range c.Pods {
					terms, _ := scheduling.PodRequirementTerms(p)
					anyTerm := false
					for _, term := range terms {
						anyTerm = anyTerm || term.MatchLabels(l) == nil
					}
					allPods = allPods && anyTerm
				}
				okOffering = okOffering || allPods
			}
			if !okOffering {
				t.Fatalf("claim %d option %s has no available offering where the node satisfies %s and all pods", i, it.Name, c.Requirements)
			}
		}
	}
	for _, p := range pods {
		if seen[p] != 1 {
			t.Fatalf("pod %s accounted %d times", p.Name, seen[p])
		}
	}
}

func cost(res *scheduling.Result) float64 {
	sum := 0.0
	for _, c := range res.NewNodes {
		sum += c.Prices[0]
	}
	return sum
}

// lowerBound is a cost no plan can beat: for each resource, the total requested amount times
// the lowest price per usable unit of that resource among types (cheapest offering).
// Every node set holding the pods has at least that much of the resource, so it costs at
// least that. The bound is the maximum over cpu and memory.
func lowerBound(pods []*corev1.Pod, types []*cloudprovider.InstanceType) float64 {
	total := scheduling.Resources{}
	for _, p := range pods {
		total.AddInPlace(scheduling.PodRequests(p))
	}
	best := 0.0
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		perUnit := math.Inf(1)
		for _, it := range types {
			price := math.Inf(1)
			for _, o := range it.Offerings {
				if o.Available && o.Price < price {
					price = o.Price
				}
			}
			usable := scheduling.FromList(it.Allocatable())[r]
			if usable > 0 && price/float64(usable) < perUnit {
				perUnit = price / float64(usable)
			}
		}
		best = math.Max(best, perUnit*float64(total[r]))
	}
	return best
}

func TestSinglePodCheapestOptionsFirst(t *testing.T) {
	types := fake.Catalog(120)
	pods := []*corev1.Pod{pod("a", "1", "1Gi")}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 1 || len(res.Errors) != 0 {
		t.Fatalf("want one claim, got %d claims, errors %v", len(res.NewNodes), res.Errors)
	}
	c := res.NewNodes[0]
	if len(c.InstanceTypeOptions) != scheduling.DefaultMaxInstanceTypes {
		t.Fatalf("options = %d, want capped at %d", len(c.InstanceTypeOptions), scheduling.DefaultMaxInstanceTypes)
	}
	// The cheapest type in the whole catalogue that holds 1 cpu/1Gi is the first option.
	cheapest, cheapestPrice := "", math.Inf(1)
	for _, it := range types {
		if !scheduling.PodRequests(pods[0]).Fits(scheduling.FromList(it.Allocatable())) {
			continue
		}
		for _, o := range it.Offerings {
			if o.Price < cheapestPrice {
				cheapest, cheapestPrice = it.Name, o.Price
			}
		}
	}
	if c.InstanceTypeOptions[0].Name != cheapest || c.Prices[0] != cheapestPrice {
		t.Fatalf("first option %s at %v, want %s at %v", c.InstanceTypeOptions[0].Name, c.Prices[0], cheapest, cheapestPrice)
	}
	if got := c.Labels()[v1alpha5.LabelProvisionerName]; got != "default" {
		t.Fatalf("provisioner-name label = %q", got)
	}
}

func TestFivePodsOneCPUPackTightly(t *testing.T) {
	types := fake.Catalog(400)
	var pods []*corev1.Pod
	for i := range 5 {
		pods = append(pods, pod(fmt.Sprintf("p%d", i), "1", "1Gi"))
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 1 {
		t.Fatalf("want 5 pods on one node, got %d nodes", len(res.NewNodes))
	}
	alloc := res.NewNodes[0].InstanceTypeOptions[0].Allocatable()
	if alloc.Cpu().MilliValue() < 5000 {
		t.Fatalf("cheapest option %s has %v cpu allocatable", res.NewNodes[0].InstanceTypeOptions[0].Name, alloc.Cpu())
	}
	if lb := lowerBound(pods, types); cost(res) > 2*lb {
		t.Fatalf("cost %.4f > 2 x lower bound %.4f", cost(res), lb)
	}
}

func TestCostNearLowerBoundAtScale(t *testing.T) {
	types := fake.Catalog(400)
	var pods []*corev1.Pod
	for i := range 500 {
		pods = append(pods, pod(fmt.Sprintf("small-%d", i), "900m", "3100Mi"))
	}
	for i := range 500 {
		pods = append(pods, pod(fmt.Sprintf("big-%d", i), "3500m", "28Gi"))
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot"))}, types)
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors[0])
	}
	lb := lowerBound(pods, types)
	ratio := cost(res) / lb
	t.Logf("1000 pods: %d nodes, $%.2f/h, lower bound $%.2f/h, ratio %.3f", len(res.NewNodes), cost(res), lb, ratio)
	if ratio > 1.25 {
		t.Fatalf("cost %.2f is %.2fx the lower bound %.2f", cost(res), ratio, lb)
	}
}

func TestNodeSelectorArchAndGPU(t *testing.T) {
	types := fake.Catalog(400)
	pods := []*corev1.Pod{
		pod("arm", "1", "1Gi", withSelector(v1alpha5.LabelArch, "arm64")),
		pod("gpu", "1", "1Gi", withGPU(2)),
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 2 {
		t.Fatalf("want 2 nodes, got %d (errors %v)", len(res.NewNodes), res.Errors)
	}
	for _, c := range res.NewNodes {
		for _, it := range c.InstanceTypeOptions {
			switch c.Pods[0].Name {
			case "arm":
				if it.Labels[v1alpha5.LabelArch] != "arm64" {
					t.Fatalf("arm pod option %s is %s", it.Name, it.Labels[v1alpha5.LabelArch])
				}
			case "gpu":
				if g := it.Capacity["nvidia.com/gpu"]; g.Value() < 2 {
					t.Fatalf("gpu pod option %s has %v gpus", it.Name, g.Value())
				}
			}
		}
	}
	if got := res.NewNodes[0].Labels()[v1alpha5.LabelArch]; res.NewNodes[0].Pods[0].Name == "arm" && got != "arm64" {
		t.Fatalf("arm claim labels %v", res.NewNodes[0].Labels())
	}
}

// Node affinity terms that no type satisfies are skipped, and the term a claim is opened on
// applies whole: here the third, the cheapest satisfiable one (the fourth needs twice the CPUs).
func TestAffinityTermsCheapestSatisfiable(t *testing.T) {
	types := fake.Catalog(60)
	pods := []*corev1.Pod{pod("p", "1", "1Gi", withTerms(
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"eu-west-1a"}}},
		[]corev1.NodeSelectorRequirement{{Key: "team", Operator: corev1.NodeSelectorOpIn, Values: []string{"ml"}}},
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1b"}},
			{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"7"}}},
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1c"}},
			{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"15"}}},
	))}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 1 {
		t.Fatalf("errors %v", res.Errors)
	}
	c := res.NewNodes[0]
	if z := c.Requirements[v1alpha5.LabelZone].Values(); !reflect.DeepEqual(z, []string{"us-east-1b"}) {
		t.Fatalf("zone requirement %v, want third term's us-east-1b", z)
	}
	for _, it := range c.InstanceTypeOptions {
		if it.Capacity.Cpu().Value() <= 7 {
			t.Fatalf("option %s has <= 7 cpus", it.Name)
		}
	}
}

// An empty node selector term matches no node in Kubernetes (nodeSelectorTerms are ORed and
// "an empty or nil term matches no objects"): kube-scheduler refuses a pod whose only term is
// empty, and ignores an empty term beside others, also once the solver keeps a preferred term.
func TestEmptyNodeSelectorTermMatchesNothing(t *testing.T) {
	types := fake.Catalog(40)
	arm := []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelArch, Operator: corev1.NodeSelectorOpIn, Values: []string{"arm64"}}}
	amdOnly := provisioner("default", req(v1alpha5.LabelArch, corev1.NodeSelectorOpIn, "amd64"))
	node := scheduling.ExistingNode{Name: "amd-node", Labels: map[string]string{v1alpha5.LabelArch: "amd64"},
		Available: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("100")}}
	for _, tc := range []struct {
		name string
		opts []podOpt
	}{
		{"only an empty term", []podOpt{withTerms([]corev1.NodeSelectorRequirement{})}},
		{"an empty term beside an unmeetable one", []podOpt{withTerms(nil, arm)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods := []*corev1.Pod{pod("p", "1", "1Gi", tc.opts...)}
			res := solve(t, pods, []*v1alpha5.Provisioner{amdOnly}, types, func(in *scheduling.Input) { in.Nodes = []scheduling.ExistingNode{node} })
			checkClaims(t, pods, res, nil)
			if len(res.Errors) != 1 || len(res.NewNodes) != 0 || len(res.ExistingNodes["amd-node"]) != 0 {
				t.Fatalf("want the pod unschedulable, got %d new nodes, existing %v, errors %v", len(res.NewNodes), podsPerNode(res), reasons(res))
			}
		})
	}
	// A kept preference is added to the pod's terms, but an empty term stays empty: the node in
	// the preferred zone with 2 CPUs meets the preference, not the one term that can match.
	t.Run("an empty term and a kept preference", func(t *testing.T) {
		small := scheduling.ExistingNode{Name: "small", Labels: map[string]string{v1alpha5.LabelArch: "amd64", v1alpha5.LabelZone: fake.Zones[1], v1alpha5.LabelInstanceCPU: "2"},
			Available: node.Available}
		pods := []*corev1.Pod{pod("p", "100m", "100Mi", withTerms(nil, []corev1.NodeSelectorRequirement{
			{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"3"}}}), withPreferredZone(10, fake.Zones[1]))}
		res := solve(t, pods, []*v1alpha5.Provisioner{amdOnly}, types, func(in *scheduling.Input) { in.Nodes = []scheduling.ExistingNode{small} })
		checkClaims(t, pods, res, nil)
		if len(res.Errors) != 0 || len(res.NewNodes) != 1 || res.NewNodes[0].Requirements[v1alpha5.LabelZone].Values()[0] != fake.Zones[1] {
			t.Fatalf("want a new node in %s, got %d new nodes, existing %v, errors %v", fake.Zones[1], len(res.NewNodes), podsPerNode(res), reasons(res))
		}
	})
}

func TestTaintsAndStartupTaints(t *testing.T) {
	types := fake.Catalog(60)
	p := provisioner("tainted")
	p.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "ml", Effect: corev1.TaintEffectNoSchedule}}
	p.Spec.StartupTaints = []corev1.Taint{{Key: "agent-not-ready", Effect: corev1.TaintEffectNoSchedule}}
	pods := []*corev1.Pod{pod("tolerates", "1", "1Gi", withToleration("dedicated", "ml")), pod("plain", "1", "1Gi")}
	res := solve(t, pods, []*v1alpha5.Provisioner{p}, types)
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 1 || res.NewNodes[0].Pods[0].Name != "tolerates" {
		t.Fatalf("want one node for the tolerating pod, got %+v", res.NewNodes)
	}
	if len(res.Errors) != 1 || res.Errors[0].Pod.Name != "plain" || !strings.Contains(res.Errors[0].Reason, "does not tolerate taint dedicated=ml:NoSchedule") {
		t.Fatalf("errors %+v", res.Errors)
	}
	if got := res.NewNodes[0].Taints(); len(got) != 2 || got[1].Key != "agent-not-ready" {
		t.Fatalf("node taints %v, want taints then startup taints", got)
	}
}

func TestDaemonSetOverhead(t *testing.T) {
	types := fake.Catalog(60)
	ds := func(name, cpu string, sel map[string]string) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name}, Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			NodeSelector: sel,
			Containers:   []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}}}
	}
	daemonsets := []*appsv1.DaemonSet{
		ds("everywhere", "1", nil),
		ds("arm-only", "2", map[string]string{v1alpha5.LabelArch: "arm64"}),
		ds("other-team", "50", map[string]string{"team": "other"}),
	}
	overhead := func(it *cloudprovider.InstanceType) scheduling.Resources {
		r := scheduling.Resources{corev1.ResourceCPU: 1000, corev1.ResourcePods: 1000}
		if it.Labels[v1alpha5.LabelArch] == "arm64" {
			r[corev1.ResourceCPU] += 2000
			r[corev1.ResourcePods] += 1000
		}
		return r
	}
	pods := []*corev1.Pod{pod("p", "1500m", "1Gi")}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.DaemonSets = daemonsets })
	checkClaims(t, pods, res, overhead)
	if len(res.NewNodes) != 1 {
		t.Fatalf("errors %v", res.Errors)
	}
	for _, it := range res.NewNodes[0].InstanceTypeOptions {
		if it.Capacity.Cpu().Value() < 4 {
			t.Fatalf("option %s (%v cpu) cannot hold 1.5 cpu + 1 cpu daemonset", it.Name, it.Capacity.Cpu())
		}
	}
}

func TestLimits(t *testing.T) {
	types := fake.Catalog(60)
	p := provisioner("default")
	p.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("20")}}
	var pods []*corev1.Pod
	for i := range 30 {
		pods = append(pods, pod(fmt.Sprintf("p%02d", i), "1", "1Gi"))
	}
	in := scheduling.Input{Pods: pods, Provisioners: []scheduling.ProvisionerInput{{Provisioner: p, InstanceTypes: types,
		Usage: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}}}
	res := scheduling.Solve(in)
	checkClaims(t, pods, res, nil)
	// Worst case over every claim's options stays within 20 - 4 = 16 cpus.
	worst := worstCaseCPU(res)
	if worst > 16000 {
		t.Fatalf("planned worst-case capacity %dm cpu exceeds the remaining limit 16 cpu", worst)
	}
	if len(res.Errors) == 0 || !strings.Contains(res.Errors[0].Reason, "exceed the provisioner's limits") {
		t.Fatalf("want limit errors, got %v", reasons(res))
	}
	if len(res.Errors) == len(pods) {
		t.Fatal("limits blocked everything")
	}
}

// A limit too large for int64 milli-units ("10P" cpu, "8Ei" memory, "1e16" pods, "1e400") is
// no limit: resource.Quantity.MilliValue wraps such quantities around to 0 or a negative
// amount, which refused every pod ("would exceed the provisioner's limits memory=-1").
func TestHugeLimitsAreNoLimit(t *testing.T) {
	for _, l := range []corev1.ResourceList{
		{corev1.ResourceCPU: resource.MustParse("10P")},
		{corev1.ResourceCPU: resource.MustParse("1e400")},
		{corev1.ResourceMemory: resource.MustParse("8Ei")},
		{corev1.ResourceMemory: resource.MustParse("1e19")},
		{corev1.ResourcePods: resource.MustParse("1e16")},
	} {
		p := provisioner("default")
		p.Spec.Limits = &v1alpha5.Limits{Resources: l}
		pods := replicas(8, "web", "1")
		res := solve(t, pods, []*v1alpha5.Provisioner{p}, fake.Catalog(40))
		checkClaims(t, pods, res, nil)
		if len(res.Errors) != 0 {
			t.Errorf("limits %v: %v", l, reasons(res))
		}
	}
	if got := scheduling.MilliValue(resource.MustParse("-1e400")); got != -scheduling.MaxMilli {
		t.Errorf("MilliValue(-1e400) = %d, want -MaxMilli", got)
	}
	if got := scheduling.MilliValue(resource.MustParse("1.5Gi")); got != 1536*1024*1024*1000 {
		t.Errorf("MilliValue(1.5Gi) = %d", got)
	}
}

// TestLimitsCountTheOptionsLaunched: a node is launched as one of its cheapest
// MaxInstanceTypes options, so the limit is charged the largest of those, not the largest type
// that could hold its pods (six small pods, one per node, used to exhaust a 100-cpu limit on
// the second node).
func TestLimitsCountTheOptionsLaunched(t *testing.T) {
	sixApartUnderLimit(t, 100, 5)
}

// TestLimitsNarrowTheOptionsBeforeRefusing: when the limit left cannot take one more node
// because the nodes planned so far count at the largest of their options, those nodes give up
// the options larger than their cheapest type, and the pod gets its node (six small pods, one
// per node, under a 12-cpu limit: the options of the first two nodes reached 12 cpu, so the
// other four pods were refused with 0.5 cpu planned).
func TestLimitsNarrowTheOptionsBeforeRefusing(t *testing.T) {
	sixApartUnderLimit(t, 12, 0)
}

// sixApartUnderLimit checks that six small pods with hostname anti-affinity to each other get
// six nodes under a provisioner limit of cpus, with the nodes' options (at most maxTypes each;
// 0: the default) launching within it.
func sixApartUnderLimit(t *testing.T, cpus int64, maxTypes int) {
	t.Helper()
	p := provisioner("default")
	p.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: *resource.NewQuantity(cpus, resource.DecimalSI)}}
	var pods []*corev1.Pod
	for i := range 6 {
		pods = append(pods, pod(fmt.Sprintf("web-%d", i), "250m", "512Mi", withLabels("app", "web"), withAntiAffinity(hostnameTerm("app", "web"))))
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{p}, fake.Catalog(60), func(in *scheduling.Input) { in.MaxInstanceTypes = maxTypes })
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 6 || len(res.Errors) != 0 {
		t.Fatalf("6 small pods, one per node, under a %d-cpu limit: %d nodes, errors %v", cpus, len(res.NewNodes), reasons(res))
	}
	if worst := worstCaseCPU(res); worst > cpus*1000 {
		t.Fatalf("the options launched could reach %dm cpu, past the limit", worst)
	}
}

func TestUnavailableOfferingsAndCapacityTypeConflict(t *testing.T) {
	types := fake.Catalog(60)
	// All spot offerings of every type but m5.xlarge are unavailable (ICE cached).
	for _, it := range types {
		for i := range it.Offerings {
			if it.Offerings[i].CapacityType == v1alpha5.CapacityTypeSpot && it.Name != "m5.xlarge" {
				it.Offerings[i].Available = false
			}
		}
	}
	spot := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot"))
	pods := []*corev1.Pod{pod("fits", "2", "2Gi"), pod("od", "1", "1Gi", withSelector(v1alpha5.LabelCapacityType, "on-demand"))}
	res := solve(t, pods, []*v1alpha5.Provisioner{spot}, types)
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 1 || len(res.NewNodes[0].InstanceTypeOptions) != 1 || res.NewNodes[0].InstanceTypeOptions[0].Name != "m5.xlarge" {
		t.Fatalf("want only m5.xlarge, got %+v", res.NewNodes)
	}
	want := "provisioner default: incompatible: karpenter.sh/capacity-type In [spot] vs pod requires karpenter.sh/capacity-type In [on-demand]"
	if len(res.Errors) != 1 || res.Errors[0].Reason != want {
		t.Fatalf("errors %+v, want %q", res.Errors, want)
	}
}

func TestUnfittablePodReason(t *testing.T) {
	types := fake.Catalog(20)
	pods := []*corev1.Pod{pod("huge", "500", "1Gi")}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	if len(res.NewNodes) != 0 || len(res.Errors) != 1 {
		t.Fatalf("got %+v", res)
	}
	if r := res.Errors[0].Reason; !strings.Contains(r, "no instance type satisfies requests cpu=500, memory=1Gi, pods=1") || !strings.Contains(r, "short of cpu") {
		t.Fatalf("reason %q", r)
	}
	res = solve(t, pods, nil, types)
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "no provisioner") {
		t.Fatalf("got %+v", res.Errors)
	}
}

// A pod asking for an extended resource no instance type has is told so, not that no type
// satisfies its requirements (its node selector may well be met).
func TestExtendedResourceNoTypeHasReason(t *testing.T) {
	types := fake.Catalog(20)
	p := pod("foo", "100m", "64Mi")
	p.Spec.Containers[0].Resources.Requests["example.com/foo"] = resource.MustParse("1")
	gpuOnArm := pod("gpu", "100m", "64Mi", withGPU(1), withSelector(v1alpha5.LabelArch, "arm64"))
	res := solve(t, []*corev1.Pod{p, gpuOnArm}, []*v1alpha5.Provisioner{provisioner("default")}, types)
	if len(res.NewNodes) != 0 || len(res.Errors) != 2 {
		t.Fatalf("want both unschedulable, got %d nodes, errors %v", len(res.NewNodes), reasons(res))
	}
	for _, e := range res.Errors {
		want := map[string]string{"foo": "has example.com/foo", "gpu": "has nvidia.com/gpu"}[e.Pod.Name]
		if !strings.Contains(e.Reason, "no instance type satisfying the requirements "+want) {
			t.Errorf("%s: reason %q, want it to say no instance type %s", e.Pod.Name, e.Reason, want)
		}
	}
}

func TestExistingAndInFlightNodesFirst(t *testing.T) {
	types := fake.Catalog(60)
	nodes := []scheduling.ExistingNode{
		{Name: "tainted", Labels: map[string]string{v1alpha5.LabelArch: "amd64"}, Taints: []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectNoSchedule}},
			Available: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100"), corev1.ResourceMemory: resource.MustParse("100Gi"), corev1.ResourcePods: resource.MustParse("100")}},
		{Name: "inflight", InFlight: true, Labels: map[string]string{v1alpha5.LabelArch: "amd64"},
			Available: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("100")}},
	}
	ds := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}}}
	var pods []*corev1.Pod
	for i := range 4 {
		pods = append(pods, pod(fmt.Sprintf("p%d", i), "1", "1Gi"))
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) {
		in.Nodes = nodes
		in.DaemonSets = []*appsv1.DaemonSet{ds}
	})
	checkClaims(t, pods, res, func(*cloudprovider.InstanceType) scheduling.Resources {
		return scheduling.Resources{corev1.ResourceCPU: 1000, corev1.ResourcePods: 1000}
	})
	// 4 cpu in flight minus a 1 cpu daemonset holds 3 pods; the 4th needs a new node; the
	// tainted node takes none.
	if got := len(res.ExistingNodes["inflight"]); got != 3 {
		t.Fatalf("in-flight node got %d pods, want 3", got)
	}
	if len(res.ExistingNodes["tainted"]) != 0 || len(res.NewNodes) != 1 {
		t.Fatalf("got %+v", res)
	}
}

func TestProvisionerWeightAndLabels(t *testing.T) {
	types := fake.Catalog(60)
	w := int32(50)
	spot := provisioner("spot", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot"))
	spot.Spec.Weight = &w
	team := provisioner("a-team")
	team.Spec.Labels = map[string]string{"team": "ml"}
	pods := []*corev1.Pod{pod("any", "1", "1Gi"), pod("ml", "1", "1Gi", withSelector("team", "ml")),
		pod("od", "1", "1Gi", withSelector(v1alpha5.LabelCapacityType, "on-demand"))}
	res := solve(t, pods, []*v1alpha5.Provisioner{team, spot}, types)
	checkClaims(t, pods, res, nil)
	got := map[string]string{}
	for _, c := range res.NewNodes {
		for _, p := range c.Pods {
			got[p.Name] = c.Provisioner.Name
		}
	}
	for _, e := range res.Errors {
		t.Logf("error %s: %s", e.Pod.Name, e.Reason)
	}
	want := map[string]string{"any": "spot", "ml": "a-team", "od": "a-team"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("placement %v, want %v", got, want)
	}
	for _, c := range res.NewNodes {
		if c.Provisioner.Name == "a-team" && c.Labels()["team"] != "ml" {
			t.Fatalf("a-team labels %v", c.Labels())
		}
	}
}

func TestInvalidAffinityIsAnError(t *testing.T) {
	p := pod("bad", "1", "1Gi", withTerms([]corev1.NodeSelectorRequirement{{Key: "k", Operator: "Near", Values: []string{"x"}}}))
	res := solve(t, []*corev1.Pod{p}, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(10))
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "nodeSelectorTerms[0].matchExpressions[0]") {
		t.Fatalf("got %+v", res.Errors)
	}
}

func TestDeterministic(t *testing.T) {
	types := fake.Catalog(200)
	var pods []*corev1.Pod
	for i := range 200 {
		pods = append(pods, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("%dm", 100+(i*37)%1900), fmt.Sprintf("%dMi", 128+(i*91)%8000)))
	}
	provs := []*v1alpha5.Provisioner{provisioner("default")}
	a, b := solve(t, pods, provs, types), solve(t, pods, provs, types)
	if len(a.NewNodes) != len(b.NewNodes) {
		t.Fatal("different node counts")
	}
	for i := range a.NewNodes {
		if !reflect.DeepEqual(a.NewNodes[i].Pods, b.NewNodes[i].Pods) || !reflect.DeepEqual(a.NewNodes[i].Prices, b.NewNodes[i].Prices) {
			t.Fatalf("claim %d differs", i)
		}
	}
	checkClaims(t, pods, a, nil)
}

func BenchmarkSolve(b *testing.B) {
	types := fake.Catalog(400)
	provs := []*v1alpha5.Provisioner{provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))}
	for _, n := range []int{100, 1000, 5000} {
		var pods []*corev1.Pod
		for i := range n {
			pods = append(pods, pod(fmt.Sprintf("p%05d", i), fmt.Sprintf("%dm", 100+(i*37)%3900), fmt.Sprintf("%dMi", 128+(i*91)%30000)))
		}
		b.Run(fmt.Sprintf("pods=%d/types=400", n), func(b *testing.B) {
			for b.Loop() {
				res := solve(b, pods, provs, types)
				if len(res.Errors) != 0 {
					b.Fatal(res.Errors[0].Reason)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
		})
	}
}

// BenchmarkSolveOverLimit: a batch far larger than the provisioner's limits, most of its pods
// refused for the limits (a refused pod is refused without filtering the types again, and its
// reason reused: 577 ms per solve before, 53 ms after; 11,000 pods of which 9,000 were refused
// took 22 s in simulate, 2.6 s after).
func BenchmarkSolveOverLimit(b *testing.B) {
	types := fake.Catalog(400)
	p := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	p.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100")}}
	var pods []*corev1.Pod
	for i := range 5000 {
		pods = append(pods, pod(fmt.Sprintf("p%05d", i), "1", "2Gi"))
	}
	for b.Loop() {
		res := solve(b, pods, []*v1alpha5.Provisioner{p}, types)
		if len(res.Errors) < 4000 || len(res.Errors) == len(pods) {
			b.Fatalf("%d of %d pods refused", len(res.Errors), len(pods))
		}
	}
	b.ReportMetric(5000*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
}

func TestRefreshDropsUnavailableOptions(t *testing.T) {
	types := fake.Catalog(60)
	pods := []*corev1.Pod{pod("a", "1", "1Gi")}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot"))}, types)
	c := res.NewNodes[0]
	first := c.InstanceTypeOptions[0].Name
	refreshed := fake.Catalog(60)
	for _, it := range refreshed {
		if it.Name == first {
			for i := range it.Offerings {
				if it.Offerings[i].CapacityType == v1alpha5.CapacityTypeSpot {
					it.Offerings[i].Available = false
				}
			}
		}
	}
	n := len(c.InstanceTypeOptions)
	if !c.Refresh(refreshed) || len(c.InstanceTypeOptions) != n-1 {
		t.Fatalf("refresh kept %d of %d options", len(c.InstanceTypeOptions), n)
	}
	for i, it := range c.InstanceTypeOptions {
		if it.Name == first {
			t.Fatalf("option %s without available spot offering kept", first)
		}
		if i > 0 && c.Prices[i] < c.Prices[i-1] {
			t.Fatal("not sorted")
		}
	}
	if c.Refresh(nil) {
		t.Fatal("refresh with no types must report no options")
	}
}

// FuzzSolve builds pods, a provisioner and existing nodes from random bytes and checks the
// plan's invariants (checkClaims) and that Solve never panics.
func FuzzSolve(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 200, 100, 50})
	f.Add([]byte{255, 0, 255, 0, 17, 34, 51, 68, 85, 102})
	types := fake.Catalog(80)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 240 {
			data = data[:240]
		}
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		prov := provisioner("default")
		switch next() % 4 {
		case 1:
			prov.Spec.Requirements = []v1alpha5.NodeSelectorRequirement{req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot")}
		case 2:
			prov.Spec.Requirements = []v1alpha5.NodeSelectorRequirement{req(v1alpha5.LabelArch, corev1.NodeSelectorOpNotIn, "arm64")}
		case 3:
			prov.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: *resource.NewQuantity(int64(next()), resource.DecimalSI)}}
		}
		var pods []*corev1.Pod
		for i := 0; len(data) >= 3; i++ {
			cpu, mem, flags := next(), next(), next()
			var opts []podOpt
			switch flags % 8 {
			case 1:
				opts = append(opts, withSelector(v1alpha5.LabelArch, "arm64"))
			case 2:
				opts = append(opts, withSelector(v1alpha5.LabelCapacityType, "on-demand"))
			case 3:
				opts = append(opts, withTerms(
					[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1" + string(rune('a'+flags%5))}}},
					[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{fmt.Sprint(flags % 64)}}}))
			case 4:
				opts = append(opts, withGPU(int64(flags%3)))
			case 5:
				opts = append(opts, withSelector("team", "x"))
			}
			pods = append(pods, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("%dm", int(cpu)*40), fmt.Sprintf("%dMi", int(mem)*160), opts...))
		}
		nodes := []scheduling.ExistingNode{{Name: "n", InFlight: true, Labels: map[string]string{v1alpha5.LabelArch: "amd64"},
			Available: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("10")}}}
		res := solve(t, pods, []*v1alpha5.Provisioner{prov}, types, func(in *scheduling.Input) { in.Nodes = nodes })
		checkClaims(t, pods, res, nil)
		if prov.Spec.Limits != nil {
			worst := worstCaseCPU(res)
			if worst > prov.Spec.Limits.Resources.Cpu().MilliValue() {
				t.Fatalf("planned %dm cpu past the limit %v", worst, prov.Spec.Limits.Resources.Cpu())
			}
		}
	})
}

// A claim grows while some type can hold all its pods; without the accelerator rule the
// largest-memory type (an 8-GPU one) would end up holding CPU-only pods at several times the cost.
func TestGPUTypesOnlyForGPUPods(t *testing.T) {
	cpu := fake.NewInstanceType(fake.InstanceTypeOptions{Name: "r.48xlarge", CPU: 192, MemoryMi: 1536 * 1024, Pods: 737, OnDemandPrice: 12})
	gpu := fake.NewInstanceType(fake.InstanceTypeOptions{Name: "p.48xlarge", CPU: 192, MemoryMi: 2048 * 1024, Pods: 737, GPUs: 8, OnDemandPrice: 98})
	var pods []*corev1.Pod
	for i := 0; i < 60; i++ { // 60 x 28Gi exceeds one r.48xlarge but fits one p.48xlarge
		pods = append(pods, pod(fmt.Sprintf("mem-%d", i), "3500m", "28Gi"))
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, []*cloudprovider.InstanceType{cpu, gpu})
	if len(res.Errors) != 0 {
		t.Fatalf("unexpected errors %+v", res.Errors)
	}
	if len(res.NewNodes) != 2 {
		t.Fatalf("want 2 r.48xlarge claims, got %d", len(res.NewNodes))
	}
	for _, nc := range res.NewNodes {
		for _, it := range nc.InstanceTypeOptions {
			if g := it.Capacity["nvidia.com/gpu"]; !g.IsZero() {
				t.Fatalf("claim of CPU-only pods offers GPU type %s", it.Name)
			}
		}
	}
	// A pod that requests a GPU still gets the GPU type.
	res = solve(t, []*corev1.Pod{pod("gpu", "1", "1Gi", withGPU(1))}, []*v1alpha5.Provisioner{provisioner("default")}, []*cloudprovider.InstanceType{cpu, gpu})
	if len(res.NewNodes) != 1 || res.NewNodes[0].InstanceTypeOptions[0].Name != "p.48xlarge" {
		t.Fatalf("GPU pod not planned on the GPU type: %+v %+v", res.NewNodes, res.Errors)
	}
}

func TestDaemonSetOverheadFollowsCapacityType(t *testing.T) {
	types := fake.Catalog(60)
	spotOnly := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "spot-handler"}, Spec: appsv1.DaemonSetSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{NodeSelector: map[string]string{v1alpha5.LabelCapacityType: v1alpha5.CapacityTypeSpot},
			Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}}}}}}}}
	pods := []*corev1.Pod{pod("p", "1500m", "1Gi")}
	smallest := func(capacityTypes ...string) int64 {
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, capacityTypes...))},
			types, func(in *scheduling.Input) { in.DaemonSets = []*appsv1.DaemonSet{spotOnly} })
		if len(res.NewNodes) != 1 {
			t.Fatalf("errors %v", reasons(res))
		}
		least := int64(1 << 40)
		for _, it := range res.NewNodes[0].InstanceTypeOptions {
			alloc := it.Allocatable()
			least = min(least, alloc.Cpu().MilliValue())
		}
		return least
	}
	if got := smallest(v1alpha5.CapacityTypeSpot, v1alpha5.CapacityTypeOnDemand); got < 4500 {
		t.Errorf("a node that may launch as spot offers a type with %dm allocatable: the 3-cpu spot daemonset and the 1.5-cpu pod do not fit", got)
	}
	if got := smallest(v1alpha5.CapacityTypeOnDemand); got >= 4500 {
		t.Errorf("an on-demand-only node counted the spot daemonset: smallest option %dm", got)
	}
}

// worstCaseCPU sums, over the plan's new nodes, the largest cpu capacity among each node's
// instance type options (millicores): what the nodes may reach once launched.
func worstCaseCPU(res *scheduling.Result) int64 {
	worst := int64(0)
	for _, c := range res.NewNodes {
		m := int64(0)
		for _, it := range c.InstanceTypeOptions {
			m = max(m, it.Capacity.Cpu().MilliValue())
		}
		worst += m
	}
	return worst
}

// A required term with matchFields `metadata.name NotIn` keeps only the named nodes out (found
// by a user trial: it was called invalid and the pod stayed pending): a new node may take the
// pod, and so may an existing node not named, never a named one. `metadata.name In` still pins
// the pod to existing nodes only.
func TestMatchFieldsNotInNodeName(t *testing.T) {
	types := fake.Catalog(40)
	def := []*v1alpha5.Provisioner{provisioner("default")}
	room := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("100")}
	nodes := []scheduling.ExistingNode{
		{Name: "n1", Labels: map[string]string{v1alpha5.LabelArch: "amd64"}, Available: room},
		{Name: "n2", Labels: map[string]string{v1alpha5.LabelArch: "amd64"}, Available: room},
	}
	notIn := func(names ...string) podOpt {
		return func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpNotIn, Values: names}}}}}}}
		}
	}
	// Too big for the existing nodes: a new node.
	big := []*corev1.Pod{pod("big", "6", "1Gi", notIn("n1"))}
	res := solve(t, big, def, types, func(in *scheduling.Input) { in.Nodes = nodes })
	checkClaims(t, big, res, nil)
	if len(res.Errors) != 0 || len(res.NewNodes) != 1 {
		t.Fatalf("want one new node, got %d, errors %v", len(res.NewNodes), reasons(res))
	}
	// Fits both existing nodes: never the one named.
	small := []*corev1.Pod{pod("a", "1", "1Gi", notIn("n1")), pod("b", "1", "1Gi", notIn("n1", "n2"))}
	res = solve(t, small, def, types, func(in *scheduling.Input) { in.Nodes = nodes })
	checkClaims(t, small, res, nil)
	if len(res.Errors) != 0 || len(res.ExistingNodes["n1"]) != 0 || len(res.ExistingNodes["n2"]) != 1 || len(res.NewNodes) != 1 {
		t.Fatalf("want a on n2 and b on a new node, got existing %v, %d new nodes, errors %v", podsPerNode(res), len(res.NewNodes), reasons(res))
	}
	// In pins to existing nodes: no new node.
	pinned := pod("pinned", "6", "1Gi")
	pinned.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}}}}}
	res = solve(t, []*corev1.Pod{pinned}, def, types, func(in *scheduling.Input) { in.Nodes = nodes })
	if len(res.NewNodes) != 0 || len(res.Errors) != 1 {
		t.Fatalf("want the pinned pod unschedulable by new nodes, got %d new nodes, errors %v", len(res.NewNodes), reasons(res))
	}
}

// Existing nodes are tried in order, whole blocks of them skipped when none has the cpu or
// memory a pod asks for: the pods still go to the first node with room, however far down the
// list, and a pod that requests no cpu fits a node whose cpu is overcommitted (as
// Resources.Fits has it).
func TestExistingNodesFarDownTheList(t *testing.T) {
	var nodes []scheduling.ExistingNode
	for i := range 300 {
		n := roomyNode(fmt.Sprintf("node-%03d", i))
		n.Available[corev1.ResourceCPU] = resource.MustParse("100m")
		if i == 0 {
			n.Available[corev1.ResourceCPU] = resource.MustParse("-1")
		}
		if i == 250 || i == 280 {
			n.Available[corev1.ResourceCPU] = resource.MustParse("2")
		}
		nodes = append(nodes, n)
	}
	memOnly := pod("mem-only", "0", "1Gi")
	pods := []*corev1.Pod{pod("a", "1500m", "1Gi"), pod("b", "1", "1Gi"), pod("c", "1", "1Gi"), pod("d", "1", "1Gi"), memOnly}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(20), func(in *scheduling.Input) { in.Nodes = nodes })
	got := podsPerNode(res)
	want := map[string]string{"a": "node-250", "b": "node-280", "c": "node-280", "d": "new-0", "mem-only": "node-000"}
	for name, node := range want {
		if got[name] != node {
			t.Fatalf("%s on %s, want %s: %v (errors %v)", name, got[name], node, got, reasons(res))
		}
	}
}

// A node affinity term kube-scheduler cannot parse (Gt "seven": the API server checks only that
// Gt has one value) is skipped, as its LazyErrorNodeSelector does, and the pod is planned on its
// other terms; with no other term the parse error is the reason.
func TestUnparsableAffinityTermSkipped(t *testing.T) {
	types := fake.Catalog(40)
	bad := []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"seven"}}}
	arm := []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelArch, Operator: corev1.NodeSelectorOpIn, Values: []string{"arm64"}}}
	pods := []*corev1.Pod{pod("bad-then-arm", "1", "1Gi", withTerms(bad, arm)), pod("bad-only", "1", "1Gi", withTerms(bad))}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 1 || res.NewNodes[0].Pods[0].Name != "bad-then-arm" {
		t.Fatalf("want bad-then-arm planned on its arm64 term; plan:\n%s", plan(res))
	}
	if it, _, _ := res.NewNodes[0].PlannedOffering(); it.Labels[v1alpha5.LabelArch] != "arm64" {
		t.Fatalf("planned on %s, want arm64", it.Name)
	}
	if len(res.Errors) != 1 || res.Errors[0].Pod.Name != "bad-only" || !strings.Contains(res.Errors[0].Reason, "integer") {
		t.Fatalf("want bad-only refused with the parse error, got %v", reasons(res))
	}
}
