package simulate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestSplitDocumentsKeepsLines(t *testing.T) {
	data := []byte("---\n# leading comment\na: 1\n--- # second\n\nb: 2\n---\n...\n---\nc: 3")
	docs := splitDocuments("f", data)
	var starts []int
	for _, d := range docs {
		if bytes.Contains(d.data, []byte(":")) {
			starts = append(starts, d.firstContentLine())
		}
	}
	if want := []int{3, 6, 10}; len(starts) != 3 || starts[0] != want[0] || starts[1] != want[1] || starts[2] != want[2] {
		t.Fatalf("first content lines %v, want %v", starts, want)
	}
}

func TestLineOfFieldPaths(t *testing.T) {
	data := []byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: n\n    labels:\n      karpenter.sh/provisioner-name: default\n  status:\n    allocatable: {cpu: \"4\"}\n")
	objs, err := Decode("f", data)
	if err != nil || len(objs) != 1 {
		t.Fatalf("objects %v, err %v", objs, err)
	}
	o := objs[0]
	cases := map[string]int{
		"":              4,
		"metadata.name": 7,
		"metadata.labels.karpenter.sh/provisioner-name": 9,
		"status.allocatable.cpu":                        11,
		"spec.missing":                                  4, // the deepest ancestor found: the item
		"metadata.labels.absent":                        8,
	}
	for path, want := range cases {
		if got := o.LineOf(path); got != want {
			t.Errorf("LineOf(%q) = %d, want %d", path, got, want)
		}
	}
}

// FuzzRead feeds arbitrary bytes through the whole reader (documents, Lists, typed decoding,
// workload expansion, Provisioner validation, node snapshot): it must return objects or
// *SourceErrors naming the source and a line inside it, and never panic.
func FuzzRead(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "examples", "simulate", "*.yaml"))
	quickstart, _ := filepath.Glob(filepath.Join("..", "examples", "quickstart", "manifests", "*.yaml"))
	for _, s := range append(seeds, quickstart...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: a}}]"))
	f.Add([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 2, template: {spec: {containers: [{name: c, resources: {requests: {cpu: 1x}}}]}}}"))
	f.Add([]byte("a: &a [*a]\n---\n- 1\n---\n{"))
	f.Add([]byte("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec: {replicas: 2, template: {spec: {containers: [{name: c, image: x}], " +
		"volumes: [{name: s, ephemeral: {volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}}]}}, " +
		"volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]}\n---\n" +
		"apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: sc, annotations: {storageclass.kubernetes.io/is-default-class: \"true\"}}\nprovisioner: p\n---\n" +
		"apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv}\nspec: {capacity: {storage: 2Gi}, accessModes: [ReadWriteOnce], storageClassName: sc}\n---\n" +
		"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {priority: x, containers: [{name: A, resources: {requests: {cpu: -1, memory: 1x}, limits: {cpu: 0}}}, {}]}"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: List, items: 7}, 7]\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n}\n" +
		"status: {capacity: {pods: 1.5, memory: -1}, allocatable: {cpu: [1]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: \"Bad NS\"}\nspec: {containers: [{name: c, image: x}]}"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- .inf\n- {apiVersion: v1, kind: Pod, metadata: {name: .nan, labels: {\"é\": &x !!float -.inf}}, " +
		"spec: {priority: *x, containers: [{name: c, image: x, resources: {limits: {cpu: .inf}}}]}}\n---\n.NaN"))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nspec: {a: [b, {c: 'd''\n---\nx: \"y\\\"\n---\na: *b\n---\nk:\n  - x\n - y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 2
		r := newReader(context.Background())
		objs, err := Decode("fuzz.yaml", data)
		for _, o := range objs {
			r.add(o, workloadRole)
		}
		_, finishErr := r.finish()
		for _, e := range []error{err, finishErr} {
			checkSourceErrors(t, e, lines)
		}
	})
}

// checkSourceErrors checks that every error joined in err is a *SourceError on fuzz.yaml with
// a line within the input.
func checkSourceErrors(t *testing.T, err error, lines int) {
	if err == nil {
		return
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			checkSourceErrors(t, e, lines)
		}
		return
	}
	var se *SourceError
	if !errors.As(err, &se) {
		t.Fatalf("error without source: %T %v", err, err)
	}
	if se.Source != "fuzz.yaml" || se.Line < 1 || se.Line > lines {
		t.Fatalf("error outside the input (%d lines): %v", lines, se)
	}
}

// Every invalid field is found, at its own path, with the decoder's error for it alone; the
// object is restored and the remainder decoded.
func TestInvalidFieldsFindsEachOne(t *testing.T) {
	data := []byte(`apiVersion: v1
kind: Pod
metadata: {name: p, labels: {a: 1}}
spec:
  priority: high
  tolerations: {key: x}
  containers:
    - name: a
      resources: {requests: {cpu: 1x, memory: 1Gi}, limits: {cpu: 2y}}
    - name: b
      ports: [{containerPort: 80}, {containerPort: eighty}]
`)
	objs, err := Decode("f.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	before := fmt.Sprint(objs[0].Content)
	var pod corev1.Pod
	_, usable, err := objs[0].Decode(&pod)
	var got []string
	for _, e := range flatten(err) {
		se := e.(*SourceError)
		got = append(got, fmt.Sprintf("%d %s", se.Line, se.Path))
	}
	want := []string{"3 metadata.labels.a", "9 spec.containers[0].resources.limits.cpu", "9 spec.containers[0].resources.requests.cpu",
		"11 spec.containers[1].ports[1].containerPort", "5 spec.priority", "6 spec.tolerations"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("invalid fields:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !usable || pod.Name != "p" || pod.Spec.Containers[0].Resources.Requests.Memory().String() != "1Gi" || pod.Spec.Containers[1].Ports[0].ContainerPort != 80 {
		t.Errorf("remainder not decoded (usable %v): %+v", usable, pod.Spec)
	}
	if after := fmt.Sprint(objs[0].Content); after != before {
		t.Errorf("object changed:\n%s\n%s", before, after)
	}
}

// BenchmarkDecodeDeployment decodes one Deployment of the example shape: valid, and with two
// invalid quantities (the search for every invalid field decodes the object again per trial).
func BenchmarkDecodeDeployment(b *testing.B) {
	valid := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx
          env: [{name: A, value: a}, {name: B, value: b}]
          ports: [{containerPort: 80}]
          resources: {requests: {cpu: 500m, memory: 1Gi}}
`
	for name, data := range map[string]string{"valid": valid, "two-invalid": strings.NewReplacer("500m", "1x", "1Gi", "1GB!").Replace(valid)} {
		b.Run(name, func(b *testing.B) {
			objs, err := Decode("w.yaml", []byte(data))
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				var d appsv1.Deployment
				if _, _, err := objs[0].Decode(&d); (err != nil) != (name != "valid") {
					b.Fatal(err)
				}
			}
		})
	}
}

// A YAML syntax error is reported at the line where the problem is (as PyYAML reports it):
// the parser's errors are not one line early, a quoted string or a flow collection left open
// at the end is reported where it opens, an alias of an unknown anchor where it is, and in a
// file of several documents lines count from the start of the file.
func TestYAMLSyntaxErrorLines(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\n"
	cases := []struct {
		name, input string
		line        int
		reason      string // the whole reason, after "invalid YAML: "
	}{
		// Parser errors (the library puts them one line early).
		{"sequence item mis-indented", pod + "metadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x\n  - name: d\n   image: y\n",
			10, "did not find expected key"},
		{"key less indented than its siblings", pod + "metadata:\n    name: x\n  namespace: y\nspec: {}\n",
			5, "did not find expected key"},
		{"sequence item in a mapping", pod + "metadata:\n  name: x\n  - a\n", 5, "did not find expected key"},
		{"text after a quoted value", pod + "metadata:\n  name: \"x\" y\n", 4, "did not find expected key"},
		{"text after a flow mapping", pod + "metadata: {name: x} extra\nspec: {}\n", 3, "did not find expected key"},
		{"block scalar less indented", pod + "data:\n  script: |\n      one\n    two\n  other: x\n", 6, "did not find expected key"},
		{"flow sequence not closed before a key", pod + "metadata:\n  name: x\nspec:\n  args: [a, b\n  image: y\n  other: z\n",
			6, "did not find expected ',' or ']' (the [ on this line is not closed)"},
		{"flow mapping not closed before a key", pod + "metadata: {name: x, namespace: y\nspec:\n  image: y\n",
			3, "did not find expected ',' or '}' (the { on this line is not closed)"},
		{"flow mapping not closed over lines before a key", pod + "metadata: {name: x,\n  namespace: y\nspec:\n  image: y\n",
			3, "did not find expected ',' or '}' (the { on this line is not closed)"},
		{"comma missing in a flow mapping", pod + "metadata: {name: x namespace: y}\nspec: {}\n", 3, "did not find expected ',' or '}'"},
		{"block sequence entry in a flow mapping", pod + "metadata: {\n  name: x,\n  - y\n}\n", 5, "did not find expected node content"},
		// Scanner errors (the library's line was right).
		{"key more indented than its siblings", pod + "metadata:\n  name: x\n   namespace: y\n", 5, "mapping values are not allowed in this context"},
		{"second colon", pod + "metadata:\n  name: x: y\n", 4, "mapping values are not allowed in this context"},
		{"second colon on the first line", "apiVersion: v1: x\nkind: Pod\n", 1, "mapping values are not allowed in this context"},
		{"tab indentation", pod + "metadata:\n\tname: x\n", 4, "found character that cannot start any token"},
		{"tab in a sequence item", pod + "spec:\n  containers:\n  - name: a\n\timage: x\n", 6, "found a tab character that violates indentation"},
		{"unknown escape", pod + "metadata:\n  name: \"a\\qb\"\n", 4, "found unknown escape character"},
		{"@ starting a value", pod + "metadata:\n  name: @x\n", 4, "found character that cannot start any token"},
		{"key without a colon", pod + "metadata:\n  name: x\n  y\n  namespace: z\n", 6, "could not find expected ':'"},
		{"after comments", "# comment\n\n" + pod + "metadata:\n  name: x\n   namespace: y\n", 7, "mapping values are not allowed in this context"},
		{"CRLF line ends", strings.ReplaceAll(pod+"spec:\n  containers:\n  - name: c\n   image: y\n", "\n", "\r\n"), 6, "did not find expected key"},
		// Open at the end of the input: the library names the end (a line after the last).
		{"double quote not closed", pod + "metadata:\n  name: \"x\n  namespace: y\nspec:\n  containers: []\n",
			4, `found unexpected end of stream (the " on this line is not closed)`},
		{"single quote not closed", pod + "metadata:\n  name: 'x\n  namespace: y\n", 4, "found unexpected end of stream (the ' on this line is not closed)"},
		{"double quote not closed in a flow mapping", pod + "metadata:\n  name: p\n  labels: {app: \"web}\nspec:\n  containers: []\n",
			5, `found unexpected end of stream (the " on this line is not closed)`},
		{"single quote not closed in a flow sequence", pod + "metadata:\n  name: p\n  args: [a, 'b]\nspec: {}\n",
			5, "found unexpected end of stream (the ' on this line is not closed)"},
		{"double quote not closed, holding ' and \\\"", pod + "metadata:\n  name: \"it's \\\" \\\\\n  namespace: y\n",
			4, `found unexpected end of stream (the " on this line is not closed)`},
		{"single quote not closed, holding \" and ''", "# it's\n" + pod + "metadata:\n  name: 'x \"a\" it''s\n  namespace: \"y\"\n",
			5, "found unexpected end of stream (the ' on this line is not closed)"},
		{"quote not closed after a closed one over lines", pod + "metadata:\n  name: \"a\n    b\"\n  namespace: \"c\n",
			6, `found unexpected end of stream (the " on this line is not closed)`},
		{"quote not closed on the last line", pod + "metadata:\n  name: x\n  namespace: \"y\n", 5, `found unexpected end of stream (the " on this line is not closed)`},
		{"quote not closed, one line", `name: "x`, 1, `found unexpected end of stream (the " on this line is not closed)`},
		{"flow sequence not closed", pod + "spec:\n  args: [a,\n    b,\n    c\n", 4, "did not find expected ',' or ']' (the [ on this line is not closed)"},
		{"flow sequence not closed, no line end", pod + "spec:\n  args: [a, b", 4, "did not find expected ',' or ']' (the [ on this line is not closed)"},
		{"flow sequence holding a mapping not closed", pod + "spec:\n  args: [a, {b: c}, \"d]\",\n\n", 4,
			"did not find expected node content (the [ on this line is not closed)"},
		{"flow mapping not closed", pod + "metadata: {name: x,\n  namespace: y\n", 3, "did not find expected ',' or '}' (the { on this line is not closed)"},
		// No line from the library.
		{"unknown anchor", pod + "metadata:\n  name: x\n  # *foo\n  namespace: \"*foo\"\n  labels:\n    a: *foo\n", 8, "unknown anchor 'foo' referenced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkYAMLError(t, tc.input, tc.line, tc.reason)
			// The same document, second in a file: lines count from the start of the file.
			first := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
			checkYAMLError(t, first+"---\n"+tc.input, tc.line+4, tc.reason)
			if strings.HasSuffix(tc.input, "\n") {
				checkYAMLError(t, first+"--- # second\n"+tc.input+"---\n"+first, tc.line+4, tc.reason)
			}
		})
	}
}

func checkYAMLError(t *testing.T, input string, line int, reason string) {
	t.Helper()
	_, err := Decode("bad.yaml", []byte(input))
	errs := flatten(err)
	var se *SourceError
	if err == nil || len(errs) != 1 || !errors.As(errs[0], &se) {
		t.Fatalf("want one error, got %v", err)
	}
	if want := fmt.Sprintf("bad.yaml:%d: invalid YAML: %s", line, reason); se.Error() != want {
		t.Errorf("got  %s\nwant %s", se, want)
	}
}

// A duplicate key is a warning at the line of its second occurrence, in a block or a flow
// mapping, counted from the start of the file.
func TestDuplicateKeyLines(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\n"
	cases := []struct {
		name, input string
		want        string
	}{
		{"block mapping", pod + "metadata:\n  name: x\n  name: y\n", `bad.yaml:5: duplicate key "name": the last value is used`},
		{"flow mapping over lines", pod + "metadata: {name: x,\n  namespace: a,\n  name: y}\n", `bad.yaml:5: duplicate key "name": the last value is used`},
		{"second document", "kind: ConfigMap\napiVersion: v1\n---\n" + pod + "metadata:\n  name: x\n  name: y\n",
			`bad.yaml:8: duplicate key "name": the last value is used`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Decode("bad.yaml", []byte(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			var warnings []string
			for _, o := range objs {
				warnings = append(warnings, o.Warnings...)
			}
			if len(warnings) != 1 || warnings[0] != tc.want {
				t.Fatalf("got %q, want %q", warnings, tc.want)
			}
		})
	}
}
