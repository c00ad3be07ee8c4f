package simulate_test

import (
	"context"
	"io"
	"strconv"
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

// BenchmarkReadNodesDump reads a kubectl dump of 600 nodes and 1,800 bound pods (one List of
// 2,400 items, 1 MB): each item's line used to be found by splitting the whole document again,
// which took 1.55 s per read here (0.44 s after).
func BenchmarkReadNodesDump(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range 600 {
		name := "ip-10-0-" + strconv.Itoa(i) + ".ec2.internal"
		sb.WriteString(`  - apiVersion: v1
    kind: Node
    metadata:
      name: ` + name + `
      labels: {kubernetes.io/arch: amd64, topology.kubernetes.io/zone: us-east-1a, kubernetes.io/hostname: ` + name + `}
    status:
      allocatable: {cpu: 3920m, memory: 14Gi, pods: "58"}
`)
		for j := range 3 {
			sb.WriteString(`  - apiVersion: v1
    kind: Pod
    metadata: {name: p-` + strconv.Itoa(i) + "-" + strconv.Itoa(j) + `, namespace: shop, labels: {app: web}}
    spec:
      nodeName: ` + name + `
      containers: [{name: c, image: x, resources: {requests: {cpu: "1", memory: 2Gi}}}]
    status: {phase: Running}
`)
		}
	}
	dump := sb.String()
	b.ResetTimer()
	for range b.N {
		if _, err := simulate.Read(context.Background(), []string{"-"}, nil, strings.NewReader(dump)); err != nil {
			b.Fatal(err)
		}
	}
}
