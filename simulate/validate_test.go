package simulate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errorLines runs simulate on the files and returns the error's lines.
func errorLines(t *testing.T, args ...string) []string {
	t.Helper()
	_, _, err := run(t, "", args...)
	if err == nil {
		t.Fatalf("simulate %v: bad input accepted", args)
	}
	return strings.Split(err.Error(), "\n")
}

// wantErrors checks that each of want starts one line of the error (after the temporary
// folder of a relative file name), and that there are no other lines.
func wantErrors(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w) || strings.Contains(g, string(filepath.Separator)+w)
		}
		if !found {
			t.Errorf("no error starts with %q; errors:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

// Every invalid field of an object is reported at its own path and line, decode errors (types,
// quantities) and checks after decoding (negative replicas) alike.
func TestEveryInvalidFieldIsReported(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	bad := strings.NewReplacer("replicas: 2", "replicas: -2", `cpu: "1"`, "cpu: 1x", "memory: 1Gi", "memory: 512MB").
		Replace(deployment("web", 2, "1", "1Gi"))
	pod := `apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: shop}
spec:
  priority: high
  containers:
    - name: a
      image: x
      resources: {requests: {cpu: 2y}}
    - name: b
      image: x
      ports: [{containerPort: eighty}]
`
	got := errorLines(t, "-f", write(t, "w.yaml", bad+"---\n"+pod), "-f", prov)
	wantErrors(t, got,
		"w.yaml:7: spec.replicas: Invalid value: -2: must be greater than or equal to 0",
		"w.yaml:19: spec.template.spec.containers[0].resources.requests.cpu: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got \"1x\")",
		"w.yaml:20: spec.template.spec.containers[0].resources.requests.memory: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got \"512MB\")",
		"w.yaml:26: spec.priority: Invalid type: expected an integer, got a string",
		"w.yaml:30: spec.containers[0].resources.requests.cpu: quantities must match",
		"w.yaml:33: spec.containers[1].ports[0].containerPort: Invalid type: expected an integer, got a string",
	)
}

// Pods without containers, containers without name or image, negative requests and requests
// above limits are refused as the API server refuses them.
func TestPodSpecsAreValidatedLikeTheAPIServer(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	noContainers := `apiVersion: apps/v1
kind: Deployment
metadata: {name: empty, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: empty}}
  template:
    metadata: {labels: {app: empty}}
    spec:
      containers: []
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: nospec, namespace: shop}
spec:
  selector: {matchLabels: {app: nospec}}
  template:
    metadata: {labels: {app: nospec}}
---
apiVersion: v1
kind: Pod
metadata: {name: bare}
spec: {}
---
apiVersion: batch/v1
kind: Job
metadata: {name: report}
spec:
  template:
    spec:
      initContainers: [{name: init, image: x}]
      containers:
        - {name: init, image: x}
        - image: x
        - name: Main
          resources:
            requests: {cpu: "-1", memory: 2Gi}
            limits: {memory: 1Gi}
      volumes: [{name: data, persistentVolumeClaim: {claimName: ""}}, {name: data, emptyDir: {}}]
`
	got := errorLines(t, "-f", write(t, "w.yaml", noContainers), "-f", prov)
	wantErrors(t, got,
		"w.yaml:10: spec.template.spec.containers: Required value",
		"w.yaml:17: spec.template.spec.containers: Required value",
		"w.yaml:23: spec.containers: Required value",
		"w.yaml:31: spec.template.spec.initContainers[0].name: Duplicate value: \"init\"",
		"w.yaml:34: spec.template.spec.containers[1].name: Required value",
		"w.yaml:35: spec.template.spec.containers[2].name: Invalid value: \"Main\": a lowercase RFC 1123 label",
		"w.yaml:35: spec.template.spec.containers[2].image: Required value",
		"w.yaml:37: spec.template.spec.containers[2].resources.requests.cpu: Invalid value: \"-1\": must be greater than or equal to 0",
		"w.yaml:37: spec.template.spec.containers[2].resources.requests.memory: Invalid value: \"2Gi\": must be less than or equal to memory limit of 1Gi",
		"w.yaml:39: spec.template.spec.volumes[0].persistentVolumeClaim.claimName: Required value",
		"w.yaml:39: spec.template.spec.volumes[1].name: Duplicate value: \"data\"",
	)
}

// Extended resources such as nvidia.com/gpu are refused as the API server refuses them: a
// quantity that is not an integer, and a request without a limit (it cannot be overcommitted;
// a limit alone is also the request, and is planned).
func TestExtendedResourcesAreIntegersWithLimits(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	in := `apiVersion: v1
kind: Pod
metadata: {name: half, namespace: ml}
spec:
  containers:
    - name: c
      image: x
      resources:
        requests: {nvidia.com/gpu: "0.5"}
        limits: {nvidia.com/gpu: "0.5"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: nolimit, namespace: ml}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      initContainers:
        - name: init
          image: x
          resources:
            requests: {example.com/foo: "1", cpu: 100m}
      containers:
        - name: c
          image: x
          resources:
            requests:
              nvidia.com/gpu: "1"
`
	got := errorLines(t, "-f", write(t, "w.yaml", in), "-f", prov)
	wantErrors(t, got,
		`w.yaml:9: spec.containers[0].resources.requests.nvidia.com/gpu: Invalid value: "500m": must be an integer`,
		`w.yaml:10: spec.containers[0].resources.limits.nvidia.com/gpu: Invalid value: "500m": must be an integer`,
		`w.yaml:23: spec.template.spec.initContainers[0].resources.limits.example.com/foo: Required value: Limit must be set for non overcommitable resources`,
		`w.yaml:28: spec.template.spec.containers[0].resources.limits.nvidia.com/gpu: Required value: Limit must be set for non overcommitable resources`,
	)

	limitOnly := `apiVersion: v1
kind: Pod
metadata: {name: whole, namespace: ml}
spec:
  containers: [{name: c, image: x, resources: {limits: {nvidia.com/gpu: "1"}}}]
`
	p, _ := plan(t, "-f", write(t, "w.yaml", limitOnly), "-f", prov)
	if p.Summary.Pods != 1 || len(p.Unschedulable) != 0 || len(p.NewNodes) != 1 || !strings.HasPrefix(p.NewNodes[0].InstanceType, "g") {
		t.Fatalf("want the pod planned on a GPU type, got %+v", p)
	}
}

// The same object twice, in one file or in two, is an error naming both places; so is the
// same file given twice, directly or through its directory.
func TestDuplicatesAreErrors(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	dir := t.TempDir()
	web := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(web, []byte(deployment("web", 3, "1", "1Gi")), 0o600); err != nil {
		t.Fatal(err)
	}
	again := write(t, "again.yaml", "# the same Deployment\n"+deployment("web", 5, "1", "1Gi"))
	wantErrors(t, errorLines(t, "-f", web, "-f", again, "-f", prov),
		again+":2: Deployment shop/web: Duplicate value: also defined at "+web+":1")

	twice := write(t, "twice.yaml", deployment("web", 1, "1", "1Gi")+"---\n"+strings.Replace(defaultProvisioner, "spot", "on-demand", 1))
	wantErrors(t, errorLines(t, "-f", twice, "-f", prov),
		prov+":1: Provisioner default: Duplicate value: also defined at "+twice+":22")

	wantErrors(t, errorLines(t, "-f", web, "-f", prov, "-f", web),
		web+": the file is given twice (-f "+web+" and -f "+web+")")
	wantErrors(t, errorLines(t, "-f", dir, "-f", prov, "--nodes", web),
		web+": the file is given twice (-f "+dir+" and --nodes "+web+")")

	// One of each is fine, and plans 3 pods.
	p, _ := plan(t, "-f", dir, "-f", prov)
	if p.Summary.Pods != 3 {
		t.Fatalf("summary %+v", p.Summary)
	}
}

// Huge counts, and many pods of a large template, are refused before their pods are built, at
// the count's line; a count its field cannot hold is out of range, and an amount the plan cannot
// count is too large (not counted as some other amount).
func TestHugeReplicasAreRefused(t *testing.T) {
	prov := write(t, "p.yaml", defaultProvisioner)
	got := errorLines(t, "-f", write(t, "w.yaml", deployment("web", 200_000, "1", "1Gi")), "-f", prov)
	wantErrors(t, got, "w.yaml:7: spec.replicas: the input expands to more than 100000 pods")
	job := "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  parallelism: 200000\n  completions: 150000\n" +
		"  template:\n    spec: {restartPolicy: Never, containers: [{name: c, image: x}]}\n"
	got = errorLines(t, "-f", write(t, "w.yaml", job), "-f", prov)
	wantErrors(t, got, "w.yaml:6: spec.completions: the input expands to more than 100000 pods")

	huge := strings.Replace(deployment("web", 1, "1", "1Gi"), "replicas: 1", "replicas: 9223372036854775807", 1)
	got = errorLines(t, "-f", write(t, "w.yaml", huge), "-f", prov)
	wantErrors(t, got, "w.yaml:7: spec.replicas: Invalid value: 9223372036854775807: out of range: the field holds integers from -2147483648 to 2147483647")
	got = errorLines(t, "-f", write(t, "w.yaml", deployment("web", 1, "1e18", "2Pi")), "-f", prov)
	wantErrors(t, got,
		`w.yaml:19: spec.template.spec.containers[0].resources.requests.cpu: Invalid value: "1e18": too large: the plan counts amounts up to 1P`,
		`w.yaml:20: spec.template.spec.containers[0].resources.requests.memory: Invalid value: "2Pi": too large: the plan counts amounts up to 1P`)

	// 50,000 pods of a template with 8 KiB of environment take more than 256 MiB.
	env := "          env: [{name: BLOB, value: \"" + strings.Repeat("x", 8<<10) + "\"}]\n"
	big := strings.Replace(deployment("web", 50_000, "1", "1Gi"), "          resources:\n", env+"          resources:\n", 1)
	got = errorLines(t, "-f", write(t, "w.yaml", big), "-f", prov)
	wantErrors(t, got, "w.yaml:7: spec.replicas: the input expands to more than 256 MiB of pod specs (here 50000 pods of 8 KiB)")
}

// A kind that is read, written in another version of its group, is an error rather than a
// workload left out of the plan; kinds that are not read at all are skipped with a warning.
func TestReadKindInAnotherVersionIsAnError(t *testing.T) {
	old := strings.Replace(deployment("web", 2, "1", "1Gi"), "apps/v1", "apps/v1beta1", 1)
	got := errorLines(t, "-f", write(t, "w.yaml", old), "-f", write(t, "p.yaml", defaultProvisioner))
	wantErrors(t, got, `w.yaml:1: apiVersion: Unsupported value: "apps/v1beta1": Deployment is read as apps/v1`)

	// A misspelt kind of a group read is an error too, with the kind meant.
	typo := strings.Replace(deployment("web", 2, "1", "1Gi"), "kind: Deployment", "kind: Deploymnet", 1)
	got = errorLines(t, "-f", write(t, "w.yaml", typo), "-f", write(t, "p.yaml", defaultProvisioner))
	wantErrors(t, got, `w.yaml:2: kind: Unsupported value: "Deploymnet": not a kind of apps/v1: did you mean Deployment?`)

	// A kind of the same name in another group is another kind: skipped.
	volcano := "apiVersion: batch.volcano.sh/v1alpha1\nkind: Job\nmetadata: {name: train}\n"
	p, errOut := plan(t, "-f", write(t, "v.yaml", volcano), "-f", write(t, "p.yaml", defaultProvisioner))
	if len(p.Skipped) != 1 || !strings.Contains(errOut, "skipped Job train: batch.volcano.sh/v1alpha1 Job is not simulated") {
		t.Fatalf("skipped %+v; stderr:\n%s", p.Skipped, errOut)
	}
}

// TestWorkloadsTheAPIServerRefuses: objects the API server would refuse or no longer serves are
// errors at their field, not skipped or planned: a missing or non-matching selector, an empty
// selector, extensions/v1beta1, a kind in the wrong case, a Karpenter v1 NodePool; a value of
// the wrong JSON type is named by JSON kinds, not Go types.
func TestWorkloadsTheAPIServerRefuses(t *testing.T) {
	tmpl := "  template:\n    metadata: {labels: {app: a}}\n    spec: {containers: [{name: c, image: x}]}\n"
	in := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nosel}\nspec:\n" + tmpl + // 1
		"---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: other}\nspec:\n  selector: {matchLabels: {app: b}}\n" + tmpl + // 7
		"---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: empty}\nspec:\n  selector: {}\n" + tmpl + // 16
		"---\napiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: old}\nspec:\n" + tmpl + // 25
		"---\napiVersion: apps/v1\nkind: statefulset\nmetadata: {name: lower}\nspec:\n" + tmpl + // 33
		"---\napiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: np}\n" + // 41
		"---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  tolerations: {key: x}\n  containers: [{name: c, image: x}]\n" // 45
	got := errorLines(t, "-f", write(t, "w.yaml", in), "-f", write(t, "p.yaml", defaultProvisioner))
	wantErrors(t, got,
		"w.yaml:4: spec.selector: Required value",
		"w.yaml:15: spec.template.metadata.labels: Invalid value: app=a: `selector` does not match template `labels`",
		"w.yaml:22: spec.selector: Invalid value: {}: empty selector is invalid for daemonset",
		`w.yaml:27: apiVersion: Unsupported value: "extensions/v1beta1": Deployment is no longer served`,
		`w.yaml:36: kind: Unsupported value: "statefulset": kinds are case-sensitive: did you mean StatefulSet?`,
		`w.yaml:44: kind: Unsupported value: "NodePool": this controller reads karpenter.sh/v1alpha5 Provisioners`,
		"w.yaml:51: spec.tolerations: Invalid type: expected a list, got an object",
	)
}

// TestDuplicateKeysAreWarned: a YAML mapping with a key twice is read with the last value (as
// kubectl reads it), with a warning naming the key's line.
func TestDuplicateKeysAreWarned(t *testing.T) {
	in := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  replicas: 3\n" +
		"  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n" +
		"    spec: {containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]}\n"
	p, errOut := plan(t, "-f", write(t, "w.yaml", in), "-f", write(t, "p.yaml", defaultProvisioner))
	if p.Summary.Pods != 3 {
		t.Fatalf("want the last value (3 replicas), got %+v", p.Summary)
	}
	if !strings.Contains(errOut, `w.yaml:6: duplicate key "replicas": the last value is used`) {
		t.Fatalf("no warning for the duplicate key:\n%s", errOut)
	}
}

// The scheduling fields the plan reads are checked as the API server checks them (it refuses
// such a pod at creation): each error at its line, not a pod the plan calls unschedulable.
func TestInvalidSchedulingFieldsAreInputErrors(t *testing.T) {
	pod := `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  containers:
    - name: c
      image: x
      ports: [{containerPort: 80, hostPort: 99999}]
  tolerations:
    - {key: a, operator: Exists, value: b}
  topologySpreadConstraints:
    - maxSkew: 0
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: Maybe
      minDomains: 2
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions: [{key: kubernetes.io/arch, operator: In}]
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 0
          preference: {matchExpressions: [{key: zone, operator: Exists}]}
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: ""
          labelSelector: {matchExpressions: [{key: app, operator: Has}]}
`
	got := errorLines(t, "-f", write(t, "w.yaml", pod), "-f", write(t, "p.yaml", defaultProvisioner))
	wantErrors(t, got,
		"w.yaml:8: spec.containers[0].ports[0].hostPort: Invalid value: 99999: must be between 1 and 65535",
		"w.yaml:10: spec.tolerations[0].operator: Invalid value: \"b\": value must be empty when `operator` is 'Exists'",
		"w.yaml:12: spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
		"w.yaml:14: spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Maybe\"",
		"w.yaml:15: spec.topologySpreadConstraints[0].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule",
		"w.yaml:20: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value",
		"w.yaml:22: spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",
		"w.yaml:26: spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
		"w.yaml:27: spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator: Invalid value: \"Has\"",
	)
}

// A List whose items are not a list, nested or not, is a type error at items; a namespace that
// is not an RFC 1123 label is refused as the API server refuses it, in metadata.namespace and
// in a Namespace's name.
func TestListItemsAndNamespaceNamesAreChecked(t *testing.T) {
	in := `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: List
    items: 7
---
apiVersion: v1
kind: PodList
items: {a: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: "Bad NS"}
spec:
  containers: [{name: c, image: x}]
---
apiVersion: v1
kind: Namespace
metadata: {name: Shop}
---
apiVersion: v1
kind: Namespace
metadata:
  name: Bad_Name
  labels: {team: 7}
`
	got := errorLines(t, "-f", write(t, "w.yaml", in), "-f", write(t, "p.yaml", defaultProvisioner))
	wantErrors(t, got,
		"w.yaml:6: items: Invalid type: expected a list, got a number",
		"w.yaml:10: items: Invalid type: expected a list, got an object",
		`w.yaml:14: metadata.namespace: Invalid value: "Bad NS": a lowercase RFC 1123 label must consist of`,
		`w.yaml:20: metadata.name: Invalid value: "Shop": a lowercase RFC 1123 label must consist of`,
		// The name is checked even beside a label of the wrong type.
		`w.yaml:25: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of`,
		`w.yaml:26: metadata.labels.team: Invalid type: expected a string, got a number`,
	)
}

// The errors of one file come in line order, whatever check finds them: documents that are not
// objects, kinds in an old apiVersion, fields.
func TestErrorsOfAFileAreInLineOrder(t *testing.T) {
	in := `kind: Pod
metadata: {name: e}
---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec:
  containers: [{name: c, image: x, resources: {requests: {cpu: -1}}}]
---
apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: d}
spec: {}
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Pod, metadata: {name: b}, spec: {containers: [{name: c, image: x, resources: {requests: {cpu: 1x}}}]}}
  - 7
---
apiVersion: apps/v1beta1
kind: Deployment
metadata: {name: d}
spec: {}
`
	got := errorLines(t, "-f", write(t, "w.yaml", in), "-f", write(t, "p.yaml", defaultProvisioner))
	want := []string{
		"w.yaml:1: not a Kubernetes object",
		"w.yaml:8: spec.containers[0].resources.requests.cpu",
		`w.yaml:10: apiVersion: Unsupported value: "extensions/v1beta1"`,
		"w.yaml:18: spec.containers[0].resources.requests.cpu: quantities must match",
		"w.yaml:19: items[1]: not a Kubernetes object",
		`w.yaml:21: apiVersion: Unsupported value: "apps/v1beta1"`,
	}
	wantErrors(t, got, want...)
	for i := range min(len(got), len(want)) {
		if !strings.Contains(got[i], string(filepath.Separator)+want[i]) {
			t.Errorf("error %d is %q, want %q: not in line order:\n%s", i, got[i], want[i], strings.Join(got, "\n"))
		}
	}
}

// spreadDeployment is a Deployment whose pods (labels app: d, grp: g, and the Deployment
// controller's pod-template-hash) have one topology spread constraint, completed by fields
// (from line 14).
func spreadDeployment(fields string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d, grp: g}}
    spec:
      containers: [{name: c, image: x}]
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: DoNotSchedule
          ` + strings.ReplaceAll(fields, "\n", "\n          ") + "\n"
}

// affinityPod is a Pod labelled app: p, grp: g with one pod affinity term: term (from line 10)
// at kind (e.g. "podAntiAffinity:\n    requiredDuringSchedulingIgnoredDuringExecution:").
func affinityPod(kind, term string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: p, grp: g}}
spec:
  containers: [{name: c, image: x}]
  affinity:
    ` + kind + `
        - topologyKey: kubernetes.io/hostname
          ` + strings.ReplaceAll(term, "\n", "\n          ") + "\n"
}

const (
	antiRequired     = "podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:"
	affinityRequired = "podAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:"
)

// matchLabelKeys and mismatchLabelKeys are refused as the API server (1.34+) refuses the pod: it
// merges the keys the pod has labels of into the labelSelector at creation, then checks the
// result (ValidateMatchLabelKeysAndMismatchLabelKeys); each error at its key's line, with the
// file's other errors.
func TestLabelKeysTheAPIServerRefuses(t *testing.T) {
	const spreadPath = "spec.template.spec.topologySpreadConstraints[0]."
	const antiPath = "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]."
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"spread key listed twice", spreadDeployment("matchLabelKeys: [app, app]\nlabelSelector: {matchLabels: {grp: g}}"),
			[]string{`w.yaml:14: ` + spreadPath + `matchLabelKeys[1]: Duplicate value: "app"`}},
		{"spread keys without labelSelector", spreadDeployment("matchLabelKeys: [pod-template-hash]"),
			[]string{`w.yaml:14: ` + spreadPath + `matchLabelKeys: Forbidden: must not be specified when labelSelector is not set`}},
		{"spread key in matchLabels", spreadDeployment("labelSelector: {matchLabels: {grp: g}}\nmatchLabelKeys: [app, grp]"),
			[]string{`w.yaml:15: ` + spreadPath + `matchLabelKeys[1]: Invalid value: "grp": exists in both matchLabelKeys and labelSelector`}},
		{"spread key in matchExpressions", spreadDeployment("matchLabelKeys: [app]\nlabelSelector: {matchExpressions: [{key: app, operator: In, values: [d]}]}"),
			[]string{`w.yaml:14: ` + spreadPath + `matchLabelKeys[0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector`}},
		// The Deployment controller's label is merged too.
		{"spread key of a controller's label", spreadDeployment("matchLabelKeys: [pod-template-hash]\nlabelSelector: {matchExpressions: [{key: pod-template-hash, operator: Exists}]}"),
			[]string{`w.yaml:14: ` + spreadPath + `matchLabelKeys[0]: Invalid value: "pod-template-hash": exists in both matchLabelKeys and labelSelector`}},
		{"pod spread key in matchLabels", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: p}}\nspec:\n  containers: [{name: c, image: x}]\n" +
			"  topologySpreadConstraints:\n    - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, matchLabelKeys: [app], labelSelector: {matchLabels: {app: p}}}\n",
			[]string{`w.yaml:7: spec.topologySpreadConstraints[0].matchLabelKeys[0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector`}},
		{"anti-affinity key in matchLabels", affinityPod(antiRequired, "labelSelector: {matchLabels: {app: p}}\nmatchLabelKeys: [app]"),
			[]string{`w.yaml:11: ` + antiPath + `matchLabelKeys[0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector`}},
		{"affinity key listed twice", affinityPod(affinityRequired, "labelSelector: {matchLabels: {app: p}}\nmatchLabelKeys: [grp, grp]"),
			[]string{`w.yaml:11: spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].matchLabelKeys[1]: Duplicate value: "grp"`}},
		{"affinity keys without labelSelector", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: p}}\nspec:\n  containers: [{name: c, image: x}]\n" +
			"  affinity:\n    podAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n" +
			"        - weight: 10\n          podAffinityTerm:\n            topologyKey: zone\n            mismatchLabelKeys: [app]\n",
			[]string{`w.yaml:12: spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.mismatchLabelKeys: Forbidden: must not be specified when labelSelector is not set`}},
		{"affinity key in both lists", affinityPod(antiRequired, "labelSelector: {matchLabels: {app: p}}\nmatchLabelKeys: [grp]\nmismatchLabelKeys: [grp]"),
			[]string{`w.yaml:11: ` + antiPath + `matchLabelKeys[0]: Invalid value: "grp": exists in both matchLabelKeys and mismatchLabelKeys`}},
		{"affinity key not a qualified name", affinityPod(antiRequired, "labelSelector: {matchLabels: {app: p}}\nmismatchLabelKeys: [\"bad key!\"]"),
			[]string{`w.yaml:11: ` + antiPath + `mismatchLabelKeys[0]: Invalid value: "bad key!": name part must consist of`}},
		{"with the file's other errors", strings.Replace(spreadDeployment("matchLabelKeys: [grp]\nlabelSelector: {matchLabels: {grp: g}}"), "maxSkew: 1", "maxSkew: 0", 1) +
			"---\n" + affinityPod(antiRequired, "matchLabelKeys: [app]"),
			[]string{
				`w.yaml:11: ` + spreadPath + `maxSkew: Invalid value: 0: must be greater than zero`,
				`w.yaml:14: ` + spreadPath + `matchLabelKeys[0]: Invalid value: "grp": exists in both matchLabelKeys and labelSelector`,
				`w.yaml:26: ` + antiPath + `matchLabelKeys: Forbidden: must not be specified when labelSelector is not set`,
			}},
	}
	prov := write(t, "p.yaml", defaultProvisioner)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErrors(t, errorLines(t, "-f", write(t, "w.yaml", c.doc), "-f", prov), c.want...)
		})
	}
}

// What the API server accepts is planned: a matchLabelKeys key the pod has no label of (it is
// not merged), a mismatchLabelKeys key the selector holds, a Pod read back from a cluster (its
// selector holds the merged requirement), the usual pod-template-hash key.
func TestLabelKeysTheAPIServerAccepts(t *testing.T) {
	cases := []struct{ name, doc string }{
		{"key the pod has no label of", spreadDeployment("matchLabelKeys: [tier, tier]\nlabelSelector: {matchLabels: {tier: web}}")},
		{"mismatch key in the selector", affinityPod(antiRequired, "labelSelector: {matchExpressions: [{key: app, operator: Exists}]}\nmismatchLabelKeys: [app]")},
		{"pod read back from a cluster", affinityPod(antiRequired, "labelSelector: {matchLabels: {grp: g}, matchExpressions: [{key: app, operator: In, values: [p]}]}\nmatchLabelKeys: [app]")},
		{"pod-template-hash", spreadDeployment("matchLabelKeys: [pod-template-hash]\nlabelSelector: {matchLabels: {app: d}}")},
	}
	prov := write(t, "p.yaml", defaultProvisioner)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if p, _ := plan(t, "-f", write(t, "w.yaml", c.doc), "-f", prov); p.Summary.Pods != 1 {
				t.Fatalf("want 1 pod planned, got %+v", p.Summary)
			}
		})
	}
}
