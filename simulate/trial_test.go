package simulate_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
	"github.com/nodeform/terraform-provider-karpenter/simulate"
)

// A quantity given as a boolean, a list or an object is a type error at its path and line, like
// a string given for an integer, not a quantity string that does not parse; keys with dots
// (nvidia.com/gpu) are quantities too.
func TestQuantityOfTheWrongTypeIsATypeError(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	pod := `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      image: nginx
      resources:
        requests:
          cpu: true
          memory: [1Gi]
          nvidia.com/gpu: {count: 1}
        limits: {cpu: 2y}
`
	got := errorLines(t, "-f", write(t, "w.yaml", pod), "-f", prov)
	wantErrors(t, got,
		"w.yaml:10: spec.containers[0].resources.requests.cpu: Invalid type: expected a quantity (a string or a number), got a boolean",
		"w.yaml:11: spec.containers[0].resources.requests.memory: Invalid type: expected a quantity (a string or a number), got a list",
		"w.yaml:12: spec.containers[0].resources.requests.nvidia.com/gpu: Invalid type: expected a quantity (a string or a number), got an object",
		"w.yaml:13: spec.containers[0].resources.limits.cpu: quantities must match",
	)
}

// JSON that does not parse is reported as invalid JSON, with encoding/json's reason and the
// line where it fails; YAML errors keep their wording.
func TestBrokenJSONIsReportedAsJSON(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	cases := []struct{ name, file, content, want string }{
		{"truncated", "w.json", `{"apiVersion": "apps/v1", "kind": "Deployment", `,
			"w.json:1: invalid JSON: unexpected end of JSON input"},
		{"truncated over lines", "w.json", "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n\n",
			"w.json:3: invalid JSON: unexpected end of JSON input"},
		{"missing comma", "w.yaml", "\n{\n  \"apiVersion\": \"v1\"\n  \"kind\": \"Pod\"\n}\n",
			"w.yaml:4: invalid JSON: invalid character '\"' after object key:value pair"},
		{"YAML", "w.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   namespace: y\n",
			"w.yaml:5: invalid YAML: mapping values are not allowed in this context"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantErrors(t, errorLines(t, "-f", write(t, tc.file, tc.content), "-f", prov), tc.want)
		})
	}
}

// Replicas above MaxPods are reported with the workload's other errors, in one run.
func TestTooManyReplicasAreReportedWithOtherErrors(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	big := deployment("big", 100001, "2P", "1Gi")
	got := errorLines(t, "-f", write(t, "w.yaml", big), "-f", prov)
	wantErrors(t, got,
		"w.yaml:7: spec.replicas: the input expands to more than 100000 pods",
		`w.yaml:19: spec.template.spec.containers[0].resources.requests.cpu: Invalid value: "2P": too large`,
	)
}

// A zone the catalogue's region does not have, required by a Provisioner or by a pod's
// nodeSelector, is named as such in the unschedulable reason, with the region's zones; the
// Provisioner's requirement is warned about at its line.
func TestZoneOutsideTheRegionIsNamed(t *testing.T) {
	const zones = "(zones: us-east-1a, us-east-1b, us-east-1c)"
	pod := `apiVersion: v1
kind: Pod
metadata: {name: west}
spec:
  nodeSelector: {topology.kubernetes.io/zone: us-west-2a}
  containers: [{name: c, image: nginx, resources: {requests: {cpu: 1}}}]
`
	p, _ := plan(t, "-f", write(t, "w.yaml", pod), "-f", write(t, "p.yaml", defaultProvisioner))
	if len(p.Unschedulable) != 1 || !strings.HasSuffix(p.Unschedulable[0].Reason, `; zone "us-west-2a" is not a zone the catalogue offers in us-east-1 `+zones) {
		t.Errorf("pod's zone: unschedulable %+v", p.Unschedulable)
	}

	prov := strings.Replace(defaultProvisioner, `values: ["spot"]`, `values: ["spot"]
    - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1z, us-east-1a, us-west-2b]}`, 1)
	pod = strings.Replace(pod, "us-west-2a", "us-east-1b", 1)
	p, errOut := plan(t, "-f", write(t, "w.yaml", pod), "-f", write(t, "p.yaml", prov))
	if len(p.Unschedulable) != 1 || !strings.HasSuffix(p.Unschedulable[0].Reason, `; zones "us-east-1z", "us-west-2b" are not zones the catalogue offers in us-east-1 `+zones) {
		t.Errorf("provisioner's zones: unschedulable %+v", p.Unschedulable)
	}
	want := `p.yaml:10: Provisioner default: spec.requirements[1]: zones "us-east-1z", "us-west-2b" are not zones the catalogue offers in us-east-1 ` + zones
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr %q does not contain %q", errOut, want)
	}
}

// -o json lists each new node of a group with its pods: which pods share a node.
func TestJSONListsThePodsOfEachNode(t *testing.T) {
	prov := strings.Replace(defaultProvisioner, `values: ["spot"]`, `values: ["spot"]
    - {key: node.kubernetes.io/instance-type, operator: In, values: [t3.small]}`, 1)
	// t3.small: 2 vCPUs, so two pods of 800m share a node and the fifth is alone.
	p, _ := plan(t, "-f", write(t, "w.yaml", deployment("web", 5, "800m", "64Mi")), "-f", write(t, "p.yaml", prov))
	if len(p.NewNodes) == 0 {
		t.Fatal("no new nodes")
	}
	var sizes []int
	for _, g := range p.NewNodes {
		if len(g.Nodes) != g.Count {
			t.Errorf("group %s/%s: %d nodes listed, count %d", g.InstanceType, g.Zone, len(g.Nodes), g.Count)
		}
		var all []string
		for _, n := range g.Nodes {
			sizes = append(sizes, len(n.Pods))
			all = append(all, n.Pods...)
		}
		slices.Sort(all)
		if !slices.Equal(all, g.Pods) {
			t.Errorf("group %s/%s: nodes' pods %v, group's pods %v", g.InstanceType, g.Zone, all, g.Pods)
		}
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{1, 2, 2}) {
		t.Errorf("pods per node %v, want [1 2 2]", sizes)
	}
}

// A Provisioner field of the wrong type is one Invalid type error at its line, as in
// workloads, not one error per schema alternative plus an anyOf summary without a path; the
// API server's note that the rules were not checked comes with them.
func TestProvisionerFieldOfTheWrongTypeIsOneTypeError(t *testing.T) {
	prov := `apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: x}
spec:
  weight: true
  limits:
    resources: {cpu: true, memory: [1Gi]}
`
	got := errorLines(t, "-f", write(t, "p.yaml", prov))
	wantErrors(t, got,
		`p.yaml:1: invalid Provisioner "x": some validation rules were not checked because the object was invalid`,
		`p.yaml:5: spec.weight: invalid Provisioner "x": Invalid type: expected an integer, got a boolean`,
		`p.yaml:7: spec.limits.resources.cpu: invalid Provisioner "x": Invalid type: expected an integer or a string (a quantity such as 4, "1.5" or 1500m), got a boolean`,
		`p.yaml:7: spec.limits.resources.memory: invalid Provisioner "x": Invalid type: expected an integer or a string (a quantity such as 4, "1.5" or 1500m), got a list`,
	)
}

// A pod's nodeSelector or required node affinity naming a zone outside the catalogue's region
// is warned about at its line, once per object (not per replica), with the region's zones;
// a pod whose nodeSelector and node affinity admit no common zone is unschedulable with a
// reason naming both, not the solver's requirement without values.
func TestPodZoneOutsideTheRegionIsWarned(t *testing.T) {
	const zones = "(zones: us-east-1a, us-east-1b, us-east-1c)"
	pod := `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  nodeSelector: {topology.kubernetes.io/zone: us-west-2a}
  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [eu-west-1a]}]}]}}}
  containers: [{name: c, image: x, resources: {requests: {cpu: 1}}}]
---
`
	web := strings.Replace(deployment("web", 3, "1", "1Gi"), "    spec:\n", "    spec:\n      nodeSelector: {topology.kubernetes.io/region: us-west-2}\n", 1)
	p, errOut := plan(t, "-f", write(t, "w.yaml", pod+web), "-f", write(t, "p.yaml", defaultProvisioner))
	for _, want := range []string{
		`w.yaml:5: Pod default/p: spec.nodeSelector.topology.kubernetes.io/zone: zone "us-west-2a" is not a zone the catalogue offers in us-east-1 ` + zones,
		`w.yaml:6: Pod default/p: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]: zone "eu-west-1a" is not a zone the catalogue offers in us-east-1 ` + zones,
		`w.yaml:22: Deployment shop/web: spec.template.spec.nodeSelector.topology.kubernetes.io/region: region "us-west-2" is not the catalogue's region us-east-1`,
	} {
		if strings.Count(errOut, want) != 1 {
			t.Errorf("stderr does not hold once %q:\n%s", want, errOut)
		}
	}
	want := `the pod's nodeSelector and required node affinity admit no value of topology.kubernetes.io/zone: ` +
		`nodeSelector topology.kubernetes.io/zone In [us-west-2a], nodeSelectorTerms[0] topology.kubernetes.io/zone In [eu-west-1a]; ` +
		`zones "us-west-2a", "eu-west-1a" are not zones the catalogue offers in us-east-1 ` + zones
	found := false
	for _, u := range p.Unschedulable {
		found = found || u.Pod == "default/p" && u.Reason == want
	}
	if !found || len(p.Unschedulable) != 4 {
		t.Errorf("unschedulable %+v; want default/p with reason %q, and the 3 pods of web", p.Unschedulable, want)
	}
}

// An instance type the catalogue does not offer (a typing slip) is warned about at its line, in
// a Provisioner's requirement and a pod's nodeSelector, with the nearest name offered; the
// pods it keeps from every node say so in their reason too.
func TestUnknownInstanceTypeIsWarned(t *testing.T) {
	web := strings.Replace(deployment("web", 2, "1", "1Gi"), "    spec:\n", "    spec:\n      nodeSelector: {node.kubernetes.io/instance-type: m5.xlargee}\n", 1)
	prov := strings.Replace(defaultProvisioner, "  requirements:\n", "  requirements:\n    - {key: node.kubernetes.io/instance-type, operator: In, values: [c5.larg, m5.xlarge, zz.huge]}\n", 1)
	p, errOut := plan(t, "-f", write(t, "w.yaml", web), "-f", write(t, "p.yaml", prov))
	for _, want := range []string{
		`p.yaml:7: Provisioner default: spec.requirements[0]: instance types "c5.larg", "zz.huge" are not offered in the catalogue's zones (did you mean "c5.large"?)`,
		`w.yaml:14: Deployment shop/web: spec.template.spec.nodeSelector.node.kubernetes.io/instance-type: instance type "m5.xlargee" is not offered in the catalogue's zones (did you mean "m5.xlarge"?)`,
	} {
		if strings.Count(errOut, want) != 1 {
			t.Errorf("stderr does not hold once %q:\n%s", want, errOut)
		}
	}
	if len(p.Unschedulable) != 2 || !strings.HasSuffix(p.Unschedulable[0].Reason, `"m5.xlargee" are not offered in the catalogue's zones (did you mean "c5.large" or "m5.xlarge"?)`) {
		t.Errorf("unschedulable %+v; want the 2 pods of web, their reason naming the types not offered", p.Unschedulable)
	}
}

// GPU pods planned beside pods that request no GPU keep the GPU type they get alone: with the
// higher-weight provisioner's limit binding, zone-spread pods that spilled to the other one
// joined the GPU pods' nodes, fixed their zone and made them larger GPU types (three
// g5g.4xlarge, 0.62 USD/hour, for three g4dn.xlarge at 0.33; the plan 0.76 for 0.52).
func TestPlainPodsDoNotGrowGPUNodes(t *testing.T) {
	api := `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 7
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: api}}}
      containers:
      - {name: api, image: api:1, resources: {requests: {cpu: "1", memory: 2Gi}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: etl, namespace: shop}
spec:
  parallelism: 4
  completions: 10
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: etl, image: etl:1, resources: {requests: {cpu: "1500m", memory: 3Gi}}}
`
	infer := `apiVersion: apps/v1
kind: Deployment
metadata: {name: infer, namespace: ml}
spec:
  replicas: 3
  selector: {matchLabels: {app: infer}}
  template:
    metadata: {labels: {app: infer}}
    spec:
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      containers:
      - {name: m, image: m:1, resources: {limits: {nvidia.com/gpu: 1}, requests: {cpu: "3", memory: 12Gi}}}
`
	prov := write(t, "p.yaml", `apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: fast}
spec:
  weight: 50
  requirements:
    - {key: karpenter.sh/capacity-type, operator: In, values: ["spot", "on-demand"]}
    - {key: karpenter.k8s.aws/instance-family, operator: In, values: ["c5", "m5"]}
  limits:
    resources: {cpu: 16}
---
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: general}
spec:
  weight: 10
  requirements:
    - {key: karpenter.sh/capacity-type, operator: In, values: ["spot", "on-demand"]}
    - {key: kubernetes.io/arch, operator: In, values: ["amd64", "arm64"]}
  limits:
    resources: {cpu: 200}
`)
	// gpuNodes returns the groups of nodes holding infer pods, as "type zone count".
	gpuNodes := func(docs ...string) []string {
		p, _ := plan(t, "-f", write(t, "w.yaml", strings.Join(docs, "---\n")), "-f", prov)
		if p.Summary.Unschedulable != 0 {
			t.Fatalf("unschedulable: %+v", p.Unschedulable)
		}
		var out []string
		for _, g := range p.NewNodes {
			if slices.ContainsFunc(g.Pods, func(name string) bool { return strings.HasPrefix(name, "ml/infer-") }) {
				out = append(out, fmt.Sprintf("%s %s x%d", g.InstanceType, g.Zone, g.Count))
			}
		}
		return out
	}
	if together, alone := gpuNodes(api, infer), gpuNodes(infer); !slices.Equal(together, alone) {
		t.Errorf("the GPU pods' nodes: %v beside the other pods, %v alone", together, alone)
	}
}

// A node affinity term kube-scheduler cannot parse (Gt "seven", which the API server accepts)
// beside a term it can is warned about at its line and skipped: the pod is planned on the other
// term. With no other term, the pod is unschedulable with the parse error, and no warning.
func TestUnparsableAffinityTermIsWarned(t *testing.T) {
	pod := func(name, terms string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [` + terms + `]}}}
  containers: [{name: c, image: x, resources: {requests: {cpu: 1}}}]
`
	}
	const bad = `{matchExpressions: [{key: karpenter.k8s.aws/instance-cpu, operator: Gt, values: [seven]}]}`
	w := pod("two", bad+`, {matchExpressions: [{key: kubernetes.io/os, operator: In, values: [linux]}]}`) + "---\n" + pod("one", bad)
	p, errOut := plan(t, "-f", write(t, "w.yaml", w), "-f", write(t, "p.yaml", defaultProvisioner))
	want := `w.yaml:5: Pod default/two: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]: ` +
		`Invalid value: "Gt": operator Gt needs an integer value, got "seven": the term is skipped, as kube-scheduler skips a term it cannot parse; the pod is planned on its other terms`
	if strings.Count(errOut, want) != 1 || strings.Contains(errOut, "default/one") {
		t.Errorf("stderr does not hold once %q, or warns of default/one:\n%s", want, errOut)
	}
	if len(p.Unschedulable) != 1 || p.Unschedulable[0].Pod != "default/one" || !strings.Contains(p.Unschedulable[0].Reason, `got "seven"`) {
		t.Errorf("unschedulable %+v; want default/one only, with the parse error", p.Unschedulable)
	}
}

// Nodes of a --nodes dump labelled with a zone or region the catalogue's region does not have,
// and a Provisioner requiring another region, are warned about at their lines.
func TestNodeAndProvisionerRegionOutsideTheCatalogueAreWarned(t *testing.T) {
	nodes := `apiVersion: v1
kind: Node
metadata:
  name: n1
  labels:
    topology.kubernetes.io/region: us-west-2
    topology.kubernetes.io/zone: us-west-2a
status:
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
---
apiVersion: v1
kind: Node
metadata:
  name: n2
  labels: {topology.kubernetes.io/zone: us-east-1b}
status:
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
`
	prov := strings.Replace(defaultProvisioner, `values: ["spot"]`, `values: ["spot"]
    - {key: topology.kubernetes.io/region, operator: In, values: [eu-west-1, us-east-1]}
    - {key: topology.kubernetes.io/region, operator: NotIn, values: [us-east-1]}`, 1)
	_, errOut := plan(t, "-f", write(t, "w.yaml", deployment("web", 1, "1", "1Gi")), "-f", write(t, "p.yaml", prov),
		"--nodes", write(t, "nodes.yaml", nodes))
	for _, want := range []string{
		`p.yaml:10: Provisioner default: spec.requirements[1]: region "eu-west-1" is not the catalogue's region us-east-1`,
		`p.yaml:11: Provisioner default: spec.requirements[2]: excludes the catalogue's region us-east-1`,
		`nodes.yaml:6: Node n1: metadata.labels.topology.kubernetes.io/region: region "us-west-2" is not the catalogue's region us-east-1`,
		`nodes.yaml:7: Node n1: metadata.labels.topology.kubernetes.io/zone: zone "us-west-2a" is not a zone the catalogue offers in us-east-1 (zones: us-east-1a, us-east-1b, us-east-1c)`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not hold %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "Node n2") {
		t.Errorf("a node in the region is warned about:\n%s", errOut)
	}
}

// A pod pinned to a zone the catalogue does not offer, that a Node of the input carries, is not
// warned about: it may go on that node (and does). The Node is still warned about, as no new
// node is planned in its zone; a pod pinned to another such zone still is.
func TestPodZoneOnAnInputNodeIsNotWarned(t *testing.T) {
	nodes := `apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {topology.kubernetes.io/zone: us-east-1d}
status:
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
`
	pod := func(name, zone string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  nodeSelector: {topology.kubernetes.io/zone: ` + zone + `}
  containers: [{name: c, image: x, resources: {requests: {cpu: 1}}}]
`
	}
	in := pod("d", "us-east-1d") + "---\n" + pod("e", "us-east-1e") + "---\n" + strings.Replace(pod("a", "x"),
		"nodeSelector: {topology.kubernetes.io/zone: x}", "affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [us-east-1d]}]}]}}}", 1)
	p, errOut := plan(t, "-f", write(t, "w.yaml", in), "-f", write(t, "p.yaml", defaultProvisioner), "--nodes", write(t, "nodes.yaml", nodes))
	if strings.Contains(errOut, "Pod default/d") || strings.Contains(errOut, "Pod default/a") {
		t.Errorf("a pod pinned to the zone of an input node is warned about:\n%s", errOut)
	}
	for _, want := range []string{
		`w.yaml:12: Pod default/e: spec.nodeSelector.topology.kubernetes.io/zone: zone "us-east-1e" is not a zone the catalogue offers`,
		`nodes.yaml:5: Node n1: metadata.labels.topology.kubernetes.io/zone: zone "us-east-1d" is not a zone the catalogue offers`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not hold %q:\n%s", want, errOut)
		}
	}
	if len(p.ExistingNodes) != 1 || len(p.ExistingNodes[0].Pods) != 2 {
		t.Errorf("existing nodes %+v; want n1 with default/d and default/a", p.ExistingNodes)
	}
}

// A Node's capacity and allocatable are checked as the API server checks them: not negative,
// integers for pods and extended resources, and (as kubelets report them) whole bytes; each
// error at its field with the value as given. Fields of the wrong type are one type error each;
// a YAML 1.1 boolean word (name: n) where a string is expected is named as such. Taints are
// checked as the API server checks them too (a known effect, qualified keys).
func TestNodeQuantitiesAreValidated(t *testing.T) {
	nodes := `apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  capacity: {cpu: "4", memory: 1.5, pods: -3, nvidia.com/gpu: 0.5, ephemeral-storage: 100m, hugepages-2Mi: "1.5"}
  allocatable: {cpu: "-4", memory: 8Gi, pods: 1.5}
---
apiVersion: v1
kind: Node
metadata: {name: n}
spec: {taints: 5}
status: {allocatable: {cpu: [1]}}
---
apiVersion: v1
kind: Node
metadata: {name: n3}
spec: {taints: [{key: a, effect: Nope}, {key: "b c", effect: NoSchedule}]}
`
	got := errorLines(t, "-f", write(t, "p.yaml", defaultProvisioner), "--nodes", write(t, "nodes.yaml", nodes))
	wantErrors(t, got,
		`nodes.yaml:5: status.capacity.ephemeral-storage: Invalid value: "100m": must be an integer: a whole number of bytes`,
		`nodes.yaml:5: status.capacity.hugepages-2Mi: Invalid value: "1.5": must be an integer: a whole number of bytes`,
		`nodes.yaml:5: status.capacity.memory: Invalid value: "1.5": must be an integer: a whole number of bytes`,
		`nodes.yaml:5: status.capacity.nvidia.com/gpu: Invalid value: "0.5": must be an integer`,
		`nodes.yaml:5: status.capacity.pods: Invalid value: "-3": must be greater than or equal to 0`,
		`nodes.yaml:6: status.allocatable.cpu: Invalid value: "-4": must be greater than or equal to 0`,
		`nodes.yaml:6: status.allocatable.pods: Invalid value: "1.5": must be an integer`,
		`nodes.yaml:10: metadata.name: Invalid type: expected a string, got a boolean (YAML reads an unquoted n as a boolean: quote it, "n")`,
		`nodes.yaml:11: spec.taints: Invalid type: expected a list, got a number`,
		`nodes.yaml:12: status.allocatable.cpu: Invalid type: expected a quantity (a string or a number), got a list`,
		`nodes.yaml:17: spec.taints[0].effect: Unsupported value: "Nope": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`,
		`nodes.yaml:17: spec.taints[1].key: Invalid value: "b c": name part must consist of alphanumeric characters`,
	)
}

// Two Deployments spread over one label (part-of: shop, maxSkew 1), one amd64 only: api's
// spread counts every node, so the final zone counts of all nine pods must be within 1 of each
// other. Before, api's nodes in one zone were narrowed to arm64 (cheaper), web's spread did not
// count them there, and web's pods, held by their own count, took that zone to 4 against 2.
func TestSpreadsOverOneLabelAgree(t *testing.T) {
	shop := func(name string, replicas int, selector string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: shop}
spec:
  replicas: ` + fmt.Sprint(replicas) + `
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `, part-of: shop}}
    spec:
      ` + selector + `
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {part-of: shop}}}
      containers: [{name: c, image: nginx, resources: {requests: {cpu: "1", memory: 1Gi}}}]
`
	}
	w := write(t, "w.yaml", shop("web", 3, "nodeSelector: {kubernetes.io/arch: amd64}")+"---\n"+shop("api", 6, "nodeSelector: {}"))
	prov := `apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  requirements:
  - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
  - {key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}
`
	p, _ := plan(t, "-f", w, "-f", write(t, "p.yaml", prov), "-o", "json")
	counts := map[string]int{}
	for _, g := range p.NewNodes {
		counts[g.Zone] += len(g.Pods)
	}
	least, most := 9, 0
	for _, z := range p.Zones {
		least, most = min(least, counts[z]), max(most, counts[z])
	}
	if most-least > 1 || p.Summary.Unschedulable != 0 {
		t.Fatalf("zone counts %v (unschedulable %d): api's spread wants them within 1", counts, p.Summary.Unschedulable)
	}
}

// sandboxCatalog opens the sandbox catalogue for a test and closes it when the test ends.
func sandboxCatalog(t *testing.T) *simulate.Catalog {
	t.Helper()
	cat, err := simulate.OpenCatalog(context.Background(), simulate.CatalogSandbox, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cat.Close() })
	return cat
}

// A plan whose final state breaks a placed pod's topology spread (scheduling.CheckSpreads) lists
// the pod under spreadAtRisk, counts it in the summary and shows it in the table; a plan that
// keeps every spread lists none.
func TestPlanShowsSpreadAtRisk(t *testing.T) {
	cat := sandboxCatalog(t)
	var nodes []scheduling.ExistingNode
	for _, z := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		nodes = append(nodes, scheduling.ExistingNode{Name: "n-" + z, Labels: map[string]string{corev1.LabelTopologyZone: z}})
	}
	var pods []*corev1.Pod
	for i := range 3 {
		pods = append(pods, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "default", Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}},
		})
	}
	w := &simulate.Workload{Pods: pods, Nodes: nodes}
	for _, tc := range []struct {
		place []string
		want  int
	}{{place: []string{"us-east-1a", "us-east-1b", "us-east-1c"}}, {place: []string{"us-east-1a", "us-east-1a", "us-east-1b"}, want: 2}} {
		res := &scheduling.Result{ExistingNodes: map[string][]*corev1.Pod{}}
		for i, z := range tc.place {
			res.ExistingNodes["n-"+z] = append(res.ExistingNodes["n-"+z], pods[i])
		}
		p := simulate.BuildPlan(cat, w, res, 0)
		if len(p.SpreadAtRisk) != tc.want || p.Summary.SpreadAtRisk != tc.want {
			t.Fatalf("placed in %v: at risk %+v (summary %d), want %d", tc.place, p.SpreadAtRisk, p.Summary.SpreadAtRisk, tc.want)
		}
		var table bytes.Buffer
		if err := simulate.WriteTable(&table, p); err != nil {
			t.Fatal(err)
		}
		const line = "Pod default/web-0  1     topology spread (topology.kubernetes.io/zone, maxSkew 1): 2 selected pods in us-east-1a, 0 in us-east-1c"
		if shown := strings.Contains(table.String(), "PODS AT RISK") && strings.Contains(table.String(), line); shown != (tc.want > 0) {
			t.Fatalf("placed in %v: the table shows the pods at risk: %v, want %v:\n%s", tc.place, shown, tc.want > 0, table.String())
		}
		if tc.want > 0 && (p.SpreadAtRisk[0].Pod != "default/web-0" || p.SpreadAtRisk[0].Domain != "us-east-1a" || p.SpreadAtRisk[0].Count != 2 ||
			p.SpreadAtRisk[0].Least != 0 || p.SpreadAtRisk[0].LeastDomain != "us-east-1c") {
			t.Fatalf("at risk %+v, want default/web-0 in us-east-1a with 2 against 0 in us-east-1c", p.SpreadAtRisk[0])
		}
		if want := map[int]string{0: "", 2: "at risk      2 pods whose topology spread the plan breaks"}[tc.want]; want != "" && !strings.Contains(table.String(), want) {
			t.Fatalf("the summary does not say %q:\n%s", want, table.String())
		}
	}
}

// A pod that breaks two of its spreads has an entry per constraint in spreadAtRisk
// (spreadBreaches counts them) but is one pod at risk: the table shows it on one line with both
// reasons, so that the lines' pods add up to the summary's pods at risk, and the summary says
// how many breaches there are when a pod has more than one; text and JSON agree.
func TestPlanCountsEachPodAtRiskOnce(t *testing.T) {
	cat := sandboxCatalog(t)
	var nodes []scheduling.ExistingNode
	for _, n := range [][2]string{{"n-a1", "us-east-1a"}, {"n-a2", "us-east-1a"}, {"n-b", "us-east-1b"}, {"n-c", "us-east-1c"}} {
		nodes = append(nodes, scheduling.ExistingNode{Name: n[0], Labels: map[string]string{corev1.LabelTopologyZone: n[1], corev1.LabelHostname: n[0]}})
	}
	isController := true
	spread := func(key string) corev1.TopologySpreadConstraint {
		return corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}
	}
	res := &scheduling.Result{ExistingNodes: map[string][]*corev1.Pod{}}
	var pods []*corev1.Pod
	// Zones: 3 pods in us-east-1a, 1 in us-east-1b, 0 in us-east-1c: the three in us-east-1a
	// break the zone spread. Nodes: 2 on n-a1, 1 on n-a2 and n-b, 0 on n-c: the two on n-a1
	// break the hostname spread too.
	for i, node := range []string{"n-a1", "n-a1", "n-a2", "n-b"} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "default", Labels: map[string]string{"app": "web"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs", Controller: &isController}}},
			Spec: corev1.PodSpec{TopologySpreadConstraints: []corev1.TopologySpreadConstraint{spread(corev1.LabelTopologyZone), spread(corev1.LabelHostname)}},
		}
		pods = append(pods, p)
		res.ExistingNodes[node] = append(res.ExistingNodes[node], p)
	}
	p := simulate.BuildPlan(cat, &simulate.Workload{Pods: pods, Nodes: nodes}, res, 0)
	if len(p.SpreadAtRisk) != 5 || p.Summary.SpreadAtRisk != 3 || p.Summary.SpreadBreaches != 5 {
		t.Fatalf("at risk %+v (summary: %d pods, %d breaches), want 5 entries of 3 pods", p.SpreadAtRisk, p.Summary.SpreadAtRisk, p.Summary.SpreadBreaches)
	}
	var js bytes.Buffer
	if err := simulate.WriteJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"spreadAtRisk": 3,`) || !strings.Contains(js.String(), `"spreadBreaches": 5,`) {
		t.Fatalf("the JSON summary does not count 3 pods and 5 breaches:\n%s", js.String())
	}
	var table bytes.Buffer
	if err := simulate.WriteTable(&table, p); err != nil {
		t.Fatal(err)
	}
	const zone = "topology spread (topology.kubernetes.io/zone, maxSkew 1): 3 selected pods in us-east-1a, 0 in us-east-1c"
	const host = "topology spread (kubernetes.io/hostname, maxSkew 1): 2 selected pods in n-a1, 0 in n-c"
	text := table.String()
	_, section, _ := strings.Cut(text, "PODS AT RISK")
	section, _, _ = strings.Cut(section, "\n\n")
	lines := strings.Split(section, "\n")[2:] // after the title's rest and the header
	want := []string{
		"ReplicaSet default/web  2     " + zone + "; " + host,
		"ReplicaSet default/web  1     " + zone,
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("at-risk lines:\n%s\nwant:\n%s\ntable:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"), text)
	}
	if summary := "at risk      3 pods whose topology spread the plan breaks (5 breaches, one per pod and constraint)\n"; !strings.Contains(text, summary) {
		t.Fatalf("the summary does not say %q:\n%s", summary, text)
	}
}

// kube-scheduler binds the pods that fit the nodes there are before the autoscaler sees any
// pending, judging a zone spread by the zones of those nodes: 4 replicas spread over zones
// bind 2 + 2 to nodes in two zones, and no node is planned for the third zone no node is in
// (user trial: a node in us-east-1c was planned, 0.0094 USD/h for nothing). Pods that do not
// fit are planned as before, the bound ones counted.
func TestPodsBindToNodesBeforeNodesArePlanned(t *testing.T) {
	node := func(name, zone string) string {
		return `apiVersion: v1
kind: Node
metadata:
  name: ` + name + `
  labels: {kubernetes.io/arch: amd64, kubernetes.io/os: linux, topology.kubernetes.io/zone: ` + zone + `}
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "58"}
`
	}
	web := func(replicas string) string {
		return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: ` + replicas + `
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
      containers: [{name: c, image: nginx, resources: {requests: {cpu: 1500m, memory: 512Mi}}}]
`
	}
	nodes := write(t, "nodes.yaml", node("n-a", "us-east-1a")+"---\n"+node("n-b", "us-east-1b"))
	p, _ := plan(t, "-f", write(t, "w.yaml", web("4")), "-f", write(t, "p.yaml", defaultProvisioner), "--nodes", nodes)
	if len(p.NewNodes) != 0 || len(p.Unschedulable) != 0 || len(p.ExistingNodes) != 2 ||
		len(p.ExistingNodes[0].Pods) != 2 || len(p.ExistingNodes[1].Pods) != 2 {
		t.Fatalf("want 2 pods on each node and no new node, got new %+v existing %+v unschedulable %+v", p.NewNodes, p.ExistingNodes, p.Unschedulable)
	}
	// 6 replicas: 2 + 2 bind (1.5 CPU each, 4 CPU per node), the other 2 need new nodes, and
	// the spread then counts the bound ones: one in each zone keeps the skew.
	p, _ = plan(t, "-f", write(t, "w.yaml", web("6")), "-f", write(t, "p.yaml", defaultProvisioner), "--nodes", nodes)
	onNew := 0
	for _, g := range p.NewNodes {
		onNew += len(g.Pods)
	}
	if onNew != 2 || len(p.Unschedulable) != 0 || len(p.SpreadAtRisk) != 0 {
		t.Fatalf("want 2 pods on new nodes, none unschedulable or at risk, got new %+v unschedulable %+v at risk %+v", p.NewNodes, p.Unschedulable, p.SpreadAtRisk)
	}
}

// The legacy node label keys that kubelets and the AWS cloud provider still set
// (beta.kubernetes.io/os, failure-domain.beta.kubernetes.io/zone) are read as their GA keys: a
// workload selecting them is planned (it was unschedulable: "label beta.kubernetes.io/os is not
// defined by the provisioner"), a zone outside the region is warned about on them too, and a
// pod whose legacy and GA keys conflict is told so with both named.
func TestLegacyLabelKeysArePlanned(t *testing.T) {
	web := strings.Replace(deployment("web", 3, "1", "1Gi"), "    spec:\n",
		"    spec:\n      nodeSelector: {beta.kubernetes.io/os: linux, failure-domain.beta.kubernetes.io/zone: us-east-1b}\n", 1)
	pod := `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  nodeSelector: {failure-domain.beta.kubernetes.io/zone: us-west-2a}
  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [us-east-1b]}]}]}}}
  containers: [{name: c, image: x, resources: {requests: {cpu: 1}}}]
---
`
	p, errOut := plan(t, "-f", write(t, "w.yaml", pod+web), "-f", write(t, "p.yaml", defaultProvisioner))
	placed := 0
	for _, g := range p.NewNodes {
		for _, name := range g.Pods {
			if strings.HasPrefix(name, "shop/web-") {
				placed++
				if g.Zone != "us-east-1b" {
					t.Errorf("%s planned in %s, want us-east-1b", name, g.Zone)
				}
			}
		}
	}
	if placed != 3 {
		t.Errorf("%d pods of web planned, want 3; unschedulable %+v", placed, p.Unschedulable)
	}
	if want := `w.yaml:5: Pod default/p: spec.nodeSelector.failure-domain.beta.kubernetes.io/zone: zone "us-west-2a" is not a zone the catalogue offers in us-east-1`; !strings.Contains(errOut, want) {
		t.Errorf("stderr does not hold %q:\n%s", want, errOut)
	}
	want := `the pod's nodeSelector and required node affinity admit no value of topology.kubernetes.io/zone: ` +
		`nodeSelector failure-domain.beta.kubernetes.io/zone In [us-west-2a], nodeSelectorTerms[0] topology.kubernetes.io/zone In [us-east-1b]`
	if len(p.Unschedulable) != 1 || !strings.HasPrefix(p.Unschedulable[0].Reason, want) {
		t.Errorf("unschedulable %+v; want default/p with a reason starting %q", p.Unschedulable, want)
	}
}
