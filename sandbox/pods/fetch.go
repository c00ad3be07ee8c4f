package pods

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/image"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

// runnable is how the processes of a container run: the run configuration of its image and
// the local executable that stands for the first word of its command line.
type runnable struct {
	config v1.Config
	// exe is the local executable run. When argv0 is set, exe runs only for a command line
	// whose first word is argv0, and any other first word runs as given (the default image,
	// whose one file is image.BinaryPath); else exe runs whatever the first word (a pulled
	// image's file, extracted).
	argv0, exe string
}

// builtinImage is the run configuration of version.ControllerImage(), which the sandbox does
// not pull: image.Config, with exe standing for image.BinaryPath.
func builtinImage(exe string) *runnable {
	return &runnable{config: image.Config(), argv0: image.BinaryPath, exe: exe}
}

// defaultPath is the PATH a runtime searches when the image's environment sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// loopbackRef parses ref and checks that its registry is on a loopback address (localhost,
// 127.0.0.0/8, ::1). Errors: an invalid reference, another registry.
func loopbackRef(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference: %w", err)
	}
	host := r.Context().RegistryStr()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("the sandbox pulls from no registry but loopback ones (only %s is built in)", version.ControllerImage())
	}
	return r, nil
}

// prepare pulls the image of container c as a runtime would (see pull.go) and returns how its
// processes run, or why c cannot start (ErrImagePull: the image cannot be pulled or has no
// manifest for this platform; CreateContainerError: no command; RunContainerError: the
// command's first word names no executable file of the image for this machine).
func (r *Runner) prepare(ctx context.Context, c corev1.Container) (*runnable, *containerFailure) {
	if c.Image == version.ControllerImage() {
		return builtinImage(r.Executable), nil
	}
	pullErr := func(err error) *containerFailure {
		return &containerFailure{Reason: ReasonErrImagePull, Message: fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)}
	}
	ref, err := loopbackRef(c.Image)
	if err != nil {
		return nil, pullErr(err)
	}
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	platform := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithPlatform(platform))
	if err != nil {
		return nil, pullErr(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, pullErr(fmt.Errorf("image configuration: %w", err))
	}
	// A single-platform image (no index) of another platform: containerd refuses it too.
	if cf.OS != platform.OS || cf.Architecture != platform.Architecture {
		return nil, pullErr(fmt.Errorf("no matching manifest for %s/%s: the image is for %q/%q", platform.OS, platform.Architecture, cf.OS, cf.Architecture))
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, pullErr(err)
	}
	argv := image.ArgvFor(cf.Config, c.Command, c.Args)
	if len(argv) == 0 || argv[0] == "" {
		return nil, &containerFailure{Reason: ReasonCreateContainerError, Message: "Error: failed to generate container spec: no command specified (neither the container's command nor the image's entrypoint and command)"}
	}
	exe, fail := r.extract(ctx, img, digest, argv[0], cf.Config)
	if fail != nil {
		if fail.Reason == ReasonErrImagePull {
			fail.Message = fmt.Sprintf("Failed to pull image %q: %s", c.Image, fail.Message)
		}
		return nil, fail
	}
	return &runnable{config: cf.Config, exe: exe}, nil
}

// extract returns a local copy (mode 0755) of the executable file argv0 names in img's
// filesystem (its layers flattened), found as a runtime finds it: an absolute path, a path
// relative to cfg.WorkingDir, or a name searched in the PATH of cfg.Env; symbolic and hard
// links are followed within the image. The copy is cached as
// <StateDir>/images/<digest algorithm>-<hex>/<key>-<name>, where key hashes argv0 and the
// lookup settings: a second call does not read the layers. Failures: ErrImagePull (the layers
// cannot be read; message without the image), RunContainerError (no such file, not
// executable, not an executable for this machine).
func (r *Runner) extract(ctx context.Context, img v1.Image, digest v1.Hash, argv0 string, cfg v1.Config) (string, *containerFailure) {
	candidates := lookupCandidates(argv0, cfg)
	sum := sha256.Sum256([]byte(argv0 + "\x00" + strings.Join(candidates, "\x00")))
	dir := filepath.Join(r.StateDir, "images", digest.Algorithm+"-"+digest.Hex)
	dst := filepath.Join(dir, hex.EncodeToString(sum[:6])+"-"+path.Base(argv0))
	cached := func() bool { fi, err := os.Stat(dst); return err == nil && fi.Mode().IsRegular() }
	if cached() {
		return dst, nil
	}
	r.pullMu.Lock() // one extraction at a time: replicas of a pod share the copy
	defer r.pullMu.Unlock()
	if cached() {
		return dst, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", &containerFailure{Reason: ReasonErrImagePull, Message: err.Error()}
	}
	runErr := func(format string, a ...any) *containerFailure {
		return &containerFailure{Reason: ReasonRunContainerError, Message: "OCI runtime create failed: unable to start container process: " + fmt.Sprintf(format, a...)}
	}
	want := map[string]bool{}
	for _, c := range candidates {
		want[tarName(c)] = true
	}
	fs, err := scanImage(ctx, img, want, dir)
	defer fs.cleanup()
	if err != nil {
		return "", &containerFailure{Reason: ReasonErrImagePull, Message: fmt.Sprintf("reading the image's layers: %v", err)}
	}
	for _, c := range candidates {
		n := fs.resolve(c)
		mode, ok := fs.files[n]
		if !ok {
			continue
		}
		tmp, ok := fs.extracted[n]
		if !ok { // reached through a link: read the layers again for that one file
			again, err := scanImage(ctx, img, map[string]bool{n: true}, dir)
			defer again.cleanup()
			if err != nil || again.extracted[n] == "" {
				return "", &containerFailure{Reason: ReasonErrImagePull, Message: fmt.Sprintf("reading the image's layers: %v", err)}
			}
			tmp = again.extracted[n]
		}
		if mode&0o111 == 0 {
			return "", runErr("exec: %q: permission denied (/%s is not executable: mode %o)", argv0, n, mode&0o7777)
		}
		if err := checkExecutable(tmp); err != nil {
			return "", runErr("exec %s (/%s): %v", argv0, n, err)
		}
		if err := os.Chmod(tmp, 0o755); err != nil {
			return "", runErr("%v", err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return "", runErr("%v", err)
		}
		return dst, nil
	}
	if strings.Contains(argv0, "/") {
		return "", runErr("exec: %q: stat %s: no such file or directory in the image", argv0, candidates[0])
	}
	return "", runErr("exec: %q: executable file not found in $PATH (%s) of the image", argv0, path.Dir(candidates[0])+", ...")
}

// lookupCandidates returns the absolute paths in the image where a runtime looks for argv0:
// argv0 itself when absolute, argv0 under cfg.WorkingDir when it holds a slash, else argv0 in
// each folder of the PATH of cfg.Env (defaultPath when it sets none), in order.
func lookupCandidates(argv0 string, cfg v1.Config) []string {
	wd := cfg.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if strings.Contains(argv0, "/") {
		if path.IsAbs(argv0) {
			return []string{path.Clean(argv0)}
		}
		return []string{path.Join("/", wd, argv0)}
	}
	pathEnv := defaultPath
	for _, kv := range cfg.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	var out []string
	for _, d := range strings.Split(pathEnv, ":") {
		if d == "" {
			continue
		}
		if !path.IsAbs(d) {
			d = path.Join("/", wd, d)
		}
		out = append(out, path.Join(d, argv0))
	}
	if len(out) == 0 {
		out = []string{path.Join("/usr/bin", argv0)}
	}
	return out
}

// tarName is p as a name in a layer's tar: cleaned, without a leading slash.
func tarName(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// imageFS indexes an image's flattened filesystem: regular files (name -> mode), links (name
// -> target: a symbolic link's as written, a hard link's as "/<name>"), and regular files copied
// out (name -> local temporary file).
type imageFS struct {
	files     map[string]int64
	links     map[string]string
	extracted map[string]string
}

func (f *imageFS) cleanup() {
	for _, p := range f.extracted {
		_ = os.Remove(p)
	}
}

// scanImage reads img's flattened filesystem once, indexing it and copying the regular files
// named in want into temporary files in dir. Errors: the layers cannot be read or the copies
// written; fs holds the copies made so far (for cleanup).
func scanImage(ctx context.Context, img v1.Image, want map[string]bool, dir string) (*imageFS, error) {
	fs := &imageFS{files: map[string]int64{}, links: map[string]string{}, extracted: map[string]string{}}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		if err := ctx.Err(); err != nil {
			return fs, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fs, nil
		}
		if err != nil {
			return fs, err
		}
		n := tarName(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			fs.links[n] = hdr.Linkname
		case tar.TypeLink:
			fs.links[n] = "/" + tarName(hdr.Linkname)
		case tar.TypeReg:
			fs.files[n] = hdr.Mode
			if !want[n] {
				continue
			}
			f, err := os.CreateTemp(dir, ".extract-*")
			if err != nil {
				return fs, err
			}
			fs.extracted[n] = f.Name()
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fs, err
			}
		}
	}
}

// resolve follows the links of p's components within the image (at most 40) and returns the
// tar name p stands for; "" for a loop.
func (f *imageFS) resolve(p string) string {
	parts := strings.Split(tarName(p), "/")
	cur := ""
	for hops := 0; len(parts) > 0; {
		cur = path.Join(cur, parts[0])
		parts = parts[1:]
		t, ok := f.links[cur]
		if !ok {
			continue
		}
		if hops++; hops > 40 {
			return ""
		}
		if !path.IsAbs(t) {
			t = path.Join("/", path.Dir(cur), t)
		}
		parts = append(strings.Split(tarName(t), "/"), parts...)
		cur = ""
	}
	return cur
}

// elfMachines is the ELF machine of each GOARCH an executable must be built for.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "ppc64": elf.EM_PPC64, "s390x": elf.EM_S390,
	"loong64": elf.EM_LOONGARCH,
}

// machoCPUs is the Mach-O CPU type of each GOARCH on macOS.
var machoCPUs = map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}

// checkExecutable reports whether the file at p can run on this machine: a "#!" script, or an
// executable of this OS's format (ELF on Linux, Mach-O on macOS) for runtime.GOARCH. Errors
// read "exec format error" with what the file is.
func checkExecutable(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err == nil && bytes.Equal(head, []byte("#!")) {
		return nil
	}
	switch runtime.GOOS {
	case "linux":
		ef, err := elf.NewFile(f)
		if err != nil {
			return errors.New("exec format error: not an ELF executable nor a #! script")
		}
		if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
			return fmt.Errorf("exec format error: ELF file of type %s", ef.Type)
		}
		if m, ok := elfMachines[runtime.GOARCH]; ok && ef.Machine != m {
			return fmt.Errorf("exec format error: an ELF executable for %s, this machine is %s", ef.Machine, runtime.GOARCH)
		}
	case "darwin":
		mf, err := macho.NewFile(f)
		if err != nil {
			return errors.New("exec format error: not a Mach-O executable nor a #! script")
		}
		if c, ok := machoCPUs[runtime.GOARCH]; ok && mf.Cpu != c {
			return fmt.Errorf("exec format error: a Mach-O executable for %s, this machine is %s", mf.Cpu, runtime.GOARCH)
		}
	}
	return nil
}
