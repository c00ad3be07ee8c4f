package simulate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
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
