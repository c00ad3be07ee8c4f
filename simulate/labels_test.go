package simulate_test

import (
	"strings"
	"testing"
)

// Labels are refused as the API server refuses them (metav1 validation ValidateLabels): keys
// qualified names, values label values, in metadata.labels, pod template labels, nodeSelector,
// a workload's selector and the labels of --nodes Nodes; each error at its entry's path and
// line, with the file's other errors, and an empty key is one error, not two.
func TestLabelsTheAPIServerRefuses(t *testing.T) {
	const badName = `Invalid value: "bad key!": name part must consist of`
	const badValue = `Invalid value: "bad value!": a valid label must be an empty string or consist of`
	cases := []struct {
		name, doc string
		nodes     bool
		want      []string
	}{
		{"deployment metadata, template and nodeSelector", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {"bad key!": x}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, ver: "bad value!", "a/b/c": x}}
    spec:
      nodeSelector: {"": x, zone: "no good"}
      containers: [{name: c, image: i, resources: {requests: {cpu: -1}}}]
`, false, []string{
			`w.yaml:3: metadata.labels.bad key!: ` + badName,
			`w.yaml:7: spec.template.metadata.labels.a/b/c: Invalid value: "a/b/c": a valid label key must consist of`,
			`w.yaml:7: spec.template.metadata.labels.ver: ` + badValue,
			`w.yaml:9: spec.template.spec.nodeSelector: Invalid value: "": name part must be non-empty`,
			`w.yaml:9: spec.template.spec.nodeSelector.zone: Invalid value: "no good": a valid label must be`,
			`w.yaml:10: spec.template.spec.containers[0].resources.requests.cpu: Invalid value: "-1": must be greater than or equal to 0`,
		}},
		{"pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: q, labels: {\"bad key!\": v, ok: \"bad value!\"}}\nspec:\n  nodeSelector: {\"\": x}\n  containers: [{name: c, image: i}]\n",
			false, []string{
				`w.yaml:3: metadata.labels.bad key!: ` + badName,
				`w.yaml:3: metadata.labels.ok: ` + badValue,
				`w.yaml:5: spec.nodeSelector: Invalid value: "": name part must be non-empty`,
			}},
		{"value of 64 characters", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    app: " + long + "\nspec:\n  containers: [{name: c, image: i}]\n",
			false, []string{`w.yaml:6: metadata.labels.app: Invalid value: "` + long + `": must be no more than 63 bytes`}},
		{"workload selector", `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  selector:
    matchLabels:
      app: web
      "bad key!": x
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i}]}
`, false, []string{`w.yaml:8: spec.selector.matchLabels.bad key!: ` + badName}},
		{"daemonset", `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, labels: {team: "bad value!"}}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds, "/x": z}}
    spec: {containers: [{name: c, image: i}]}
`, false, []string{
			`w.yaml:3: metadata.labels.team: ` + badValue,
			`w.yaml:7: spec.template.metadata.labels./x: Invalid value: "/x": prefix part must be non-empty`,
		}},
		{"namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {\"bad key!\": x}}\n",
			false, []string{`w.yaml:3: metadata.labels.bad key!: ` + badName}},
		{"node", "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {\"bad key!\": x, topology.kubernetes.io/zone: us-east-1a}}\nstatus:\n  allocatable: {cpu: \"2\", memory: 4Gi, pods: \"10\"}\n",
			true, []string{`w.yaml:3: metadata.labels.bad key!: ` + badName}},
		{"empty matchLabelKeys entry", spreadDeployment("labelSelector: {matchLabels: {grp: g}}\nmatchLabelKeys: [\"\"]"),
			false, []string{`w.yaml:15: spec.template.spec.topologySpreadConstraints[0].matchLabelKeys[0]: Invalid value: "": name part must be non-empty`}},
	}
	prov := write(t, "p.yaml", defaultProvisioner)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			flag := "-f"
			if c.nodes {
				flag = "--nodes"
			}
			wantErrors(t, errorLines(t, flag, write(t, "w.yaml", c.doc), "-f", prov), c.want...)
		})
	}
}

// long is a label value of 64 characters, one more than the API server takes.
const long = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// A Provisioner with a value of the wrong type is refused with every schema error at its path,
// no error without one, the quantity's type worded as the CRD takes it (an integer or a string:
// a fractional number is refused, unlike in a Pod), and the API server's note that the rules
// (and so the webhook's checks) were not run.
func TestProvisionerTypeErrorsSayWhatWasNotChecked(t *testing.T) {
	doc := `apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: p1}
spec:
  limits:
    resources:
      cpu: -4
      memory: "12 Gi"
      nvidia.com/gpu: 1.5
  labels:
    "bad key!": x
  weight: 1000
`
	got := errorLines(t, "-f", write(t, "p.yaml", doc))
	wantErrors(t, got,
		`p.yaml:1: invalid Provisioner "p1": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
		`p.yaml:8: spec.limits.resources.memory: invalid Provisioner "p1": Invalid value: "12 Gi": spec.limits.resources.memory in body should match`,
		`p.yaml:9: spec.limits.resources.nvidia.com/gpu: invalid Provisioner "p1": Invalid type: expected an integer or a string (a quantity such as 4, "1.5" or 1500m), got a number that is not an integer: 1.5 (write it as a string: "1.5")`,
		`p.yaml:12: spec.weight: invalid Provisioner "p1": Invalid value: 1000: spec.weight in body should be less than or equal to 100`,
	)
}

// A number JSON cannot hold (.inf, .nan) is an error at its path and line, not a conversion
// error at the document's first line. The list around two of them is a quantity given a list,
// reported as it is with finite numbers in it.
func TestNonFiniteNumbersAreRefusedAtTheirField(t *testing.T) {
	doc := "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: p3}\nspec:\n  limits:\n    resources:\n      cpu: .inf\n      memory: [1, -.Inf, .nan]\n"
	wantErrors(t, errorLines(t, "-f", write(t, "p.yaml", doc)),
		`p.yaml:1: invalid Provisioner "p3": some validation rules were not checked because the object was invalid`,
		`p.yaml:7: spec.limits.resources.cpu: Invalid value: .inf: not a finite number`,
		`p.yaml:8: spec.limits.resources.memory[1]: Invalid value: -.Inf: not a finite number`,
		`p.yaml:8: spec.limits.resources.memory[2]: Invalid value: .nan: not a finite number`,
		`p.yaml:8: spec.limits.resources.memory: invalid Provisioner "p3": Invalid type: expected an integer or a string (a quantity such as 4, "1.5" or 1500m), got a list`,
	)
}

// A number JSON cannot hold does not hold back the object's other errors: each is reported at
// its own path and line beside the non-finite one, as it would be without it, in Pods,
// workloads and items of a List alike; the field with the non-finite number is reported once
// (not also as missing), whether the number is written plainly, with a tag or an anchor, or
// named by an alias.
func TestNonFiniteNumbersLeaveTheObjectsOtherErrors(t *testing.T) {
	const inf = `Invalid value: .inf: not a finite number`
	const badName = `Invalid value: "bad key!": name part must consist of`
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"pod", `apiVersion: v1
kind: Pod
metadata: {name: q, labels: {"bad key!": v, app: q}}
spec:
  terminationGracePeriodSeconds: .inf
  containers: [{name: c, image: i, resources: {requests: {cpu: -.inf, memory: 1Gi}}}]
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: DoNotSchedule
      labelSelector: {matchLabels: {app: q}}
      matchLabelKeys: [app]
`, []string{
			`w.yaml:3: metadata.labels.bad key!: ` + badName,
			`w.yaml:5: spec.terminationGracePeriodSeconds: ` + inf,
			`w.yaml:6: spec.containers[0].resources.requests.cpu: Invalid value: -.inf: not a finite number`,
			`w.yaml:12: spec.topologySpreadConstraints[0].matchLabelKeys[0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector`,
		}},
		{"deployment", strings.Replace(spreadDeployment("labelSelector: {matchLabels: {grp: g}}\nmatchLabelKeys: [app, grp]"),
			"metadata: {name: d}\nspec:\n", "metadata: {name: d, labels: {\"bad key!\": x}}\nspec:\n  replicas: .inf\n", 1), []string{
			`w.yaml:3: metadata.labels.bad key!: ` + badName,
			`w.yaml:5: spec.replicas: ` + inf,
			`w.yaml:16: spec.template.spec.topologySpreadConstraints[0].matchLabelKeys[1]: Invalid value: "grp": exists in both matchLabelKeys and labelSelector`,
		}},
		{"item of a List", `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: ok}
    spec: {containers: [{name: c, image: i}]}
  - apiVersion: v1
    kind: Pod
    metadata: {name: q, labels: {"bad key!": v}}
    spec:
      priority: .inf
      containers: [{name: c, image: i}]
`, []string{
			`w.yaml:10: metadata.labels.bad key!: ` + badName,
			`w.yaml:12: items[1].spec.priority: ` + inf,
		}},
		{"tag, anchor, alias, a document and an item that are numbers", `apiVersion: v1
kind: Pod
metadata: {name: .inf, labels: {"bad key!": v}}
spec:
  containers:
    - name: c
      image: i
      resources:
        requests: {cpu: &big !!float .inf, memory: *big}
        limits: {"é": !!float -.inf, cpu: 1x}
---
.nan
---
apiVersion: v1
kind: List
items: [.inf]
`, []string{
			`w.yaml:3: metadata.name: ` + inf,
			`w.yaml:3: metadata.labels.bad key!: ` + badName,
			`w.yaml:9: spec.containers[0].resources.requests.cpu: ` + inf,
			`w.yaml:9: spec.containers[0].resources.requests.memory: ` + inf,
			`w.yaml:10: spec.containers[0].resources.limits.cpu: quantities must match`,
			`w.yaml:10: spec.containers[0].resources.limits.é: Invalid value: -.inf: not a finite number`,
			`w.yaml:12: Invalid value: .nan: not a finite number`,
			`w.yaml:16: items[0]: ` + inf,
		}},
	}
	prov := write(t, "p.yaml", defaultProvisioner)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErrors(t, errorLines(t, "-f", write(t, "w.yaml", c.doc), "-f", prov), c.want...)
		})
	}
}
