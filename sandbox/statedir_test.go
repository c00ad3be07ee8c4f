package sandbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// up checks its settings before it locks, removes or starts anything: a bad value is an error
// naming the flag and what is allowed, and the state directory is not created.
func TestUpChecksSettingsFirst(t *testing.T) {
	good := flags{region: "us-east-1", bootDelay: time.Second, staticNodes: 1, authMode: "API"}
	for want, change := range map[string]func(*flags){
		`--authentication-mode: must be CONFIG_MAP, API_AND_CONFIG_MAP or API, got "api"`: func(f *flags) { f.authMode = "api" },
		"--static-nodes: must be >= 0, got -1":                                            func(f *flags) { f.staticNodes = -1 },
		"--boot-delay: must be >= 0, got -1s":                                             func(f *flags) { f.bootDelay = -time.Second },
		`--region: region "mars-1"`:                                                       func(f *flags) { f.region = "mars-1" },
	} {
		f := good
		f.dir = filepath.Join(t.TempDir(), "parent", "state")
		change(&f)
		var out bytes.Buffer
		err := up(context.Background(), &out, &f, map[string]bool{})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("up: %v, want %q", err, want)
		}
		if _, serr := os.Stat(filepath.Dir(f.dir)); !os.IsNotExist(serr) || out.Len() > 0 {
			t.Errorf("up with a bad setting (%v) created %s or printed %q", err, filepath.Dir(f.dir), out.String())
		}
	}
}
