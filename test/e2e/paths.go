package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
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

// ManifestsDir returns the directory of the tutorial's manifests (inflate.yaml and
// provisioner.yaml, as the getting-started guide writes them): examples/quickstart/manifests in
// the repository at repoRoot. Errors when either file is missing there.
func ManifestsDir(repoRoot string) (string, error) {
	dir := filepath.Join(repoRoot, "examples", "quickstart", "manifests")
	for _, name := range []string{"inflate.yaml", "provisioner.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("the tutorial's manifests: %w", err)
		}
	}
	return dir, nil
}

// CopyWorkingTree copies the repository at root to dst as a fresh clone would hold it, plus
// uncommitted changes: the files `git ls-files --cached --others --exclude-standard` lists
// (tracked, and untracked but not ignored; so no bin/, .sandbox/ or Terraform state), with their
// modes. Without git (root is not a work tree) it walks root, skipping .git and the ignored
// top-level folders bin/ and .sandbox/. Errors from git or the file system are returned.
func CopyWorkingTree(root, dst string) error {
	files, err := workingTreeFiles(root)
	if err != nil {
		return err
	}
	for _, rel := range files {
		src := filepath.Join(root, rel)
		st, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree, not yet staged
		}
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			continue
		}
		if err := copyFile(src, filepath.Join(dst, rel), st.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func workingTreeFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch rel {
			case ".git", "bin", ".sandbox":
				return filepath.SkipDir
			}
			return nil
		}
		files = append(files, rel)
		return nil
	})
	return files, err
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
