// Package aws is the sandbox's AWS emulator: one HTTP server on 127.0.0.1 that speaks the wire
// protocols the real aws-sdk-go-v2 clients use (EC2 and IAM/STS query, EKS rest-json, SSM
// and Price List json-1.1), so the product's code talks to it through endpoint overrides only
// (BaseEndpoint / AWS_ENDPOINT_URL_<SERVICE>). It is never used in production paths.
package aws

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Options configure an Emulator.
type Options struct {
	// Region is the emulated region (default us-east-1). Its partition (PartitionOf) is that
	// of every ARN the emulator forms or accepts as its own, of the AWS managed policies and
	// of the EC2 service principal it checks; its zones are <Region>a, b and c.
	Region    string
	AccountID string // default 111122223333
	// ClusterName, ClusterEndpoint (https URL), ClusterCA (PEM) and OIDCIssuerURL describe the
	// EKS cluster record that DescribeCluster returns: the sandbox's local API server.
	ClusterName       string
	ClusterEndpoint   string
	ClusterCA         []byte
	OIDCIssuerURL     string
	KubernetesVersion string // e.g. "1.37"; default "1.37"
	// ServiceIPv4CIDR is the cluster's service CIDR (kube-apiserver --service-cluster-ip-range)
	// reported by DescribeCluster as kubernetesNetworkConfig.serviceIpv4Cidr; default
	// "10.100.0.0/16", EKS's default.
	ServiceIPv4CIDR string
	// AuthenticationMode is the EKS cluster's accessConfig.authenticationMode: CONFIG_MAP,
	// API_AND_CONFIG_MAP (the default, as EKS creates clusters since access entries exist) or
	// API. It decides whether access entries can be made and how nodes may join.
	AuthenticationMode string
	// BootDelay is how long a launched instance stays pending before it boots (default 3s;
	// set NoBootDelay for 0).
	BootDelay   time.Duration
	NoBootDelay bool
	Hooks       Hooks
	// ServiceAccountPublicKeyPEM is the PEM public key (RSA or ECDSA, "PUBLIC KEY" or
	// "RSA PUBLIC KEY" blocks; several blocks allowed) that the API server signs
	// service-account tokens with; sts:AssumeRoleWithWebIdentity verifies token signatures
	// with it. Empty means every web identity token is rejected (InvalidIdentityToken).
	ServiceAccountPublicKeyPEM []byte
	// Clock is the emulator's time source for CreateDate stamps and token/credential expiry
	// and any timers (default: the real clock). Tests pass a fake clock (k8s.io/utils/clock/testing).
	Clock clock.Clock
	// SignatureClock is what a request's X-Amz-Date is checked against (15 minutes either
	// way). Default: the real clock, since SDK clients sign with the wall clock even when Clock
	// is fake.
	SignatureClock clock.PassiveClock
	// AdminAccessKeyID and AdminSecretAccessKey are the account's administrator key (default
	// DefaultAdminAccessKeyID / DefaultAdminSecretAccessKey): the only long-term credential,
	// allowed every action. Every other caller uses temporary credentials from STS and is
	// authorised against its role's policies; unknown keys are refused (see auth.go).
	AdminAccessKeyID     string
	AdminSecretAccessKey string
}

// BootedInstance is what a booting instance knows about itself (its instance metadata).
type BootedInstance struct {
	InstanceID         string
	InstanceType       string
	Zone               string
	PrivateDNSName     string
	PrivateIPAddress   string
	CapacityType       string // "spot" or "on-demand"
	ImageID            string
	InstanceProfileArn string
	UserData           []byte // decoded user data
	Tags               map[string]string
	VCPUs              int32
	MemoryMiB          int64
	GPUs               int32
	Architecture       string // x86_64 or arm64
	// MaxPods is the ENI-based pod limit: ENIs * (IPv4 per ENI - 1) + 2 (the formula of the
	// amazon-vpc-cni-k8s eni-max-pods.txt).
	MaxPods int32
	// AMIFamily is the family of the instance's image (AL2, Bottlerocket or Ubuntu; AL2 for an
	// image the account does not know): the format its boot reads the user data in.
	AMIFamily string
	// Volumes are the instance's EBS volumes from its launch template's block device mappings.
	Volumes []BootedVolume
}

// BootedVolume is an EBS volume attached at launch: device name and size (GiB, 0 when the
// mapping gave only a snapshot).
type BootedVolume struct {
	DeviceName string
	SizeGiB    int64
}

// Hooks let the sandbox turn instances into Nodes. Both are called without the emulator's lock
// held; errors are logged and, for OnBoot, leave the instance running but never joined (as a
// real instance with bad user data).
type Hooks struct {
	OnBoot      func(ctx context.Context, inst BootedInstance) error
	OnTerminate func(ctx context.Context, inst BootedInstance) error
}

// Emulator is the in-memory AWS account. Safe for concurrent use.
type Emulator struct {
	opts Options
	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener

	state *state
}

// New returns an Emulator seeded with the default VPC, subnets, security group, EKS cluster
// record, AMIs, SSM parameters and instance type catalogue.
func New(opts Options) *Emulator {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "111122223333"
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.SignatureClock == nil {
		opts.SignatureClock = clock.RealClock{}
	}
	if opts.AdminAccessKeyID == "" {
		opts.AdminAccessKeyID, opts.AdminSecretAccessKey = DefaultAdminAccessKeyID, DefaultAdminSecretAccessKey
	}
	if opts.KubernetesVersion == "" {
		opts.KubernetesVersion = "1.37"
	}
	if opts.ServiceIPv4CIDR == "" {
		opts.ServiceIPv4CIDR = "10.100.0.0/16"
	}
	if opts.AuthenticationMode == "" {
		opts.AuthenticationMode = AuthModeAPIAndConfigMap
	}
	if opts.BootDelay == 0 && !opts.NoBootDelay {
		opts.BootDelay = 3 * time.Second
	}
	e := &Emulator{opts: opts}
	e.state = newState(e)
	return e
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close. It returns the base URL.
func (e *Emulator) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	e.ln = ln
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the server.
func (e *Emulator) Close() error {
	if e.srv == nil {
		return nil
	}
	return e.srv.Close()
}

// ServeHTTP dispatches a request to the emulated service named in its SigV4 credential scope
// (Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...) once
// its signature is verified (auth.go); unsigned requests go to STS, which accepts only
// sts:AssumeRoleWithWebIdentity unsigned; /_sandbox/ is the control API.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		e.serveControl(w, r)
		return
	}
	service := signingService(r)
	if r.Header.Get("Authorization") != "" {
		if _, aerr := e.authenticate(r, service); aerr != nil {
			writeAuthError(w, service, aerr)
			return
		}
	}
	switch service {
	case "ec2":
		e.serveEC2(w, r)
	case "iam":
		e.serveIAM(w, r)
	case "sts", "":
		e.serveSTS(w, r)
	case "eks":
		e.serveEKS(w, r)
	case "eks-auth":
		e.serveEKSAuth(w, r)
	case "ssm":
		e.serveSSM(w, r)
	case "pricing":
		e.servePricing(w, r)
	default:
		http.Error(w, "unknown service", http.StatusBadRequest)
	}
}

// signingService returns the service of the request's SigV4 credential scope, or "".
func signingService(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexAny(cred, ", "); j >= 0 {
		cred = cred[:j]
	}
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}
