package sandboxtest

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nodeform/terraform-provider-karpenter/image"
)

var (
	registryOnce sync.Once
	registryHost string
)

// LoopbackRegistry returns the address ("127.0.0.1:<port>") of an in-memory registry
// (go-containerregistry's pkg/registry), started on the first call and kept until the test
// binary exits.
func LoopbackRegistry() string {
	registryOnce.Do(func() {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		registryHost = strings.TrimPrefix(srv.URL, "http://")
	})
	return registryHost
}

// PushImage pushes img (a v1.Image or a v1.ImageIndex) as repoTag (a repository path and tag
// such as "nodeform/karpenter-controller:v1") to LoopbackRegistry and returns its reference
// ("127.0.0.1:<port>/<repoTag>"). It fails t if the push fails.
func PushImage(t testing.TB, repoTag string, img remote.Taggable) string {
	t.Helper()
	ref := LoopbackRegistry() + "/" + repoTag
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatalf("image reference %s: %v", ref, err)
	}
	switch i := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(tag, i)
	case v1.Image:
		err = remote.Write(tag, i)
	default:
		t.Fatalf("push %s: %T is neither an image nor an index", ref, img)
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

// LoopbackImage pushes the controller image of the binary $KARPENTER_BIN as repoTag to
// LoopbackRegistry and returns its reference ("127.0.0.1:<port>/<repoTag>"): an image index,
// as `make image-push` pushes, with one image for this machine's platform built by package
// image (the binary at image.BinaryPath, image.Config). The sandbox pulls it and runs its
// entrypoint, the binary. It fails t if KARPENTER_BIN is unset or unreadable or the push fails.
func LoopbackImage(t testing.TB, repoTag string) string {
	t.Helper()
	binPath := os.Getenv("KARPENTER_BIN")
	if binPath == "" {
		t.Fatal("LoopbackImage: KARPENTER_BIN is unset (the controller binary the image holds)")
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatalf("LoopbackImage: %v", err)
	}
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	img, err := image.Build(bin, p)
	if err != nil {
		t.Fatalf("LoopbackImage: build: %v", err)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	return PushImage(t, repoTag, idx)
}
