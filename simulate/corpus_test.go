package simulate_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// simulate refuses every invalid and plan-only Provisioner of the shared corpus (as the CRD and
// the controller's webhook do; controller/apis/v1alpha5/testdata/provisioners) at the case's
// field, and takes every valid one.
func TestCorpusAgreesWithSimulate(t *testing.T) {
	corpus := filepath.Join("..", "controller", "apis", "v1alpha5", "testdata", "provisioners")
	for _, kind := range []string{"valid", "invalid", "plan-only"} {
		files, _ := filepath.Glob(filepath.Join(corpus, kind, "*.yaml"))
		if len(files) == 0 {
			t.Fatalf("no corpus in %s", kind)
		}
		for _, f := range files {
			t.Run(kind+"/"+strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
				raw, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				field := ""
				sc := bufio.NewScanner(strings.NewReader(string(raw)))
				for sc.Scan() {
					if v, ok := strings.CutPrefix(sc.Text(), "# field: "); ok {
						field = strings.TrimSpace(v)
					}
				}
				_, _, err = run(t, "", "-f", write(t, "w.yaml", deployment("web", 1, "1", "1Gi")), "-f", f)
				if kind == "valid" {
					if err != nil && strings.Contains(err.Error(), "invalid Provisioner") {
						t.Errorf("a valid Provisioner was refused: %v", err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), field) {
					t.Errorf("want a refusal at %s, got %v", field, err)
				}
			})
		}
	}
}
