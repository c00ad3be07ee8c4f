package sandboxtest

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

var (
	registryOnce sync.Once
	registryHost string
)

// LoopbackImage pushes a small random image as repoTag (a repository path and tag such as
// "nodeform/karpenter-controller:v1") to an in-memory registry on 127.0.0.1, started once per
// test binary and kept until it exits, and returns the image's reference
// ("127.0.0.1:<port>/<repoTag>"): an image the sandbox can provide (pods.CanProvide), which it
// runs as the controller executable. It fails t if the push fails.
func LoopbackImage(t testing.TB, repoTag string) string {
	t.Helper()
	registryOnce.Do(func() {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		registryHost = strings.TrimPrefix(srv.URL, "http://")
	})
	ref := registryHost + "/" + repoTag
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatalf("image reference %s: %v", ref, err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatalf("random image: %v", err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}
