package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modulePath is the Go module path of this repository; RepoRoot looks for its go.mod.
const modulePath = "github.com/nodeform/terraform-provider-karpenter"

// RepoRoot returns the absolute path of the repository root: the nearest directory at or above
// the working directory whose go.mod declares this module. Errors when there is none.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(firstLine(string(data)), modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s at or above the working directory", modulePath)
		}
		dir = parent
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// SeedDir returns the directory holding the tutorial's manifests (provisioner.yaml,
// inflate.yaml): $KARPENTER_SEED_DIR when set, else <repoRoot>/../shared/seed (in CI a copy of
// shared/ sits beside the clone). Errors when the directory has no inflate.yaml.
func SeedDir(repoRoot string) (string, error) {
	dir := os.Getenv("KARPENTER_SEED_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot, "..", "shared", "seed")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "inflate.yaml")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("seed directory %s has no inflate.yaml (set KARPENTER_SEED_DIR to the directory holding provisioner.yaml and inflate.yaml)", dir)
		}
		return "", err
	}
	return dir, nil
}

// copyTree copies the regular files and directories under src to dst (created as needed),
// skipping Terraform's local state (.terraform, lock and state files) so that a copy is a clean
// working directory.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		name := d.Name()
		if name == ".terraform" && d.IsDir() {
			return filepath.SkipDir
		}
		if name == ".terraform.lock.hcl" || strings.HasPrefix(name, "terraform.tfstate") {
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target, 0o644)
	})
}

// copyFile copies src to dst with mode perm, replacing dst.
func copyFile(src, dst string, perm os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
