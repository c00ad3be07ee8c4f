package scheduling_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

const ebs = "ebs.csi.aws.com"

// withClaims mounts the named PersistentVolumeClaims.
func withClaims(names ...string) podOpt {
	return func(p *corev1.Pod) {
		for _, n := range names {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: n,
				VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: n}}})
		}
	}
}

// claim returns a 10Gi ReadWriteOnce claim of class (nil: no class) bound to volume ("" unbound).
func claim(name string, class *string, volume string) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: k8stypes.UID("uid-claim-" + name)},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: class, VolumeName: volume,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}}}
	if volume != "" {
		c.Status.Phase = corev1.ClaimBound
	}
	return c
}

// ebsVolume returns an available 10Gi ReadWriteOnce EBS CSI volume of class, with a required
// node affinity term per zone (none: no affinity).
func ebsVolume(name, class string, zones ...string) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{StorageClassName: class,
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: ebs, VolumeHandle: "vol-" + name}}},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable}}
	if len(zones) > 0 {
		ns := &corev1.NodeSelector{}
		for _, z := range zones {
			ns.NodeSelectorTerms = append(ns.NodeSelectorTerms, corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{z}}}})
		}
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: ns}
	}
	return pv
}

// bind marks pv bound to c.
func bind(pv *corev1.PersistentVolume, c *corev1.PersistentVolumeClaim) {
	pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: c.Namespace, Name: c.Name, UID: c.UID}
	pv.Status.Phase = corev1.VolumeBound
	c.Spec.VolumeName = pv.Name
	c.Status.Phase = corev1.ClaimBound
}

func storageClass(name, provisioner string, mode storagev1.VolumeBindingMode, zones ...string) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: &mode}
	if len(zones) > 0 {
		sc.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{
			{Key: corev1.LabelTopologyZone, Values: zones}}}}
	}
	return sc
}

func volumes(objs ...any) scheduling.Volumes {
	v := scheduling.Volumes{PVCs: map[string]*corev1.PersistentVolumeClaim{}, PVs: map[string]*corev1.PersistentVolume{},
		StorageClasses: map[string]*storagev1.StorageClass{}, CSINodes: map[string]*storagev1.CSINode{}}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.PersistentVolumeClaim:
			v.PVCs[o.Namespace+"/"+o.Name] = o
		case *corev1.PersistentVolume:
			v.PVs[o.Name] = o
		case *storagev1.StorageClass:
			v.StorageClasses[o.Name] = o
		case *storagev1.CSINode:
			v.CSINodes[o.Name] = o
		}
	}
	return v
}

// zoneOf returns the zones a new node's requirements allow.
func zoneOf(c *scheduling.NodeClaim) []string {
	return c.Requirements[v1alpha5.LabelZone].Values()
}

func solveVolumes(t *testing.T, pods []*corev1.Pod, vols scheduling.Volumes, mods ...func(*scheduling.Input)) *scheduling.Result {
	t.Helper()
	mods = append([]func(*scheduling.Input){func(in *scheduling.Input) { in.Volumes = vols }}, mods...)
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(30), mods...)
	checkClaims(t, pods, res, nil)
	return res
}

// An empty node selector term of a volume's node affinity matches no node (as in
// kube-scheduler's VolumeBinding): the volume is reachable only where its other term allows.
func TestBoundVolumeEmptyAffinityTerm(t *testing.T) {
	c := claim("data", ptr.To(""), "")
	pv := ebsVolume("pv-b", "", "us-east-1b")
	pv.Spec.NodeAffinity.Required.NodeSelectorTerms = append([]corev1.NodeSelectorTerm{{}}, pv.Spec.NodeAffinity.Required.NodeSelectorTerms...)
	bind(pv, c)
	res := solveVolumes(t, []*corev1.Pod{pod("db", "1", "1Gi", withClaims("data"))}, volumes(c, pv))
	if len(res.NewNodes) != 1 || !reflect.DeepEqual(zoneOf(res.NewNodes[0]), []string{"us-east-1b"}) {
		t.Fatalf("want one node in us-east-1b, got %d nodes, errors %v", len(res.NewNodes), res.Errors)
	}
}

func TestBoundZonalVolume(t *testing.T) {
	c := claim("data", ptr.To(""), "")
	pv := ebsVolume("pv-b", "", "us-east-1b")
	bind(pv, c)
	res := solveVolumes(t, []*corev1.Pod{pod("db", "1", "1Gi", withClaims("data"))}, volumes(c, pv))
	if len(res.NewNodes) != 1 || !reflect.DeepEqual(zoneOf(res.NewNodes[0]), []string{"us-east-1b"}) {
		t.Fatalf("want one node in us-east-1b, got %d nodes, errors %v", len(res.NewNodes), res.Errors)
	}
	if got := res.NewNodes[0].Labels()[v1alpha5.LabelZone]; got != "us-east-1b" {
		t.Errorf("node label zone = %q", got)
	}

	// An existing node in another zone is passed over; one in the volume's zone is used.
	nodeIn := func(name, zone string) scheduling.ExistingNode {
		n := roomyNode(name)
		n.Labels[v1alpha5.LabelZone] = zone
		return n
	}
	res = solveVolumes(t, []*corev1.Pod{pod("db", "1", "1Gi", withClaims("data"))}, volumes(c, pv), func(in *scheduling.Input) {
		in.Nodes = []scheduling.ExistingNode{nodeIn("in-a", "us-east-1a"), nodeIn("in-b", "us-east-1b")}
	})
	if got := podsPerNode(res)["db"]; got != "in-b" {
		t.Errorf("pod planned on %q, want in-b", got)
	}
}

func TestVolumeZoneLabelsAndNormalisedKeys(t *testing.T) {
	// Legacy zone label (VolumeZone), several zones joined by "__".
	legacy := ebsVolume("legacy", "")
	legacy.Labels = map[string]string{corev1.LabelFailureDomainBetaZone: "us-east-1a__us-east-1c"}
	// The EBS CSI driver's own topology key, and a region label.
	csiKey := ebsVolume("csi-key", "")
	csiKey.Labels = map[string]string{corev1.LabelTopologyRegion: "us-east-1"}
	csiKey.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
		{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "topology.ebs.csi.aws.com/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1b"}}}}}}}
	// A region no offering is in.
	elsewhere := ebsVolume("elsewhere", "")
	elsewhere.Labels = map[string]string{corev1.LabelTopologyRegion: "eu-west-1"}
	var objs []any
	var pods []*corev1.Pod
	for _, pv := range []*corev1.PersistentVolume{legacy, csiKey, elsewhere} {
		c := claim("c-"+pv.Name, ptr.To(""), "")
		bind(pv, c)
		objs = append(objs, c, pv)
		pods = append(pods, pod(pv.Name, "1", "1Gi", withClaims(c.Name)))
	}
	res := solveVolumes(t, pods, volumes(objs...))
	zones := map[string][]string{}
	for _, n := range res.NewNodes {
		zones[n.Pods[0].Name] = zoneOf(n)
	}
	if !reflect.DeepEqual(zones["legacy"], []string{"us-east-1a", "us-east-1c"}) || !reflect.DeepEqual(zones["csi-key"], []string{"us-east-1b"}) {
		t.Errorf("zones = %v", zones)
	}
	if len(res.Errors) != 1 || res.Errors[0].Pod.Name != "elsewhere" || !strings.Contains(res.Errors[0].Reason, `PersistentVolume "elsewhere"`) {
		t.Errorf("want one error for the eu-west-1 volume, got %v", res.Errors)
	}
}

func TestVolumeTermsMultiplyPodTerms(t *testing.T) {
	// The PV allows zone a or c; the pod wants c or b: only c is left.
	c := claim("data", ptr.To(""), "")
	pv := ebsVolume("pv", "", "us-east-1a", "us-east-1c")
	bind(pv, c)
	p := pod("db", "1", "1Gi", withClaims("data"), withTerms(
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1c"}}},
		[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1b"}}}))
	res := solveVolumes(t, []*corev1.Pod{p}, volumes(c, pv))
	if len(res.NewNodes) != 1 || !reflect.DeepEqual(zoneOf(res.NewNodes[0]), []string{"us-east-1c"}) {
		t.Fatalf("want one node in us-east-1c, got %v (errors %v)", res.NewNodes, res.Errors)
	}
	// A node selector that contradicts the volume is an error, and nothing is launched.
	res = solveVolumes(t, []*corev1.Pod{pod("db", "1", "1Gi", withClaims("data"), withSelector(v1alpha5.LabelZone, "us-east-1b"))}, volumes(c, pv))
	if len(res.NewNodes) != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "conflict with its node selector") {
		t.Errorf("want a conflict error and no node, got %d nodes, errors %v", len(res.NewNodes), res.Errors)
	}
}

func TestWaitForFirstConsumerAllowedTopologies(t *testing.T) {
	sc := storageClass("gp3", ebs, storagev1.VolumeBindingWaitForFirstConsumer, "us-east-1a", "us-east-1c")
	c := claim("data", ptr.To("gp3"), "")
	res := solveVolumes(t, []*corev1.Pod{pod("db", "1", "1Gi", withClaims("data"))}, volumes(sc, c))
	if len(res.NewNodes) != 1 || !reflect.DeepEqual(zoneOf(res.NewNodes[0]), []string{"us-east-1a", "us-east-1c"}) {
		t.Fatalf("want one node in us-east-1a or -1c, got %v (errors %v)", res.NewNodes, res.Errors)
	}
	// Without allowedTopologies the class provisions wherever the pod lands.
	anywhere := storageClass("gp3", ebs, storagev1.VolumeBindingWaitForFirstConsumer)
	res = solveVolumes(t, []*corev1.Pod{pod("db", "1", "1Gi", withClaims("data"))}, volumes(anywhere, c))
	if len(res.NewNodes) != 1 || res.NewNodes[0].Requirements[v1alpha5.LabelZone].Values() != nil {
		t.Errorf("want one node in any zone, got %v (errors %v)", res.NewNodes, res.Errors)
	}
	// A claim kube-scheduler already selected a node for waits for that node.
	selected := claim("data", ptr.To("gp3"), "")
	selected.Annotations = map[string]string{"volume.kubernetes.io/selected-node": "node-1"}
	res = solveVolumes(t, []*corev1.Pod{pod("db", "1", "1Gi", withClaims("data"))}, volumes(anywhere, selected), func(in *scheduling.Input) {
		in.Nodes = []scheduling.ExistingNode{roomyNode("node-0"), roomyNode("node-1")}
	})
	if got := podsPerNode(res)["db"]; got != "node-1" {
		t.Errorf("pod planned on %q, want the selected node-1", got)
	}
}

func TestWaitForFirstConsumerStaticVolumesInTwoZones(t *testing.T) {
	sc := storageClass("local", "kubernetes.io/no-provisioner", storagev1.VolumeBindingWaitForFirstConsumer)
	pvB, pvC := ebsVolume("pv-b", "local", "us-east-1b"), ebsVolume("pv-c", "local", "us-east-1c")
	// Not candidates: too small, read-only-many only, another class, already claimed.
	small := ebsVolume("small", "local", "us-east-1a")
	small.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse("1Gi")
	rox := ebsVolume("rox", "local", "us-east-1a")
	rox.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany}
	other := ebsVolume("other", "fast", "us-east-1a")
	claimed := ebsVolume("claimed", "local", "us-east-1a")
	claimed.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "someone-else"}
	objs := []any{sc, pvB, pvC, small, rox, other, claimed}
	var pods []*corev1.Pod
	for _, n := range []string{"data-0", "data-1", "data-2"} {
		objs = append(objs, claim(n, ptr.To("local"), ""))
		pods = append(pods, pod(strings.Replace(n, "data", "db", 1), "1", "1Gi", withClaims(n)))
	}
	res := solveVolumes(t, pods, volumes(objs...))
	// Each of two pods takes one of the two PVs, so they land in two zones; the third finds
	// none left.
	got := map[string]bool{}
	for _, n := range res.NewNodes {
		if len(n.Pods) != 1 || len(zoneOf(n)) != 1 {
			t.Fatalf("want one pod per node pinned to one zone, got %d pods, zones %v", len(n.Pods), zoneOf(n))
		}
		got[zoneOf(n)[0]] = true
	}
	if !reflect.DeepEqual(got, map[string]bool{"us-east-1b": true, "us-east-1c": true}) {
		t.Errorf("zones %v, want us-east-1b and us-east-1c", got)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "planned for other pods") {
		t.Errorf("want the third pod to find no PV left, got %v", res.Errors)
	}

	// Two PVs in one zone: both pods share a node there.
	pvC2 := ebsVolume("pv-c2", "local", "us-east-1c")
	res = solveVolumes(t, pods[:2], volumes(sc, pvC, pvC2, objs[7], objs[8]))
	if len(res.NewNodes) != 1 || len(res.NewNodes[0].Pods) != 2 || !reflect.DeepEqual(zoneOf(res.NewNodes[0]), []string{"us-east-1c"}) {
		t.Errorf("want both pods on one node in us-east-1c, got %v (errors %v)", res.NewNodes, res.Errors)
	}

	// No matching PV and no provisioner: an error naming the class.
	res = solveVolumes(t, pods[:1], volumes(sc, small, objs[7]))
	if len(res.NewNodes) != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, `no available PersistentVolume of StorageClass "local"`) {
		t.Errorf("want an error and no node, got %d nodes, errors %v", len(res.NewNodes), res.Errors)
	}
}

func TestUnbindableClaimsAreErrors(t *testing.T) {
	immediate := storageClass("standard", ebs, storagev1.VolumeBindingImmediate)
	gone := claim("gone-pv", ptr.To(""), "missing-pv")
	deleting := claim("deleting", ptr.To("standard"), "")
	deleting.DeletionTimestamp = &metav1.Time{}
	lost := claim("lost", ptr.To(""), "gone")
	lost.Status.Phase = corev1.ClaimLost
	foreign := claim("db-scratch", ptr.To("standard"), "") // the ephemeral claim's name, not owned by the pod
	cases := []struct {
		name, want string
		claim      *corev1.PersistentVolumeClaim
		ephemeral  bool
	}{
		{"immediate unbound", `StorageClass "standard" binds immediately`, claim("data", ptr.To("standard"), ""), false},
		{"no class", "has no StorageClass", claim("data", nil, ""), false},
		{"missing class", `StorageClass "nope" does not exist`, claim("data", ptr.To("nope"), ""), false},
		{"missing claim", `PersistentVolumeClaim "data" not found`, nil, false},
		{"missing volume", `bound to PersistentVolume "missing-pv", which does not exist`, gone, false},
		{"claim being deleted", "is being deleted", deleting, false},
		{"ephemeral not created yet", "waiting for the ephemeral volume controller", nil, true},
		{"ephemeral claim of another owner", "was not created for pod default/db", foreign, true},
		{"claim lost", `PersistentVolumeClaim "lost" is Lost`, lost, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pod("db", "1", "1Gi")
			switch {
			case tc.ephemeral && tc.claim != nil:
				p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}}
			case tc.ephemeral:
				p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}}
			case tc.claim != nil:
				withClaims(tc.claim.Name)(p)
			default:
				withClaims("data")(p)
			}
			objs := []any{immediate}
			if tc.claim != nil {
				objs = append(objs, tc.claim)
			}
			// An existing node with room must not take it either.
			res := solveVolumes(t, []*corev1.Pod{p}, volumes(objs...), func(in *scheduling.Input) { in.Nodes = []scheduling.ExistingNode{roomyNode("n")} })
			if len(res.NewNodes) != 0 || len(res.ExistingNodes) != 0 {
				t.Errorf("launched %d nodes, planned %v on existing ones", len(res.NewNodes), res.ExistingNodes)
			}
			if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, tc.want) {
				t.Errorf("errors %v, want one containing %q", res.Errors, tc.want)
			}
		})
	}
}

// ebsNode is an existing node whose CSINode lets the EBS driver attach limit volumes, with
// pods bound to it.
func ebsNode(name string, limit int32, pods ...*corev1.Pod) (scheduling.ExistingNode, *storagev1.CSINode) {
	return roomyNode(name, pods...), &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: storagev1.CSINodeSpec{
		Drivers: []storagev1.CSINodeDriver{{Name: ebs, NodeID: "i-" + name, Allocatable: &storagev1.VolumeNodeResources{Count: ptr.To(limit)}}}}}
}

func TestAttachLimitOnExistingNode(t *testing.T) {
	var objs []any
	for _, n := range []string{"a", "b", "c"} {
		c := claim(n, ptr.To(""), "")
		pv := ebsVolume("pv-"+n, "")
		bind(pv, c)
		objs = append(objs, c, pv)
	}
	running := []*corev1.Pod{pod("run-a", "100m", "128Mi", withClaims("a")), pod("run-b", "100m", "128Mi", withClaims("b"))}
	node, csiNode := ebsNode("full", 2, running...)
	objs = append(objs, csiNode)
	pods := []*corev1.Pod{
		pod("new-volume", "100m", "128Mi", withClaims("c")), // a third EBS volume: over the limit of 2
		pod("shares-a", "100m", "128Mi", withClaims("a")),   // already attached there: counts once
		pod("no-volume", "100m", "128Mi"),                   // not limited
	}
	res := solveVolumes(t, pods, volumes(objs...), func(in *scheduling.Input) { in.Nodes = []scheduling.ExistingNode{node} })
	got := podsPerNode(res)
	if got["new-volume"] == "full" || got["new-volume"] == "" {
		t.Errorf("new-volume planned on %q, want a new node", got["new-volume"])
	}
	if got["shares-a"] != "full" || got["no-volume"] != "full" {
		t.Errorf("shares-a on %q, no-volume on %q, want both on full", got["shares-a"], got["no-volume"])
	}
}

func TestSharedClaimCountedOnceOnNewNodes(t *testing.T) {
	types := fake.Catalog(30)
	for _, it := range types {
		it.VolumeLimits = map[string]int{ebs: 2}
	}
	var objs []any
	for _, n := range []string{"a", "b", "c"} {
		c := claim(n, ptr.To(""), "")
		pv := ebsVolume("pv-"+n, "")
		bind(pv, c)
		objs = append(objs, c, pv)
	}
	var pods []*corev1.Pod
	for i, vol := range []string{"a", "a", "b", "b", "c"} {
		pods = append(pods, pod("p"+string(rune('0'+i)), "100m", "128Mi", withClaims(vol)))
	}
	in := scheduling.Input{Pods: pods, Volumes: volumes(objs...),
		Provisioners: []scheduling.ProvisionerInput{{Provisioner: provisioner("default"), InstanceTypes: types}}}
	res := scheduling.Solve(in)
	checkClaims(t, pods, res, nil)
	// Volumes a and b (four pods) fill the first node's limit of 2; c needs a second node.
	if len(res.NewNodes) != 2 || len(res.NewNodes[0].Pods) != 4 || len(res.NewNodes[1].Pods) != 1 {
		t.Fatalf("want nodes of 4 and 1 pods, got %d nodes (errors %v)", len(res.NewNodes), res.Errors)
	}
	// A pod with more volumes than any type attaches is an error.
	big := pod("big", "100m", "128Mi", withClaims("a", "b", "c"))
	in.Pods = []*corev1.Pod{big}
	res = scheduling.Solve(in)
	if len(res.NewNodes) != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "more than any instance type can attach") {
		t.Errorf("want an attach limit error, got %d nodes, errors %v", len(res.NewNodes), res.Errors)
	}
	// Types with a higher limit are kept for it when some have one.
	for _, it := range types[:5] {
		it.VolumeLimits = map[string]int{ebs: 3}
	}
	res = scheduling.Solve(in)
	if len(res.NewNodes) != 1 {
		t.Fatalf("want one node, got errors %v", res.Errors)
	}
	for _, it := range res.NewNodes[0].InstanceTypeOptions {
		if it.VolumeLimits[ebs] < 3 {
			t.Errorf("option %s attaches only %d volumes", it.Name, it.VolumeLimits[ebs])
		}
	}
}

func TestExplainNodeVolumeZoneConflict(t *testing.T) {
	c := claim("data", ptr.To(""), "")
	pv := ebsVolume("pv-b", "", "us-east-1b")
	bind(pv, c)
	p := pod("db", "1", "1Gi", withClaims("data"))
	node := func(zone string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{corev1.LabelTopologyZone: zone}}}
	}
	if got := scheduling.ExplainNode(p, node("us-east-1a"), volumes(c, pv)); !strings.Contains(got, "volume node affinity conflict") || !strings.Contains(got, "pv-b") {
		t.Errorf("ExplainNode = %q", got)
	}
	if got := scheduling.ExplainNode(p, node("us-east-1b"), volumes(c, pv)); got != "" {
		t.Errorf("ExplainNode in the volume's zone = %q, want none", got)
	}
	labelled := ebsVolume("pv-c", "")
	labelled.Labels = map[string]string{corev1.LabelFailureDomainBetaZone: "us-east-1c"}
	bind(labelled, c)
	if got := scheduling.ExplainNode(p, node("us-east-1a"), volumes(c, labelled)); !strings.Contains(got, "volume zone conflict") {
		t.Errorf("ExplainNode = %q", got)
	}
	// An unbound WaitForFirstConsumer claim whose only PV is in another zone.
	wfc := claim("data", ptr.To("local"), "")
	local := ebsVolume("local-b", "local", "us-east-1b")
	sc := storageClass("local", "kubernetes.io/no-provisioner", storagev1.VolumeBindingWaitForFirstConsumer)
	if got := scheduling.ExplainNode(p, node("us-east-1a"), volumes(wfc, local, sc)); !strings.Contains(got, "volume zone conflict") {
		t.Errorf("ExplainNode = %q", got)
	}
	if got := scheduling.ExplainNode(p, node("us-east-1b"), volumes(wfc, local, sc)); got != "" {
		t.Errorf("ExplainNode in the PV's zone = %q, want none", got)
	}
}

// Types without VolumeLimits are unlimited: ten volumes on one node.
func TestNoLimitWithoutVolumeLimits(t *testing.T) {
	var objs []any
	var names []string
	for i := 0; i < 10; i++ {
		n := "v" + string(rune('0'+i))
		c := claim(n, ptr.To(""), "")
		pv := ebsVolume("pv-"+n, "")
		bind(pv, c)
		objs = append(objs, c, pv)
		names = append(names, n)
	}
	res := solveVolumes(t, []*corev1.Pod{pod("many", "1", "1Gi", withClaims(names...))}, volumes(objs...))
	if len(res.NewNodes) != 1 || len(res.Errors) != 0 {
		t.Errorf("want one node, got %d, errors %v", len(res.NewNodes), res.Errors)
	}
}

// BenchmarkSolveVolumes solves n pods of mixed sizes, half with a claim bound to an EBS volume
// in one of three zones, half with an unbound WaitForFirstConsumer claim matched against a
// pool of n/2 static volumes spread over the zones.
func BenchmarkSolveVolumes(b *testing.B) {
	types := fake.Catalog(400)
	for _, it := range types {
		it.VolumeLimits = map[string]int{ebs: 25}
	}
	provs := []*v1alpha5.Provisioner{provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))}
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	for _, n := range []int{100, 1000} {
		objs := []any{storageClass("local", "kubernetes.io/no-provisioner", storagev1.VolumeBindingWaitForFirstConsumer)}
		var pods []*corev1.Pod
		for i := range n {
			name := fmt.Sprintf("c%05d", i)
			zone := zones[i%3]
			if i%2 == 0 {
				c := claim(name, ptr.To(""), "")
				pv := ebsVolume("pv-"+name, "", zone)
				bind(pv, c)
				objs = append(objs, c, pv)
			} else {
				objs = append(objs, claim(name, ptr.To("local"), ""), ebsVolume("pool-"+name, "local", zone))
			}
			pods = append(pods, pod(fmt.Sprintf("p%05d", i), fmt.Sprintf("%dm", 100+(i*37)%3900), fmt.Sprintf("%dMi", 128+(i*91)%30000), withClaims(name)))
		}
		vols := volumes(objs...)
		b.Run(fmt.Sprintf("pods=%d/types=400", n), func(b *testing.B) {
			for b.Loop() {
				res := solve(b, pods, provs, types, func(in *scheduling.Input) { in.Volumes = vols })
				if len(res.Errors) != 0 {
					b.Fatal(res.Errors[0].Reason)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
		})
	}
}

// A generic ephemeral volume's claim, created for the pod, is treated like any claim.
func TestEphemeralVolumeClaim(t *testing.T) {
	p := pod("db", "1", "1Gi")
	p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}}
	c := claim("db-scratch", ptr.To("gp3"), "")
	c.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "db", UID: p.UID, Controller: ptr.To(true)}}
	sc := storageClass("gp3", ebs, storagev1.VolumeBindingWaitForFirstConsumer, "us-east-1b")
	res := solveVolumes(t, []*corev1.Pod{p}, volumes(sc, c))
	if len(res.NewNodes) != 1 || !reflect.DeepEqual(zoneOf(res.NewNodes[0]), []string{"us-east-1b"}) {
		t.Errorf("want one node in us-east-1b, got %v (errors %v)", res.NewNodes, res.Errors)
	}
}

// NewVolumes keys claims by namespace and name, the rest by name, pointing into the slices.
func TestNewVolumesIndexesListedObjects(t *testing.T) {
	pvcs := []corev1.PersistentVolumeClaim{*claim("data", nil, ""), *claim("data", nil, "pv-a")}
	pvcs[0].Namespace = "shop"
	pvs := []corev1.PersistentVolume{*ebsVolume("pv-a", "gp3", "us-east-1a")}
	classes := []storagev1.StorageClass{{ObjectMeta: metav1.ObjectMeta{Name: "gp3"}, Provisioner: ebs}}
	csiNodes := []storagev1.CSINode{{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}}
	v := scheduling.NewVolumes(pvcs, pvs, classes, csiNodes)
	if len(v.PVCs) != 2 || v.PVCs["shop/data"] != &pvcs[0] || v.PVCs["default/data"] != &pvcs[1] {
		t.Fatalf("claims %v", v.PVCs)
	}
	if v.PVs["pv-a"] != &pvs[0] || v.StorageClasses["gp3"] != &classes[0] || v.CSINodes["node-1"] != &csiNodes[0] {
		t.Fatalf("volumes %v, classes %v, csinodes %v", v.PVs, v.StorageClasses, v.CSINodes)
	}
	if empty := scheduling.NewVolumes(nil, nil, nil, nil); empty.PVCs == nil || len(empty.PVs) != 0 {
		t.Fatalf("empty input: %+v", empty)
	}
}

// TestVolumeZoneDoesNotNarrowSpreadDomains: kube-scheduler counts a zone spread over the zones
// of the nodes the pod's own node affinity allows; a volume that confines the pod to one zone
// does not shrink that set. Three replicas whose volumes are all in us-east-1b, spread with
// maxSkew 1 while nodes exist in us-east-1a and us-east-1c: only one can go.
func TestVolumeZoneDoesNotNarrowSpreadDomains(t *testing.T) {
	var objs []any
	var pods []*corev1.Pod
	for i := range 3 {
		c := claim(fmt.Sprintf("data-%d", i), ptr.To(""), "")
		pv := ebsVolume(fmt.Sprintf("pv-b%d", i), "", "us-east-1b")
		bind(pv, c)
		objs = append(objs, c, pv)
		pods = append(pods, pod(fmt.Sprintf("db-%d", i), "1", "1Gi", withLabels("app", "db"), withClaims(c.Name),
			withSpread(corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}})))
	}
	tainted := func(name, zone string) scheduling.ExistingNode {
		n := roomyNode(name)
		n.Labels[v1alpha5.LabelZone] = zone
		n.Taints = []corev1.Taint{{Key: "dedicated", Value: "other", Effect: corev1.TaintEffectNoSchedule}}
		return n
	}
	res := solveVolumes(t, pods, volumes(objs...), func(in *scheduling.Input) {
		in.Nodes = []scheduling.ExistingNode{tainted("in-a", "us-east-1a"), tainted("in-c", "us-east-1c")}
	})
	placed := 0
	for _, c := range res.NewNodes {
		placed += len(c.Pods)
		if z := zoneOf(c); !reflect.DeepEqual(z, []string{"us-east-1b"}) {
			t.Errorf("a node in %v, want us-east-1b", z)
		}
	}
	if placed != 1 || len(res.Errors) != 2 {
		t.Fatalf("want 1 replica placed and 2 refused (skew), got %d placed, errors %v", placed, reasons(res))
	}
}

// TestSpreadRefusalNamesTheLeastDomain: a zone spread beside a class whose allowedTopologies
// leaves out us-east-1c refuses the third replica, and its reason names us-east-1c, the
// eligible domain that holds the minimum (0 pods), which the pod cannot reach.
func TestSpreadRefusalNamesTheLeastDomain(t *testing.T) {
	sc := storageClass("gp3", ebs, storagev1.VolumeBindingWaitForFirstConsumer, "us-east-1a", "us-east-1b")
	objs := []any{sc}
	var pods []*corev1.Pod
	for _, n := range []string{"data-0", "data-1", "data-2"} {
		objs = append(objs, claim(n, ptr.To("gp3"), ""))
		pods = append(pods, pod(strings.Replace(n, "data", "db", 1), "1", "1Gi", withLabels("app", "db"), withClaims(n), withSpread(zoneSpread(1, "db"))))
	}
	res := solveVolumes(t, pods, volumes(objs...))
	if len(res.Errors) != 1 {
		t.Fatalf("want the third replica refused, got %v", reasons(res))
	}
	if want := "1 selected pod in us-east-1a, minimum 0 in us-east-1c"; !strings.Contains(res.Errors[0].Reason, want) {
		t.Errorf("reason %q, want it to say %q", res.Errors[0].Reason, want)
	}
}
