package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// LocalAddrLookup finds the loopback address serving a container port of a running pod
// (sandbox/pods.Runner implements it).
type LocalAddrLookup interface {
	LocalAddr(namespace, pod string, containerPort int32) (addr string, ok bool)
}

// EgressProxy is the HTTP CONNECT proxy kube-apiserver's "cluster" egress goes through
// (--egress-selector-config-file): the sandbox's kube-proxy. The API server reaches a
// Service-referenced webhook by CONNECT <clusterIP>:<port> (its ClusterIP service resolver);
// no pod IP exists on this host, so the proxy resolves the target as kube-proxy would (the
// Service with that ClusterIP, its port, the ready endpoints of its EndpointSlices) down to a
// pod and container port, and the LocalAddrLookup to the loopback address where the pod's
// process serves it. A CONNECT to a loopback address is forwarded as is; every other target is
// refused (502), as is a Service no local process serves (503): the proxy never dials off this
// host.
type EgressProxy struct {
	log    *slog.Logger
	tlsCfg *tls.Config

	mu       sync.RWMutex
	lookup   LocalAddrLookup
	services cache.Indexer // nil until Watch has synced
	slices   cache.Indexer
	stop     func() // stops the informers
	ln       net.Listener
	srv      *http.Server
	tunnels  map[net.Conn]struct{} // hijacked client connections, closed by Close
	closed   bool

	next atomic.Uint32 // round robin over a Service's endpoints
	wg   sync.WaitGroup
}

// egressDialTimeout bounds one dial of an endpoint; the next one is tried after it.
const egressDialTimeout = 3 * time.Second

// Index names of the proxy's informers.
const (
	clusterIPIndex = "clusterIP"   // Service by each of spec.clusterIPs
	serviceIndex   = "serviceName" // EndpointSlice by "<namespace>/<kubernetes.io/service-name>"
)

// NewEgressProxy returns a proxy that serves TLS with tlsCfg (nil: plain HTTP) and logs what it
// refuses to log (nil discards). It answers 503 until Watch and SetLookup are done.
func NewEgressProxy(tlsCfg *tls.Config, log *slog.Logger) *EgressProxy {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &EgressProxy{log: log, tlsCfg: tlsCfg, tunnels: map[net.Conn]struct{}{}}
}

// Start listens on addr (a loopback host:port; port 0 picks a free one) and serves CONNECT
// requests until Close. It returns the address listened on. Errors: addr not on loopback, the
// listen failing, or the proxy already started or closed.
func (p *EgressProxy) Start(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("egress proxy: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("egress proxy: %s is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("egress proxy: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil || p.closed {
		ln.Close()
		return "", errors.New("egress proxy: already started or closed")
	}
	p.ln = ln
	// HTTP/1.1 only: CONNECT hijacks the connection, which HTTP/2 cannot.
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, TLSConfig: p.tlsCfg,
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)}
	srv := p.srv
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if p.tlsCfg != nil {
			_ = srv.ServeTLS(ln, "", "")
		} else {
			_ = srv.Serve(ln)
		}
	}()
	return ln.Addr().String(), nil
}

// Watch starts informers on Services and EndpointSlices with kube and returns once they have
// synced; they run until Close. Errors: ctx ends before they sync, or the proxy is closed.
func (p *EgressProxy) Watch(ctx context.Context, kube kubernetes.Interface) error {
	factory := informers.NewSharedInformerFactory(kube, 0)
	svcInf := factory.Core().V1().Services().Informer()
	sliceInf := factory.Discovery().V1().EndpointSlices().Informer()
	if err := svcInf.AddIndexers(cache.Indexers{clusterIPIndex: serviceClusterIPs}); err != nil {
		return err
	}
	if err := sliceInf.AddIndexers(cache.Indexers{serviceIndex: sliceService}); err != nil {
		return err
	}
	stopCh := make(chan struct{})
	stop := func() { close(stopCh); factory.Shutdown() }
	factory.Start(stopCh)
	if !cache.WaitForCacheSync(ctx.Done(), svcInf.HasSynced, sliceInf.HasSynced) {
		stop()
		return fmt.Errorf("egress proxy: Service and EndpointSlice informers not synced: %w", ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.stop != nil {
		stop()
		return errors.New("egress proxy: closed or already watching")
	}
	p.services, p.slices, p.stop = svcInf.GetIndexer(), sliceInf.GetIndexer(), stop
	return nil
}

func serviceClusterIPs(obj any) ([]string, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil
	}
	var ips []string
	for _, ip := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
		if parsed := net.ParseIP(ip); parsed != nil && !slices.Contains(ips, parsed.String()) {
			ips = append(ips, parsed.String())
		}
	}
	return ips, nil
}

func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

// SetLookup sets where pods' container ports are served; until then a CONNECT to a Service
// gets 503. Safe to call while serving.
func (p *EgressProxy) SetLookup(l LocalAddrLookup) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lookup = l
}

// Close stops listening, stops the informers, closes the open tunnels and waits for them.
// Safe to call twice.
func (p *EgressProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	srv, stop := p.srv, p.stop
	p.stop = nil
	for c := range p.tunnels {
		_ = c.Close()
	}
	p.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	if stop != nil {
		stop()
	}
	p.wg.Wait()
	return err
}

// refusal is why a CONNECT target cannot be served: its HTTP status and a short reason.
type refusal struct {
	code   int
	reason string
}

func refuse(code int, format string, a ...any) *refusal {
	return &refusal{code: code, reason: fmt.Sprintf(format, a...)}
}

// ServeHTTP serves one CONNECT: it resolves the target, dials the first backend that answers
// and splices the two connections. Anything else gets 405.
func (p *EgressProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		p.fail(w, r, refuse(http.StatusMethodNotAllowed, "only CONNECT is served"))
		return
	}
	backends, why := p.resolve(r.URL.Host)
	if why != nil {
		p.fail(w, r, why)
		return
	}
	backend, why := p.dial(r.Context(), backends)
	if why != nil {
		p.fail(w, r, why)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		backend.Close()
		p.fail(w, r, refuse(http.StatusInternalServerError, "connection cannot be hijacked"))
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		backend.Close()
		p.log.Warn("egress proxy: hijack", "target", r.URL.Host, "err", err)
		return
	}
	if !p.track(client) {
		client.Close()
		backend.Close()
		return
	}
	go func() {
		defer p.wg.Done()
		defer p.untrack(client)
		_ = client.SetDeadline(time.Time{})
		if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			client.Close()
			backend.Close()
			return
		}
		splice(client, buf.Reader, backend)
	}()
}

// track registers a hijacked connection for Close and its tunnel in wg (the caller runs it
// and calls wg.Done); false if the proxy is closing.
func (p *EgressProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.tunnels[c] = struct{}{}
	p.wg.Add(1)
	return true
}

func (p *EgressProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.tunnels, c)
}

// fail answers why and logs it: a refused CONNECT is a webhook the API server cannot call.
func (p *EgressProxy) fail(w http.ResponseWriter, r *http.Request, why *refusal) {
	p.log.Warn("egress proxy: refused", "method", r.Method, "target", r.URL.Host, "code", why.code, "reason", why.reason)
	http.Error(w, why.reason, why.code)
}

// resolve maps a CONNECT target (host:port) to the loopback addresses that may serve it, in the
// order to try them: a loopback target itself, else the local addresses of the ready
// endpoints of the Service whose ClusterIP it is (starting at the next in round robin).
func (p *EgressProxy) resolve(target string) ([]string, *refusal) {
	host, portStr, err := net.SplitHostPort(target)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "bad CONNECT target %q", target)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	ip := net.ParseIP(host)
	if err != nil || port == 0 || ip == nil {
		return nil, refuse(http.StatusBadGateway, "%s is not an IP address and port", target)
	}
	if ip.IsLoopback() {
		return []string{net.JoinHostPort(ip.String(), portStr)}, nil
	}
	p.mu.RLock()
	services, sliceIdx, lookup := p.services, p.slices, p.lookup
	p.mu.RUnlock()
	if services == nil {
		return nil, refuse(http.StatusServiceUnavailable, "Services not known yet")
	}
	objs, _ := services.ByIndex(clusterIPIndex, ip.String())
	if len(objs) == 0 {
		return nil, refuse(http.StatusBadGateway, "%s is not a loopback address or the ClusterIP of a Service", ip)
	}
	svc := objs[0].(*corev1.Service)
	name := svc.Namespace + "/" + svc.Name
	i := slices.IndexFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool {
		return sp.Port == int32(port) && (sp.Protocol == "" || sp.Protocol == corev1.ProtocolTCP)
	})
	if i < 0 {
		return nil, refuse(http.StatusBadGateway, "Service %s has no TCP port %d", name, port)
	}
	if lookup == nil {
		return nil, refuse(http.StatusServiceUnavailable, "no pods run yet")
	}
	objs, _ = sliceIdx.ByIndex(serviceIndex, name)
	addrs := endpointAddrs(objs, svc.Spec.Ports[i].Name, lookup)
	if len(addrs) == 0 {
		return nil, refuse(http.StatusServiceUnavailable, "Service %s port %d has no ready endpoint served by a local process", name, port)
	}
	start := int(p.next.Add(1) % uint32(len(addrs)))
	return append(addrs[start:], addrs[:start]...), nil
}

// endpointAddrs returns the local addresses of the ready Pod endpoints of sliceObjs for the
// Service port named portName (EndpointSlice ports carry the Service port's name and the
// endpoints' port number), each once, in a stable order.
func endpointAddrs(sliceObjs []any, portName string, lookup LocalAddrLookup) []string {
	var addrs []string
	for _, obj := range sliceObjs {
		s := obj.(*discoveryv1.EndpointSlice)
		var port *int32
		for _, ep := range s.Ports {
			if ptrVal(ep.Name) == portName && (ep.Protocol == nil || *ep.Protocol == corev1.ProtocolTCP) {
				port = ep.Port
			}
		}
		if port == nil {
			continue
		}
		for _, ep := range s.Endpoints {
			// An unknown readiness counts as ready, as the EndpointSlice API asks.
			if (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) || ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" {
				continue
			}
			ns := ep.TargetRef.Namespace
			if ns == "" {
				ns = s.Namespace
			}
			if addr, ok := lookup.LocalAddr(ns, ep.TargetRef.Name, *port); ok && !slices.Contains(addrs, addr) {
				addrs = append(addrs, addr)
			}
		}
	}
	slices.Sort(addrs)
	return addrs
}

func ptrVal[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// dial connects to the first of addrs that answers. Only loopback addresses are dialled: a
// lookup answering anything else is a bug, and the sandbox must never reach off this host.
func (p *EgressProxy) dial(ctx context.Context, addrs []string) (net.Conn, *refusal) {
	var errs []error
	for _, addr := range addrs {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			errs = append(errs, fmt.Errorf("%s is not a loopback address", addr))
			continue
		}
		d := net.Dialer{Timeout: egressDialTimeout}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, refuse(http.StatusBadGateway, "%v", errors.Join(errs...))
}

// splice copies client (read through its buffered reader br) to backend and backend to client
// until both directions end, then closes both. A direction that ends with EOF half-closes its
// destination, so a response may still flow the other way; one that fails closes both.
func splice(client net.Conn, br *bufio.Reader, backend net.Conn) {
	var once sync.Once
	closeBoth := func() { once.Do(func() { client.Close(); backend.Close() }) }
	defer closeBoth()
	pipe := func(dst net.Conn, src io.Reader) {
		_, err := io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
			if cw.CloseWrite() == nil {
				return
			}
		}
		closeBoth()
	}
	done := make(chan struct{})
	go func() { defer close(done); pipe(backend, br) }()
	pipe(client, backend)
	<-done
}
