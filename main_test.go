package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeform/terraform-provider-karpenter/simulate"
)

// TestSimulateErrorsEachCarryThePrefix: simulate on an input with several errors prints each
// on its own line after "error: ", not only the first.
func TestSimulateErrorsEachCarryThePrefix(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: a
spec:
  replicas: -1
---
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: default
spec:
  ttlSecondsAfterEmpty: -5
`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := simulate.Run(context.Background(), simulate.Options{Files: []string{bad}, Output: simulate.OutputTable, Catalog: simulate.CatalogSandbox},
		nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("simulate accepted the bad input")
	}
	var b bytes.Buffer
	printError(&b, err)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("want at least 3 errors (selector, replicas, ttlSecondsAfterEmpty), got:\n%s", b.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "error: "+bad+":") {
			t.Errorf("line %q does not start with \"error: %s:\"", l, bad)
		}
	}
}

// TestPrintError: only the errors a join holds get a prefix each; one error of several lines
// (a log tail) and fmt.Errorf with several %w keep the one prefix.
func TestPrintError(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{a, "error: a\n"},
		{errors.Join(a, errors.Join(b, a)), "error: a\nerror: b\nerror: a\n"},
		{fmt.Errorf("exited; last log lines:\n%s", "x\ny"), "error: exited; last log lines:\nx\ny\n"},
		{fmt.Errorf("%w; cleaning up: %w", a, b), "error: a; cleaning up: b\n"},
		{fmt.Errorf("reading:\n%w", errors.Join(a, b)), "error: reading:\na\nb\n"},
	} {
		var w bytes.Buffer
		printError(&w, tc.err)
		if w.String() != tc.want {
			t.Errorf("printError(%q) wrote %q, want %q", tc.err, w.String(), tc.want)
		}
	}
}
