package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

// The generator reads the emulator's price list through the Pricing API client and writes
// every catalogue type at its price, byte for byte the same on every run.
func TestGenerateFromSandbox(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, b := filepath.Join(dir, "a.go"), filepath.Join(dir, "b.go")
	if err := run(ctx, sourceSandbox, "", a); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, sourceSandbox, "us-east-1", b); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(a)
	second, _ := os.ReadFile(b)
	if !bytes.Equal(first, second) {
		t.Fatal("two runs wrote different files")
	}
	src := string(first)
	if !strings.Contains(src, "\t\"us-east-1\": {\n") || strings.Count(src, "\": {\n") != 1 {
		t.Errorf("want exactly the emulator's region us-east-1:\n%.400s", src)
	}
	for _, it := range catalog.All() {
		line := "\t\t\"" + it.Name + "\":"
		i := strings.Index(src, line)
		if i < 0 {
			t.Errorf("%s missing", it.Name)
			continue
		}
		rest := strings.TrimSpace(src[i+len(line):])
		got, err := strconv.ParseFloat(rest[:strings.IndexByte(rest, ',')], 64)
		if err != nil || got != it.OnDemandPrice {
			t.Errorf("%s: %q, catalogue %v", it.Name, rest[:strings.IndexByte(rest, ',')], it.OnDemandPrice)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.go")
	if err := run(context.Background(), sourceSandbox, "us-east-1,eu-west-1", out); err == nil || !strings.Contains(err.Error(), "region eu-west-1") {
		t.Errorf("a region the API does not price: %v", err)
	}
	if err := run(context.Background(), "s3", "", out); err == nil || !strings.Contains(err.Error(), "-source") {
		t.Errorf("unknown source: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run wrote the file")
	}
}
