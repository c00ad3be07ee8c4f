package pods

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/version"
)

// testFile is a file of a test image: a regular file (body, mode) or, with link set, a
// symbolic link.
type testFile struct {
	body string
	mode int64
	link string
}

// testImage is an image for platform p with files (path -> file) as its one layer and cfg as
// its run configuration.
func testImage(t *testing.T, p v1.Platform, files map[string]testFile, cfg v1.Config) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, f := range files {
		h := &tar.Header{Name: strings.TrimPrefix(n, "/"), Mode: f.mode, Typeflag: tar.TypeReg, Size: int64(len(f.body))}
		if f.link != "" {
			h = &tar.Header{Name: strings.TrimPrefix(n, "/"), Mode: 0o777, Typeflag: tar.TypeSymlink, Linkname: f.link}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil && f.link == "" {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = p.OS, p.Architecture, cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// push serves a registry on 127.0.0.1 (once per test) and pushes idx as repoTag.
func push(t *testing.T, host *string, repoTag string, img remote.Taggable) string {
	t.Helper()
	if *host == "" {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		t.Cleanup(srv.Close)
		*host = strings.TrimPrefix(srv.URL, "http://")
	}
	tag, err := name.NewTag(*host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	switch i := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(tag, i)
	case v1.Image:
		err = remote.Write(tag, i)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tag.String()
}

// index is an image index of imgs, each for the platform its configuration names.
func index(t *testing.T, imgs ...v1.Image) v1.ImageIndex {
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}}})
	}
	return mutate.AppendManifests(empty.Index, adds...)
}

// otherArch is an architecture that is not this machine's.
func otherArch() string {
	if runtime.GOARCH == "s390x" {
		return "amd64"
	}
	return "s390x"
}

// foreignELF is the header of a 64-bit little-endian ELF executable for another machine.
func foreignELF() string {
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	m := uint16(62) // x86-64
	if runtime.GOARCH == "amd64" {
		m = 183 // aarch64
	}
	binary.LittleEndian.PutUint16(h[16:], 2) // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], m)
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint16(h[52:], 64)
	return string(h)
}

// pushTestImages pushes the test images to a registry on 127.0.0.1 and returns its address and
// their references by name: good (an index for this platform and another, entrypoint a script
// that writes "$0 $* $GREETING" to $MARKER), path (entrypoint found through PATH and a symbolic
// link), relative (entrypoint relative to the working folder), other and other-single (an index
// and an image for another architecture only), missing, not-exec, foreign (an ELF executable
// for another machine), data, dangling (entrypoints that cannot run) and no-cmd.
func pushTestImages(t *testing.T) (string, map[string]string) {
	here := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	other := v1.Platform{OS: "linux", Architecture: otherArch()}
	script := "#!/bin/sh\necho \"$0 $* $GREETING\" > \"$MARKER\"\n"
	files := map[string]testFile{
		"/app/run.sh":     {body: script, mode: 0o755},
		"/app/other.sh":   {body: strings.Replace(script, "$0", "other", 1), mode: 0o755},
		"/usr/bin/entry":  {link: "../../app/run.sh"},
		"/app/plain.txt":  {body: "#!/bin/sh\n", mode: 0o644},
		"/app/foreign":    {body: foreignELF(), mode: 0o755},
		"/app/data":       {body: "just data", mode: 0o755},
		"/etc/motd":       {body: "hi", mode: 0o644},
		"/bin/not-a-file": {link: "/nowhere"},
	}
	cfg := func(entry ...string) v1.Config {
		return v1.Config{Entrypoint: entry, Cmd: []string{"from-image"}, Env: []string{"GREETING=hello-from-image", "PATH=/nothing:/usr/bin"}, WorkingDir: "/app"}
	}
	var host string
	refs := map[string]string{}
	refs["good"] = push(t, &host, "ctl:good", index(t, testImage(t, here, files, cfg("/app/run.sh")), testImage(t, other, nil, cfg("/x"))))
	refs["path"] = push(t, &host, "ctl:path", testImage(t, here, files, cfg("entry")))
	refs["relative"] = push(t, &host, "ctl:relative", testImage(t, here, files, cfg("./other.sh")))
	refs["other"] = push(t, &host, "ctl:other", index(t, testImage(t, other, files, cfg("/app/run.sh"))))
	refs["other-single"] = push(t, &host, "ctl:other-single", testImage(t, other, files, cfg("/app/run.sh")))
	refs["missing"] = push(t, &host, "ctl:missing", testImage(t, here, files, cfg("/usr/local/bin/terraform-provider-karpenter")))
	refs["not-exec"] = push(t, &host, "ctl:not-exec", testImage(t, here, files, cfg("/app/plain.txt")))
	refs["foreign"] = push(t, &host, "ctl:foreign", testImage(t, here, files, cfg("/app/foreign")))
	refs["data"] = push(t, &host, "ctl:data", testImage(t, here, files, cfg("/app/data")))
	refs["dangling"] = push(t, &host, "ctl:dangling", testImage(t, here, files, cfg("/bin/not-a-file")))
	refs["no-cmd"] = push(t, &host, "ctl:no-cmd", testImage(t, here, files, v1.Config{}))

	return host, refs
}

// The sandbox pulls an image from a loopback registry as a runtime does and runs the file its
// entrypoint names (extracted from the image, cached by digest) with the image's command and
// environment, a container's command and args overriding them; the default image runs
// Runner.Executable without a pull; an image without this platform, an entrypoint missing from
// the image, not executable, or not an executable for this machine leave the container
// waiting with the runtime's reason and no process.
func TestPrepareRunsTheImagesEntrypoint(t *testing.T) {
	_, refs := pushTestImages(t)
	good, viaPath, relative := refs["good"], refs["path"], refs["relative"]
	pod, cs, _, dir, r, creds := supervisedRunner(t)
	r.Executable = "/opt/bin/karpenter"
	run := func(c corev1.Container) string {
		t.Helper()
		marker := filepath.Join(dir, c.Name+".out")
		c.Env = append(c.Env, corev1.EnvVar{Name: "MARKER", Value: marker})
		img, fail := r.prepare(context.Background(), c)
		if fail != nil {
			t.Fatalf("%s: %+v", c.Image, fail)
		}
		if !strings.HasPrefix(img.exe, filepath.Join(r.StateDir, "images", "sha256-")) {
			t.Fatalf("%s: runs %s, not a file extracted under the state folder", c.Image, img.exe)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.superviseContainer(ctx, cs, pod, c, img, creds, r.Log); close(done) }()
		defer func() { cancel(); <-done }()
		for i := 0; i < 500; i++ {
			if b, err := os.ReadFile(marker); err == nil && strings.HasSuffix(string(b), "\n") {
				return strings.TrimSpace(string(b))
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: the image's entrypoint did not run", c.Image)
		return ""
	}
	for _, tc := range []struct {
		c    corev1.Container
		want string // $0 (base name) $* $GREETING
	}{
		{corev1.Container{Name: "a", Image: good}, "run.sh from-image hello-from-image"},
		{corev1.Container{Name: "b", Image: good, Args: []string{"from-args"}}, "run.sh from-args hello-from-image"},
		{corev1.Container{Name: "c", Image: good, Command: []string{"/app/other.sh"}}, "other  hello-from-image"}, // command drops the image's Cmd,
		{corev1.Container{Name: "d", Image: good, Env: []corev1.EnvVar{{Name: "GREETING", Value: "from-pod"}}}, "run.sh from-image from-pod"},
		{corev1.Container{Name: "e", Image: viaPath}, "entry from-image hello-from-image"},
		{corev1.Container{Name: "f", Image: relative}, "other from-image hello-from-image"},
	} {
		got := run(tc.c)
		gotArg0, gotRest, _ := strings.Cut(got, " ")
		wantArg0, wantRest, _ := strings.Cut(tc.want, " ")
		if !strings.HasSuffix(filepath.Base(gotArg0), wantArg0) || gotRest != wantRest {
			t.Errorf("%s (command %v, args %v): ran %q, want %q", tc.c.Image, tc.c.Command, tc.c.Args, got, tc.want)
		}
	}

	// Cached by digest: a second pull does not extract again.
	first, fail := r.prepare(context.Background(), corev1.Container{Name: "a", Image: good})
	if fail != nil {
		t.Fatal(fail)
	}
	if err := os.WriteFile(first.exe, []byte("#!/bin/sh\n# cached\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	again, fail := r.prepare(context.Background(), corev1.Container{Name: "a", Image: good})
	if b, _ := os.ReadFile(again.exe); fail != nil || again.exe != first.exe || !strings.Contains(string(b), "# cached") {
		t.Errorf("second pull: %+v %v, %q", again, fail, b)
	}

	// The default image of this build is not pulled: its entrypoint is Runner.Executable.
	if img, fail := r.prepare(context.Background(), corev1.Container{Image: version.ControllerImage()}); fail != nil || img.exe != r.Executable || img.config.Entrypoint[0] != img.argv0 {
		t.Errorf("default image: %+v, %v", img, fail)
	}

}

// TestPrepareFailsLikeARuntime: see TestPrepareRunsTheImagesEntrypoint.
func TestPrepareFailsLikeARuntime(t *testing.T) {
	host, refs := pushTestImages(t)
	r := &Runner{StateDir: t.TempDir()}
	for _, tc := range []struct{ image, reason, want string }{
		{refs["other"], ReasonErrImagePull, "no child with platform " + runtime.GOOS + "/" + runtime.GOARCH},
		{refs["other-single"], ReasonErrImagePull, "no matching manifest for " + runtime.GOOS + "/" + runtime.GOARCH},
		{host + "/ctl:absent", ReasonErrImagePull, "MANIFEST_UNKNOWN"},
		{"ghcr.io/nodeform/karpenter-controler:v1", ReasonErrImagePull, "loopback"},
		{"Bad Reference", ReasonErrImagePull, "invalid image reference"},
		{refs["missing"], ReasonRunContainerError, `exec: "/usr/local/bin/terraform-provider-karpenter": stat /usr/local/bin/terraform-provider-karpenter: no such file`},
		{refs["not-exec"], ReasonRunContainerError, "permission denied"},
		{refs["foreign"], ReasonRunContainerError, "exec format error"},
		{refs["data"], ReasonRunContainerError, "exec format error"},
		{refs["dangling"], ReasonRunContainerError, "no such file"},
		{refs["no-cmd"], ReasonCreateContainerError, "no command specified"},
	} {
		img, fail := r.prepare(context.Background(), corev1.Container{Name: "x", Image: tc.image})
		if img != nil || fail == nil || fail.Reason != tc.reason || !strings.Contains(fail.Message, tc.want) {
			t.Errorf("%s: %+v, %+v; want %s containing %q", tc.image, img, fail, tc.reason, tc.want)
		}
		if fail != nil && fail.Reason == ReasonErrImagePull && !strings.Contains(fail.Message, tc.image) {
			t.Errorf("%s: message %q does not name the image", tc.image, fail.Message)
		}
	}
}

// A container that cannot start is reported as a kubelet reports it: Waiting with the reason and
// message, the others ContainerCreating, the pod Pending and not Ready; reporting it again
// changes nothing.
func TestReportFailure(t *testing.T) {
	_, refs := pushTestImages(t)
	pod, cs, _, _, r, _ := supervisedRunner(t)
	pod.Spec.Containers = []corev1.Container{{Name: "controller", Image: refs["missing"]}, {Name: "sidecar", Image: version.ControllerImage()}}
	imgs, failed := r.prepareAll(context.Background(), pod.Spec.Containers)
	if len(failed) != 1 || failed["controller"].Reason != ReasonRunContainerError || imgs["sidecar"] == nil {
		t.Fatalf("prepared %v, failed %v", imgs, failed)
	}
	if err := reportFailure(context.Background(), cs, pod, failed); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := got.Status.ContainerStatuses
	if got.Status.Phase != corev1.PodPending || condition(got, corev1.PodReady) != corev1.ConditionFalse || len(st) != 2 ||
		st[0].State.Waiting == nil || st[0].State.Waiting.Reason != ReasonRunContainerError || !strings.Contains(st[0].State.Waiting.Message, "no such file") ||
		st[1].State.Waiting == nil || st[1].State.Waiting.Reason != "ContainerCreating" {
		t.Fatalf("status %+v", got.Status)
	}
	if !failureReported(got, failed) {
		t.Error("reported again")
	}
}
