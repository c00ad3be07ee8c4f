// Package sandbox starts a local, self-contained AWS account and Kubernetes cluster: the
// control plane of sandbox/cluster, the AWS emulator of sandbox/aws on 127.0.0.1, instances
// that boot into Nodes (sandbox/node), controller pods run as local processes (sandbox/pods)
// and a static node group. It is used by the `sandbox` subcommand and by tests (Start); it is
// never part of a production path.
//
// The `sandbox up` daemon (`sandbox run`) keeps the control plane running: a component that
// exits is restarted with backoff until it exits too often (sandbox/cluster, sandbox/proc),
// and each change is written to StatusFile, which `sandbox status` and `sandbox up` read.
package sandbox

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/cluster"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/node"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/podidentity"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/pods"
)

// Defaults of Config.
const (
	DefaultClusterName       = "karpenter-demo"
	DefaultRegion            = "us-east-1"
	DefaultKubernetesVersion = "1.37"
	// StaticNodeGroup is the name of the static node group (tag eks:nodegroup-name and label
	// eks.amazonaws.com/nodegroup on its nodes).
	StaticNodeGroup        = "static"
	StaticNodeInstanceType = "t3.medium"
	// AccessKeyID and SecretAccessKey are the sandbox account's administrator key, the only
	// long-term credential the emulator accepts and the only one allowed every action:
	// Terraform and test set-up use it. The controller never does: it runs with temporary
	// credentials of the controller role Terraform wrote, authorised against that role's
	// policy (sandbox/aws/auth.go).
	AccessKeyID     = aws.DefaultAdminAccessKeyID
	SecretAccessKey = aws.DefaultAdminSecretAccessKey
)

// LabelNodeGroup is the label EKS managed node groups put on their nodes.
const LabelNodeGroup = "eks.amazonaws.com/nodegroup"

// Config configures Start. The zero value is usable.
type Config struct {
	// Dir is the state directory (default DefaultDir()).
	Dir string
	// ClusterName (default $CLUSTER_NAME, else DefaultClusterName).
	ClusterName string
	// Region is the emulated AWS region (default $KARPENTER_SANDBOX_REGION, else
	// DefaultRegion). Its partition follows as AWS assigns it (sandbox/aws.PartitionOf):
	// cn-north-1 gives an aws-cn account (arn:aws-cn: ARNs, EC2 principal
	// ec2.amazonaws.com.cn), us-gov-west-1 an aws-us-gov one; zones are <region>a, b and c.
	Region string
	// BootDelay is how long a launched instance stays pending (default 3 s; NoBootDelay for 0).
	BootDelay   time.Duration
	NoBootDelay bool
	// StaticNodes is the number of t3.medium instances of the static node group; 0 = none.
	StaticNodes int
	// AuthenticationMode is the EKS cluster's authentication mode: CONFIG_MAP,
	// API_AND_CONFIG_MAP or API (default $KARPENTER_SANDBOX_AUTHENTICATION_MODE, else
	// API_AND_CONFIG_MAP). Nodes join through aws-auth, access entries or both accordingly.
	AuthenticationMode string
	// ControllerExecutable runs controller pods of the default image, version.ControllerImage()
	// (default $KARPENTER_BIN, else this executable); images pulled from a loopback registry run
	// their own entrypoint.
	ControllerExecutable string
	// Progress receives human-readable progress lines; nil discards.
	Progress io.Writer
	// Log receives the sandbox's structured log (node joins, pod processes); nil writes to
	// Dir/logs/sandbox.log.
	Log *slog.Logger
	// SupervisionLog receives, besides Log, a text line per exit, restart and give-up of a
	// control-plane component after the cluster started (cluster.Config.Restart); nil: Log
	// only. The daemon passes its stdout (Dir/sandbox.log).
	SupervisionLog io.Writer
}

// DefaultDir is $KARPENTER_SANDBOX_DIR, else ./.sandbox under the working directory.
func DefaultDir() string {
	if d := os.Getenv("KARPENTER_SANDBOX_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ".sandbox"
	}
	return filepath.Join(wd, ".sandbox")
}

// Sandbox is a running sandbox.
type Sandbox struct {
	Dir         string
	ClusterName string
	Region      string
	// Kubeconfig is the path of the administrator kubeconfig.
	Kubeconfig string
	// Endpoint is the API server URL (https://127.0.0.1:<port>), also the OIDC issuer.
	Endpoint  string
	CACertPEM []byte
	// AWSEndpoint is the emulator's base URL (http://127.0.0.1:<port>), for every service.
	AWSEndpoint string
	Emulator    *aws.Emulator
	Cluster     *cluster.Cluster
	// StaticInstanceProfile is the instance profile of the static node group.
	StaticInstanceProfile string
	// PodIdentityAgentURL is the EKS Pod Identity agent's credentials URL
	// (http://127.0.0.1:<port>/v1/credentials), which pods with a Pod Identity association get
	// as AWS_CONTAINER_CREDENTIALS_FULL_URI.
	PodIdentityAgentURL string
	podIdentityAgent    *podidentity.Agent

	bootMu   sync.Mutex
	booted   map[string]error // instance ID -> join error (nil: joined)
	cancel   context.CancelFunc
	runnerWG sync.WaitGroup
	stopOnce sync.Once
	logFile  *os.File
}

// Start starts the sandbox and returns once the cluster is ready and the static nodes (if any)
// are Ready. On error everything started is stopped. Errors: missing tools, a component that
// exits or is not ready in time, or an AWS call of the static node group failing.
func Start(ctx context.Context, cfg Config) (s *Sandbox, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s, log, err := newSandbox(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()
	if err := s.startControlPlane(ctx, cfg, log); err != nil {
		return s, err
	}
	if err := s.startEmulator(cfg, log); err != nil {
		return s, err
	}
	if err := s.startPodIdentityAgent(log); err != nil {
		return s, err
	}
	s.startPodRunner(cfg, log)
	if err := s.startStaticNodeGroup(ctx, cfg); err != nil {
		return s, err
	}
	return s, nil
}

// setDefaults fills in Dir, ClusterName, Region, AuthenticationMode, ControllerExecutable and
// Progress as documented on Config. Errors: a Region not shaped like an AWS region, an unknown
// AuthenticationMode, a negative StaticNodes, or this executable's path unknown.
func (cfg *Config) setDefaults() error {
	if cfg.Dir == "" {
		cfg.Dir = DefaultDir()
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = os.Getenv("CLUSTER_NAME")
	}
	if cfg.ClusterName == "" {
		cfg.ClusterName = DefaultClusterName
	}
	if cfg.Region == "" {
		cfg.Region = os.Getenv("KARPENTER_SANDBOX_REGION")
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if err := aws.ValidRegion(cfg.Region); err != nil {
		return fmt.Errorf("sandbox: Region: %w", err)
	}
	if cfg.AuthenticationMode == "" {
		cfg.AuthenticationMode = os.Getenv("KARPENTER_SANDBOX_AUTHENTICATION_MODE")
	}
	if cfg.AuthenticationMode == "" {
		cfg.AuthenticationMode = aws.AuthModeAPIAndConfigMap
	}
	switch cfg.AuthenticationMode {
	case aws.AuthModeConfigMap, aws.AuthModeAPIAndConfigMap, aws.AuthModeAPI:
	default:
		return fmt.Errorf("sandbox: AuthenticationMode: must be CONFIG_MAP, API_AND_CONFIG_MAP or API, got %q", cfg.AuthenticationMode)
	}
	if cfg.StaticNodes < 0 {
		return fmt.Errorf("sandbox: StaticNodes: must be >= 0, got %d", cfg.StaticNodes)
	}
	if cfg.ControllerExecutable == "" {
		cfg.ControllerExecutable = os.Getenv("KARPENTER_BIN")
	}
	if cfg.ControllerExecutable == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("sandbox: own executable: %w", err)
		}
		cfg.ControllerExecutable = exe
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	return nil
}

// newSandbox creates the state directory (made absolute) with its logs/ subdirectory and
// returns a Sandbox with nothing started, and the logger for its components: cfg.Log, else
// one appending to Dir/logs/sandbox.log.
func newSandbox(cfg Config) (*Sandbox, *slog.Logger, error) {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, nil, fmt.Errorf("sandbox: state dir: %w", err)
	}
	s := &Sandbox{Dir: dir, ClusterName: cfg.ClusterName, Region: cfg.Region, booted: map[string]error{}}
	log := cfg.Log
	if log == nil {
		if s.logFile, err = os.OpenFile(filepath.Join(dir, "logs", "sandbox.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, nil, err
		}
		log = slog.New(slog.NewTextHandler(s.logFile, nil))
	}
	return s, log, nil
}

// startControlPlane starts the Kubernetes control plane in Dir and records its kubeconfig,
// endpoint and CA. Its components are restarted when they exit from then on, logged to Log
// and cfg.SupervisionLog.
func (s *Sandbox) startControlPlane(ctx context.Context, cfg Config, log *slog.Logger) (err error) {
	fmt.Fprintln(cfg.Progress, "starting control plane in", s.Dir)
	sup := log
	if cfg.SupervisionLog != nil {
		sup = slog.New(slog.NewMultiHandler(log.Handler(), slog.NewTextHandler(cfg.SupervisionLog, nil)))
	}
	s.Cluster, err = cluster.Start(ctx, cluster.Config{Dir: s.Dir, Progress: cfg.Progress, Log: log.With("component", "egress"),
		Supervision: sup.With("component", "supervisor")})
	if err != nil {
		return err
	}
	s.Kubeconfig, s.Endpoint, s.CACertPEM = s.Cluster.Kubeconfig, s.Cluster.Server, s.Cluster.CACertPEM
	return nil
}

// startEmulator starts the AWS emulator on a free loopback port; its instances join the
// cluster as Nodes when they boot (the outcome is kept for BootResult) and leave it when
// terminated.
func (s *Sandbox) startEmulator(cfg Config, log *slog.Logger) (err error) {
	joiner := &node.Joiner{ClusterName: s.ClusterName, Endpoint: s.Endpoint, CACertPEM: s.CACertPEM,
		Region: s.Region, Admin: s.Cluster.RESTConfig(), Log: log.With("component", "node")}
	s.Emulator = aws.New(aws.Options{
		Region:                     s.Region,
		ClusterName:                s.ClusterName,
		ClusterEndpoint:            s.Endpoint,
		ClusterCA:                  s.CACertPEM,
		OIDCIssuerURL:              s.Cluster.Issuer(),
		KubernetesVersion:          DefaultKubernetesVersion,
		ServiceIPv4CIDR:            cluster.ServiceClusterIPRange,
		BootDelay:                  cfg.BootDelay,
		NoBootDelay:                cfg.NoBootDelay,
		ServiceAccountPublicKeyPEM: s.Cluster.ServiceAccountPublicKeyPEM,
		AuthenticationMode:         cfg.AuthenticationMode,
		Hooks: aws.Hooks{
			OnBoot: func(ctx context.Context, i aws.BootedInstance) error {
				err := joiner.Join(ctx, nodeInstance(i))
				s.bootMu.Lock()
				s.booted[i.InstanceID] = err
				s.bootMu.Unlock()
				return err
			},
			OnTerminate: func(ctx context.Context, i aws.BootedInstance) error { return joiner.Leave(ctx, nodeInstance(i)) },
		},
	})
	joiner.Roles, joiner.Access = s.Emulator, s.Emulator
	if s.AWSEndpoint, err = s.Emulator.Start("127.0.0.1:0"); err != nil {
		return fmt.Errorf("sandbox: AWS emulator: %w", err)
	}
	fmt.Fprintln(cfg.Progress, "AWS emulator listening on", s.AWSEndpoint)
	return nil
}

// startPodIdentityAgent starts the EKS Pod Identity agent on a free loopback port. It signs
// its eks-auth calls with the sandbox's administrator key, which stands in for the node role
// (on EKS the agent uses the node's instance profile, whose AmazonEKSWorkerNodePolicy allows
// eks-auth:AssumeRoleForPodIdentity).
func (s *Sandbox) startPodIdentityAgent(log *slog.Logger) (err error) {
	cfg := s.AWSConfig()
	s.podIdentityAgent = &podidentity.Agent{ClusterName: s.ClusterName, Log: log.With("component", "pod-identity-agent"),
		Client: &podidentity.Client{Endpoint: s.AWSEndpoint, Region: s.Region, Credentials: cfg.Credentials, HTTPClient: sdkhttp.New()}}
	if s.PodIdentityAgentURL, err = s.podIdentityAgent.Start("127.0.0.1:0"); err != nil {
		return fmt.Errorf("sandbox: Pod Identity agent: %w", err)
	}
	return nil
}

// startPodRunner runs controller pods as local processes of cfg.ControllerExecutable in the
// background until Stop; the API server's egress proxy reaches Services' pods through it.
func (s *Sandbox) startPodRunner(cfg Config, log *slog.Logger) {
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	runner := &pods.Runner{
		Admin: s.Cluster.RESTConfig(), Server: s.Endpoint, CACertPEM: s.CACertPEM, Audience: s.Cluster.Issuer(),
		Executable: cfg.ControllerExecutable, ExtraEnv: s.awsEndpointEnv(), Region: s.Region, StateDir: s.Dir,
		Log: log.With("component", "pods"), PodIdentity: s.Emulator, PodIdentityAgentURL: s.PodIdentityAgentURL,
	}
	s.Cluster.Egress.SetLookup(runner)
	s.runnerWG.Add(1)
	go func() {
		defer s.runnerWG.Done()
		if err := runner.Run(runCtx); err != nil {
			log.Error("pod runner stopped", "err", err)
		}
	}()
}

// startStaticNodeGroup launches cfg.StaticNodes static instances, if any, and waits up to the
// boot delay plus 2 minutes for their Nodes to be Ready.
func (s *Sandbox) startStaticNodeGroup(ctx context.Context, cfg Config) error {
	if cfg.StaticNodes == 0 {
		return nil
	}
	fmt.Fprintf(cfg.Progress, "launching static node group: %d x %s\n", cfg.StaticNodes, StaticNodeInstanceType)
	if err := s.launchStaticNodes(ctx, cfg.StaticNodes); err != nil {
		return err
	}
	wait := s.bootDelay(cfg) + 2*time.Minute
	if err := s.waitStaticNodes(ctx, cfg.StaticNodes, wait); err != nil {
		return err
	}
	fmt.Fprintln(cfg.Progress, "static nodes Ready")
	return nil
}

func (s *Sandbox) bootDelay(cfg Config) time.Duration {
	if cfg.NoBootDelay {
		return 0
	}
	if cfg.BootDelay == 0 {
		return 3 * time.Second
	}
	return cfg.BootDelay
}

func nodeInstance(i aws.BootedInstance) node.Instance {
	n := node.Instance{InstanceID: i.InstanceID, InstanceType: i.InstanceType, Zone: i.Zone,
		PrivateDNSName: i.PrivateDNSName, PrivateIPAddress: i.PrivateIPAddress, CapacityType: i.CapacityType,
		ImageID: i.ImageID, InstanceProfileArn: i.InstanceProfileArn, UserData: i.UserData, VCPUs: i.VCPUs,
		MemoryMiB: i.MemoryMiB, GPUs: i.GPUs, Architecture: i.Architecture, MaxPods: i.MaxPods, AMIFamily: i.AMIFamily}
	for _, v := range i.Volumes {
		n.Volumes = append(n.Volumes, node.Volume{DeviceName: v.DeviceName, SizeGiB: v.SizeGiB})
	}
	return n
}

// BootResult reports whether instance id has booted and, if so, why it did not join (nil: its
// Node was registered).
func (s *Sandbox) BootResult(id string) (joinErr error, booted bool) {
	s.bootMu.Lock()
	defer s.bootMu.Unlock()
	joinErr, booted = s.booted[id]
	return joinErr, booted
}

// RESTConfig returns an administrator client configuration (group system:masters).
func (s *Sandbox) RESTConfig() *rest.Config { return s.Cluster.RESTConfig() }

// awsServices are the services whose AWS_ENDPOINT_URL_<SERVICE> the sandbox sets.
var awsServices = []string{"EC2", "IAM", "STS", "EKS", "SSM", "PRICING"}

func (s *Sandbox) awsEndpointEnv() []string {
	var env []string
	for _, svc := range awsServices {
		env = append(env, "AWS_ENDPOINT_URL_"+svc+"="+s.AWSEndpoint)
	}
	return env
}

// Env returns the environment ("K=V") that points kubectl, terraform, the controller and the
// AWS SDK at the sandbox: KUBECONFIG, CLUSTER_NAME, CLUSTER_ENDPOINT, AWS_REGION,
// AWS_DEFAULT_REGION, static AWS credentials, AWS_EC2_METADATA_DISABLED and
// AWS_ENDPOINT_URL_{EC2,IAM,STS,EKS,SSM,PRICING}.
func (s *Sandbox) Env() []string {
	env := []string{
		"KUBECONFIG=" + s.Kubeconfig,
		"CLUSTER_NAME=" + s.ClusterName,
		"CLUSTER_ENDPOINT=" + s.Endpoint,
		"AWS_REGION=" + s.Region,
		"AWS_DEFAULT_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
	return append(env, s.awsEndpointEnv()...)
}

// AWSConfig returns an aws-sdk-go-v2 configuration for the sandbox account: region, static
// credentials and BaseEndpoint = the emulator.
func (s *Sandbox) AWSConfig() awssdk.Config {
	return awssdk.Config{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: awssdk.String(s.AWSEndpoint),
		// aws-sdk-go-v2 on loopback sometimes loses a response to net.ErrClosed (aws-sdk-go-v2
		// issues 1825/2737); the standard retryer retries it, given a few attempts.
		RetryMaxAttempts: 10,
		HTTPClient:       sdkhttp.New(),
	}
}

// Stop stops the pod processes, the emulator and the control plane. Safe to call twice.
func (s *Sandbox) Stop() {
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
			s.runnerWG.Wait()
		}
		if s.podIdentityAgent != nil {
			_ = s.podIdentityAgent.Close()
		}
		if s.Emulator != nil {
			_ = s.Emulator.Close()
		}
		if s.Cluster != nil {
			s.Cluster.Stop()
		}
		if s.logFile != nil {
			_ = s.logFile.Close()
		}
	})
}

// launchStaticNodes creates the static node group's IAM role and instance profile, lets the
// role join (an EC2_LINUX access entry in API mode, as EKS managed node groups get; an aws-auth
// mapping otherwise) and launches n instances through RunInstances with EKS AL2 user data.
func (s *Sandbox) launchStaticNodes(ctx context.Context, n int) error {
	cfg := s.AWSConfig()
	iamc, ec2c, ssmc := iam.NewFromConfig(cfg), ec2.NewFromConfig(cfg), ssm.NewFromConfig(cfg)
	name := s.ClusterName + "-sandbox-static-node"
	trust := NodeTrustPolicy(s.Region)
	role, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: &trust,
		Description: awssdk.String("node role of the sandbox's static node group")})
	if err != nil {
		return fmt.Errorf("sandbox: static node group: iam:CreateRole: %w", err)
	}
	if _, err := iamc.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: &name}); err != nil {
		return fmt.Errorf("sandbox: static node group: iam:CreateInstanceProfile: %w", err)
	}
	if _, err := iamc.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: &name, RoleName: &name}); err != nil {
		return fmt.Errorf("sandbox: static node group: iam:AddRoleToInstanceProfile: %w", err)
	}
	s.StaticInstanceProfile = name
	admin, err := kubernetes.NewForConfig(s.RESTConfig())
	if err != nil {
		return err
	}
	if s.Emulator.AuthenticationMode() == aws.AuthModeAPI {
		_, err = eks.NewFromConfig(cfg).CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: &s.ClusterName,
			PrincipalArn: role.Role.Arn, Type: awssdk.String(aws.AccessEntryEC2Linux)})
	} else {
		err = node.MapRole(ctx, admin, awssdk.ToString(role.Role.Arn))
	}
	if err != nil {
		return fmt.Errorf("sandbox: static node group: %w", err)
	}
	param := "/aws/service/eks/optimized-ami/" + DefaultKubernetesVersion + "/amazon-linux-2/recommended/image_id"
	p, err := ssmc.GetParameter(ctx, &ssm.GetParameterInput{Name: &param})
	if err != nil {
		return fmt.Errorf("sandbox: static node group: ssm:GetParameter %s: %w", param, err)
	}
	userData := StaticNodeUserData(s.ClusterName, s.Endpoint, s.CACertPEM)
	tags := []ec2types.Tag{
		{Key: awssdk.String("Name"), Value: awssdk.String(s.ClusterName + "-" + StaticNodeGroup)},
		{Key: awssdk.String("eks:nodegroup-name"), Value: awssdk.String(StaticNodeGroup)},
		{Key: awssdk.String("eks:cluster-name"), Value: awssdk.String(s.ClusterName)},
		{Key: awssdk.String("kubernetes.io/cluster/" + s.ClusterName), Value: awssdk.String("owned")},
	}
	_, err = ec2c.RunInstances(ctx, &ec2.RunInstancesInput{
		MinCount: awssdk.Int32(int32(n)), MaxCount: awssdk.Int32(int32(n)),
		ImageId:            p.Parameter.Value,
		InstanceType:       ec2types.InstanceType(StaticNodeInstanceType),
		SubnetId:           awssdk.String(aws.SeedSubnets[0].ID),
		SecurityGroupIds:   []string{aws.SeedClusterSecurityGroupID},
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: &name},
		UserData:           awssdk.String(base64.StdEncoding.EncodeToString([]byte(userData))),
		TagSpecifications:  []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: tags}},
	})
	if err != nil {
		return fmt.Errorf("sandbox: static node group: ec2:RunInstances: %w", err)
	}
	return nil
}

// NodeTrustPolicy is the trust policy of a node role in region's partition: EC2's service
// principal of that partition (ec2.amazonaws.com, ec2.amazonaws.com.cn in China; see
// sandbox/aws.Partition.EC2ServicePrincipal) may assume it.
func NodeTrustPolicy(region string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` +
		aws.PartitionOf(region).EC2ServicePrincipal() + `"},"Action":"sts:AssumeRole"}]}`
}

// StaticNodeUserData is the EKS AL2 user data of a static node group instance: bootstrap.sh
// with the cluster's name, endpoint and CA, and the node group label.
func StaticNodeUserData(clusterName, endpoint string, caPEM []byte) string {
	return fmt.Sprintf("#!/bin/bash\nset -o xtrace\n/etc/eks/bootstrap.sh %s --apiserver-endpoint %s --b64-cluster-ca %s \\\n  --kubelet-extra-args '--node-labels=%s=%s,eks.amazonaws.com/capacityType=ON_DEMAND'\n",
		shellQuote(clusterName), shellQuote(endpoint), base64.StdEncoding.EncodeToString(caPEM), LabelNodeGroup, StaticNodeGroup)
}

// shellQuote quotes s for a POSIX shell (single quotes; embedded ones as '\”).
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (s *Sandbox) waitStaticNodes(ctx context.Context, n int, timeout time.Duration) error {
	admin, err := kubernetes.NewForConfig(s.RESTConfig())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		list, err := admin.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: LabelNodeGroup + "=" + StaticNodeGroup})
		ready := 0
		if err == nil {
			for _, nd := range list.Items {
				for _, c := range nd.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			if ready >= n {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("sandbox: %d of %d static nodes Ready after %s; see %s", ready, n, timeout, filepath.Join(s.Dir, "logs", "sandbox.log")), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
