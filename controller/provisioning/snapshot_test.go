package provisioning

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

func rl(cpu, mem string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")}
}

func boundPod(name, node, cpu string, phase corev1.PodPhase) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "d", Name: name},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
		Status: corev1.PodStatus{Phase: phase}}
}

func snapshotClaim(name, providerID, node string, capacity, allocatable, requests corev1.ResourceList) karpv1.NodeClaim {
	return karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"k": "v", v1alpha5.LabelProvisionerName: "default"}},
		Spec: karpv1.NodeClaimSpec{ProvisionerName: "default", Resources: karpv1.ResourceRequirements{Requests: requests},
			Taints: []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}},
		Status: karpv1.NodeClaimStatus{ProviderID: providerID, NodeName: node, Capacity: capacity, Allocatable: allocatable}}
}

// The snapshot is rebuilt from the API server's objects alone: registered nodes with what
// their pods leave free, then NodeClaims not registered yet as in-flight capacity (launched:
// their allocatable; not launched yet: their pods' requests), with usage per provisioner.
func TestBuildSnapshot(t *testing.T) {
	provs := []v1alpha5.Provisioner{{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha5.ProvisionerSpec{
		StartupTaints: []corev1.Taint{{Key: "agent", Effect: corev1.TaintEffectNoSchedule}}}}}
	nodes := []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{v1alpha5.LabelProvisionerName: "default"}},
			Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-1", Taints: []corev1.Taint{
				{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
				{Key: "agent", Effect: corev1.TaintEffectNoSchedule},
				{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}},
			Status: corev1.NodeStatus{Capacity: rl("4", "16Gi"), Allocatable: rl("3900m", "15Gi")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "cordoned", Labels: map[string]string{v1alpha5.LabelProvisionerName: "default"}},
			Spec:   corev1.NodeSpec{Unschedulable: true},
			Status: corev1.NodeStatus{Capacity: rl("2", "8Gi"), Allocatable: rl("2", "8Gi")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "static"}, Status: corev1.NodeStatus{Capacity: rl("2", "1Gi"), Allocatable: rl("2", "1Gi")}},
	}
	pods := []corev1.Pod{
		boundPod("a", "n1", "1", corev1.PodRunning),
		boundPod("b", "n1", "500m", corev1.PodPending),
		boundPod("done", "n1", "2", corev1.PodSucceeded),
		boundPod("pending", "", "8", corev1.PodPending),
	}
	deleting := snapshotClaim("deleting", "aws:///us-east-1c/i-4", "n4", rl("16", "64Gi"), rl("16", "64Gi"), nil)
	deleting.DeletionTimestamp = &metav1.Time{}
	claims := []karpv1.NodeClaim{
		// Registered as n1: counted as the node, not twice.
		snapshotClaim("registered", "aws:///us-east-1a/i-1", "n1", rl("4", "16Gi"), rl("3900m", "15Gi"), rl("1", "1Gi")),
		snapshotClaim("launched", "aws:///us-east-1b/i-2", "n2", rl("8", "32Gi"), rl("7900m", "30Gi"), rl("1", "1Gi")),
		snapshotClaim("unlaunched", "", "", nil, nil, rl("1500m", "2Gi")),
		deleting,
	}
	snap := BuildSnapshot(time.Now(), nodes, pods, provs, claims)
	if len(snap.Nodes) != 5 {
		t.Fatalf("nodes %+v; want n1, cordoned, static, n2, unlaunched", snap.Nodes)
	}
	// The cordoned node offers nothing, but is listed: its pods count for topology.
	if c := snap.Nodes[1]; c.Name != "cordoned" || len(c.Available) != 0 {
		t.Fatalf("cordoned = %+v, want listed with no room", c)
	}
	snap.Nodes = append(snap.Nodes[:1], snap.Nodes[2:]...)
	n1 := snap.Nodes[0]
	if n1.Name != "n1" || n1.Available.Cpu().MilliValue() != 2400 || len(n1.Taints) != 1 || n1.Taints[0].Key != "dedicated" {
		t.Fatalf("n1 = %+v (want 2400m cpu left, only the dedicated taint)", n1)
	}
	if snap.Nodes[1].Name != "static" || snap.Nodes[1].InFlight {
		t.Fatalf("static = %+v", snap.Nodes[1])
	}
	n2 := snap.Nodes[2]
	if n2.Name != "n2" || !n2.InFlight || n2.Labels["k"] != "v" || n2.Available.Cpu().MilliValue() != 7900 || len(n2.Taints) != 1 {
		t.Fatalf("n2 = %+v", n2)
	}
	un := snap.Nodes[3]
	if un.Name != "unlaunched" || !un.InFlight || un.Available.Cpu().MilliValue() != 1500 {
		t.Fatalf("unlaunched = %+v (want its requests, 1500m)", un)
	}
	// Usage: n1 (4) + cordoned (2) + launched claim (8) + unlaunched claim's requests (1.5).
	if got := snap.Usage["default"][corev1.ResourceCPU]; got.MilliValue() != 15500 {
		t.Fatalf("usage cpu = %v, want 15.5", got.String())
	}
	if _, ok := snap.Usage[""]; ok {
		t.Fatal("unmanaged node counted as usage")
	}
}

// A node not Ready for NotReadyGrace offers no room (kube-scheduler keeps pods off it, and it
// may never come back), but is listed with its pods; one that turned not Ready a moment ago, or
// has no Ready condition yet, still offers room. All count towards their provisioner's usage.
func TestSnapshotNotReadyNodes(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	node := func(name string, ready corev1.ConditionStatus, since time.Duration) corev1.Node {
		n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1alpha5.LabelProvisionerName: "default"}},
			Status: corev1.NodeStatus{Capacity: rl("2", "8Gi"), Allocatable: rl("2", "8Gi")}}
		if ready != "" {
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, LastTransitionTime: metav1.NewTime(now.Add(-since))}}
		}
		return n
	}
	nodes := []corev1.Node{
		node("ready", corev1.ConditionTrue, time.Hour),
		node("no-condition", "", 0),
		node("just-not-ready", corev1.ConditionFalse, time.Minute),
		node("broken", corev1.ConditionFalse, NotReadyGrace),
		node("unreachable", corev1.ConditionUnknown, time.Hour),
	}
	zk := boundPod("zk-0", "broken", "1", corev1.PodRunning)
	snap := BuildSnapshot(now, nodes, []corev1.Pod{zk}, nil, nil)
	var names []string
	for _, n := range snap.Nodes {
		if len(n.Available) > 0 {
			names = append(names, n.Name)
		}
	}
	if len(snap.Nodes) != 5 || len(names) != 3 || names[0] != "ready" || names[1] != "no-condition" || names[2] != "just-not-ready" {
		t.Fatalf("nodes offering room %v, want ready, no-condition, just-not-ready (of 5 listed)", names)
	}
	// The broken node's pods still count for pod affinity, anti-affinity and spread.
	if b := snap.Nodes[3]; b.Name != "broken" || len(b.Pods) != 1 {
		t.Fatalf("broken = %+v, want listed with its pod", b)
	}
	if got := snap.Usage["default"][corev1.ResourceCPU]; got.Value() != 10 {
		t.Fatalf("usage cpu = %v, want 10 (every node)", got.String())
	}
}

// After a restart, a claim whose launch was not recorded (no provider ID) and whose Node has
// registered counts once, as the Node, until the lifecycle reconciler resumes it; a claim whose
// Node has registered without a provider ID yet counts once too (matched by status.nodeName).
// A Node that cannot be the claim's (created before it, of a type the claim does not offer,
// owned by another claim) leaves the claim in flight.
func TestSnapshotCountsARegisteredClaimOnce(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	unlaunched := func(name string, created time.Time) karpv1.NodeClaim {
		c := snapshotClaim(name, "", "", nil, nil, rl("1", "1Gi"))
		c.CreationTimestamp = metav1.NewTime(created)
		c.Spec.Requirements = []v1alpha5.NodeSelectorRequirement{
			{Key: v1alpha5.LabelInstanceType, Operator: corev1.NodeSelectorOpIn, Values: []string{"m5.large", "c5.large"}},
			{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"spot"}}}
		return c
	}
	node := func(name, providerID, instanceType string, created time.Time) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created),
			Labels: map[string]string{v1alpha5.LabelProvisionerName: "default", v1alpha5.LabelInstanceType: instanceType}},
			Spec:   corev1.NodeSpec{ProviderID: providerID},
			Status: corev1.NodeStatus{Capacity: rl("2", "8Gi"), Allocatable: rl("2", "8Gi")}}
	}
	inFlight := func(snap Snapshot) []string {
		var out []string
		for _, n := range snap.Nodes {
			if n.InFlight {
				out = append(out, n.Name)
			}
		}
		return out
	}
	usage := func(snap Snapshot) int64 {
		q := snap.Usage["default"][corev1.ResourceCPU]
		return q.MilliValue()
	}

	// Unlaunched claim, its Node registered 10 s later: the node's 2 cpu, once.
	snap := BuildSnapshot(t0.Add(time.Minute), []corev1.Node{node("ip-1", "aws:///us-east-1a/i-1", "m5.large", t0.Add(10*time.Second))},
		nil, nil, []karpv1.NodeClaim{unlaunched("resumable", t0)})
	if got := inFlight(snap); len(got) != 0 || usage(snap) != 2000 {
		t.Errorf("unlaunched claim with its Node: in flight %v, usage %dm; want none, 2000m", got, usage(snap))
	}

	// Launched claim whose Node registered without a provider ID yet: matched by node name.
	launched := snapshotClaim("launched", "aws:///us-east-1a/i-2", "ip-2", rl("2", "8Gi"), rl("2", "8Gi"), rl("1", "1Gi"))
	snap = BuildSnapshot(t0, []corev1.Node{node("ip-2", "", "m5.large", t0)}, nil, nil, []karpv1.NodeClaim{launched})
	if got := inFlight(snap); len(got) != 0 || usage(snap) != 2000 {
		t.Errorf("launched claim with its Node (no provider ID yet): in flight %v, usage %dm; want none, 2000m", got, usage(snap))
	}

	// Nodes that cannot be the claim's.
	owned := node("owned", "aws:///us-east-1a/i-5", "m5.large", t0.Add(time.Second))
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: karpv1.SchemeGroupVersion.String(), Kind: "NodeClaim", Name: "gone", UID: "u"}}
	spot := node("wrong-capacity", "aws:///us-east-1a/i-6", "m5.large", t0.Add(time.Second))
	spot.Labels[v1alpha5.LabelCapacityType] = "on-demand"
	for _, n := range []corev1.Node{
		node("older", "aws:///us-east-1a/i-3", "m5.large", t0.Add(-time.Second)),
		node("other-type", "aws:///us-east-1a/i-4", "m5.xlarge", t0.Add(time.Second)),
		owned, spot,
	} {
		snap = BuildSnapshot(t0.Add(time.Minute), []corev1.Node{n}, nil, nil, []karpv1.NodeClaim{unlaunched("resumable", t0)})
		if got := inFlight(snap); len(got) != 1 || usage(snap) != 3000 {
			t.Errorf("node %s: in flight %v, usage %dm; want the claim in flight, 3000m", n.Name, got, usage(snap))
		}
	}

	// Two unlaunched claims, one Node: it serves the older claim only.
	snap = BuildSnapshot(t0.Add(time.Minute), []corev1.Node{node("ip-7", "aws:///us-east-1a/i-7", "c5.large", t0.Add(5*time.Second))},
		nil, nil, []karpv1.NodeClaim{unlaunched("newer", t0.Add(2*time.Second)), unlaunched("older", t0)})
	if got := inFlight(snap); len(got) != 1 || got[0] != "newer" || usage(snap) != 3000 {
		t.Errorf("two claims, one Node: in flight %v, usage %dm; want [newer], 3000m", got, usage(snap))
	}
}
