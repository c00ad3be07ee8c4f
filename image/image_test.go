package image_test

import (
	"archive/tar"
	"errors"
	"io"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nodeform/terraform-provider-karpenter/image"
)

// TestIndex: the index holds one image per platform; each runs the binary at BinaryPath as
// the non-root user, holds that binary only (root-owned, not writable), and the same binaries
// give the same digest.
func TestIndex(t *testing.T) {
	bins := map[string][]byte{"amd64": []byte("amd64 binary"), "arm64": []byte("arm64 binary")}
	idx, err := image.Index(bins)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIImageIndex || len(m.Manifests) != len(image.Platforms) {
		t.Fatalf("index %s with %d manifests", m.MediaType, len(m.Manifests))
	}
	for _, desc := range m.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != "linux" || cf.Architecture != desc.Platform.Architecture {
			t.Errorf("config platform %s/%s, descriptor %v", cf.OS, cf.Architecture, desc.Platform)
		}
		if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{image.BinaryPath}) || !slices.Equal(cf.Config.Cmd, []string{"controller"}) {
			t.Errorf("config %+v", cf.Config)
		}
		checkLayer(t, img, desc.Platform.Architecture+" binary")
	}
	again, err := image.Index(bins)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := idx.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("digests differ: %s, %s", d1, d2)
	}
	if _, err := image.Index(map[string][]byte{"amd64": nil}); err == nil {
		t.Error("an index without an arm64 binary was built")
	}
	// The OCI layout round-trips.
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	read, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := read.IndexManifest()
	if len(rm.Manifests) != 1 || rm.Manifests[0].Digest != d1 {
		t.Errorf("layout holds %+v, want %s", rm.Manifests, d1)
	}
}

// TestArgv follows Kubernetes' rules for a container's command and args against the image.
func TestArgv(t *testing.T) {
	for _, tc := range []struct {
		command, args, want []string
	}{
		{nil, nil, []string{image.BinaryPath, "controller"}},
		{nil, []string{"controller", "--x"}, []string{image.BinaryPath, "controller", "--x"}},
		{[]string{"/bin/sh"}, nil, []string{"/bin/sh"}},
		{[]string{"/bin/sh", "-c"}, []string{"echo"}, []string{"/bin/sh", "-c", "echo"}},
	} {
		if got := image.Argv(tc.command, tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("command %v args %v: %v, want %v", tc.command, tc.args, got, tc.want)
		}
	}
}

// TestArgvFor: the same rules against another image's configuration; nothing to run is empty.
func TestArgvFor(t *testing.T) {
	cfg := v1.Config{Cmd: []string{"/app", "serve"}}
	for _, tc := range []struct {
		cfg                 v1.Config
		command, args, want []string
	}{
		{cfg, nil, nil, []string{"/app", "serve"}},
		{cfg, nil, []string{"/other"}, []string{"/other"}},
		{cfg, []string{"/bin/sh"}, nil, []string{"/bin/sh"}},
		{v1.Config{}, nil, nil, []string{}},
	} {
		if got := image.ArgvFor(tc.cfg, tc.command, tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("config %+v command %v args %v: %v, want %v", tc.cfg, tc.command, tc.args, got, tc.want)
		}
	}
}

// checkLayer checks that img's one layer holds the folders of BinaryPath and the binary, with
// content want, root-owned and not writable.
func checkLayer(t *testing.T, img v1.Image, want string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(rc)
	var files []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, h.Name)
		if h.Typeflag == tar.TypeReg {
			body, _ := io.ReadAll(tr)
			if "/"+h.Name != image.BinaryPath || string(body) != want || h.Mode != 0o555 || h.Uid != 0 {
				t.Errorf("file %s mode %o uid %d: %q", h.Name, h.Mode, h.Uid, body)
			}
		}
	}
	if len(files) != 4 {
		t.Errorf("layer files %v", files)
	}
}
