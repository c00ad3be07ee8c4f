// Package cluster starts the sandbox's Kubernetes control plane as local processes on
// 127.0.0.1: etcd, kube-apiserver (TLS, client-certificate authentication against a CA made
// here, Node+RBAC authorization, NodeRestriction admission, ServiceAccount token signing with
// an https issuer that is the API server itself), kube-controller-manager, kube-scheduler and
// kwok (the kubelet stand-in for Nodes annotated kwok.x-k8s.io/node=fake). The API server's
// traffic to the cluster (Service-referenced webhooks) goes through an EgressProxy in this
// process, which stands in for kube-proxy.
//
// Once started, every component is supervised (proc.Supervisor): one that exits is restarted
// with the same command line, with backoff, until it exits too often (Config.Restart); a
// component that exits while Start is still running fails Start instead, naming its log.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/proc"
)

//go:embed kwok-stages.yaml
var kwokStages []byte

// KwokNodeAnnotation marks the Nodes kwok manages (key=value).
const (
	KwokNodeAnnotationKey   = "kwok.x-k8s.io/node"
	KwokNodeAnnotationValue = "fake"
)

// ServiceClusterIPRange is the Service CIDR of the sandbox cluster.
const ServiceClusterIPRange = "10.96.0.0/16"

// Config configures Start.
type Config struct {
	// Dir is the state directory; the cluster uses Dir/pki, Dir/etcd, Dir/logs and writes the
	// admin kubeconfig to Dir/kubeconfig. Required.
	Dir string
	// Progress receives one line per step ("etcd ready", ...); nil discards.
	Progress io.Writer
	// ReadyTimeout bounds the whole start (default 3 minutes).
	ReadyTimeout time.Duration
	// Log receives what the egress proxy refuses; nil discards.
	Log *slog.Logger
	// Restart is how components that exit after Start are restarted (the zero value:
	// proc.RestartPolicy's defaults, 1 s doubling to 30 s, give-up after 5 restarts in 5
	// minutes).
	Restart proc.RestartPolicy
	// Supervision receives one line per exit, restart and give-up of a component after Start,
	// naming its log file; nil: Log.
	Supervision *slog.Logger
}

// Cluster is a running control plane.
type Cluster struct {
	Dir string
	// Server is the API server URL, https://127.0.0.1:<port>; it is also the ServiceAccount
	// issuer (OIDC discovery at Server + "/.well-known/openid-configuration") and the audience
	// of API server tokens.
	Server string
	// CACertPEM is the cluster CA (signs the serving and all client certificates).
	CACertPEM []byte
	// Kubeconfig is the path of the admin kubeconfig (user sandbox-admin, group system:masters).
	Kubeconfig string
	// ServiceAccountPublicKeyPEM verifies ServiceAccount tokens (PKIX RSA public key).
	ServiceAccountPublicKeyPEM []byte
	// Egress is the proxy of the API server's cluster egress; it reaches a Service's pods once
	// given a LocalAddrLookup (EgressProxy.SetLookup).
	Egress *EgressProxy

	admin *rest.Config
	procs []*proc.Process // in start order, until Start hands them to supervisors

	mu          sync.Mutex
	supervisors []*proc.Supervisor // in start order, once Start has succeeded
	changes     chan struct{}      // Changes; capacity 1
}

// Issuer is the ServiceAccount token issuer URL (equal to Server).
func (c *Cluster) Issuer() string { return c.Server }

// RESTConfig returns a copy of the admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.admin) }

// Start generates the PKI and starts every component (the egress proxy first, watching
// Services once the API server is ready), returning once the API server is ready and the
// ServiceAccount and root-CA controllers have populated namespace "default". On error every
// started process is stopped. Errors: a tool is missing, a component exits early, or
// readiness times out (the message names the component and its log file).
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("cluster: Config.Dir is required")
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 3 * time.Minute
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()

	s, err := newStartup(cfg)
	if err != nil {
		return nil, err
	}
	c = s.c
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	for _, step := range []func(context.Context) error{
		s.writePKI,
		s.writeKubeconfigs,
		s.startEgressProxy,
		s.startEtcd,
		s.startAPIServer,
		s.watchServices,
		s.startControllerManager,
		s.startScheduler,
		s.startKwok,
		s.waitDefaultNamespace,
		s.supervise,
	} {
		if err := step(ctx); err != nil {
			return c, err
		}
	}
	return c, nil
}

// startup is one run of Start: the cluster being started and what the steps hand each other
// (tool paths, directories, ports, PKI and kubeconfig files).
type startup struct {
	cfg      Config
	c        *Cluster
	tools    map[string]string // component name -> binary path
	pkiDir   string            // Dir/pki: certificates, keys, component kubeconfigs
	logDir   string            // Dir/logs: one <component>.log each
	ports    map[string]int    // "etcd", "etcd-peer", "apiserver" -> free port on 127.0.0.1
	ca       *keyPair          // the cluster CA, signs every certificate
	caPath   string            // CA certificate file (PEM)
	servCrt  string            // API server serving certificate file (PEM)
	servKey  string            // API server serving key file (PEM)
	saPriv   string            // ServiceAccount token signing key file (PEM)
	saPub    string            // ServiceAccount token verification key file (PEM)
	kubecfgs map[string]string // kubeconfig file name -> path
	egress   string            // the API server's egress selector configuration file
}

// newStartup finds every tool, creates Dir/pki, Dir/logs and Dir/etcd and picks the ports;
// the returned startup's Cluster has Dir and Server set and nothing running yet.
func newStartup(cfg Config) (*startup, error) {
	s := &startup{
		cfg: cfg, tools: map[string]string{}, ports: map[string]int{}, kubecfgs: map[string]string{},
		pkiDir: filepath.Join(cfg.Dir, "pki"), logDir: filepath.Join(cfg.Dir, "logs"),
	}
	for _, t := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		p, err := proc.LookTool(t)
		if err != nil {
			return nil, err
		}
		s.tools[t] = p
	}
	for _, d := range []string{s.pkiDir, s.logDir, filepath.Join(cfg.Dir, "etcd")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	for _, n := range []string{"etcd", "etcd-peer", "apiserver"} {
		p, err := proc.FreePort()
		if err != nil {
			return nil, err
		}
		s.ports[n] = p
	}
	s.c = &Cluster{Dir: cfg.Dir, Server: "https://127.0.0.1:" + strconv.Itoa(s.ports["apiserver"]), changes: make(chan struct{}, 1)}
	return s, nil
}

// progress reports one step to Config.Progress.
func (s *startup) progress(a ...any) { fmt.Fprintln(s.cfg.Progress, a...) }

// writePKI makes the CA, the API server's serving certificate (for 127.0.0.1, the first
// Service IP and the kubernetes Service names) and the ServiceAccount key pair, and writes
// them to Dir/pki.
func (s *startup) writePKI(context.Context) error {
	ca, err := newCA("sandbox-kubernetes-ca")
	if err != nil {
		return fmt.Errorf("cluster: CA: %w", err)
	}
	s.ca = ca
	s.c.CACertPEM = ca.CertPEM
	if s.caPath, _, err = ca.write(s.pkiDir, "ca"); err != nil {
		return err
	}
	serving, err := ca.issue("kube-apiserver", nil, true,
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"})
	if err != nil {
		return err
	}
	if s.servCrt, s.servKey, err = serving.write(s.pkiDir, "apiserver"); err != nil {
		return err
	}
	saPriv, saPub, err := newServiceAccountKey()
	if err != nil {
		return fmt.Errorf("cluster: service-account key: %w", err)
	}
	s.c.ServiceAccountPublicKeyPEM = saPub
	s.saPriv, s.saPub = filepath.Join(s.pkiDir, "sa.key"), filepath.Join(s.pkiDir, "sa.pub")
	if err := os.WriteFile(s.saPriv, saPriv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(s.saPub, saPub, 0o644)
}

// writeKubeconfigs issues a client certificate per identity and writes its kubeconfig: the
// admin's to Dir/kubeconfig (and builds the admin client configuration from it), the
// components' to Dir/pki.
func (s *startup) writeKubeconfigs(context.Context) error {
	for _, id := range []struct{ file, user, group string }{
		{"kubeconfig", "sandbox-admin", "system:masters"},
		{"controller-manager.kubeconfig", "system:kube-controller-manager", ""},
		{"scheduler.kubeconfig", "system:kube-scheduler", ""},
		// kwok acts for every fake kubelet at once (status of all nodes and pods), which no
		// single node identity may do; it runs as an administrator.
		{"kwok.kubeconfig", "sandbox-kwok", "system:masters"},
	} {
		var orgs []string
		if id.group != "" {
			orgs = []string{id.group}
		}
		kp, err := s.ca.issue(id.user, orgs, false, nil, nil)
		if err != nil {
			return err
		}
		path := filepath.Join(s.cfg.Dir, id.file)
		if id.file != "kubeconfig" {
			path = filepath.Join(s.pkiDir, id.file)
		}
		if err := writeKubeconfig(path, s.c.Server, s.ca.CertPEM, id.user, kp.CertPEM, kp.KeyPEM); err != nil {
			return err
		}
		s.kubecfgs[id.file] = path
	}
	c := s.c
	c.Kubeconfig = s.kubecfgs["kubeconfig"]
	admin, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("cluster: admin kubeconfig: %w", err)
	}
	admin.QPS, admin.Burst = 200, 400
	c.admin = admin
	return nil
}

// startEgressProxy starts the egress proxy on a free loopback port and writes the API server's
// egress selector configuration to Dir/egress-selector.yaml: the cluster egress goes through
// the proxy. The API server's HTTPConnect dialer over TCP needs TLS (with a nil tlsConfig, as
// an http:// URL requires, kube-apiserver 1.37 crashes at start: kubernetes issue 92690), so
// the proxy serves a certificate for 127.0.0.1 and requires the client certificate issued here
// for the API server, both from the cluster CA.
func (s *startup) startEgressProxy(context.Context) error {
	serving, err := s.ca.issue("sandbox-egress-proxy", nil, true, []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		return err
	}
	client, err := s.ca.issue("kube-apiserver-egress", nil, false, nil, nil)
	if err != nil {
		return err
	}
	clientCrt, clientKey, err := client.write(s.pkiDir, "apiserver-egress-client")
	if err != nil {
		return err
	}
	tlsCfg, err := egressTLSConfig(s.ca, serving)
	if err != nil {
		return err
	}
	s.c.Egress = NewEgressProxy(tlsCfg, s.cfg.Log)
	addr, err := s.c.Egress.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	s.egress = filepath.Join(s.cfg.Dir, "egress-selector.yaml")
	return writeEgressSelectorConfig(s.egress, "https://"+addr, s.caPath, clientCrt, clientKey)
}

// egressTLSConfig is the egress proxy's server side: serving's certificate, and only clients
// with a certificate of ca.
func egressTLSConfig(ca, serving *keyPair) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(serving.CertPEM, serving.KeyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// writeEgressSelectorConfig writes an EgressSelectorConfiguration (apiserver.k8s.io/v1beta1)
// sending the cluster egress through the HTTP CONNECT proxy at proxyURL (https), trusting
// caFile and authenticating with clientCert and clientKey.
func writeEgressSelectorConfig(path, proxyURL, caFile, clientCert, clientKey string) error {
	type obj = map[string]any
	data, err := yaml.Marshal(obj{
		"apiVersion": "apiserver.k8s.io/v1beta1",
		"kind":       "EgressSelectorConfiguration",
		"egressSelections": []obj{{
			"name": "cluster",
			"connection": obj{
				"proxyProtocol": "HTTPConnect",
				"transport": obj{"tcp": obj{
					"url":       proxyURL,
					"tlsConfig": obj{"caBundle": caFile, "clientCert": clientCert, "clientKey": clientKey},
				}},
			},
		}},
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// watchServices lets the egress proxy watch Services and EndpointSlices.
func (s *startup) watchServices(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(s.c.admin)
	if err != nil {
		return err
	}
	return s.c.Egress.Watch(ctx, cs)
}

// start starts component name (a key of tools) with args, logging to Dir/logs/<name>.log.
func (s *startup) start(name string, args ...string) error {
	p, err := proc.Start(proc.Spec{Name: name, Path: s.tools[name], Args: args, LogPath: filepath.Join(s.logDir, name+".log")})
	if err != nil {
		return err
	}
	s.c.procs = append(s.c.procs, p)
	return nil
}

// etcdURL is etcd's client URL.
func (s *startup) etcdURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.ports["etcd"]) }

// startEtcd starts a single-member etcd without fsync, data in Dir/etcd.
func (s *startup) startEtcd(context.Context) error {
	etcdURL := s.etcdURL()
	peerURL := "http://127.0.0.1:" + strconv.Itoa(s.ports["etcd-peer"])
	if err := s.start("etcd",
		"--name=sandbox",
		"--data-dir="+filepath.Join(s.cfg.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=sandbox="+peerURL,
		"--unsafe-no-fsync", // a throw-away cluster: durability is not worth the latency
		"--log-level=warn",
	); err != nil {
		return err
	}
	s.progress("etcd started on", etcdURL)
	return nil
}

// startAPIServer starts kube-apiserver on Server, waits until /readyz answers ok and lets
// unauthenticated clients read the OIDC discovery documents.
func (s *startup) startAPIServer(ctx context.Context) error {
	c := s.c
	if err := s.start("kube-apiserver",
		"--etcd-servers="+s.etcdURL(),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(s.ports["apiserver"]),
		"--cert-dir="+filepath.Join(s.pkiDir, "apiserver-generated"),
		"--tls-cert-file="+s.servCrt, "--tls-private-key-file="+s.servKey,
		"--client-ca-file="+s.caPath,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-key-file="+s.saPub,
		"--service-account-signing-key-file="+s.saPriv,
		"--service-account-issuer="+c.Server,
		"--api-audiences="+c.Server,
		"--service-cluster-ip-range="+ServiceClusterIPRange,
		"--egress-selector-config-file="+s.egress,
		// The only endpoint is 127.0.0.1, which the endpoints API refuses; nothing in the
		// sandbox reaches the API server through the kubernetes Service.
		"--endpoint-reconciler-type=none",
		"--anonymous-auth=true", // /readyz, /version and OIDC discovery for the issuer URL
		"--profiling=false",
	); err != nil {
		return err
	}
	s.progress("kube-apiserver started on", c.Server)
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	s.progress("kube-apiserver ready")
	return c.allowAnonymousDiscovery(ctx)
}

// startControllerManager starts kube-controller-manager with every controller, signing
// ServiceAccount tokens and publishing the root CA.
func (s *startup) startControllerManager(context.Context) error {
	kcm := s.kubecfgs["controller-manager.kubeconfig"]
	return s.start("kube-controller-manager",
		"--kubeconfig="+kcm, "--authentication-kubeconfig="+kcm, "--authorization-kubeconfig="+kcm,
		"--secure-port=0", "--leader-elect=false",
		"--service-account-private-key-file="+s.saPriv,
		"--root-ca-file="+s.caPath,
		"--use-service-account-credentials=true",
		"--controllers=*",
		"--service-cluster-ip-range="+ServiceClusterIPRange,
		"--cluster-name=sandbox",
		// The defaults (20 requests/s) make the ReplicaSet controller create 1000 pods in ~50 s;
		// a loopback API server takes far more.
		"--kube-api-qps=300", "--kube-api-burst=600",
	)
}

// startScheduler starts kube-scheduler.
func (s *startup) startScheduler(context.Context) error {
	sch := s.kubecfgs["scheduler.kubeconfig"]
	return s.start("kube-scheduler",
		"--kubeconfig="+sch, "--authentication-kubeconfig="+sch, "--authorization-kubeconfig="+sch,
		"--secure-port=0", "--leader-elect=false",
		"--kube-api-qps=300", "--kube-api-burst=600",
	)
}

// startKwok writes the embedded kwok stages to Dir/kwok-stages.yaml and starts kwok for the
// Nodes annotated KwokNodeAnnotationKey=KwokNodeAnnotationValue.
func (s *startup) startKwok(context.Context) error {
	stagesPath := filepath.Join(s.cfg.Dir, "kwok-stages.yaml")
	if err := os.WriteFile(stagesPath, kwokStages, 0o644); err != nil {
		return err
	}
	if err := s.start("kwok",
		"--kubeconfig="+s.kubecfgs["kwok.kubeconfig"],
		"--config="+stagesPath,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+KwokNodeAnnotationKey+"="+KwokNodeAnnotationValue,
		"--node-lease-duration-seconds=40",
		"--server-address=127.0.0.1:0",
		"--cidr=10.244.0.0/16",
	); err != nil {
		return err
	}
	s.progress("kube-controller-manager, kube-scheduler and kwok started")
	return nil
}

// waitDefaultNamespace waits for the default ServiceAccount and ConfigMap kube-root-ca.crt in
// namespace "default", the sign that the controller manager works.
func (s *startup) waitDefaultNamespace(ctx context.Context) error {
	if err := s.c.waitServiceAccounts(ctx); err != nil {
		return err
	}
	s.progress("cluster ready: default ServiceAccount and kube-root-ca.crt exist")
	return nil
}

// supervise hands every component to a supervisor, which restarts it per Config.Restart from
// now on (until here, an exit fails Start: exited).
func (s *startup) supervise(context.Context) error {
	log := s.cfg.Supervision
	if log == nil {
		log = s.cfg.Log
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		c.supervisors = append(c.supervisors, proc.Supervise(p, s.cfg.Restart, log, c.changed))
	}
	c.procs = nil
	return nil
}

// changed notes a change of a component's status for Changes, without blocking.
func (c *Cluster) changed() {
	select {
	case c.changes <- struct{}{}:
	default:
	}
}

// Changes receives a value after a component's Status changed (exited, restarted, gave up,
// stopped); changes that come while no one receives are merged into one value.
func (c *Cluster) Changes() <-chan struct{} { return c.changes }

// Components returns the status of every component (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok), in start order; nil before Start returned
// and after Stop.
func (c *Cluster) Components() []proc.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]proc.Status, 0, len(c.supervisors))
	for _, s := range c.supervisors {
		out = append(out, s.Status())
	}
	return out
}

// exited returns an error naming the first component that has exited (during Start), with
// the last lines of its log.
func (c *Cluster) exited() error {
	for _, p := range c.procs {
		select {
		case <-p.Done():
			return fmt.Errorf("cluster: %s exited (%v); see %s, which ends:\n%s", p.Spec.Name, p.Err(), p.Spec.LogPath, logTail(p.Spec.LogPath, 10))
		default:
		}
	}
	return nil
}

// logTail returns the last n lines of the file at path, each indented by two spaces ("" if it
// cannot be read).
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

func (c *Cluster) waitReady(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.admin)
	if err != nil {
		return err
	}
	for {
		if err := c.exited(); err != nil {
			return err
		}
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Raw()
		if err == nil && string(body) == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: kube-apiserver not ready: %v (last: %v); see %s", ctx.Err(), err, filepath.Join(c.Dir, "logs", "kube-apiserver.log"))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) waitServiceAccounts(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.admin)
	if err != nil {
		return err
	}
	var last error
	for {
		if err := c.exited(); err != nil {
			return err
		}
		_, last = cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if last == nil {
			var cm *corev1.ConfigMap
			cm, last = cs.CoreV1().ConfigMaps(metav1.NamespaceDefault).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			if last == nil && cm.Data["ca.crt"] != "" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: default ServiceAccount / kube-root-ca.crt not created: %v (last: %v); see %s", ctx.Err(), last, filepath.Join(c.Dir, "logs", "kube-controller-manager.log"))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// allowAnonymousDiscovery binds the built-in ClusterRole system:service-account-issuer-discovery
// to unauthenticated users, so OIDC consumers (an STS, `terraform` computing a thumbprint) can
// read Server+"/.well-known/openid-configuration" and the JWKS without credentials, as they
// read an EKS cluster's public issuer.
func (c *Cluster) allowAnonymousDiscovery(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.admin)
	if err != nil {
		return err
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "sandbox:service-account-issuer-discovery:unauthenticated"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:service-account-issuer-discovery"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:unauthenticated"}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("cluster: OIDC discovery binding: %w", err)
	}
	return nil
}

// Stop stops the egress proxy, then every component in reverse start order (SIGTERM, 10 s
// grace, SIGKILL; a pending restart is dropped). The proxy goes first because its watch of
// Services is a client of kube-apiserver, which on SIGTERM waits for its clients' requests to
// end before it exits.
func (c *Cluster) Stop() {
	if c.Egress != nil {
		_ = c.Egress.Close()
	}
	c.mu.Lock()
	sups := c.supervisors
	c.supervisors = nil
	c.mu.Unlock()
	for i := len(sups) - 1; i >= 0; i-- {
		sups[i].Stop(10 * time.Second)
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		_ = c.procs[i].Stop(10 * time.Second)
	}
	c.procs = nil
}

// writeKubeconfig writes a kubeconfig with one cluster, one client-certificate user and one
// context (all named "sandbox"), certificates embedded.
func writeKubeconfig(path, server string, caPEM []byte, user string, certPEM, keyPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["sandbox"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts["sandbox"] = &clientcmdapi.Context{Cluster: "sandbox", AuthInfo: user}
	cfg.CurrentContext = "sandbox"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("cluster: write %s: %w", path, err)
	}
	return nil
}

// WriteTokenKubeconfig writes a kubeconfig whose only credential is the bearer token read from
// tokenFile (client-go re-reads the file, so rotating it needs no restart).
func WriteTokenKubeconfig(path, server string, caPEM []byte, user, tokenFile string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["sandbox"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{TokenFile: tokenFile}
	cfg.Contexts["sandbox"] = &clientcmdapi.Context{Cluster: "sandbox", AuthInfo: user}
	cfg.CurrentContext = "sandbox"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
