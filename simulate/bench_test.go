package simulate_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/nodeform/terraform-provider-karpenter/simulate"
)

// BenchmarkRun1000Pods is the whole command on 1000 pods of five sizes with the tutorial's
// Provisioner: reading, the sandbox catalogue (emulator start, instance types), solve, lower
// bound and the table.
func BenchmarkRun1000Pods(b *testing.B) {
	sizes := []struct {
		name     string
		replicas int
		cpu, mem string
	}{{"tiny", 400, "250m", "512Mi"}, {"small", 300, "500m", "1Gi"}, {"medium", 200, "1", "2Gi"}, {"large", 80, "2", "4Gi"}, {"xlarge", 20, "4", "16Gi"}}
	var docs []string
	for _, s := range sizes {
		docs = append(docs, deployment(s.name, s.replicas, s.cpu, s.mem))
	}
	stdin := strings.Join(docs, "---\n") + "---\n" + defaultProvisioner
	b.ResetTimer()
	for range b.N {
		err := simulate.Run(context.Background(), simulate.Options{Files: []string{"-"}, Output: simulate.OutputTable, Catalog: simulate.CatalogSandbox},
			strings.NewReader(stdin), io.Discard, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
	}
}
