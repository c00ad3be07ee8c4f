package aws

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Cache lifetimes of resolved facts.
const (
	AMICacheTTL            = 5 * time.Minute
	LaunchTemplateCacheTTL = 5 * time.Minute
	// LaunchTemplateNamePrefix prefixes every generated launch template's name.
	LaunchTemplateNamePrefix = "karpenter.k8s.aws/"
)

// amiVariant selects the EKS-optimized AL2 image for an instance type.
type amiVariant string

const (
	amiStandard amiVariant = "amazon-linux-2"
	amiARM64    amiVariant = "amazon-linux-2-arm64"
	amiGPU      amiVariant = "amazon-linux-2-gpu"
)

// variantFor returns the AL2 variant for an instance type's labels: arm64, GPU (NVIDIA) or
// standard x86_64.
func variantFor(labels map[string]string, hasNvidiaGPU bool) amiVariant {
	switch {
	case labels[v1alpha5.LabelArch] == "arm64":
		return amiARM64
	case hasNvidiaGPU:
		return amiGPU
	default:
		return amiStandard
	}
}

// ClusterInfo is what the bootstrap user data needs about the cluster: its name, API server
// URL (https) and CA bundle (base64 of the PEM).
type ClusterInfo struct {
	Name     string
	Endpoint string
	CABase64 string
}

// launchTemplates resolves AMIs and cluster facts and creates or reuses launch templates.
type launchTemplates struct {
	opts     Options
	ec2      EC2API
	ssm      SSMAPI
	eks      EKSAPI
	versions VersionAPI
	clk      clock.Clock

	mu        sync.Mutex
	amis      map[string]cached[string] // SSM parameter -> AMI id
	version   cached[string]
	cluster   *ClusterInfo
	templates map[string]cached[string] // name -> launch template id
	used      map[string]time.Time      // name -> last Ensure by this process
}

func newLaunchTemplates(opts Options, ec2api EC2API, ssmapi SSMAPI, eksapi EKSAPI, versions VersionAPI, clk clock.Clock) *launchTemplates {
	return &launchTemplates{opts: opts, ec2: ec2api, ssm: ssmapi, eks: eksapi, versions: versions, clk: clk,
		amis: map[string]cached[string]{}, templates: map[string]cached[string]{}, used: map[string]time.Time{}}
}

// kubernetesVersion returns the API server's "major.minor" (discovery /version), cached.
func (l *launchTemplates) kubernetesVersion(ctx context.Context) (string, error) {
	l.mu.Lock()
	if l.version.val != "" && l.clk.Since(l.version.at) < AMICacheTTL {
		defer l.mu.Unlock()
		return l.version.val, nil
	}
	l.mu.Unlock()
	if l.versions == nil {
		return "", errors.New("no Kubernetes version source configured")
	}
	info, err := l.versions.ServerVersionWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("getting the Kubernetes server version: %w", err)
	}
	major := strings.TrimRight(info.Major, "+")
	minor := strings.TrimRight(info.Minor, "+")
	if major == "" || minor == "" {
		return "", fmt.Errorf("kubernetes server version %q has no major/minor", info.GitVersion)
	}
	v := major + "." + minor
	l.mu.Lock()
	l.version = cached[string]{at: l.clk.Now(), val: v}
	l.mu.Unlock()
	return v, nil
}

// AMI returns the image id of an AMI family's variant from its SSM parameter (amiParameter),
// cached for AMICacheTTL.
func (l *launchTemplates) AMI(ctx context.Context, family string, v amiVariant) (string, error) {
	version, err := l.kubernetesVersion(ctx)
	if err != nil {
		return "", err
	}
	param := amiParameter(family, version, v)
	l.mu.Lock()
	if c, ok := l.amis[param]; ok && l.clk.Since(c.at) < AMICacheTTL {
		l.mu.Unlock()
		return c.val, nil
	}
	l.mu.Unlock()
	out, err := l.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String(param)})
	if err != nil {
		return "", fmt.Errorf("resolving AMI from SSM parameter %s: %w", param, err)
	}
	if out.Parameter == nil || awssdk.ToString(out.Parameter.Value) == "" {
		return "", fmt.Errorf("SSM parameter %s has no value", param)
	}
	id := awssdk.ToString(out.Parameter.Value)
	l.mu.Lock()
	l.amis[param] = cached[string]{at: l.clk.Now(), val: id}
	l.mu.Unlock()
	return id, nil
}

// Cluster returns the cluster endpoint and CA: from Options when both are set, else from EKS
// DescribeCluster (the endpoint option, when set, still wins). Cached for the process lifetime.
func (l *launchTemplates) Cluster(ctx context.Context) (*ClusterInfo, error) {
	l.mu.Lock()
	if l.cluster != nil {
		defer l.mu.Unlock()
		return l.cluster, nil
	}
	l.mu.Unlock()
	info := &ClusterInfo{Name: l.opts.ClusterName, Endpoint: l.opts.ClusterEndpoint, CABase64: l.opts.ClusterCABase64}
	if info.Endpoint == "" || info.CABase64 == "" {
		if l.eks == nil {
			return nil, errors.New("cluster endpoint and CA are not set and no EKS client is configured")
		}
		out, err := l.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String(l.opts.ClusterName)})
		if err != nil {
			return nil, fmt.Errorf("describing EKS cluster %q for its endpoint and CA: %w", l.opts.ClusterName, err)
		}
		if out.Cluster == nil {
			return nil, fmt.Errorf("EKS cluster %q: empty DescribeCluster response", l.opts.ClusterName)
		}
		if info.Endpoint == "" {
			info.Endpoint = awssdk.ToString(out.Cluster.Endpoint)
		}
		if info.CABase64 == "" && out.Cluster.CertificateAuthority != nil {
			info.CABase64 = awssdk.ToString(out.Cluster.CertificateAuthority.Data)
		}
		if info.Endpoint == "" || info.CABase64 == "" {
			return nil, fmt.Errorf("EKS cluster %q has no endpoint or certificate authority yet", l.opts.ClusterName)
		}
	}
	l.mu.Lock()
	l.cluster = info
	l.mu.Unlock()
	return info, nil
}

// templateSpec is everything that determines a generated launch template; its hash names it.
type templateSpec struct {
	Cluster             string
	Provisioner         string
	AMIFamily           string
	AMI                 string
	InstanceProfile     string
	SecurityGroups      []string
	UserData            string
	Tags                map[string]string
	BlockDeviceMappings []v1alpha5.BlockDeviceMapping
	MetadataOptions     *v1alpha5.MetadataOptions
	DetailedMonitoring  bool
}

// Name is karpenter.k8s.aws/<sha256 of the spec, 16 hex digits>.
func (s *templateSpec) Name() string {
	b, _ := json.Marshal(s) // strings, bools, slices, maps and pointers to them always marshal
	sum := sha256.Sum256(b)
	return LaunchTemplateNamePrefix + hex.EncodeToString(sum[:8])
}

// BootstrapUserData renders EKS AL2 user data: one bootstrap.sh call with the cluster, its
// endpoint and CA and --kubelet-extra-args carrying --node-labels (sorted k=v), and
// --register-with-taints (k=v:Effect) and the flags of the provisioner's kubelet configuration
// (kubeletFlags: --max-pods with --use-max-pods false, --pods-per-core, --cluster-dns,
// --system-reserved, --kube-reserved, --eviction-*, --image-gc-*, --cpu-cfs-quota), and
// --container-runtime for bootstrap.sh when set. Label keys/values, taint parts and kubelet
// values are validated first (they are placed inside single quotes), with the field path in
// the error.
func BootstrapUserData(cluster *ClusterInfo, labels map[string]string, taints []corev1.Taint, kc *v1alpha5.KubeletConfiguration) (string, error) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var labelArgs []string
	for _, k := range keys {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return "", fmt.Errorf("labels[%s]: invalid key: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			return "", fmt.Errorf("labels[%s]: invalid value %q: %s", k, labels[k], strings.Join(errs, "; "))
		}
		labelArgs = append(labelArgs, k+"="+labels[k])
	}
	var taintArgs []string
	for i, t := range taints {
		if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
			return "", fmt.Errorf("taints[%d].key: invalid %q: %s", i, t.Key, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(t.Value); len(errs) > 0 {
			return "", fmt.Errorf("taints[%d].value: invalid %q: %s", i, t.Value, strings.Join(errs, "; "))
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return "", fmt.Errorf("taints[%d].effect: %q is not NoSchedule, PreferNoSchedule or NoExecute", i, t.Effect)
		}
		taintArgs = append(taintArgs, fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect))
	}
	for _, s := range []struct{ field, v string }{{"clusterName", cluster.Name}, {"clusterEndpoint", cluster.Endpoint}, {"clusterCA", cluster.CABase64}} {
		if s.v == "" || strings.ContainsAny(s.v, "'\n\r") {
			return "", fmt.Errorf("%s: %q is empty or contains a quote or newline", s.field, s.v)
		}
	}
	var kubelet []string
	if len(labelArgs) > 0 {
		kubelet = append(kubelet, "--node-labels="+strings.Join(labelArgs, ","))
	}
	if len(taintArgs) > 0 {
		kubelet = append(kubelet, "--register-with-taints="+strings.Join(taintArgs, ","))
	}
	flags, err := kubeletFlags(kc)
	if err != nil {
		return "", err
	}
	kubelet = append(kubelet, flags...)
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	fmt.Fprintf(&b, "/etc/eks/bootstrap.sh '%s' --apiserver-endpoint '%s' --b64-cluster-ca '%s'", cluster.Name, cluster.Endpoint, cluster.CABase64)
	if kc != nil && kc.ContainerRuntime != nil {
		if err := plainValue("spec.kubeletConfiguration.containerRuntime", *kc.ContainerRuntime); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, " --container-runtime '%s'", *kc.ContainerRuntime)
	}
	if kc != nil && kc.MaxPods != nil {
		b.WriteString(" --use-max-pods false")
	}
	if len(kubelet) > 0 {
		fmt.Fprintf(&b, " --kubelet-extra-args '%s'", strings.Join(kubelet, " "))
	}
	b.WriteString("\n")
	return b.String(), nil
}

// Ensure returns the id of the launch template for spec, creating it when it does not exist.
// Template ids are cached for LaunchTemplateCacheTTL.
func (l *launchTemplates) Ensure(ctx context.Context, spec *templateSpec) (name string, err error) {
	name = spec.Name()
	l.mu.Lock()
	l.used[name] = l.clk.Now()
	if c, ok := l.templates[name]; ok && l.clk.Since(c.at) < LaunchTemplateCacheTTL {
		l.mu.Unlock()
		return name, nil
	}
	l.mu.Unlock()
	id, err := l.find(ctx, name)
	if err != nil {
		return "", err
	}
	if id == "" {
		if id, err = l.create(ctx, name, spec); err != nil {
			return "", err
		}
	}
	l.mu.Lock()
	l.templates[name] = cached[string]{at: l.clk.Now(), val: id}
	l.mu.Unlock()
	return name, nil
}

// Forget drops a template from the cache (e.g. after CreateFleet said it does not exist).
func (l *launchTemplates) Forget(name string) {
	l.mu.Lock()
	delete(l.templates, name)
	l.mu.Unlock()
}

func (l *launchTemplates) find(ctx context.Context, name string) (string, error) {
	out, err := l.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidLaunchTemplateName.NotFoundException" {
			return "", nil
		}
		return "", fmt.Errorf("describing launch template %s: %w", name, err)
	}
	for _, lt := range out.LaunchTemplates {
		if awssdk.ToString(lt.LaunchTemplateName) == name {
			return awssdk.ToString(lt.LaunchTemplateId), nil
		}
	}
	return "", nil
}

func (l *launchTemplates) create(ctx context.Context, name string, spec *templateSpec) (string, error) {
	// The default Name, then spec.Tags (the default tags overlaid with provider.tags), then the
	// controller's karpenter.sh/* tags, which win (v1alpha5.LaunchTags).
	tags := sortedTags(v1alpha5.LaunchTags(spec.Cluster, spec.Provisioner, "", nil, spec.Tags))
	bdms := spec.BlockDeviceMappings
	if len(bdms) == 0 {
		bdms = defaultBlockDevices(spec.AMIFamily)
	}
	devices, err := blockDeviceRequests(bdms)
	if err != nil {
		return "", err
	}
	out, err := l.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: awssdk.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId:             awssdk.String(spec.AMI),
			IamInstanceProfile:  &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: awssdk.String(spec.InstanceProfile)},
			SecurityGroupIds:    spec.SecurityGroups,
			UserData:            awssdk.String(base64.StdEncoding.EncodeToString([]byte(spec.UserData))),
			BlockDeviceMappings: devices,
			MetadataOptions:     metadataOptionsRequest(spec.MetadataOptions),
			Monitoring:          &ec2types.LaunchTemplatesMonitoringRequest{Enabled: awssdk.Bool(spec.DetailedMonitoring)},
		},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: tags}},
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidLaunchTemplateName.AlreadyExistsException" {
			return l.find(ctx, name) // created concurrently (another replica or a retry)
		}
		return "", fmt.Errorf("creating launch template %s: %w", name, err)
	}
	if out.LaunchTemplate == nil {
		return "", fmt.Errorf("creating launch template %s: empty response", name)
	}
	return awssdk.ToString(out.LaunchTemplate.LaunchTemplateId), nil
}

func sortedTags(m map[string]string) []ec2types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ec2types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ec2types.Tag{Key: awssdk.String(k), Value: awssdk.String(m[k])})
	}
	return out
}
