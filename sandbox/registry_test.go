package sandbox

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startRegistry starts serveRegistry on any free port until ctx ends and returns its address
// (from its output; "" when it printed none within 2 s) and where its error arrives.
func startRegistry(ctx context.Context, t *testing.T) (string, chan error) {
	t.Helper()
	var out syncBuffer
	errc := make(chan error, 1)
	go func() { errc <- serveRegistry(ctx, &out, 0, false) }()
	var addr string
	for i := 0; i < 200 && addr == ""; i++ {
		if rest, ok := strings.CutPrefix(out.String(), "registry serving on "); ok {
			addr, _, _ = strings.Cut(rest, " ")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return addr, errc
}

// `sandbox registry` serves a registry on 127.0.0.1 that takes a push and serves it back, prints
// its address, stops when its context ends, and says so when the port is taken.
func TestServeRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, errc := startRegistry(ctx, t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("no address printed: %q", addr)
	}
	tag, err := name.NewTag(addr + "/karpenter-controller:dev")
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(64, 1)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(tag); err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimPrefix(addr, "127.0.0.1:"))
	if err != nil {
		t.Fatal(err)
	}
	var taken syncBuffer
	if err := serveRegistry(ctx, &taken, port, false); err == nil || !strings.Contains(err.Error(), "--port") {
		t.Errorf("second registry on %s: %v", addr, err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("registry did not stop")
	}
}

// A connection still sending its request when the registry stops (a client's half-written
// request, or a keep-alive connection a loaded machine has not seen go idle) does not make
// stopping fail: after the grace period it is closed (TestServeRegistry once failed on a
// loaded CI machine with "context deadline exceeded").
func TestServeRegistryStopsWithAConnectionOpen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, errc := startRegistry(ctx, t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /v2/ HTTP/1.1\r\nHost: x\r\n")); err != nil { // headers not ended
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("stopping with a connection open: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("registry did not stop")
	}
}
