package scheduling_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// exactType is a type without overhead (allocatable = capacity) sold on demand in one zone at
// price, and on spot at spot when spot > 0.
func exactType(name string, cpu, memGi, gpus int64, price, spot float64) *cloudprovider.InstanceType {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(cpu, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memGi<<30, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
	}
	if gpus > 0 {
		capacity["nvidia.com/gpu"] = *resource.NewQuantity(gpus, resource.DecimalSI)
	}
	it := &cloudprovider.InstanceType{
		Name:      name,
		Labels:    map[string]string{v1alpha5.LabelInstanceType: name, v1alpha5.LabelArch: "amd64", v1alpha5.LabelOS: "linux"},
		Capacity:  capacity,
		Offerings: []cloudprovider.Offering{{Zone: "us-east-1a", CapacityType: v1alpha5.CapacityTypeOnDemand, Price: price, Available: true}},
	}
	if spot > 0 {
		it.Offerings = append(it.Offerings, cloudprovider.Offering{Zone: "us-east-1a", CapacityType: v1alpha5.CapacityTypeSpot, Price: spot, Available: true})
	}
	return it
}

func boundOf(pods []*corev1.Pod, provs []*v1alpha5.Provisioner, types []*cloudprovider.InstanceType, mods ...func(*scheduling.Input)) float64 {
	in := scheduling.Input{Pods: pods}
	for _, p := range provs {
		in.Provisioners = append(in.Provisioners, scheduling.ProvisionerInput{Provisioner: p, InstanceTypes: types})
	}
	for _, m := range mods {
		m(&in)
	}
	return scheduling.LowerBound(in)
}

func pods(n int, prefix, cpu, mem string, opts ...podOpt) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, n)
	for i := range n {
		out = append(out, pod(fmt.Sprintf("%s-%d", prefix, i), cpu, mem, opts...))
	}
	return out
}

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6*max(1, want) {
		t.Errorf("%s: bound = %.9f, want %.9f", name, got, want)
	}
}

func TestLowerBoundHandComputed(t *testing.T) {
	def := []*v1alpha5.Provisioner{provisioner("default")}
	// One type of 4 cpu / 16Gi at $1: ten 1-cpu pods need 10/4 of it.
	near(t, "one type", boundOf(pods(10, "p", "1", "1Gi"), def, []*cloudprovider.InstanceType{exactType("a", 4, 16, 0, 1, 0)}), 2.5)

	// A cpu-rich and a memory-rich type at $1 each; 8 pods of 1 cpu / 4Gi ask 8 cpu and 32Gi.
	// By resources 1.6 of each would do (4*1.6+1.6 = 8 cpu, 4*1.6+16*1.6 = 32Gi, $3.2: the
	// cover of bound 1), but neither type holds two of these pods (the cpu type has 4Gi, the
	// memory type 1 cpu), so every filling of bound 5 holds one pod: $8.
	// (Half the pods tolerate a taint, so they are not all identical and bound 4 stays out.)
	twoTypes := []*cloudprovider.InstanceType{exactType("cpu", 4, 4, 0, 1, 0), exactType("mem", 1, 16, 0, 1, 0)}
	mixed := append(pods(4, "p", "1", "4Gi"), pods(4, "q", "1", "4Gi", withToleration("team", "a"))...)
	near(t, "pair, whole pods", boundOf(mixed, def, twoTypes), 8)
	// Pods that share nodes: eight 500m/512Mi pods (h) fill the cpu type; two 100m/7Gi pods (m)
	// fit only the memory type, which holds both and one h beside them (800m left). Fillings
	// "8 h on the cpu type" and "2 m + 1 h on the memory type", $1 each: the memory type once for
	// the m pods, then 7/8 of the cpu type for the other h pods, $1.875 (bound 5; a plan pays
	// $2). The cover of bound 1 buys 0.82 cpu type and 0.92 memory type: $1.74.
	halves := append(pods(8, "h", "500m", "512Mi"), pods(2, "m", "100m", "7Gi", withToleration("team", "a"))...)
	near(t, "pair", boundOf(halves, def, twoTypes), 1.875)
	// The same 8 pods all identical: neither type holds two of them (the cpu type has 4Gi, the
	// memory type 1 cpu), so they need 8 nodes, $8 (bound 4).
	near(t, "identical pods, whole pods per node", boundOf(pods(8, "p", "1", "4Gi"), def, twoTypes), 8)

	// An 8-cpu pod fits only the $2 type; by resources alone 4 small nodes ($0.4) would do.
	sizes := []*cloudprovider.InstanceType{exactType("small", 2, 4, 0, 0.1, 0), exactType("big", 16, 64, 0, 2, 0)}
	near(t, "big pod", boundOf([]*corev1.Pod{pod("big", "8", "8Gi")}, def, sizes), 2)
	near(t, "small pods", boundOf(pods(4, "p", "2", "1Gi"), def, sizes), 0.4)

	// Five tiny pods with hostname anti-affinity to each other need five $1 nodes.
	one := []*cloudprovider.InstanceType{exactType("a", 4, 16, 0, 1, 0)}
	anti := pods(5, "web", "100m", "100Mi", withLabels("app", "web"), withAntiAffinity(hostnameTerm("app", "web")))
	near(t, "anti-affinity", boundOf(anti, def, one), 5)
	// The same pods without anti-affinity share one node (any pod costs at least one node).
	near(t, "no anti-affinity", boundOf(pods(5, "web", "100m", "100Mi", withLabels("app", "web")), def, one), 1)

	// Threshold rows: a $0.1 type with 8 cpu but 1Gi fits none of these 2Gi pods, so its cheap
	// cpu cannot serve them. Eight 1-cpu pods need 8 cpu of the 4-cpu/16Gi $1 type: $2 (the
	// plain cover would buy 16Gi of it and the rest of the cpu from the cheap type: $1.05).
	cheapCPU := []*cloudprovider.InstanceType{exactType("cpu", 8, 1, 0, 0.1, 0), exactType("gen", 4, 16, 0, 1, 0)}
	twoGi := append(pods(4, "p", "1", "2Gi"), pods(4, "q", "1", "2Gi", withToleration("team", "a"))...)
	near(t, "room no pod can use", boundOf(twoGi, def, cheapCPU), 2)
	// A 512Mi pod among them may use the cheap type's cpu, but only for itself: the cover buys
	// an eighth of the cheap type for it ($2.0125), whole nodes a whole one ($2.1).
	withSmall := append(twoGi, pod("small", "1", "512Mi"))
	near(t, "room one pod can use", boundOf(withSmall, def, cheapCPU), 2.1)

	// Hostname spread with maxSkew 2: five pods need three nodes.
	spread := pods(5, "s", "100m", "100Mi", withLabels("app", "s"), withHostSpread(2, "app", "s"))
	near(t, "spread maxSkew 2", boundOf(spread, def, one), 3)
}

func withHostSpread(maxSkew int32, key, value string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: maxSkew, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}})
	}
}

func TestLowerBoundRequirementsAndExtendedResources(t *testing.T) {
	types := []*cloudprovider.InstanceType{exactType("plain", 4, 16, 0, 0.2, 0.1), exactType("gpu", 4, 16, 1, 1, 0)}
	def := []*v1alpha5.Provisioner{provisioner("default")}
	// Three GPU pods need three GPU nodes whatever the plain pods do.
	ps := append(pods(3, "g", "1", "1Gi", withGPU(1)), pods(20, "p", "1", "1Gi")...)
	if got := boundOf(ps, def, types); got < 3-1e-6 {
		t.Errorf("GPU pods: bound %.4f < 3 GPU nodes", got)
	}
	// The plain type's spot offering at $0.1 counts only where the provisioner allows spot.
	one := []*corev1.Pod{pod("a", "1", "1Gi")}
	near(t, "spot allowed", boundOf(one, def, types), 0.1)
	onDemand := []*v1alpha5.Provisioner{provisioner("od", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, v1alpha5.CapacityTypeOnDemand))}
	near(t, "on-demand only", boundOf(one, onDemand, types), 0.2)
	// A pod selecting on-demand narrows the price as well.
	near(t, "pod selects on-demand", boundOf([]*corev1.Pod{pod("a", "1", "1Gi", withSelector(v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand))}, def, types), 0.2)
	// A pod no type holds is left out; a pod the provisioner's taint keeps off is too.
	near(t, "unfittable", boundOf([]*corev1.Pod{pod("huge", "100", "1Gi")}, def, types), 0)
	tainted := provisioner("tainted")
	tainted.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}
	near(t, "untolerated", boundOf(one, []*v1alpha5.Provisioner{tainted}, types), 0)
	// A pod with an invalid node affinity operator is rejected by the solver and left out here.
	bad := pod("bad", "1", "1Gi", withTerms([]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelArch, Operator: "Sometimes"}}))
	near(t, "invalid affinity", boundOf([]*corev1.Pod{bad}, def, types), 0)
	near(t, "tolerated", boundOf([]*corev1.Pod{pod("a", "1", "1Gi", withToleration("dedicated", "x"))}, []*v1alpha5.Provisioner{tainted}, types), 0.1)
}

func TestLowerBoundExistingNodesAndDaemonSets(t *testing.T) {
	one := []*cloudprovider.InstanceType{exactType("a", 4, 16, 0, 1, 0)}
	def := []*v1alpha5.Provisioner{provisioner("default")}
	existing := func(in *scheduling.Input) {
		in.Nodes = []scheduling.ExistingNode{{Name: "n1", Available: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("6"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("110")}}}
	}
	// 10 cpu asked, 6 free on the existing node: 4 cpu on new nodes, one $1 node.
	near(t, "existing room", boundOf(pods(10, "p", "1", "1Gi"), def, one, existing), 1)
	// Everything fits the existing node: no new node.
	near(t, "all fit", boundOf(pods(4, "p", "1", "1Gi"), def, one, existing), 0)
	// A daemonset of 1 cpu leaves 3 usable cpu per node: 9 cpu need 3 nodes.
	ds := func(in *scheduling.Input) {
		in.DaemonSets = []*appsv1.DaemonSet{{ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "kube-system"},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}}}}
	}
	near(t, "daemonset", boundOf(pods(9, "p", "1", "1Gi"), def, one, ds), 3)
	// The existing node's room is no use to pods that do not tolerate its taint, or whose node
	// selector its labels do not match: 10 cpu on new nodes of 4 cpu at $1.
	tainted := func(in *scheduling.Input) {
		existing(in)
		in.Nodes[0].Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
	}
	near(t, "tainted existing node", boundOf(pods(10, "p", "1", "1Gi"), def, one, tainted), 2.5)
	near(t, "tolerated taint", boundOf(pods(10, "p", "1", "1Gi", withToleration("dedicated", "db")), def, one, tainted), 1)
	near(t, "labels not matched", boundOf(pods(10, "p", "1", "1Gi", withSelector(v1alpha5.LabelArch, "amd64")), def, one, existing), 2.5)
	// Half the pods may use the node: 5 cpu of theirs less 6 free, and 5 cpu of the others.
	mixed := append(pods(5, "p", "1", "1Gi"), pods(5, "q", "1", "1Gi", withToleration("dedicated", "db"))...)
	near(t, "half tolerate", boundOf(mixed, def, one, tainted), 1.25)
}

// TestLowerBoundNeverAboveSolve checks LowerBound <= the solver's cost (each new node at the
// first option's price) on random inputs: random catalogue slices, pod sizes, GPU pods, node
// selectors, anti-affinity and spread groups, existing nodes and daemonsets.
func TestLowerBoundNeverAboveSolve(t *testing.T) {
	catalogue := fake.Catalog(400)
	worst, sum, count := math.Inf(1), 0.0, 0
	defer func() { t.Logf("bound / cost over %d plans: mean %.3f, lowest %.3f", count, sum/float64(count), worst) }()
	// Seeds 150 and on use the fourth shape only.
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		shape := -1
		if seed >= 150 {
			shape = 3
		}
		in := randomInput(rng, catalogue, shape)
		res := scheduling.Solve(in)
		bound := scheduling.LowerBound(in)
		if len(res.Errors) > 0 {
			t.Fatalf("seed %d: the generator made an unplaceable pod: %s", seed, res.Errors[0].Reason)
		}
		if c := cost(res); bound > c*(1+1e-9) {
			t.Fatalf("seed %d: bound %.6f above the solver's cost %.6f (%d pods, %d nodes)", seed, bound, c, len(in.Pods), len(res.NewNodes))
		}
		// Existing free room may cover the demand in sum though not pod by pod: then 0 is right.
		if len(in.Nodes) == 0 && len(res.NewNodes) > 0 && bound <= 0 {
			t.Fatalf("seed %d: bound 0 but the solver launched %d nodes", seed, len(res.NewNodes))
		}
		if c := cost(res); c > 0 {
			worst, sum, count = min(worst, bound/c), sum+bound/c, count+1
		}
	}
}

// randomInput makes a random input of the given shape (see below; -1 for a random one of the
// first three).
func randomInput(rng *rand.Rand, catalogue []*cloudprovider.InstanceType, shape int) scheduling.Input {
	var types []*cloudprovider.InstanceType
	for _, it := range catalogue {
		if rng.IntN(4) == 0 || it.Name == "m5.48xlarge" || it.Name == "m5g.48xlarge" || it.Name == "g5.12xlarge" {
			types = append(types, it)
		}
	}
	prov := provisioner("default")
	if rng.IntN(3) == 0 {
		prov = provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, v1alpha5.CapacityTypeOnDemand))
	}
	in := scheduling.Input{Provisioners: []scheduling.ProvisionerInput{{Provisioner: prov, InstanceTypes: types}}}
	// Three shapes: mixed pods with a few small existing nodes; small pods beside large existing
	// nodes (the free room decides); small pods in spread and anti-affinity groups (the groups
	// decide).
	mode := rng.IntN(3)
	if shape >= 0 {
		mode = shape
	}
	if mode == 3 {
		return lopsidedInput(rng, in)
	}
	n := 1 + rng.IntN(60)
	for i := range n {
		name := fmt.Sprintf("p%d", i)
		cpu := fmt.Sprintf("%dm", 50+rng.IntN(12000))
		mem := fmt.Sprintf("%dMi", 64+rng.IntN(40000))
		if mode == 1 {
			cpu, mem = fmt.Sprintf("%dm", 50+rng.IntN(1000)), fmt.Sprintf("%dMi", 64+rng.IntN(2000))
		}
		if mode == 2 {
			cpu, mem = fmt.Sprintf("%dm", 50+rng.IntN(250)), fmt.Sprintf("%dMi", 64+rng.IntN(500))
		}
		in.Pods = append(in.Pods, pod(name, cpu, mem, randomPodOpts(rng, mode)...))
	}
	nodes, nodeCPU, nodeMemMi := rng.IntN(4), 8000, 32<<10
	if mode == 1 {
		nodes, nodeCPU, nodeMemMi = 1+rng.IntN(6), 16000, 64<<10
	}
	for i := range nodes {
		in.Nodes = append(in.Nodes, scheduling.ExistingNode{Name: fmt.Sprintf("n%d", i), Labels: map[string]string{v1alpha5.LabelArch: "amd64"},
			Available: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(int64(rng.IntN(nodeCPU)), resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(int64(rng.IntN(nodeMemMi))<<20, resource.BinarySI), corev1.ResourcePods: resource.MustParse("50")}})
		if rng.IntN(3) == 0 { // a node most pods may not use
			in.Nodes[i].Taints = []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}
		}
	}
	if rng.IntN(2) == 0 {
		in.DaemonSets = []*appsv1.DaemonSet{{ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "kube-system"},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("256Mi")}}}}}}}}}
	}
	return in
}

// lopsidedInput is the fourth shape: cpu-heavy and memory-heavy pods beside a few tiny ones
// that small existing rooms take, so that the tiny pods' signature admits types holding none of
// the others (the bound must not count those types' room for them).
func lopsidedInput(rng *rand.Rand, in scheduling.Input) scheduling.Input {
	for i := range 1 + rng.IntN(40) {
		cpu, mem := fmt.Sprintf("%dm", 1000+rng.IntN(3000)), fmt.Sprintf("%dMi", 256+rng.IntN(1024))
		if rng.IntN(2) == 0 {
			cpu, mem = fmt.Sprintf("%dm", 100+rng.IntN(400)), fmt.Sprintf("%dMi", 8192+rng.IntN(24576))
		}
		in.Pods = append(in.Pods, pod(fmt.Sprintf("p%d", i), cpu, mem))
	}
	for i := range 1 + rng.IntN(5) {
		in.Pods = append(in.Pods, pod(fmt.Sprintf("tiny%d", i), "50m", "64Mi"))
	}
	for i := range 1 + rng.IntN(3) {
		in.Nodes = append(in.Nodes, scheduling.ExistingNode{Name: fmt.Sprintf("n%d", i), Labels: map[string]string{v1alpha5.LabelArch: "amd64"},
			Available: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(int64(50+rng.IntN(500)), resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(int64(64+rng.IntN(1024))<<20, resource.BinarySI), corev1.ResourcePods: resource.MustParse("50")}})
	}
	return in
}

func randomPodOpts(rng *rand.Rand, mode int) []podOpt {
	if mode == 2 {
		g := rng.IntN(3)
		if rng.IntN(2) == 0 {
			group := fmt.Sprintf("anti-%d", g)
			return []podOpt{withLabels("app", group), withAntiAffinity(hostnameTerm("app", group))}
		}
		group := fmt.Sprintf("spread-%d", g)
		return []podOpt{withLabels("app", group), withHostSpread(int32(1+g), "app", group)}
	}
	switch rng.IntN(8) {
	case 0:
		return []podOpt{withLabels("app", "anti"), withAntiAffinity(hostnameTerm("app", "anti"))}
	case 1:
		return []podOpt{withLabels("app", "spread"), withHostSpread(int32(1+rng.IntN(3)), "app", "spread")}
	case 2:
		return []podOpt{withGPU(1)}
	case 3:
		return []podOpt{withSelector(v1alpha5.LabelArch, "arm64")}
	case 4:
		return []podOpt{withSelector(v1alpha5.LabelZone, "us-east-1b")}
	}
	return nil
}

// Types that can hold none of the pods a row of the cover covers supply nothing to it: here
// c4small (4 cpu, 4Gi) and r1 (1 cpu, 16Gi) hold only the small pod, which an existing node's
// room takes anyway, so the 8 pods of 1.5 cpu and 6Gi need m4 nodes (2 each): 4 of them, and
// the bound is 3 (12 cpu / 4 and 48Gi / 16 at $1), not the cheap types' price of their cpu
// and memory. The solver's plan costs 4.
func TestLowerBoundCountsOnlyTypesThatHoldAPod(t *testing.T) {
	types := []*cloudprovider.InstanceType{
		exactType("c4small", 4, 4, 0, 0.05, 0), exactType("r1", 1, 16, 0, 0.05, 0),
		exactType("m4", 4, 16, 0, 1, 0), exactType("huge", 64, 256, 0, 20, 0),
	}
	def := []*v1alpha5.Provisioner{provisioner("default")}
	in := append(pods(8, "a", "1500m", "6Gi"), pod("b", "250m", "256Mi"))
	existing := func(in *scheduling.Input) {
		in.Nodes = []scheduling.ExistingNode{{Name: "n1", Available: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi"), corev1.ResourcePods: resource.MustParse("10")}}}
	}
	bound := boundOf(in, def, types, existing)
	near(t, "types that hold a pod", bound, 3)
	res := solve(t, in, def, types, existing)
	if c := cost(res); bound > c*(1+1e-9) || len(res.Errors) > 0 {
		t.Fatalf("bound %v above the plan's cost %v (errors %v)", bound, c, res.Errors)
	}
}

// TestLowerBoundOfAClassBesideOthers: pods that require on-demand keep their on-demand bound
// beside pods that accept spot on the same types (the cover prices a type at the cheapest
// offering any pod may use; each price class is bounded alone too).
func TestLowerBoundOfAClassBesideOthers(t *testing.T) {
	types := []*cloudprovider.InstanceType{
		exactType("small", 4, 8, 0, 0.15, 0.035),
		exactType("large", 8, 16, 0, 0.30, 0.0623),
	}
	prov := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	od := replicas(5, "od", "2", withSelector(v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand))
	alone := boundOf(od, []*v1alpha5.Provisioner{prov}, types)
	// 10 CPU on on-demand at 0.0375 USD/hour per CPU, whichever type.
	if math.Abs(alone-0.375) > 1e-6 {
		t.Fatalf("bound of the on-demand pods alone %.4f, want 0.375", alone)
	}
	with := append(slices.Clone(od), replicas(6, "any", "100m")...)
	if got := boundOf(with, []*v1alpha5.Provisioner{prov}, types); got < alone-1e-9 {
		t.Fatalf("bound with spot-eligible pods added %.4f, below the on-demand pods' alone %.4f", got, alone)
	}
}

// TestLowerBoundRanksClassesByCost: the price classes bounded alone are those whose demand costs
// most, not those of most pods: eight classes of many tiny pods (each kept off one type) beside
// 10 on-demand pods of 1600m keep the on-demand pods' bound.
func TestLowerBoundRanksClassesByCost(t *testing.T) {
	var types []*cloudprovider.InstanceType
	for i := range 9 {
		types = append(types, exactType(fmt.Sprintf("t%d", i), 8, 16, 0, 0.40+0.01*float64(i), 0.08))
	}
	prov := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	od := replicas(10, "od", "1600m", withSelector(v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand))
	alone := boundOf(od, []*v1alpha5.Provisioner{prov}, types)
	// 16 CPU on on-demand: two nodes of t0.
	if math.Abs(alone-0.80) > 1e-6 {
		t.Fatalf("bound of the on-demand pods alone %.4f, want 0.80", alone)
	}
	with := slices.Clone(od)
	for i := range 8 {
		notOne := withTerms([]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceType, Operator: corev1.NodeSelectorOpNotIn, Values: []string{fmt.Sprintf("t%d", i+1)}}})
		with = append(with, replicas(20, fmt.Sprintf("tiny%d-", i), "10m", notOne)...)
	}
	if got := boundOf(with, []*v1alpha5.Provisioner{prov}, types); got < alone-1e-9 {
		t.Fatalf("bound with eight classes of tiny pods added %.4f, below the on-demand pods' alone %.4f", got, alone)
	}
}
