package simulate_test

import (
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
