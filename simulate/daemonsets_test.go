package simulate_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
	"github.com/nodeform/terraform-provider-karpenter/simulate"
)

// dsNode is a --nodes Node n-a with 4 CPUs, labelled pool=a, with TAINTS.
const dsNode = `apiVersion: v1
kind: Node
metadata:
  name: n-a
  labels: {kubernetes.io/arch: amd64, kubernetes.io/os: linux, topology.kubernetes.io/zone: us-east-1a, pool: a}
spec: {taints: TAINTS}
status: {allocatable: {cpu: "4", memory: 16Gi, pods: "58"}}
`

// agentDS is the DaemonSet default/agent (1 CPU, 1Gi; uid u1) with template spec EXTRA.
const agentDS = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, uid: u1}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:EXTRA
      containers: [{name: a, image: agent, resources: {requests: {cpu: "1", memory: 1Gi}}}]
`

// boundPod is a pod NAME of namespace NS labelled app: agent, bound to NODE, requesting 1 CPU,
// with OWNER (an ownerReferences line, or nothing).
func boundPod(name, ns, node, owner string) string {
	return strings.NewReplacer("NAME", name, "NS", ns, "NODE", node, "OWNER", owner).Replace(`---
apiVersion: v1
kind: Pod
metadata:
  name: NAME
  namespace: NS
  labels: {app: agent}OWNER
spec:
  nodeName: NODE
  containers: [{name: c, image: x, resources: {requests: {cpu: "1"}}}]
status: {phase: Running}
`)
}

const dsOwner = "\n  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: u1, controller: true}]"

// A DaemonSet of the input takes its room on an existing node it would run on and has no pod on
// yet, before pods are planned: once per node, only where its node selection and tolerations
// (with those the DaemonSet controller adds) admit the node.
func TestDaemonSetTakesRoomOnExistingNodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		// taints of the node, the DaemonSet's template spec additions and more --nodes objects.
		taints, extra, cluster string
		// wantCPU is the node's room left (millicores); wantDS whether the DaemonSet is listed.
		wantCPU int64
		wantDS  bool
		short   bool
	}{
		{name: "selects the node, not running yet: room taken", taints: "[]", wantCPU: 3000, wantDS: true},
		{name: "its nodeSelector selects the node", taints: "[]", extra: "\n      nodeSelector: {pool: a}", wantCPU: 3000, wantDS: true},
		{name: "already running there (owner by UID): not counted twice", taints: "[]",
			cluster: boundPod("agent-x", "default", "n-a", dsOwner), wantCPU: 3000},
		{name: "already running there (owner without UID): not counted twice", taints: "[]",
			cluster: boundPod("agent-x", "default", "n-a", strings.Replace(dsOwner, ", uid: u1", "", 1)), wantCPU: 3000},
		{name: "an orphan pod it selects runs there (adopted): not counted twice", taints: "[]",
			cluster: boundPod("agent-x", "default", "n-a", ""), wantCPU: 3000},
		{name: "pending pod pinned to the node: not counted twice", taints: "[]",
			cluster: "---\napiVersion: v1\nkind: List\nitems:" + strings.Replace(pinnedPod("agent-x", "n-a", "1", true), "namespace: kube-system", "namespace: default\n      labels: {app: agent}", 1), wantCPU: 4000},
		{name: "its pod runs on another node only: room taken", taints: "[]",
			cluster: boundPod("agent-x", "default", "n-b", dsOwner) + "---\napiVersion: v1\nkind: Node\nmetadata: {name: n-b}\nstatus: {allocatable: {cpu: \"4\", memory: 16Gi, pods: \"58\"}}\n",
			wantCPU: 3000, wantDS: true},
		{name: "a pod of another DaemonSet with its labels runs there: room taken", taints: "[]",
			cluster: boundPod("other-x", "default", "n-a", strings.ReplaceAll(dsOwner, "agent, uid: u1", "other, uid: u2")), wantCPU: 2000, wantDS: true},
		{name: "a pod of another UID with its name runs there (recreated): room taken", taints: "[]",
			cluster: boundPod("agent-x", "default", "n-a", strings.Replace(dsOwner, "u1", "u0", 1)), wantCPU: 2000, wantDS: true},
		{name: "a pod with its labels in another namespace runs there: room taken", taints: "[]",
			cluster: boundPod("agent-x", "kube-system", "n-a", ""), wantCPU: 2000, wantDS: true},
		{name: "a deleting pod of it runs there (the controller replaces it): room taken", taints: "[]",
			cluster: strings.Replace(boundPod("agent-x", "default", "n-a", dsOwner), "namespace: default", "namespace: default\n  deletionTimestamp: \"2026-01-01T00:00:00Z\"", 1),
			wantCPU: 2000, wantDS: true},
		{name: "its nodeSelector does not select the node: not counted", taints: "[]", extra: "\n      nodeSelector: {pool: b}", wantCPU: 4000},
		{name: "its node affinity does not select the node: not counted", taints: "[]",
			extra: "\n      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: NotIn, values: [a]}]}]}}}", wantCPU: 4000},
		{name: "pinned by matchFields to another node: not counted", taints: "[]",
			extra: "\n      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [n-b]}]}]}}}", wantCPU: 4000},
		{name: "does not tolerate the node's taint: not counted", taints: "[{key: dedicated, value: gpu, effect: NoSchedule}]", wantCPU: 4000},
		{name: "does not tolerate the node's NoExecute taint: not counted", taints: "[{key: dedicated, value: gpu, effect: NoExecute}]", wantCPU: 4000},
		{name: "tolerates the node's taint: room taken", taints: "[{key: dedicated, value: gpu, effect: NoSchedule}]",
			extra: "\n      tolerations: [{key: dedicated, operator: Exists}]", wantCPU: 3000, wantDS: true},
		{name: "a PreferNoSchedule taint does not keep it off: room taken", taints: "[{key: dedicated, value: gpu, effect: PreferNoSchedule}]", wantCPU: 3000, wantDS: true},
		{name: "the DaemonSet controller's own tolerations (memory pressure): room taken", taints: "[{key: node.kubernetes.io/memory-pressure, effect: NoSchedule}]",
			wantCPU: 3000, wantDS: true},
		{name: "network-unavailable is tolerated on the host network only: not counted", taints: "[{key: node.kubernetes.io/network-unavailable, effect: NoSchedule}]", wantCPU: 4000},
		{name: "network-unavailable, host network: room taken", taints: "[{key: node.kubernetes.io/network-unavailable, effect: NoSchedule}]",
			extra: "\n      hostNetwork: true", wantCPU: 3000, wantDS: true},
		{name: "the node's room is short: nothing new planned there", taints: "[]",
			cluster: boundPod("big", "shop", "n-a", "") + boundPod("big2", "shop", "n-a", "") + strings.Replace(boundPod("big3", "shop", "n-a", ""), `cpu: "1"`, `cpu: 1500m`, 1),
			wantCPU: 0, wantDS: true, short: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := write(t, "w.yaml", strings.Replace(agentDS, "EXTRA", tc.extra, 1))
			nodes := write(t, "nodes.yaml", strings.Replace(dsNode, "TAINTS", tc.taints, 1)+tc.cluster)
			w, err := simulate.Read(context.Background(), []string{work}, []string{nodes}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var node *scheduling.ExistingNode
			for i := range w.Nodes {
				if w.Nodes[i].Name == "n-a" {
					node = &w.Nodes[i]
				}
			}
			if node == nil {
				t.Fatalf("no node n-a in %+v", w.Nodes)
			}
			if got := scheduling.FromList(node.Available)[corev1.ResourceCPU]; got != tc.wantCPU {
				t.Errorf("room left on n-a: cpu %dm, want %dm", got, tc.wantCPU)
			}
			var listed *simulate.NodeDaemonSets
			for i := range w.NodeDaemonSets {
				if w.NodeDaemonSets[i].Node == "n-a" {
					listed = &w.NodeDaemonSets[i]
				}
			}
			if (listed != nil) != tc.wantDS {
				t.Fatalf("DaemonSet listed on n-a: %v, want %v", listed != nil, tc.wantDS)
			}
			if listed == nil {
				return
			}
			if len(listed.DaemonSets) != 1 || listed.DaemonSets[0].Name != "agent" || listed.Requests[corev1.ResourceCPU] != 1000 {
				t.Errorf("listed %d DaemonSets taking %v", len(listed.DaemonSets), listed.Requests)
			}
			if got := strings.Join(listed.Short, ","); (got == "cpu") != tc.short || (!tc.short && got != "") {
				t.Errorf("short %q, want short of cpu: %v", got, tc.short)
			}
			warned := strings.Contains(strings.Join(w.Warnings, "\n"), "node n-a: the room its bound pods leave is short of cpu")
			if warned != tc.short {
				t.Errorf("warning about the short room: %v, want %v: %q", warned, tc.short, w.Warnings)
			}
			if tc.short {
				for k, q := range node.Available {
					if !q.IsZero() {
						t.Errorf("short node offers %s %s: want no room", k, q.String())
					}
				}
			}
		})
	}
}

// The repro of the trial: a 1-CPU DaemonSet and two 1600m pods, one 4-CPU node. The DaemonSet's
// pod takes 1 CPU there, so only one pod fits beside it; the plan says what the DaemonSet takes.
func TestDaemonSetRoomOnExistingNodeInThePlan(t *testing.T) {
	work := write(t, "w.yaml", strings.Replace(agentDS, "EXTRA", "", 1)+"---\n"+strings.Replace(deployment("app", 2, "1600m", "1Gi"), "namespace: shop", "namespace: default", 1))
	nodes := write(t, "nodes.yaml", strings.Replace(dsNode, "TAINTS", "[]", 1))
	prov := write(t, "p.yaml", defaultProvisioner)
	p, _ := plan(t, "-f", work, "-f", prov, "--nodes", nodes)
	if p.Summary.PlacedOnExistingNodes != 1 || p.Summary.PlacedOnNewNodes != 1 {
		t.Fatalf("want 1 pod on n-a beside the DaemonSet's and 1 on a new node, got %+v", p.Summary)
	}
	want := simulate.NodeDaemonSetPods{Node: "n-a", DaemonSets: []string{"default/agent"}, Requests: simulate.Amounts{CPUMillicores: 1000, MemoryBytes: 1 << 30, Pods: 1}, Short: []string{}}
	if len(p.DaemonSetPodsToStart) != 1 || strings.Join(p.DaemonSetPodsToStart[0].DaemonSets, ",") != "default/agent" ||
		p.DaemonSetPodsToStart[0].Node != want.Node || p.DaemonSetPodsToStart[0].Requests != want.Requests || len(p.DaemonSetPodsToStart[0].Short) != 0 {
		t.Fatalf("daemonSetPodsToStart %+v, want [%+v]", p.DaemonSetPodsToStart, want)
	}
	out, _, err := run(t, "", "-f", work, "-f", prov, "--nodes", nodes)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "DAEMONSET PODS TO START ON EXISTING NODES") || !strings.Contains(out, "n-a   1    1Gi     default/agent\n") {
		t.Fatalf("the table does not say what the DaemonSet takes on n-a:\n%s", out)
	}
}
