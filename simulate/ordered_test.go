package simulate_test

import (
	"fmt"
	"strings"
	"testing"
)

// statefulSet is a StatefulSet "db" of n replicas of 300m and 600Mi with podManagementPolicy
// policy ("" for the default, OrderedReady).
func statefulSet(n int, policy string) string {
	s := `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: shop
spec:
  replicas: ` + itoa(n) + `
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
        - name: db
          image: postgres
          resources:
            requests: {cpu: 300m, memory: 600Mi}
`
	if policy != "" {
		s = strings.Replace(s, "  serviceName: db\n", "  serviceName: db\n  podManagementPolicy: "+policy+"\n", 1)
	}
	return s
}

// TestOrderedReadyStatefulSetIsPlannedOnePodAtATime: the StatefulSet controller creates an
// OrderedReady StatefulSet's pods one at a time, so the first node is sized for db-0 alone and
// the next pods fill it before another node of that size is launched, as in the cluster; a
// Parallel StatefulSet's pods are pending together and are packed at once.
func TestOrderedReadyStatefulSetIsPlannedOnePodAtATime(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	one, _ := plan(t, "-f", write(t, "w.yaml", statefulSet(1, "")), "-f", prov)
	if len(one.NewNodes) != 1 {
		t.Fatalf("one pod: want one node, got %+v", one.NewNodes)
	}
	lone := one.NewNodes[0]
	perNode := min(lone.Allocatable.CPUMillicores/300, lone.Allocatable.MemoryBytes/(600<<20), lone.Allocatable.Pods)
	if perNode < 2 || perNode >= 8 {
		t.Fatalf("the catalogue's node for one pod (%s) holds %d pods: the test needs 2 to 7", lone.InstanceType, perNode)
	}

	p, errOut := plan(t, "-f", write(t, "w.yaml", statefulSet(8, "")), "-f", prov)
	if !strings.Contains(errOut, "planned in 8 batches") {
		t.Errorf("want a note on the 8 batches, stderr:\n%s", errOut)
	}
	wantNodes := int((8 + perNode - 1) / perNode)
	if p.Summary.Unschedulable != 0 || p.Summary.NewNodes != wantNodes || len(p.NewNodes) != 1 || p.NewNodes[0].InstanceType != lone.InstanceType {
		t.Errorf("OrderedReady: want %d x %s (%d pods each), got %+v", wantNodes, lone.InstanceType, perNode, p.NewNodes)
	}

	parallel, errOut := plan(t, "-f", write(t, "w.yaml", statefulSet(8, "Parallel")), "-f", prov)
	if strings.Contains(errOut, "batches") {
		t.Errorf("Parallel: no batches expected, stderr:\n%s", errOut)
	}
	if parallel.Summary.Unschedulable != 0 || parallel.Summary.USDPerHour > p.Summary.USDPerHour {
		t.Errorf("Parallel: want all pods placed at most as dear as one at a time (%.4f): %+v", p.Summary.USDPerHour, parallel.Summary)
	}
}

// TestOrderedReadyStopsAtAPodThatCannotBePlaced: with a CPU limit that leaves room for one
// node, the pods after the first that fits nowhere are never created, and say so.
func TestOrderedReadyStopsAtAPodThatCannotBePlaced(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner+`  limits:
    resources:
      cpu: "2"
`)
	p, _ := plan(t, "-f", write(t, "w.yaml", statefulSet(8, "")), "-f", prov)
	if p.Summary.NewNodes != 1 || p.Summary.Unschedulable == 0 {
		t.Fatalf("want one node and the rest unschedulable: %+v", p.Summary)
	}
	first := ""
	for _, u := range p.Unschedulable {
		if strings.Contains(u.Reason, "not created until") {
			continue
		}
		if first != "" {
			t.Errorf("two pods refused for themselves: %s and %s (%s)", first, u.Pod, u.Reason)
		}
		first = u.Pod
	}
	if first == "" {
		t.Fatalf("no pod refused for itself: %+v", p.Unschedulable)
	}
	for _, u := range p.Unschedulable {
		if u.Pod != first && !strings.Contains(u.Reason, fmt.Sprintf("not created until %s runs", strings.TrimPrefix(first, "shop/"))) {
			t.Errorf("%s: want it waiting for %s, got %q", u.Pod, first, u.Reason)
		}
	}
}

// TestOrderedReadyCoLocatedPodsSayWhy: an OrderedReady StatefulSet whose pods must share one
// node (required hostname affinity to their own label) gets a node sized for its first pod
// alone; the second cannot join it and no new node can take it, as in a cluster. Its reason
// says why and names podManagementPolicy Parallel, with which the pods are planned together.
func TestOrderedReadyCoLocatedPodsSayWhy(t *testing.T) {
	colocated := func(policy string) string {
		s := strings.Replace(statefulSet(3, policy), "requests: {cpu: 300m, memory: 600Mi}", "requests: {cpu: \"1\", memory: 2Gi}", 1)
		return strings.Replace(s, "    spec:\n      containers:\n", `    spec:
      affinity:
        podAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector: {matchLabels: {app: db}}
      containers:
`, 1)
	}
	prov := write(t, "p.yaml", defaultProvisioner)
	p, _ := plan(t, "-f", write(t, "w.yaml", colocated("")), "-f", prov)
	reasons := map[string]string{}
	for _, u := range p.Unschedulable {
		reasons[u.Pod] = u.Reason
	}
	if r := reasons["shop/db-1"]; !strings.Contains(r, "podManagementPolicy OrderedReady") || !strings.Contains(r, "with podManagementPolicy Parallel") {
		t.Errorf("db-1: want the OrderedReady explanation, got %q (all: %v)", r, reasons)
	}
	// The node planned for db-0 is named as the NEW NODES table shows it.
	if len(p.NewNodes) != 1 {
		t.Fatalf("want db-0 on one new node, got %+v", p.NewNodes)
	}
	g := p.NewNodes[0]
	if r, want := reasons["shop/db-1"], fmt.Sprintf("existing and in-flight nodes: 1 (new node 1: %s %s %s): ", g.InstanceType, g.Zone, g.CapacityType); !strings.Contains(r, want) {
		t.Errorf("db-1: want the planned node named %q, got %q", want, r)
	}
	if r := reasons["shop/db-2"]; !strings.Contains(r, "not created until db-1 runs") || strings.Contains(r, "with podManagementPolicy Parallel") {
		t.Errorf("db-2: want it waiting for db-1 without the explanation, got %q", r)
	}
	parallel, _ := plan(t, "-f", write(t, "w.yaml", colocated("Parallel")), "-f", prov)
	if parallel.Summary.Unschedulable != 0 || parallel.Summary.NewNodes != 1 {
		t.Errorf("Parallel: want the 3 pods on one new node, got %+v %+v", parallel.Summary, parallel.Unschedulable)
	}
}
