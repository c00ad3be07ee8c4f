package simulate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
	"github.com/nodeform/terraform-provider-karpenter/simulate"
)

// write puts content in a file of a fresh temporary folder and returns its path.
func write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// run executes the simulate command with args and returns stdout, stderr and the error.
func run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := simulate.NewCommand()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// plan runs the command with -o json and decodes the plan, refusing unknown fields.
func plan(t *testing.T, args ...string) (*simulate.Plan, string) {
	t.Helper()
	out, errOut, err := run(t, "", append(args, "-o", "json")...)
	if err != nil {
		t.Fatalf("simulate %v: %v\nstderr:\n%s", args, err, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var p simulate.Plan
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("-o json does not parse back: %v\n%s", err, out)
	}
	return &p, errOut
}

const defaultProvisioner = `apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: default
spec:
  requirements:
    - key: karpenter.sh/capacity-type
      operator: In
      values: ["spot"]
`

// deployment is a Deployment of n replicas, each requesting cpu and memory.
func deployment(name string, replicas int, cpu, memory string) string {
	return strings.NewReplacer("NAME", name, "REPLICAS", itoa(replicas), "CPU", cpu, "MEMORY", memory).Replace(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
  namespace: shop
spec:
  replicas: REPLICAS
  selector:
    matchLabels: {app: NAME}
  template:
    metadata:
      labels: {app: NAME}
    spec:
      containers:
        - name: main
          image: busybox
          resources:
            requests:
              cpu: "CPU"
              memory: MEMORY
`)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestDeploymentOfTenGetsTheSolversNodes(t *testing.T) {
	ctx := context.Background()
	workload := write(t, "web.yaml", deployment("web", 10, "1", "1Gi"))
	prov := write(t, "provisioner.yaml", defaultProvisioner)
	p, _ := plan(t, "-f", workload, "-f", prov)

	// The same input straight into the solver, with the same catalogue.
	cat, err := simulate.OpenCatalog(ctx, simulate.CatalogSandbox, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cat.Close() }()
	var pv v1alpha5.Provisioner
	pv.Name = "default"
	pv.Spec.Requirements = []v1alpha5.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"spot"}}}
	prv := pv.WithDefaults()
	types, err := cat.InstanceTypes(ctx, prv)
	if err != nil {
		t.Fatal(err)
	}
	in := scheduling.Input{Provisioners: []scheduling.ProvisionerInput{{Provisioner: prv, InstanceTypes: types}}}
	for i := range 10 {
		in.Pods = append(in.Pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-" + itoa(i)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}}}}}})
	}
	res := scheduling.Solve(in)
	var want float64
	wantTypes := map[string]int{}
	for _, c := range res.NewNodes {
		want += c.Prices[0]
		wantTypes[c.InstanceTypeOptions[0].Name]++
	}

	if p.Summary.NewNodes != len(res.NewNodes) || p.Summary.PlacedOnNewNodes != 10 || p.Summary.Unschedulable != 0 {
		t.Fatalf("summary %+v; the solver gives %d nodes", p.Summary, len(res.NewNodes))
	}
	if math.Abs(p.Summary.USDPerHour-want) > 1e-6 {
		t.Fatalf("total %v USD/hour, the solver's cheapest options cost %v", p.Summary.USDPerHour, want)
	}
	if lb := scheduling.LowerBound(in); math.Abs(p.Summary.LowerBoundUSDPerHour-lb) > 1e-6 || lb <= 0 || lb > p.Summary.USDPerHour+1e-9 {
		t.Fatalf("lower bound %v, scheduling.LowerBound %v, total %v", p.Summary.LowerBoundUSDPerHour, lb, p.Summary.USDPerHour)
	}
	var sum float64
	for _, g := range p.NewNodes {
		if g.Provisioner != "default" || g.CapacityType != v1alpha5.CapacityTypeSpot || wantTypes[g.InstanceType] != g.Count {
			t.Errorf("group %+v; the solver's first options: %v", g, wantTypes)
		}
		if g.CPUUtilisation <= 0 || g.CPUUtilisation > 1 || g.Requests.CPUMillicores != int64(1000*len(g.Pods)) {
			t.Errorf("group %s: cpu utilisation %v, requests %+v for %d pods", g.InstanceType, g.CPUUtilisation, g.Requests, len(g.Pods))
		}
		if len(g.Workloads) != 1 || g.Workloads[0].Workload != "Deployment shop/web" {
			t.Errorf("workloads %+v, want Deployment shop/web", g.Workloads)
		}
		sum += g.USDPerHour
	}
	if math.Abs(sum-p.Summary.USDPerHour) > 1e-6 {
		t.Errorf("groups sum to %v, summary says %v", sum, p.Summary.USDPerHour)
	}

	table, _, err := run(t, "", "-f", workload, "-f", prov)
	if err != nil {
		t.Fatal(err)
	}
	for _, wantText := range []string{"NEW NODES", p.NewNodes[0].InstanceType, "Deployment shop/web x", "SUMMARY", "lower bound"} {
		if !strings.Contains(table, wantText) {
			t.Errorf("table lacks %q:\n%s", wantText, table)
		}
	}
}

func TestPodThatFitsNowhereShowsItsReason(t *testing.T) {
	workload := write(t, "w.yaml", deployment("small", 2, "500m", "256Mi")+"---\n"+deployment("huge", 1, "1000", "1Gi"))
	prov := write(t, "p.yaml", defaultProvisioner)
	p, _ := plan(t, "-f", workload, "-f", prov)
	if len(p.Unschedulable) != 1 || p.Unschedulable[0].Pod != "shop/huge-0" || p.Unschedulable[0].Workload != "Deployment shop/huge" {
		t.Fatalf("unschedulable %+v, want shop/huge-0", p.Unschedulable)
	}
	if r := p.Unschedulable[0].Reason; !strings.Contains(r, "provisioner default") || !strings.Contains(r, "no instance type satisfies requests") {
		t.Fatalf("reason %q does not say why", r)
	}
	if p.Summary.PlacedOnNewNodes != 2 {
		t.Fatalf("the small pods are not placed: %+v", p.Summary)
	}
	table, _, err := run(t, "", "-f", workload, "-f", prov)
	if err != nil || !strings.Contains(table, "UNSCHEDULABLE PODS") || !strings.Contains(table, "no instance type satisfies requests") {
		t.Fatalf("table (err %v):\n%s", err, table)
	}
}

// A node with 4 CPUs allocatable, 3 of them taken by bound pods of which one has finished.
const liveNodes = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Node
    metadata:
      name: ip-10-0-1-1.ec2.internal
      labels:
        kubernetes.io/arch: amd64
        kubernetes.io/os: linux
        node.kubernetes.io/instance-type: m5.xlarge
        karpenter.sh/provisioner-name: default
    status:
      capacity: {cpu: "4", memory: 16Gi, pods: "58"}
      allocatable: {cpu: "4", memory: 15Gi, pods: "58"}
  - apiVersion: v1
    kind: Pod
    metadata: {name: running, namespace: kube-system}
    spec:
      nodeName: ip-10-0-1-1.ec2.internal
      containers: [{name: c, image: x, resources: {requests: {cpu: "1"}}}]
    status: {phase: Running}
  - apiVersion: v1
    kind: Pod
    metadata: {name: done, namespace: kube-system}
    spec:
      nodeName: ip-10-0-1-1.ec2.internal
      containers: [{name: c, image: x, resources: {requests: {cpu: "2"}}}]
    status: {phase: Succeeded}
`

func TestExistingNodeWithRoomAbsorbsPods(t *testing.T) {
	nodes := write(t, "nodes.yaml", liveNodes)
	prov := write(t, "p.yaml", defaultProvisioner)
	// 3 CPUs are free (the finished pod holds nothing): three 1-CPU pods fit, no new node.
	p, _ := plan(t, "-f", write(t, "w.yaml", deployment("web", 3, "1", "1Gi")), "-f", prov, "--nodes", nodes)
	if p.Summary.NewNodes != 0 || p.Summary.PlacedOnExistingNodes != 3 || len(p.ExistingNodes) != 1 {
		t.Fatalf("want all 3 pods on the existing node: %+v", p.Summary)
	}
	if e := p.ExistingNodes[0]; e.Name != "ip-10-0-1-1.ec2.internal" || len(e.Pods) != 3 {
		t.Fatalf("existing node plan %+v", e)
	}
	// A fourth pod does not fit beside the running pod: one new node.
	p, _ = plan(t, "-f", write(t, "w.yaml", deployment("web", 4, "1", "1Gi")), "-f", prov, "--nodes", nodes)
	if p.Summary.NewNodes != 1 || p.Summary.PlacedOnExistingNodes != 3 || p.Summary.PlacedOnNewNodes != 1 {
		t.Fatalf("want 3 pods on the existing node and 1 on a new one: %+v", p.Summary)
	}
}

func TestDaemonSetRequestsReduceWhatFits(t *testing.T) {
	// Only m5.xlarge: 4 vCPUs, 3920m allocatable (80m kube-reserved).
	prov := write(t, "p.yaml", defaultProvisioner+`    - key: node.kubernetes.io/instance-type
      operator: In
      values: ["m5.xlarge"]
`)
	workload := deployment("web", 6, "1", "1Gi")
	p, _ := plan(t, "-f", write(t, "w.yaml", workload), "-f", prov)
	if p.Summary.NewNodes != 2 {
		t.Fatalf("without daemonsets 6 x 1 CPU take 2 m5.xlarge, got %+v", p.NewNodes)
	}
	ds := `---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: x, resources: {requests: {cpu: "1"}}}]
`
	p, _ = plan(t, "-f", write(t, "w.yaml", workload+ds), "-f", prov)
	if p.Summary.NewNodes != 3 || p.Summary.PlacedOnNewNodes != 6 {
		t.Fatalf("with a 1-CPU daemonset only 2 pods fit per node: want 3 nodes, got %+v", p.NewNodes)
	}
}

// Limits without requests are requests, as the API server defaults a created pod.
func TestLimitsWithoutRequestsAreRequests(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner+`    - key: node.kubernetes.io/instance-type
      operator: In
      values: ["m5.xlarge"]
`)
	limitsOnly := strings.Replace(deployment("web", 2, "3", "1Gi"), "requests:", "limits:", 1)
	p, _ := plan(t, "-f", write(t, "w.yaml", limitsOnly), "-f", prov)
	if p.Summary.NewNodes != 2 || p.NewNodes[0].Requests.CPUMillicores != 6000 {
		t.Fatalf("2 pods limited (so requesting) 3 CPUs need 2 m5.xlarge: %+v", p.NewNodes)
	}
}

func TestBadYAMLNamesFileAndLine(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	cases := []struct {
		name, content string
		want          []string
	}{
		{"syntax error in the second document", deployment("a", 1, "1", "1Gi") + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   namespace: y\n",
			[]string{"bad.yaml:26:", "invalid YAML"}},
		{"memory that is not a quantity", deployment("a", 1, "1", "512MB"),
			[]string{"bad.yaml:20:", "spec.template.spec.containers[0].resources.requests.memory", "quantities must match"}},
		{"replicas that is not a number", strings.Replace(deployment("a", 1, "1", "1Gi"), "replicas: 1", "replicas: one", 1),
			[]string{"bad.yaml:7:", "spec.replicas", "Invalid type: expected an integer, got a string"}},
		{"negative replicas", strings.Replace(deployment("a", 1, "1", "1Gi"), "replicas: 1", "replicas: -2", 1),
			[]string{"bad.yaml:7:", "spec.replicas", "greater than or equal to 0"}},
		{"not an object", "- just\n- a list\n", []string{"bad.yaml:1:", "not a Kubernetes object"}},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", []string{"bad.yaml:1:", "apiVersion and kind are required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, "", "-f", write(t, "bad.yaml", tc.content), "-f", prov)
			if err == nil {
				t.Fatal("bad input accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestInvalidProvisionerIsRejectedWithFieldPath(t *testing.T) {
	bad := strings.Replace(defaultProvisioner, "operator: In", "operator: Maybe", 1) + "  ttlSecondsAfterEmpty: -1\n"
	_, _, err := run(t, "", "-f", write(t, "w.yaml", deployment("web", 1, "1", "1Gi")), "-f", write(t, "prov.yaml", bad))
	if err == nil {
		t.Fatal("invalid Provisioner accepted")
	}
	for _, w := range []string{`prov.yaml:8: spec.requirements[0].operator: invalid Provisioner "default": Unsupported value: "Maybe"`,
		`prov.yaml:10: spec.ttlSecondsAfterEmpty: invalid Provisioner "default"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// A Provisioner the CRD takes but the controller's webhook refuses (v1alpha5 Validate: here a
// label its requirement excludes, so it could never launch a node) is refused with its line.
func TestProvisionerTheWebhookRefusesIsRejected(t *testing.T) {
	bad := strings.Replace(defaultProvisioner, "spec:\n", "spec:\n  labels:\n    karpenter.sh/capacity-type: on-demand\n", 1)
	_, _, err := run(t, "", "-f", write(t, "w.yaml", deployment("web", 1, "1", "1Gi")), "-f", write(t, "prov.yaml", bad))
	if err == nil {
		t.Fatal("a Provisioner whose requirement excludes its label was accepted")
	}
	want := `prov.yaml:9: spec.requirements[0]: invalid Provisioner "default": Invalid value: "karpenter.sh/capacity-type": no node could satisfy the requirements on karpenter.sh/capacity-type up to this one and the label karpenter.sh/capacity-type=on-demand: on-demand is not among the In values`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestUnknownKindsAreSkippedWithAWarning(t *testing.T) {
	in := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n---\n" + deployment("web", 1, "1", "1Gi") +
		"---\napiVersion: karpenter.k8s.aws/v1alpha1\nkind: AWSNodeTemplate\nmetadata: {name: default}\n"
	p, errOut := plan(t, "-f", write(t, "w.yaml", in), "-f", write(t, "p.yaml", defaultProvisioner))
	if len(p.Skipped) != 2 || p.Skipped[0].Kind != "ConfigMap" || p.Skipped[1].Kind != "AWSNodeTemplate" || p.Summary.PlacedOnNewNodes != 1 {
		t.Fatalf("skipped %+v, summary %+v", p.Skipped, p.Summary)
	}
	if !strings.Contains(errOut, "w.yaml:1: skipped ConfigMap settings: v1 ConfigMap is not simulated") {
		t.Fatalf("stderr lacks the skipped ConfigMap:\n%s", errOut)
	}
}

func TestListFromStdinWithJobsStatefulSetsAndPods(t *testing.T) {
	list := `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"},
   "spec": {"parallelism": 5, "completions": 3, "template": {"spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "100m"}}}]}}}},
  {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "db"}}, "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "100m"}}}]}}}},
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
]}`
	out, errOut, err := run(t, list, "-f", "-", "-f", write(t, "p.yaml", defaultProvisioner), "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var p simulate.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, g := range p.NewNodes {
		for _, w := range g.Workloads {
			got[w.Workload] += w.Pods
		}
	}
	want := map[string]int{"Job default/batch": 3, "StatefulSet default/db": 2, "Pod default/solo": 1}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("%s: %d pods, want %d (all: %v)", w, got[w], n, got)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	cases := map[string][]string{
		"-f " + missing + ": stat " + missing + ": no such file or directory":      {"-f", missing},
		"--nodes " + missing + ": stat " + missing + ": no such file or directory": {"-f", write(t, "w.yaml", deployment("a", 1, "1", "1Gi")), "--nodes", missing},
		"-f: give at least one":                       {"-o", "json"},
		"-o: unknown output format":                   {"-f", "x.yaml", "-o", "yaml"},
		"--catalog: unknown catalogue":                {"-f", write(t, "w.yaml", deployment("a", 1, "1", "1Gi")), "--catalog", "gcp"},
		"stdin can be read only once":                 {"-f", "-", "-f", "-"},
		"no *.yaml, *.yml or *.json":                  {"-f", t.TempDir()},
		"unknown command \"plan\"":                    {"plan"},
		"give each file with -f (simulate -f w.yaml)": {"w.yaml"},
	}
	for want, args := range cases {
		_, _, err := run(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("simulate %v: error %v, want %q", args, err, want)
		}
	}
}

// A bad flag is reported before any input is read: its error comes alone, without the
// warnings the input would give (here: no Provisioner).
func TestFlagErrorComesBeforeInputWarnings(t *testing.T) {
	w := write(t, "w.yaml", deployment("a", 1, "1", "1Gi"))
	for _, args := range [][]string{{"-f", w, "--catalog", "bogus"}, {"-f", w, "-o", "yaml"}} {
		_, errOut, err := run(t, "", args...)
		if err == nil || !strings.HasPrefix(err.Error(), "--catalog: ") && !strings.HasPrefix(err.Error(), "-o: ") {
			t.Errorf("simulate %v: error %v, want the flag's", args, err)
		}
		if errOut != "" {
			t.Errorf("simulate %v wrote before the flag error:\n%s", args, errOut)
		}
	}
}

// A file without objects (empty, comments and "---" only, a List without items) is named in a
// warning: it is most likely not the file meant.
func TestFileWithoutObjectsIsWarned(t *testing.T) {
	empty := write(t, "empty.yaml", "")
	comments := write(t, "comments.yaml", "# nothing here yet\n---\n\n---   # still nothing\n")
	list := write(t, "list.yaml", `{"apiVersion": "v1", "kind": "List", "items": []}`)
	prov := write(t, "prov.yaml", defaultProvisioner)
	_, errOut := plan(t, "-f", empty, "-f", comments, "-f", list, "-f", prov, "-f", "-")
	for _, f := range []string{empty, comments, list, "-"} {
		if !strings.Contains(errOut, "warning: "+f+": no Kubernetes objects\n") {
			t.Errorf("no warning for %s:\n%s", f, errOut)
		}
	}
	if strings.Contains(errOut, prov+": no Kubernetes objects") {
		t.Errorf("warning for %s, which holds a Provisioner:\n%s", prov, errOut)
	}
}

// TestLowerBoundIsForThePodsPlaced: pods a provisioner's limits leave unschedulable are not in
// the bound, so it is not above the plan's total.
func TestLowerBoundIsForThePodsPlaced(t *testing.T) {
	limited := "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: default}\nspec:\n  limits: {resources: {cpu: \"8\"}}\n"
	p, _ := plan(t, "-f", write(t, "w.yaml", deployment("web", 30, "1", "1Gi")), "-f", write(t, "p.yaml", limited))
	s := p.Summary
	if s.Unschedulable == 0 || s.PlacedOnNewNodes == 0 {
		t.Fatalf("want some pods placed and some refused by the limit: %+v", s)
	}
	if s.LowerBoundUSDPerHour <= 0 || s.LowerBoundUSDPerHour > s.USDPerHour {
		t.Fatalf("bound %.4f, total %.4f: want 0 < bound <= total", s.LowerBoundUSDPerHour, s.USDPerHour)
	}
}

// Pods may select every label a node of the type will carry (issue 6: the region and every
// karpenter.k8s.aws/instance-* label), with the facts of the sandbox's catalogue: one NVIDIA
// A10G per g5 GPU, a Xen hypervisor for i3; the GPU and accelerator labels only on types that
// have them, so instance-gpu-count DoesNotExist keeps a pod off GPU types only.
func TestPodsSelectRegionAndInstanceLabels(t *testing.T) {
	pods := `apiVersion: v1
kind: Pod
metadata: {name: a10g, namespace: ml}
spec:
  nodeSelector:
    topology.kubernetes.io/region: us-east-1
    karpenter.k8s.aws/instance-gpu-name: a10g
    karpenter.k8s.aws/instance-gpu-manufacturer: nvidia
  containers: [{name: c, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: xen, namespace: ml}
spec:
  nodeSelector: {karpenter.k8s.aws/instance-hypervisor: xen, karpenter.k8s.aws/instance-family: i3}
  containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: no-gpu, namespace: ml}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - {key: karpenter.k8s.aws/instance-gpu-count, operator: DoesNotExist}
              - {key: karpenter.k8s.aws/instance-accelerator-count, operator: DoesNotExist}
  containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
`
	p, _ := plan(t, "-f", write(t, "pods.yaml", pods), "-f", write(t, "prov.yaml", defaultProvisioner))
	if len(p.Unschedulable) != 0 {
		t.Fatalf("unschedulable: %+v", p.Unschedulable)
	}
	got := map[string]string{}
	for _, g := range p.NewNodes {
		for _, pod := range g.Pods {
			got[pod] = g.InstanceType
		}
	}
	if !strings.HasPrefix(got["ml/a10g"], "g5.") || !strings.HasPrefix(got["ml/xen"], "i3.") {
		t.Fatalf("want ml/a10g on a g5 and ml/xen on an i3, got %v", got)
	}
	// The GPU labels exist only on GPU types: DoesNotExist keeps a pod off them, not off every type.
	if got["ml/no-gpu"] == "" || strings.HasPrefix(got["ml/no-gpu"], "g") {
		t.Fatalf("want ml/no-gpu on a type without GPUs, got %v", got)
	}
}

// A --nodes dump as kubectl prints it: a node Ready, a node not Ready for a day (its room is
// not offered: kube-scheduler keeps pods off it), and the StatefulSet's first two pods running.
// The StatefulSet given with -f at 4 replicas adds only db-2 and db-3, one per zone by its
// zone anti-affinity: db-2 goes to the one zone without a db pod (a new node, the broken node's
// room not counted), db-3 fits nowhere.
func TestNodesDumpNotReadyNodeAndRunningStatefulSetPods(t *testing.T) {
	node := func(name, zone, ready string) string {
		return strings.NewReplacer("NAME", name, "ZONE", zone, "READY", ready).Replace(`
  - apiVersion: v1
    kind: Node
    metadata:
      name: NAME
      labels: {kubernetes.io/arch: amd64, kubernetes.io/os: linux, node.kubernetes.io/instance-type: m5.xlarge, topology.kubernetes.io/zone: ZONE, kubernetes.io/hostname: NAME}
    status:
      allocatable: {cpu: 3920m, memory: 14Gi, pods: "58"}
      conditions:
        - {type: Ready, status: "READY", lastTransitionTime: "2020-01-01T00:00:00Z"}`)
	}
	dbPod := func(name, node string) string {
		return strings.NewReplacer("NAME", name, "NODE", node).Replace(`
  - apiVersion: v1
    kind: Pod
    metadata: {name: NAME, namespace: shop, labels: {app: db}}
    spec:
      nodeName: NODE
      containers: [{name: c, image: x, resources: {requests: {cpu: "1"}}}]
    status: {phase: Running}`)
	}
	dump := "apiVersion: v1\nkind: List\nitems:" + node("a", "us-east-1a", "True") + node("b", "us-east-1b", "True") +
		node("c", "us-east-1c", "False") + dbPod("db-0", "a") + dbPod("db-1", "b")
	sts := `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 4
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {app: db}}}
      containers: [{name: c, image: x, resources: {requests: {cpu: "1"}}}]
`
	p, errOut := plan(t, "-f", write(t, "sts.yaml", sts), "-f", write(t, "p.yaml", defaultProvisioner), "--nodes", write(t, "dump.yaml", dump))
	if p.Summary.Pods != 2 || !strings.Contains(errOut, "2 pods of the workloads are already bound") {
		t.Fatalf("want db-2 and db-3 only (db-0 and db-1 run), got %+v; stderr %s", p.Summary, errOut)
	}
	if p.Summary.PlacedOnExistingNodes != 0 || p.Summary.PlacedOnNewNodes != 1 || len(p.NewNodes) != 1 || p.NewNodes[0].Zone != "us-east-1c" {
		t.Fatalf("want db-2 on a new node in us-east-1c (node c is not Ready), got %+v %+v", p.Summary, p.NewNodes)
	}
	if len(p.Unschedulable) != 1 || p.Unschedulable[0].Pod != "shop/db-3" {
		t.Fatalf("want shop/db-3 unschedulable, got %+v", p.Unschedulable)
	}
}

// Pods with scheduling gates (a standalone Pod, a Deployment's template) are not planned: the
// controller launches only for pods kube-scheduler marked Unschedulable, and it never does so
// while a gate is there.
func TestGatedPodsAreSkipped(t *testing.T) {
	gatedPod := "apiVersion: v1\nkind: Pod\nmetadata: {name: gated, namespace: shop}\nspec:\n  schedulingGates: [{name: example.com/quota}]\n" +
		"  containers: [{name: c, image: x, resources: {requests: {cpu: 1}}}]\n"
	gatedDeployment := strings.Replace(deployment("queued", 3, "1", "1Gi"), "    spec:\n", "    spec:\n      schedulingGates: [{name: example.com/quota}]\n", 1)
	in := gatedPod + "---\n" + gatedDeployment + "---\n" + deployment("web", 1, "1", "1Gi")
	p, errOut := plan(t, "-f", write(t, "w.yaml", in), "-f", write(t, "p.yaml", defaultProvisioner))
	if p.Summary.Pods != 1 || len(p.Skipped) != 2 || p.Skipped[0].Name != "shop/gated" || p.Skipped[1].Name != "shop/queued" {
		t.Fatalf("want only shop/web planned and both gated workloads skipped, got %+v, skipped %+v", p.Summary, p.Skipped)
	}
	if !strings.Contains(errOut, "skipped Pod shop/gated: spec.schedulingGates") {
		t.Fatalf("stderr lacks the skipped gated pod:\n%s", errOut)
	}
}

// A pod naming a RuntimeClass gets its overhead and scheduling, as the API server's RuntimeClass
// admission gives them to the pods it creates: 2 pods of 1 CPU with a 500m overhead request 3
// CPUs, on the class's zone.
func TestRuntimeClassOverheadAndScheduling(t *testing.T) {
	rc := `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: kata}
handler: kata
overhead:
  podFixed: {cpu: 500m, memory: 160Mi}
scheduling:
  nodeSelector: {topology.kubernetes.io/zone: us-east-1b}
`
	w := strings.Replace(deployment("sandboxed", 2, "1", "1Gi"), "    spec:\n", "    spec:\n      runtimeClassName: kata\n", 1)
	p, _ := plan(t, "-f", write(t, "w.yaml", w+"---\n"+rc), "-f", write(t, "p.yaml", defaultProvisioner))
	var cpu int64
	for _, g := range p.NewNodes {
		cpu += g.Requests.CPUMillicores
		if g.Zone != "us-east-1b" {
			t.Errorf("node group in %s, want the class's us-east-1b", g.Zone)
		}
	}
	if cpu != 3000 || p.Summary.PlacedOnNewNodes != 2 {
		t.Fatalf("want 2 pods requesting 3000m with the class's overhead, got %dm, %+v", cpu, p.Summary)
	}
	_, errOut := plan(t, "-f", write(t, "w.yaml", w), "-f", write(t, "p.yaml", defaultProvisioner))
	if !strings.Contains(errOut, `RuntimeClass "kata" is not in the input`) {
		t.Fatalf("stderr lacks the missing RuntimeClass warning:\n%s", errOut)
	}
}

// kubectl get all (or get deploy,rs) gives a Deployment, its ReplicaSet and its pods: the
// Deployment's pods are planned once, not again for the ReplicaSet and its pending pod.
func TestWorkloadAndWhatItControlsArePlannedOnce(t *testing.T) {
	in := `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d9f
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d-1, controller: true}]
spec:
  replicas: 3
  selector: {matchLabels: {app: web, pod-template-hash: 5d9f}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d9f}}
    spec:
      containers: [{name: c, image: x, resources: {requests: {cpu: 1}}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d9f-abcde
  namespace: shop
  labels: {app: web, pod-template-hash: 5d9f}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d9f, uid: rs-1, controller: true}]
spec:
  containers: [{name: c, image: x, resources: {requests: {cpu: 1}}}]
---
` + deployment("web", 3, "1", "1Gi")
	p, errOut := plan(t, "-f", write(t, "all.yaml", in), "-f", write(t, "p.yaml", defaultProvisioner))
	if p.Summary.Pods != 3 {
		t.Fatalf("want the Deployment's 3 pods only, got %+v", p.Summary)
	}
	for _, w := range []string{"ReplicaSet shop/web-5d9f is controlled by Deployment shop/web", "1 pending pods are controlled by a workload in the input"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

// A cordoned node takes no pod, but its pods still count for kube-scheduler's pod affinity,
// anti-affinity and spread: zk-0 there keeps its zone from the new zk pods (one zone each).
func TestCordonedNodesPodsStillCount(t *testing.T) {
	dump := `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Node
    metadata:
      name: old-a
      labels: {kubernetes.io/arch: amd64, kubernetes.io/os: linux, topology.kubernetes.io/zone: us-east-1a, kubernetes.io/hostname: old-a}
    spec: {unschedulable: true}
    status:
      allocatable: {cpu: "4", memory: 16Gi, pods: "58"}
  - apiVersion: v1
    kind: Pod
    metadata: {name: zk-0, namespace: shop, labels: {app: zk}}
    spec:
      nodeName: old-a
      containers: [{name: c, image: x, resources: {requests: {cpu: 500m}}}]
    status: {phase: Running}
`
	w := strings.Replace(deployment("zk", 3, "500m", "64Mi"), "    spec:\n", `    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {app: zk}}}
`, 1)
	p, _ := plan(t, "-f", write(t, "w.yaml", w), "-f", write(t, "p.yaml", defaultProvisioner), "--nodes", write(t, "dump.yaml", dump))
	for _, g := range p.NewNodes {
		if g.Zone == "us-east-1a" {
			t.Errorf("a new node in us-east-1a, where zk-0 runs on the cordoned node: %+v", g)
		}
	}
	if p.Summary.PlacedOnNewNodes != 2 || p.Summary.Unschedulable != 1 || p.Summary.PlacedOnExistingNodes != 0 {
		t.Fatalf("want 2 pods on new nodes in us-east-1b and -1c, 1 unschedulable, got %+v", p.Summary)
	}
}

// pinnedPod is a pending pod requesting cpu that required node affinity on metadata.name pins
// to node, as `kubectl get pods -o yaml` shows DaemonSet pods (owner the DaemonSet) and pods
// pinned by hand (no owner).
func pinnedPod(name, node, cpu string, daemonSet bool) string {
	owner := ""
	if daemonSet {
		owner = "\n      ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: u1, controller: true}]"
	}
	return strings.NewReplacer("NAME", name, "NODE", node, "CPU", cpu, "OWNER", owner).Replace(`
  - apiVersion: v1
    kind: Pod
    metadata:
      name: NAME
      namespace: kube-systemOWNER
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchFields: [{key: metadata.name, operator: In, values: [NODE]}]
      tolerations: [{operator: Exists}]
      containers: [{name: c, image: x, resources: {requests: {cpu: "CPU"}}}]
    status: {phase: Pending}`)
}

// Pods pinned to a node by matchFields metadata.name take that node's room and never get a new
// node; those pinned to a node the input lacks are reported with that reason.
func TestPodsPinnedToNamedNodes(t *testing.T) {
	dump := liveNodes + "  # pinned pods\n" + strings.TrimPrefix(pinnedPod("agent-x1", "ip-10-0-1-1.ec2.internal", "500m", true), "\n") + "\n" +
		strings.TrimPrefix(pinnedPod("pinned", "ip-10-0-1-1.ec2.internal", "1", false), "\n") + "\n" +
		strings.TrimPrefix(pinnedPod("agent-gone", "ip-10-0-9-9.ec2.internal", "500m", true), "\n") + "\n"
	nodes := write(t, "nodes.yaml", dump)
	prov := write(t, "p.yaml", defaultProvisioner)
	// 3 CPUs free, 1.5 of them taken by the two pods pinned there: one 1-CPU pod fits beside them.
	p, _ := plan(t, "-f", write(t, "w.yaml", deployment("web", 3, "1", "1Gi")), "-f", prov, "--nodes", nodes)
	if len(p.ExistingNodes) != 1 {
		t.Fatalf("existing nodes %+v", p.ExistingNodes)
	}
	got := strings.Join(p.ExistingNodes[0].Pods, ",")
	if !strings.Contains(got, "kube-system/agent-x1") || !strings.Contains(got, "kube-system/pinned") || len(p.ExistingNodes[0].Pods) != 3 {
		t.Fatalf("want both pinned pods and one web pod on their node, got %v", p.ExistingNodes[0].Pods)
	}
	if p.Summary.PlacedOnNewNodes != 2 || p.Summary.Pods != 6 {
		t.Fatalf("want 2 web pods on new nodes of 6 pods, got %+v", p.Summary)
	}
	for _, g := range p.NewNodes {
		for _, pod := range g.Pods {
			if strings.HasPrefix(pod, "kube-system/") {
				t.Fatalf("a new node is planned for pinned pod %s", pod)
			}
		}
	}
	if len(p.Unschedulable) != 1 || p.Unschedulable[0].Pod != "kube-system/agent-gone" ||
		!strings.Contains(p.Unschedulable[0].Reason, "pinned") || !strings.Contains(p.Unschedulable[0].Reason, "node ip-10-0-9-9.ec2.internal, not in --nodes") {
		t.Fatalf("want agent-gone reported as pinned to a node not in --nodes, got %+v", p.Unschedulable)
	}
	// 1 CPU left on the node: one pinned pod fits, the other stays pending there, with no new node.
	full := strings.Replace(dump, `cpu: "2"}}}]
    status: {phase: Succeeded}`, `cpu: "2"}}}]
    status: {phase: Running}`, 1)
	p, _ = plan(t, "-f", prov, "--nodes", write(t, "full.yaml", full))
	if p.Summary.NewNodes != 0 || p.Summary.PlacedOnExistingNodes != 1 || len(p.Unschedulable) != 2 || p.Unschedulable[0].Pod != "kube-system/agent-gone" ||
		!strings.Contains(p.Unschedulable[1].Reason, "no new node for it: pinned") {
		t.Fatalf("want the pinned pod that does not fit reported, no new node: %+v %+v", p.Summary, p.Unschedulable)
	}
}

// A Deployment whose pods already run in the --nodes dump is planned for its missing replicas
// only, as its controller creates replicas minus the pods it has: its ReplicaSet's bound pods
// count, a pod of another controller with the same labels does not.
func TestRunningReplicasAreNotPlannedAgain(t *testing.T) {
	bound := func(name, owner string) string {
		return strings.NewReplacer("NAME", name, "OWNER", owner).Replace(`
  - apiVersion: v1
    kind: Pod
    metadata:
      name: NAME
      namespace: shop
      labels: {app: web, pod-template-hash: 7c9d}
      ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: OWNER, uid: rs-1, controller: true}]
    spec:
      nodeName: ip-10-0-1-1.ec2.internal
      containers: [{name: c, image: x, resources: {requests: {cpu: 500m}}}]
    status: {phase: Running}`)
	}
	orphan := strings.Replace(bound("web-orphan", "-"), "\n      ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: -, uid: rs-1, controller: true}]", "", 1)
	noHash := strings.Replace(orphan, "web-orphan", "web-nohash", 1)
	noHash = strings.Replace(noHash, ", pod-template-hash: 7c9d", "", 1)
	// web-7c9d-aaaaa (its ReplicaSet's) and web-orphan (same labels and a template hash) count;
	// other-1 (another controller's) and web-nohash (an orphan its ReplicaSets do not select) do not.
	dump := liveNodes + "  # web's pods" + bound("web-7c9d-aaaaa", "web-7c9d") + orphan + bound("other-1", "other-7c9d") + noHash + "\n"
	nodes := write(t, "nodes.yaml", dump)
	p, errOut := plan(t, "-f", write(t, "w.yaml", deployment("web", 3, "1", "1Gi")), "-f", write(t, "p.yaml", defaultProvisioner), "--nodes", nodes)
	if p.Summary.Pods != 1 || p.Summary.NewNodes != 0 || p.Summary.PlacedOnExistingNodes != 1 {
		t.Fatalf("2 of web's 3 replicas run: want 1 pod planned, on the node's 1 free CPU, got %+v", p.Summary)
	}
	if !strings.Contains(errOut, "Deployment shop/web: 2 of its 3 replicas already run in the input") {
		t.Fatalf("stderr lacks the running replicas:\n%s", errOut)
	}
	// More running than wanted (scaling down): nothing to plan.
	p, _ = plan(t, "-f", write(t, "w.yaml", deployment("web", 1, "1", "1Gi")), "-f", write(t, "p.yaml", defaultProvisioner), "--nodes", nodes)
	if p.Summary.Pods != 0 || p.Summary.NewNodes != 0 {
		t.Fatalf("web runs more than 1 replica: want nothing planned, got %+v", p.Summary)
	}
}

// A pod's overhead is its RuntimeClass's, as the API server's RuntimeClass admission sets it:
// an overhead without a runtimeClassName, or one the class does not define, is refused with the
// file, line and field; the class's own overhead (written in other units) is accepted.
func TestPodOverheadNeedsItsRuntimeClass(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: shop}\nspec:\n  overhead: {cpu: 250m}\n" +
		"  containers: [{name: c, image: x, resources: {requests: {cpu: 1}}}]\n"
	_, _, err := run(t, "", "-f", write(t, "pod.yaml", pod), "-f", prov)
	if err == nil || !strings.Contains(err.Error(), "pod.yaml:5: spec.overhead: Forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead") {
		t.Fatalf("overhead without runtimeClassName: error %v", err)
	}

	rc := "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: kata}\nhandler: kata\noverhead:\n  podFixed: {cpu: 500m}\n---\n"
	w := func(overhead string) string {
		return strings.Replace(deployment("sandboxed", 2, "1", "1Gi"), "    spec:\n", "    spec:\n      runtimeClassName: kata\n      overhead: {cpu: "+overhead+"}\n", 1)
	}
	_, _, err = run(t, "", "-f", write(t, "w.yaml", rc+w("250m")), "-f", prov)
	if err == nil || strings.Count(err.Error(), "spec.template.spec.overhead: Forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead") != 1 ||
		!strings.Contains(err.Error(), "w.yaml:22: ") {
		t.Fatalf("overhead other than the class's: want one error at w.yaml:22, got %v", err)
	}
	noOverhead := strings.Replace(rc, "overhead:\n  podFixed: {cpu: 500m}\n", "", 1)
	_, _, err = run(t, "", "-f", write(t, "w.yaml", noOverhead+w("0.5")), "-f", prov)
	if err == nil || !strings.Contains(err.Error(), `Pod Overhead set without corresponding RuntimeClass defined Overhead (RuntimeClass "kata" defines none)`) {
		t.Fatalf("overhead with a class defining none: error %v", err)
	}
	p, _ := plan(t, "-f", write(t, "w.yaml", rc+w("0.5")), "-f", prov)
	var cpu int64
	for _, g := range p.NewNodes {
		cpu += g.Requests.CPUMillicores
	}
	if p.Summary.PlacedOnNewNodes != 2 || cpu != 3000 {
		t.Fatalf("the class's own overhead is accepted: want 2 pods requesting 3000m, got %dm, %+v", cpu, p.Summary)
	}
}

// A Provisioner with a negative limit is refused by the CRD's own rule (the API server and the
// Terraform provider refuse it too), at the limit's path and line, not at the map's (where the
// API server's CEL rule reports it); so is a label key of a restricted domain.
func TestNegativeProvisionerLimitIsRefused(t *testing.T) {
	bad := defaultProvisioner + "  labels:\n    team: a\n    karpenter.sh/team: b\n" + // lines 10-12
		"  limits:\n    resources:\n      memory: 1000Gi\n      cpu: -1\n" // lines 13-16
	got := errorLines(t, "-f", write(t, "w.yaml", deployment("web", 1, "1", "1Gi")), "-f", write(t, "prov.yaml", bad))
	wantErrors(t, got,
		`prov.yaml:12: spec.labels.karpenter.sh/team: invalid Provisioner "default": Invalid value: "karpenter.sh/team": restricted label domain`,
		`prov.yaml:16: spec.limits.resources.cpu: invalid Provisioner "default": Invalid value: "cpu": limits must be non-negative quantities`)
}

// Unknown fields are warned about whether or not the input has errors: a misspelt key is often
// why a required one is missing.
func TestUnknownFieldsAreWarnedBesideErrors(t *testing.T) {
	typo := strings.Replace(deployment("web", 1, "1", "1Gi"), "  replicas: 1\n", "  replica: 1\n", 1)
	noContainers := "apiVersion: v1\nkind: Pod\nmetadata: {name: empty, namespace: shop}\nspec:\n  containerz: []\n"
	prov := write(t, "p.yaml", defaultProvisioner)
	_, errOut, err := run(t, "", "-f", write(t, "w.yaml", typo+"---\n"+noContainers), "-f", prov)
	if err == nil || !strings.Contains(err.Error(), "w.yaml:25: spec.containers: Required value") {
		t.Fatalf("want the pod without containers refused, got %v", err)
	}
	for _, w := range []string{`w.yaml:7: Deployment shop/web: unknown field "spec.replica"`, `w.yaml:26: Pod shop/empty: unknown field "spec.containerz"`} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q beside the error:\n%s", w, errOut)
		}
	}
	if strings.Contains(errOut, "no Provisioner") {
		t.Errorf("stderr warns of no Provisioner though the input did not read through:\n%s", errOut)
	}
	// Without errors too.
	_, errOut, err = run(t, "", "-f", write(t, "w.yaml", typo), "-f", prov)
	if err != nil || !strings.Contains(errOut, `w.yaml:7: Deployment shop/web: unknown field "spec.replica"`) {
		t.Fatalf("err %v, stderr:\n%s", err, errOut)
	}
}

// With --nodes, a tiny pod the plan puts beside the others no longer lets the bound buy the
// room of types too small for any of them: 6 pods of 1 cpu and 1Gi and a 10m pod, 3 cpu free
// on the existing node, cost 1.93x the bound (7.31x before).
func TestLowerBoundWithNodesIsNotLoose(t *testing.T) {
	w := deployment("web", 6, "1", "1Gi") + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: tiny, namespace: shop}\nspec:\n" +
		"  containers: [{name: c, image: x, resources: {requests: {cpu: 10m, memory: 16Mi}}}]\n"
	p, _ := plan(t, "-f", write(t, "w.yaml", w), "-f", write(t, "p.yaml", defaultProvisioner), "--nodes", write(t, "nodes.yaml", liveNodes))
	lb, total := p.Summary.LowerBoundUSDPerHour, p.Summary.USDPerHour
	if lb <= 0 || lb > total || total > 2.5*lb {
		t.Fatalf("lower bound %v against a total of %v (%.2fx): want within 2.5x", lb, total, total/lb)
	}
}
