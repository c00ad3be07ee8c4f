// Package sandboxtest gives other packages' tests one shared sandbox per test binary.
//
//	func TestMain(m *testing.M) { sandboxtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		sb := sandboxtest.Start(t) // skipped under -short
//		...
//	}
//
// The sandbox starts on the first Start and stops when Main's m.Run returns. Controller pods
// run Options.ControllerExecutable, else $KARPENTER_BIN (set by `make test`), else a binary
// built once from this module with `go build` (never the test binary itself).
package sandboxtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nodeform/terraform-provider-karpenter/sandbox"
)

// Options configure the shared sandbox; change them in TestMain before Main. Dir is ignored:
// the sandbox lives in a temporary directory (see Main for when it is removed).
var Options = sandbox.Config{StaticNodes: 1, BootDelay: time.Second}

// Module is the main package built for controller pods when no binary is given.
const Module = "github.com/nodeform/terraform-provider-karpenter"

// StartTimeout bounds the sandbox start.
var StartTimeout = 4 * time.Minute

var (
	once    sync.Once
	shared  *sandbox.Sandbox
	failure error
	dir     string
)

// Start returns the test binary's sandbox, starting it on first use. It skips the test under
// -short and fails it if the sandbox cannot start (e.g. `make tools` was not run).
func Start(t testing.TB) *sandbox.Sandbox {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the sandbox (skipped with -short)")
	}
	once.Do(func() {
		dir, failure = os.MkdirTemp("", "karpenter-sandboxtest-")
		if failure != nil {
			return
		}
		cfg := Options
		cfg.Dir = dir
		if cfg.ControllerExecutable == "" && os.Getenv("KARPENTER_BIN") == "" {
			cfg.ControllerExecutable = filepath.Join(dir, "terraform-provider-karpenter")
			out, err := exec.Command("go", "build", "-o", cfg.ControllerExecutable, Module).CombinedOutput()
			if err != nil {
				failure = fmt.Errorf("build controller binary (set $KARPENTER_BIN to skip): %v\n%s", err, out)
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		defer cancel()
		shared, failure = sandbox.Start(ctx, cfg)
	})
	if failure != nil {
		t.Fatalf("sandbox did not start: %v (state in %s)", failure, dir)
	}
	return shared
}

// Main runs the tests, then stops the shared sandbox (if one was started) and exits with the
// tests' status. The state directory is kept when tests failed or $KARPENTER_SANDBOX_KEEP is
// set, so its logs can be read.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	if dir != "" && code == 0 && os.Getenv("KARPENTER_SANDBOX_KEEP") == "" {
		_ = os.RemoveAll(dir)
	} else if dir != "" {
		os.Stderr.WriteString("sandbox state kept in " + dir + "\n")
	}
	os.Exit(code)
}
