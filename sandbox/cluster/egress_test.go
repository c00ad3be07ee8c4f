package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apiserver/pkg/server/egressselector"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// fakeLookup maps "<namespace>/<pod>/<container port>" to a local address.
type fakeLookup map[string]string

func (f fakeLookup) LocalAddr(namespace, pod string, containerPort int32) (string, bool) {
	addr, ok := f[namespace+"/"+pod+"/"+strconv.Itoa(int(containerPort))]
	return addr, ok
}

// echoServer accepts on a free loopback port and echoes every connection back.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// connect sends CONNECT target over conn as kube-apiserver's egress dialer does and returns the
// response status and body (nil error: the tunnel is open on conn).
func connect(t *testing.T, conn net.Conn, target string) (int, string) {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "CONNECT "+target+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		return res.StatusCode, ""
	}
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(body))
}

// assertEcho checks that a line written to conn comes back.
func assertEcho(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	if _, err := io.WriteString(conn, "ping "+what+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "ping "+what+"\n" {
		t.Fatalf("%s: echo %q %v", what, line, err)
	}
}

func webhookService(name, clusterIP string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "karpenter"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, ClusterIPs: []string{clusterIP},
			Ports: []corev1.ServicePort{{Name: "https-webhook", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("https-webhook")}}}}
}

func endpointSlice(name, service string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "karpenter", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https-webhook"), Port: ptr.To[int32](8443), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints:   eps,
	}
}

func podEndpoint(ip, pod string, ready bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "karpenter", Name: pod}}
}

// The proxy resolves a ClusterIP like kube-proxy, down to the local address of a ready pod's
// container port; it forwards loopback targets as they are, answers 503 while it cannot know
// (before Watch and SetLookup) or no endpoint is served, 502 for anything else, and tries the
// next endpoint when one does not answer.
func TestEgressProxyResolvesServices(t *testing.T) {
	echo := echoServer(t)
	kube := fake.NewClientset(
		webhookService("karpenter", "10.96.10.1"),
		endpointSlice("karpenter-a", "karpenter", podEndpoint("10.244.0.7", "karpenter-0", true),
			podEndpoint("10.244.0.8", "karpenter-1", false), podEndpoint("10.244.0.9", "karpenter-2", true)),
		webhookService("no-endpoints", "10.96.10.2"),
		endpointSlice("no-endpoints-a", "no-endpoints", podEndpoint("10.244.0.10", "karpenter-1", false)),
	)
	p := NewEgressProxy(nil, nil)
	addr, err := p.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	try := func(target string) (net.Conn, int, string) {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		code, body := connect(t, conn, target)
		return conn, code, body
	}
	expect := func(target string, code int, reason string) {
		t.Helper()
		if _, got, body := try(target); got != code || !strings.Contains(body, reason) {
			t.Errorf("CONNECT %s: %d %q, want %d %q", target, got, body, code, reason)
		}
	}

	conn, code, body := try(echo)
	if code != http.StatusOK {
		t.Fatalf("CONNECT to loopback %s: %d %s", echo, code, body)
	}
	assertEcho(t, conn, "loopback")
	expect("10.96.10.1:443", http.StatusServiceUnavailable, "Services not known yet")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Watch(ctx, kube); err != nil {
		t.Fatal(err)
	}
	expect("10.96.10.1:443", http.StatusServiceUnavailable, "no pods run yet")
	// karpenter-0 does not answer, karpenter-1 is not ready, karpenter-2 is the echo server.
	p.SetLookup(fakeLookup{"karpenter/karpenter-0/8443": deadAddr(t), "karpenter/karpenter-1/8443": echo,
		"karpenter/karpenter-2/8443": echo})
	for i := range 3 { // whichever endpoint round robin starts at
		conn, code, body := try("10.96.10.1:443")
		if code != http.StatusOK {
			t.Fatalf("CONNECT to the ClusterIP (%d): %d %s", i, code, body)
		}
		assertEcho(t, conn, "service "+strconv.Itoa(i))
	}

	expect("10.96.10.2:443", http.StatusServiceUnavailable, "Service karpenter/no-endpoints port 443 has no ready endpoint served by a local process")
	expect("10.96.10.1:80", http.StatusBadGateway, "Service karpenter/karpenter has no TCP port 80")
	expect("10.96.99.99:443", http.StatusBadGateway, "10.96.99.99 is not a loopback address or the ClusterIP of a Service")
	expect("192.0.2.1:443", http.StatusBadGateway, "not a loopback address")
	expect("karpenter.karpenter.svc:443", http.StatusBadGateway, "not an IP address and port")
	expect(deadAddr(t), http.StatusBadGateway, "connection refused")

	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", res.StatusCode)
	}
}

// The proxy's EgressSelectorConfiguration file and TLS set-up work with kube-apiserver's own
// egress dialer (k8s.io/apiserver's egressselector, as the API server reads the file), which
// dials a loopback target through it; a client without the API server's certificate is refused.
func TestEgressProxyWithAPIServerDialer(t *testing.T) {
	dir := t.TempDir()
	ca, err := newCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	caPath, _, err := ca.write(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.issue("egress", nil, true, []net.IP{net.ParseIP("127.0.0.1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.issue("kube-apiserver-egress", nil, false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	clientCrt, clientKey, err := client.write(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := egressTLSConfig(ca, serving)
	if err != nil {
		t.Fatal(err)
	}
	p := NewEgressProxy(tlsCfg, nil)
	addr, err := p.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	path := filepath.Join(dir, "egress-selector.yaml")
	if err := writeEgressSelectorConfig(path, "https://"+addr, caPath, clientCrt, clientKey); err != nil {
		t.Fatal(err)
	}

	cfg, err := egressselector.ReadEgressSelectorConfiguration(path)
	if err != nil {
		t.Fatal(err)
	}
	if errs := egressselector.ValidateEgressSelectorConfiguration(cfg); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	sel, err := egressselector.NewEgressSelector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dial, err := sel.Lookup(egressselector.Cluster.AsNetworkContext())
	if err != nil || dial == nil {
		t.Fatalf("cluster egress dialer: %v", err)
	}
	echo := echoServer(t)
	conn, err := dial(context.Background(), "tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	assertEcho(t, conn, "through the API server's dialer")
	if _, err := dial(context.Background(), "tcp", "10.96.99.99:443"); err == nil || !strings.Contains(err.Error(), "code 503") {
		t.Errorf("dial to an unknown ClusterIP before Watch: %v", err)
	}

	anon, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: tlsCfg.ClientCAs})
	if err == nil {
		// TLS 1.3 reports the missing client certificate on the first read.
		_, _ = io.WriteString(anon, "CONNECT "+echo+" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		_, err = http.ReadResponse(bufio.NewReader(anon), nil)
		anon.Close()
	}
	if err == nil {
		t.Error("a client without a certificate was served")
	}
}
