package simulate_test

import (
	"slices"
	"strings"
	"testing"
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
	if len(p.Unschedulable) != 1 || !strings.HasSuffix(p.Unschedulable[0].Reason, `; zone "us-west-2a" is not in region us-east-1 `+zones) {
		t.Errorf("pod's zone: unschedulable %+v", p.Unschedulable)
	}

	prov := strings.Replace(defaultProvisioner, `values: ["spot"]`, `values: ["spot"]
    - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1z, us-east-1a, us-west-2b]}`, 1)
	pod = strings.Replace(pod, "us-west-2a", "us-east-1b", 1)
	p, errOut := plan(t, "-f", write(t, "w.yaml", pod), "-f", write(t, "p.yaml", prov))
	if len(p.Unschedulable) != 1 || !strings.HasSuffix(p.Unschedulable[0].Reason, `; zones "us-east-1z", "us-west-2b" are not in region us-east-1 `+zones) {
		t.Errorf("provisioner's zones: unschedulable %+v", p.Unschedulable)
	}
	want := `p.yaml:10: Provisioner default: spec.requirements[1]: zones "us-east-1z", "us-west-2b" are not in region us-east-1 ` + zones
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
// workloads, not one error per schema alternative plus an anyOf summary without a path.
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
		`p.yaml:5: spec.weight: invalid Provisioner "x": Invalid type: expected an integer, got a boolean`,
		`p.yaml:7: spec.limits.resources.cpu: invalid Provisioner "x": Invalid type: expected a quantity (a string or a number), got a boolean`,
		`p.yaml:7: spec.limits.resources.memory: invalid Provisioner "x": Invalid type: expected a quantity (a string or a number), got a list`,
	)
}
