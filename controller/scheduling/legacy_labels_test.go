package scheduling_test

import (
	"fmt"
	"strings"
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

// The legacy node label keys that kubelets and the AWS cloud provider still set beside the GA
// keys, with the same values (a user trial: a pod selecting beta.kubernetes.io/os: linux stayed
// Pending, "label beta.kubernetes.io/os is not defined by the provisioner").
const (
	betaOS           = "beta.kubernetes.io/os"
	betaArch         = "beta.kubernetes.io/arch"
	betaInstanceType = "beta.kubernetes.io/instance-type"
	betaZone         = "failure-domain.beta.kubernetes.io/zone"
	betaRegion       = "failure-domain.beta.kubernetes.io/region"
)

// plannedZone returns the zone the claim is planned to launch in.
func plannedZone(t *testing.T, c *scheduling.NodeClaim) string {
	t.Helper()
	_, o, ok := c.PlannedOffering()
	if !ok {
		t.Fatalf("claim of %s has no offering", c.Pods[0].Name)
	}
	return o.Zone
}

// A pod's nodeSelector and required node affinity on legacy keys read as the GA keys: the pods
// are planned on nodes that carry the GA labels with those values (and so the legacy ones).
func TestLegacyLabelsInPodRequirements(t *testing.T) {
	types := fake.Catalog(60)
	pods := []*corev1.Pod{
		pod("os", "1", "1Gi", withSelector(betaOS, "linux")),
		pod("arm", "1", "1Gi", withSelector(betaArch, "arm64", betaOS, "linux")),
		pod("zone", "1", "1Gi", withTerms([]corev1.NodeSelectorRequirement{
			{Key: betaZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1b"}},
			{Key: betaInstanceType, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"m5.large"}}})),
		pod("type", "1", "1Gi", withSelector(betaInstanceType, "m5.xlarge")),
		// the legacy and the GA key together, with the same value
		pod("both", "1", "1Gi", withSelector(betaZone, "us-east-1c", v1alpha5.LabelZone, "us-east-1c")),
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	checkClaims(t, pods, res, nil)
	for _, c := range res.NewNodes {
		for _, p := range c.Pods {
			labels, _ := c.PlannedLabels()
			switch p.Name {
			case "arm":
				for _, it := range c.InstanceTypeOptions {
					if it.Labels[v1alpha5.LabelArch] != "arm64" {
						t.Errorf("arm pod's option %s is %s", it.Name, it.Labels[v1alpha5.LabelArch])
					}
				}
			case "zone":
				if z := plannedZone(t, c); z != "us-east-1b" || c.Labels()[v1alpha5.LabelZone] != "us-east-1b" {
					t.Errorf("zone pod planned in %s, claim labels %v, want us-east-1b", z, c.Labels())
				}
			case "type":
				if len(c.InstanceTypeOptions) != 1 || c.InstanceTypeOptions[0].Name != "m5.xlarge" {
					t.Errorf("type pod's options %v, want m5.xlarge", c.InstanceTypeOptions)
				}
			case "both":
				if z := plannedZone(t, c); z != "us-east-1c" {
					t.Errorf("both pod planned in %s, want us-east-1c", z)
				}
			}
			// The node registers with the legacy labels too (kubelet, cloud provider): the pod's
			// own selector, read literally as kube-scheduler reads it, matches them.
			for k, v := range p.Spec.NodeSelector {
				if labels[k] != v {
					t.Errorf("pod %s selects %s=%s, the planned node has %q (labels %v)", p.Name, k, v, labels[k], labels)
				}
			}
		}
	}
	// A conflict between a legacy key and its GA key is a conflict on one key.
	bad := []*corev1.Pod{pod("bad", "1", "1Gi", withSelector(betaOS, "windows", v1alpha5.LabelOS, "linux"))}
	res = solve(t, bad, []*v1alpha5.Provisioner{provisioner("default")}, types)
	if len(res.Errors) != 1 || len(res.NewNodes) != 0 {
		t.Fatalf("a pod selecting os windows and linux was planned: %d nodes, errors %v", len(res.NewNodes), res.Errors)
	}
}

// A Provisioner's requirements and labels may name the legacy keys (the CRD allows them): they
// constrain its nodes as the GA keys do.
func TestLegacyLabelsInProvisioner(t *testing.T) {
	types := fake.Catalog(60)
	zonal := provisioner("zonal", req(betaZone, corev1.NodeSelectorOpIn, "us-east-1c"))
	armed := provisioner("armed")
	armed.Spec.Labels = map[string]string{betaArch: "arm64"}
	for _, tc := range []struct {
		prov  *v1alpha5.Provisioner
		check func(*scheduling.NodeClaim) string
	}{
		{zonal, func(c *scheduling.NodeClaim) string {
			if z := plannedZone(t, c); z != "us-east-1c" {
				return "planned in " + z
			}
			return ""
		}},
		{armed, func(c *scheduling.NodeClaim) string {
			for _, it := range c.InstanceTypeOptions {
				if it.Labels[v1alpha5.LabelArch] != "arm64" {
					return "option " + it.Name + " is " + it.Labels[v1alpha5.LabelArch]
				}
			}
			return ""
		}},
	} {
		pods := []*corev1.Pod{pod("p", "1", "1Gi"), pod("os", "1", "1Gi", withSelector(betaOS, "linux", v1alpha5.LabelArch, "arm64"))}
		if tc.prov == zonal {
			pods[1] = pod("os", "1", "1Gi", withSelector(v1alpha5.LabelZone, "us-east-1c"))
		}
		// The defaults see the legacy key: kubernetes.io/arch is not defaulted to amd64 beside
		// beta.kubernetes.io/arch arm64.
		res := solve(t, pods, []*v1alpha5.Provisioner{tc.prov.WithDefaults()}, types)
		if len(res.Errors) != 0 || len(res.NewNodes) == 0 {
			t.Fatalf("%s: errors %v", tc.prov.Name, res.Errors)
		}
		checkClaims(t, pods, res, nil)
		for _, c := range res.NewNodes {
			if why := tc.check(c); why != "" {
				t.Errorf("%s: %s", tc.prov.Name, why)
			}
		}
	}
}

// Spread and pod (anti-)affinity on failure-domain.beta.kubernetes.io/zone count the zones as
// topology.kubernetes.io/zone does; CheckSpreads reads them the same way.
func TestLegacyZoneTopologyKey(t *testing.T) {
	types := fake.Catalog(40)
	spread := zoneSpread(1, "web")
	spread.TopologyKey = betaZone
	web := replicas(6, "web", "1", withSpread(spread))
	anti := replicas(4, "solo", "250m", withAntiAffinity(domainTerm(betaZone, "app", "solo")))
	follow := replicas(2, "follow", "250m", withPodAffinity(domainTerm(betaZone, "app", "solo")))
	pods := append(append(append([]*corev1.Pod{}, web...), anti...), follow...)
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	zones := domainOf(t, res, nil, v1alpha5.LabelZone)
	webZones, soloZones := map[string]int{}, map[string]int{}
	for _, p := range web {
		webZones[zones[p.Name]]++
	}
	for _, p := range anti {
		if z, ok := zones[p.Name]; ok {
			soloZones[z]++
		}
	}
	if fmt.Sprint(webZones) != "map[us-east-1a:2 us-east-1b:2 us-east-1c:2]" {
		t.Errorf("web pods per zone %v, want 2 in each of the 3 zones", webZones)
	}
	if len(soloZones) != 3 || len(res.Errors) != 1 || res.Errors[0].Pod.Labels["app"] != "solo" {
		t.Errorf("solo pods per zone %v (one per zone, one unplaceable), errors %v", soloZones, res.Errors)
	}
	for _, p := range follow {
		if z := zones[p.Name]; soloZones[z] != 1 {
			t.Errorf("follow pod %s in %q, not in a zone of a solo pod %v", p.Name, z, soloZones)
		}
	}
	if b := scheduling.CheckSpreads(nil, res); len(b) != 0 {
		t.Fatalf("the solver's plan breaches %v; plan:\n%s", b, plan(res))
	}
	// Gathered on one node the spread pods breach, read on the legacy key.
	res = solve(t, web, []*v1alpha5.Provisioner{provisioner("default")}, types)
	first := res.NewNodes[0]
	for _, c := range res.NewNodes[1:] {
		first.Pods = append(first.Pods, c.Pods...)
		c.Pods = nil
	}
	b := scheduling.CheckSpreads(nil, res)
	if len(b) != 6 || !strings.HasPrefix(b[0].Reason(), "topology spread (failure-domain.beta.kubernetes.io/zone, maxSkew 1): 6 selected pods in") {
		t.Fatalf("%d breaches, want 6 (every web pod in one zone): %v", len(b), b)
	}
}

// An existing node's labels are read with the legacy keys as GA keys too: a node that carries
// only the legacy labels takes a pod that selects them, and counts as a domain of its zone.
func TestLegacyLabelsOnExistingNodes(t *testing.T) {
	room := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")}
	nodes := []scheduling.ExistingNode{
		{Name: "old", Labels: map[string]string{betaOS: "linux", betaArch: "amd64", betaZone: "us-east-1a", corev1.LabelHostname: "old"}, Available: room},
		{Name: "new", Labels: map[string]string{v1alpha5.LabelOS: "linux", v1alpha5.LabelArch: "amd64", v1alpha5.LabelZone: "us-east-1b",
			betaOS: "linux", betaArch: "amd64", betaZone: "us-east-1b", corev1.LabelHostname: "new"}, Available: room},
	}
	pods := []*corev1.Pod{
		pod("legacy", "1", "1Gi", withSelector(betaZone, "us-east-1a")),
		pod("ga", "1", "1Gi", withSelector(v1alpha5.LabelZone, "us-east-1b", betaOS, "linux")),
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40), func(in *scheduling.Input) { in.Nodes = nodes })
	if len(res.ExistingNodes["old"]) != 1 || res.ExistingNodes["old"][0].Name != "legacy" ||
		len(res.ExistingNodes["new"]) != 1 || res.ExistingNodes["new"][0].Name != "ga" || len(res.NewNodes) != 0 {
		t.Fatalf("placement %v, %d new nodes, errors %v", res.ExistingNodes, len(res.NewNodes), res.Errors)
	}
	if _, ok := nodes[0].Labels[v1alpha5.LabelZone]; ok {
		t.Fatal("the input node's labels were modified")
	}
	// Two spread pods on the old node breach (it is us-east-1a; us-east-1b has none).
	spread := zoneSpread(1, "web")
	spread.TopologyKey = betaZone
	web := replicas(2, "web", "100m", withSpread(spread))
	b := scheduling.CheckSpreads(nodes, &scheduling.Result{ExistingNodes: map[string][]*corev1.Pod{"old": web}})
	if len(b) != 2 || b[0].Domain != "us-east-1a" || b[0].LeastDomain != "us-east-1b" {
		t.Fatalf("breaches %v, want both web pods (2 in us-east-1a, 0 in us-east-1b)", b)
	}
}

// A daemonset selecting a legacy key counts on the new nodes it will run on (their planned
// labels carry the GA key, and the node registers with both).
func TestLegacyLabelsDaemonSetOverhead(t *testing.T) {
	types := fake.Catalog(60)
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "proxy"}, Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		NodeSelector: map[string]string{betaOS: "linux"},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: betaArch, Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64", "arm64"}}}}}}}},
		Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}}}
	pods := []*corev1.Pod{pod("p", "1500m", "1Gi")}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.DaemonSets = []*appsv1.DaemonSet{ds} })
	checkClaims(t, pods, res, func(*cloudprovider.InstanceType) scheduling.Resources {
		return scheduling.Resources{corev1.ResourceCPU: 1000, corev1.ResourcePods: 1000}
	})
	if len(res.NewNodes) != 1 {
		t.Fatalf("errors %v", res.Errors)
	}
	if len(ds.Spec.Template.Spec.NodeSelector) != 1 || ds.Spec.Template.Spec.NodeSelector[betaOS] != "linux" {
		t.Fatalf("the daemonset was modified: %v", ds.Spec.Template.Spec.NodeSelector)
	}
}

// ExplainNode reads a node with the legacy labels only as the solver does.
func TestLegacyLabelsExplainNode(t *testing.T) {
	p := pod("p", "1", "1Gi", withSelector(v1alpha5.LabelZone, "us-east-1a"))
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old", Labels: map[string]string{betaZone: "us-east-1a"}}}
	if why := scheduling.ExplainNode(p, n, scheduling.Volumes{}); why != "" {
		t.Fatalf("ExplainNode: %s", why)
	}
	n.Labels[betaZone] = "us-east-1b"
	if why := scheduling.ExplainNode(p, n, scheduling.Volumes{}); !strings.Contains(why, "us-east-1b") {
		t.Fatalf("ExplainNode: %q, want the zone conflict", why)
	}
}
