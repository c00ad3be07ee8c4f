package scheduling_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

func withLabels(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withNamespace(ns string) podOpt {
	return func(p *corev1.Pod) { p.Namespace = ns }
}

// hostnameTerm selects pods labelled key=value on the same node.
func hostnameTerm(key, value string) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{TopologyKey: corev1.LabelHostname,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}}
}

func withAntiAffinity(terms ...corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}
	}
}

func withPodAffinity(terms ...corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}
	}
}

func withHostPort(port int32, proto corev1.Protocol, ip string) podOpt {
	return func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: proto, HostIP: ip})
	}
}

// withInitHostPort adds an init container (a sidecar with restartPolicy Always) binding host
// port port over TCP on every address.
func withInitHostPort(port int32, restart *corev1.ContainerRestartPolicy) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "init", RestartPolicy: restart,
			Ports: []corev1.ContainerPort{{ContainerPort: port, HostPort: port, Protocol: corev1.ProtocolTCP}}})
	}
}

// roomyNode is an existing node with room for many small pods.
func roomyNode(name string, pods ...*corev1.Pod) scheduling.ExistingNode {
	return scheduling.ExistingNode{Name: name, Labels: map[string]string{v1alpha5.LabelArch: "amd64", corev1.LabelHostname: name},
		Available: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("100")},
		Pods:      pods}
}

// podsPerNode returns, for each pod name, the node it was planned on ("new-<i>" for new nodes).
func podsPerNode(res *scheduling.Result) map[string]string {
	out := map[string]string{}
	for node, pods := range res.ExistingNodes {
		for _, p := range pods {
			out[p.Name] = node
		}
	}
	for i, c := range res.NewNodes {
		for _, p := range c.Pods {
			out[p.Name] = fmt.Sprintf("new-%d", i)
		}
	}
	return out
}

func TestHostnameAntiAffinitySpreadsReplicas(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 3 {
		pods = append(pods, pod(fmt.Sprintf("web-%d", i), "250m", "256Mi", withLabels("app", "web"), withAntiAffinity(hostnameTerm("app", "web"))))
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 3 {
		t.Fatalf("3 replicas with hostname anti-affinity planned on %d new nodes, want 3: %v", len(res.NewNodes), podsPerNode(res))
	}
}

func TestHostnameAntiAffinityCountsRunningPods(t *testing.T) {
	running := pod("web-old", "250m", "256Mi", withLabels("app", "web"))
	running.Spec.NodeName = "busy"
	guard := pod("guard", "250m", "256Mi", withAntiAffinity(hostnameTerm("app", "db")))
	guard.Spec.NodeName = "guarded"
	pods := []*corev1.Pod{
		pod("web-new", "250m", "256Mi", withLabels("app", "web"), withAntiAffinity(hostnameTerm("app", "web"))),
		// The running guard pod's own anti-affinity keeps db pods off its node (symmetry).
		pod("db", "250m", "256Mi", withLabels("app", "db")),
		pod("free", "250m", "256Mi"),
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40), func(in *scheduling.Input) {
		in.Nodes = []scheduling.ExistingNode{roomyNode("busy", running), roomyNode("guarded", guard)}
	})
	got := podsPerNode(res)
	if got["web-new"] == "busy" {
		t.Errorf("web-new planned next to the running web pod it is anti-affine to: %v", got)
	}
	if got["db"] == "guarded" {
		t.Errorf("db planned on the node whose running pod is anti-affine to it: %v", got)
	}
	if got["free"] != "busy" && got["free"] != "guarded" {
		t.Errorf("an unconstrained pod should use existing room, got %v", got)
	}
	if len(res.NewNodes) != 0 || len(res.Errors) != 0 {
		t.Errorf("everything fits the two existing nodes: %d new nodes, errors %v", len(res.NewNodes), res.Errors)
	}
}

func TestAntiAffinityNamespacesAndMatchLabelKeys(t *testing.T) {
	term := hostnameTerm("app", "web")
	term.MatchLabelKeys = []string{"pod-template-hash"}
	pods := []*corev1.Pod{
		pod("a-1", "250m", "256Mi", withLabels("app", "web", "pod-template-hash", "1"), withAntiAffinity(term)),
		pod("a-2", "250m", "256Mi", withLabels("app", "web", "pod-template-hash", "2"), withAntiAffinity(term)),
		// Another namespace: the term (no namespaces given) selects the owner's namespace only.
		pod("b-1", "250m", "256Mi", withNamespace("other"), withLabels("app", "web", "pod-template-hash", "1"), withAntiAffinity(term)),
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 1 {
		t.Fatalf("different template hashes and namespaces may share a node: %d new nodes %v", len(res.NewNodes), podsPerNode(res))
	}

	all := hostnameTerm("app", "web")
	all.NamespaceSelector = &metav1.LabelSelector{} // every namespace
	pods = []*corev1.Pod{
		pod("x", "250m", "256Mi", withLabels("app", "web"), withAntiAffinity(all)),
		pod("y", "250m", "256Mi", withNamespace("other"), withLabels("app", "web")),
	}
	res = solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
	if len(res.NewNodes) != 2 {
		t.Fatalf("an empty namespaceSelector selects every namespace: %d new nodes %v", len(res.NewNodes), podsPerNode(res))
	}
}

func TestHostPorts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a, b  podOpt
		nodes int
	}{
		{"same port", withHostPort(8080, corev1.ProtocolTCP, ""), withHostPort(8080, "", ""), 2},
		{"same port, one address and all", withHostPort(8080, corev1.ProtocolTCP, "10.0.0.1"), withHostPort(8080, corev1.ProtocolTCP, "0.0.0.0"), 2},
		{"same port, two addresses", withHostPort(8080, corev1.ProtocolTCP, "10.0.0.1"), withHostPort(8080, corev1.ProtocolTCP, "10.0.0.2"), 1},
		{"other protocol", withHostPort(53, corev1.ProtocolTCP, ""), withHostPort(53, corev1.ProtocolUDP, ""), 1},
		{"other port", withHostPort(80, corev1.ProtocolTCP, ""), withHostPort(81, corev1.ProtocolTCP, ""), 1},
		// kube-scheduler's NodePorts filter counts the ports of sidecars (restartable init
		// containers), not those of init containers that exit before the pod runs.
		{"init container's port", withInitHostPort(8080, nil), withHostPort(8080, corev1.ProtocolTCP, ""), 1},
		{"sidecar's port", withInitHostPort(8080, ptr.To(corev1.ContainerRestartPolicyAlways)), withHostPort(8080, corev1.ProtocolTCP, ""), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods := []*corev1.Pod{pod("a", "250m", "256Mi", tc.a), pod("b", "250m", "256Mi", tc.b)}
			res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
			checkClaims(t, pods, res, nil)
			if len(res.NewNodes) != tc.nodes {
				t.Fatalf("%d new nodes, want %d: %v", len(res.NewNodes), tc.nodes, podsPerNode(res))
			}
		})
	}
}

func TestHostnameAffinity(t *testing.T) {
	t.Run("self affinity co-locates a group", func(t *testing.T) {
		var pods []*corev1.Pod
		for i := range 4 {
			pods = append(pods, pod(fmt.Sprintf("cache-%d", i), "500m", "512Mi", withLabels("app", "cache"), withPodAffinity(hostnameTerm("app", "cache"))))
		}
		pods = append(pods, pod("other", "4", "8Gi"))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
		checkClaims(t, pods, res, nil)
		got := podsPerNode(res)
		for i := 1; i < 4; i++ {
			if got[fmt.Sprintf("cache-%d", i)] != got["cache-0"] {
				t.Fatalf("self-affine pods split across nodes: %v", got)
			}
		}
	})
	t.Run("follows a running pod", func(t *testing.T) {
		running := pod("db-0", "1", "1Gi", withLabels("app", "db"))
		running.Spec.NodeName = "db-node"
		pods := []*corev1.Pod{pod("sidecar", "250m", "256Mi", withPodAffinity(hostnameTerm("app", "db")))}
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40), func(in *scheduling.Input) {
			in.Nodes = []scheduling.ExistingNode{roomyNode("empty"), roomyNode("db-node", running)}
		})
		if got := podsPerNode(res)["sidecar"]; got != "db-node" {
			t.Fatalf("sidecar planned on %q, want db-node", got)
		}
	})
	t.Run("no room beside the matching pod", func(t *testing.T) {
		running := pod("db-0", "1", "1Gi", withLabels("app", "db"))
		running.Spec.NodeName = "db-node"
		full := roomyNode("db-node", running)
		full.Available = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("1Gi"), corev1.ResourcePods: resource.MustParse("10")}
		pods := []*corev1.Pod{pod("sidecar", "250m", "256Mi", withPodAffinity(hostnameTerm("app", "db")))}
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40), func(in *scheduling.Input) {
			in.Nodes = []scheduling.ExistingNode{full}
		})
		if len(res.NewNodes) != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "pod affinity") {
			t.Fatalf("a new node cannot hold the db pod the sidecar must join: new %d, errors %v", len(res.NewNodes), res.Errors)
		}
	})
	t.Run("planned node full", func(t *testing.T) {
		// The pods must all share one node: those the largest type cannot hold are refused, with
		// the planned node's room and the pod's needs as quantities.
		pods := replicas(300, "w", "1", withLabels("app", "w"), withPodAffinity(hostnameTerm("app", "w")))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
		if len(res.Errors) == 0 {
			t.Fatalf("300 pods of 1 cpu on one node: want some refused")
		}
		if r := res.Errors[0].Reason; !strings.Contains(r, "no room for it: its largest instance type, m5.48xlarge, has cpu=900m, memory=649318Mi left") ||
			!strings.Contains(r, "the pod needs cpu=1") {
			t.Fatalf("reason %q: want the largest type's room and the needs as quantities", r)
		}
	})
	t.Run("planned node full under limits", func(t *testing.T) {
		// A larger type would hold them, but the provisioner's cpu limit keeps it out: the
		// reason says so.
		pods := replicas(30, "w", "1", withLabels("app", "w"), withPodAffinity(hostnameTerm("app", "w")))
		prov := provisioner("default")
		prov.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16")}}
		res := solve(t, pods, []*v1alpha5.Provisioner{prov}, fake.Catalog(40))
		if len(res.Errors) == 0 {
			t.Fatalf("30 pods of 1 cpu on one node under a 16-cpu limit: want some refused")
		}
		if r := res.Errors[0].Reason; !strings.Contains(r, "would hold it, but the provisioner's limits (cpu=16) leave no room for it") {
			t.Fatalf("reason %q: want the limit named", r)
		}
	})
	t.Run("nothing to follow", func(t *testing.T) {
		pods := []*corev1.Pod{pod("orphan", "250m", "256Mi", withPodAffinity(hostnameTerm("app", "missing")))}
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
		if len(res.NewNodes) != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "matches no pod") {
			t.Fatalf("want one error saying no pod matches, got new %d, errors %v", len(res.NewNodes), res.Errors)
		}
	})
	t.Run("invalid selector", func(t *testing.T) {
		bad := hostnameTerm("app", "x")
		bad.LabelSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}
		pods := []*corev1.Pod{pod("bad", "250m", "256Mi", withAntiAffinity(bad))}
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector") {
			t.Fatalf("want an error with the field path, got %v", res.Errors)
		}
	})
}

func withHostnameSpread(maxSkew int32, when corev1.UnsatisfiableConstraintAction, key, value string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
			MaxSkew: maxSkew, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: when,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}})
	}
}

func TestHostnameTopologySpread(t *testing.T) {
	replicas := func(n int, opts ...podOpt) []*corev1.Pod {
		var out []*corev1.Pod
		for i := range n {
			out = append(out, pod(fmt.Sprintf("api-%d", i), "250m", "256Mi", append([]podOpt{withLabels("app", "api")}, opts...)...))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		pods  []*corev1.Pod
		nodes int
	}{
		{"maxSkew 1", replicas(4, withHostnameSpread(1, corev1.DoNotSchedule, "app", "api")), 4},
		{"maxSkew 2", replicas(4, withHostnameSpread(2, corev1.DoNotSchedule, "app", "api")), 2},
		{"ScheduleAnyway is honoured while it can be", replicas(4, withHostnameSpread(1, corev1.ScheduleAnyway, "app", "api")), 4},
		{"other pods only", replicas(4, withHostnameSpread(1, corev1.DoNotSchedule, "app", "nothing")), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := solve(t, tc.pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
			checkClaims(t, tc.pods, res, nil)
			if len(res.NewNodes) != tc.nodes {
				t.Fatalf("%d new nodes, want %d: %v", len(res.NewNodes), tc.nodes, podsPerNode(res))
			}
		})
	}
	t.Run("counts running pods of its namespace", func(t *testing.T) {
		running := pod("api-old", "250m", "256Mi", withLabels("app", "api"))
		running.Spec.NodeName = "busy"
		elsewhere := pod("api-other-ns", "250m", "256Mi", withNamespace("other"), withLabels("app", "api"))
		elsewhere.Spec.NodeName = "other-ns"
		pods := replicas(2, withHostnameSpread(1, corev1.DoNotSchedule, "app", "api"))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40), func(in *scheduling.Input) {
			in.Nodes = []scheduling.ExistingNode{roomyNode("busy", running), roomyNode("other-ns", elsewhere)}
		})
		got := podsPerNode(res)
		if got["api-0"] == "busy" || got["api-1"] == "busy" {
			t.Fatalf("a node already holding maxSkew matching pods took another: %v", got)
		}
		if got["api-0"] != "other-ns" && got["api-1"] != "other-ns" {
			t.Fatalf("pods of another namespace do not count: one replica fits other-ns, got %v", got)
		}
	})
	t.Run("invalid maxSkew", func(t *testing.T) {
		pods := replicas(1, withHostnameSpread(0, corev1.DoNotSchedule, "app", "api"))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
		if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "spec.topologySpreadConstraints[0].maxSkew") {
			t.Fatalf("want an error with the field path, got %v", res.Errors)
		}
	})
}

// TestHostnameSpreadHoldsWhateverTheBindOrder: kube-scheduler may bind a spread pod after the
// pods planned with it, so those must leave its constraint met. One large pod spreads pods
// labelled app=web (maxSkew 1) without being one; two small web pods are planned after it:
// both on its node would leave it refused if they were bound first.
func TestHostnameSpreadHoldsWhateverTheBindOrder(t *testing.T) {
	spreader := pod("spreader", "2", "1Gi", withLabels("role", "spreader"), withHostnameSpread(1, corev1.DoNotSchedule, "app", "web"))
	web := []*corev1.Pod{pod("web-0", "100m", "128Mi", withLabels("app", "web")), pod("web-1", "100m", "128Mi", withLabels("app", "web"))}
	pods := append([]*corev1.Pod{spreader}, web...)
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
	checkClaims(t, pods, res, nil)
	got := podsPerNode(res)
	if got["web-0"] == got["spreader"] && got["web-1"] == got["spreader"] {
		t.Fatalf("two app=web pods planned with a pod whose spread allows one: %v", got)
	}
	t.Run("ScheduleAnyway keeps nobody away", func(t *testing.T) {
		spreader := pod("spreader", "2", "1Gi", withLabels("role", "spreader"), withHostnameSpread(1, corev1.ScheduleAnyway, "app", "web"))
		pods := append([]*corev1.Pod{spreader}, web...)
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
		if len(res.NewNodes) != 1 {
			t.Fatalf("a preferred spread kept pods off the node: %v", podsPerNode(res))
		}
	})
}

// TestReasonsNameTheConstraint: an unschedulable pod's reason says why each existing node
// refused it (a host port, not affinity) and names minDomains when it set the global minimum to 0.
func TestReasonsNameTheConstraint(t *testing.T) {
	holder := pod("holder", "100m", "64Mi", withLabels("app", "x"), withHostPort(80, corev1.ProtocolTCP, ""))
	holder.Spec.NodeName = "n1"
	want := pod("want", "100m", "64Mi", withHostPort(80, corev1.ProtocolTCP, ""),
		withPodAffinity(corev1.PodAffinityTerm{TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}}))
	res := solve(t, []*corev1.Pod{want}, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40),
		func(in *scheduling.Input) { in.Nodes = []scheduling.ExistingNode{roomyNode("n1", holder)} })
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "existing nodes: 1 (n1): a host port it binds is taken on the node") {
		t.Fatalf("want the host port named for n1, got %v", reasons(res))
	}
	minDomains := int32(3)
	spread := withSpread(corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		MinDomains: &minDomains, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "md"}}})
	md := pods(3, "md", "100m", "64Mi", withLabels("app", "md"), withSelector(corev1.LabelTopologyZone, "us-east-1a"), spread)
	res = solve(t, md, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
	if len(res.Errors) != 2 || !strings.Contains(res.Errors[0].Reason, "minDomains 3: only 1 eligible domains") {
		t.Fatalf("want 2 pods refused naming minDomains, got %v", reasons(res))
	}
}

// TestPinnedPodRefusalSaysWhy: a pod that must join a pod of the batch on its node (required
// hostname affinity) and cannot is reported with the node's reason, not a generic one: here
// the host port both bind.
func TestPinnedPodRefusalSaysWhy(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  podOpt
		want string
	}{
		{"host port", withHostPort(8080, corev1.ProtocolTCP, ""), "a host port it binds is taken on the node"},
		{"anti-affinity", withAntiAffinity(hostnameTerm("app", "web")), "required pod anti-affinity (kubernetes.io/hostname) matches a pod on the node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			web := pod("web", "250m", "256Mi", withLabels("app", "web"), withHostPort(8080, corev1.ProtocolTCP, ""))
			side := pod("side", "250m", "256Mi", withPodAffinity(hostnameTerm("app", "web")), tc.opt)
			res := solve(t, []*corev1.Pod{web, side}, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
			if len(res.Errors) != 1 || res.Errors[0].Pod.Name != "side" {
				t.Fatalf("want side refused, got %+v", res.Errors)
			}
			if !strings.Contains(res.Errors[0].Reason, tc.want) {
				t.Errorf("reason %q, want it to say %q", res.Errors[0].Reason, tc.want)
			}
		})
	}
}

// TestSpreadRefusalNamesEveryLeastDomain: with nodeAffinityPolicy Ignore, pods pinned to
// us-east-1a count us-east-1b and us-east-1c as domains; the second pod's reason names both
// as holding the minimum.
func TestSpreadRefusalNamesEveryLeastDomain(t *testing.T) {
	ignore := corev1.NodeInclusionPolicyIgnore
	c := zoneSpread(1, "pin")
	c.NodeAffinityPolicy = &ignore
	pinned := pods(2, "pin", "100m", "64Mi", withLabels("app", "pin"), withSelector(corev1.LabelTopologyZone, "us-east-1a"), withSpread(c))
	res := solve(t, pinned, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
	const want = "1 selected pod in us-east-1a, minimum 0 in us-east-1b and us-east-1c"
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, want) {
		t.Fatalf("want one pod refused saying %q, got %v", want, reasons(res))
	}
}
