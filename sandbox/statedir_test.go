package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A mistaken --dir must never be wiped: `down` and `up` remove only sandbox state directories.
func TestStateDirRemovalIsGuarded(t *testing.T) {
	victim := t.TempDir()
	precious := filepath.Join(victim, "important.txt")
	if err := os.WriteFile(precious, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := down(&out, victim)
	if err == nil || !strings.Contains(err.Error(), "not a sandbox state directory") {
		t.Fatalf("down on a folder that is not a sandbox: want a refusal, got %v (%s)", err, out.String())
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("down removed a folder it did not create: %v", err)
	}

	state := filepath.Join(t.TempDir(), "state")
	if err := makeStateDir(state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "progress"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := down(&out, state); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("a marked state directory must be removed: %v", err)
	}
	empty := t.TempDir()
	if err := removeStateDir(empty); err != nil {
		t.Fatalf("an empty directory may be removed: %v", err)
	}
	if err := removeStateDir(filepath.Join(empty, "absent")); err != nil {
		t.Fatalf("an absent directory is fine: %v", err)
	}
}
