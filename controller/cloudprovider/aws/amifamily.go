package aws

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pelletier/go-toml/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// An AMI family (spec.provider.amiFamily) decides three things of a generated launch template,
// as in Karpenter v0.31 (pkg/providers/amifamily): the public SSM parameter of the AMI, the
// format of the bootstrap user data and the default block device mappings.

// amiFamily returns the provisioner's AMI family, AL2 when unset.
func amiFamily(settings *v1alpha5.AWS) string {
	if settings != nil && settings.AMIFamily != nil && *settings.AMIFamily != "" {
		return *settings.AMIFamily
	}
	return v1alpha5.AMIFamilyAL2
}

// amiParameter is the public SSM parameter holding the recommended AMI id of a family for a
// Kubernetes minor version (e.g. "1.37") and variant:
//   - AL2: /aws/service/eks/optimized-ami/<version>/amazon-linux-2[-arm64|-gpu]/recommended/image_id
//     (AWS, "Retrieve recommended Amazon Linux AMI IDs");
//   - Bottlerocket: /aws/service/bottlerocket/aws-k8s-<version>[-nvidia]/<x86_64|arm64>/latest/image_id
//     (Bottlerocket, "Finding an AMI ID");
//   - Ubuntu: /aws/service/canonical/ubuntu/eks/20.04/<version>/stable/current/<amd64|arm64>/hvm/ebs-gp2/ami-id
//     (Canonical's EKS images, as Karpenter v0.31 resolves them; GPU types use the amd64 image).
func amiParameter(family, k8sVersion string, v amiVariant) string {
	switch family {
	case v1alpha5.AMIFamilyBottlerocket:
		arch, flavor := "x86_64", ""
		switch v {
		case amiARM64:
			arch = "arm64"
		case amiGPU:
			flavor = "-nvidia"
		}
		return fmt.Sprintf("/aws/service/bottlerocket/aws-k8s-%s%s/%s/latest/image_id", k8sVersion, flavor, arch)
	case v1alpha5.AMIFamilyUbuntu:
		arch := "amd64"
		if v == amiARM64 {
			arch = "arm64"
		}
		return fmt.Sprintf("/aws/service/canonical/ubuntu/eks/20.04/%s/stable/current/%s/hvm/ebs-gp2/ami-id", k8sVersion, arch)
	default:
		return fmt.Sprintf("/aws/service/eks/optimized-ami/%s/%s/recommended/image_id", k8sVersion, v)
	}
}

// defaultBlockDevices are the volumes of a family's instances when spec.provider names none,
// as Karpenter v0.31's: AL2 /dev/xvda and Ubuntu /dev/sda1 with 20 GiB; Bottlerocket /dev/xvda
// (OS, 4 GiB) and /dev/xvdb (data, 20 GiB); all gp3, encrypted, deleted with the instance.
func defaultBlockDevices(family string) []v1alpha5.BlockDeviceMapping {
	vol := func(dev string, gi int) v1alpha5.BlockDeviceMapping {
		size := v1alpha5.VolumeSize(fmt.Sprintf("%dGi", gi))
		return v1alpha5.BlockDeviceMapping{DeviceName: dev, EBS: v1alpha5.BlockDevice{
			VolumeSize: &size, VolumeType: awssdk.String("gp3"), Encrypted: awssdk.Bool(true), DeleteOnTermination: awssdk.Bool(true)}}
	}
	switch family {
	case v1alpha5.AMIFamilyBottlerocket:
		return []v1alpha5.BlockDeviceMapping{vol("/dev/xvda", 4), vol("/dev/xvdb", rootVolumeGi)}
	case v1alpha5.AMIFamilyUbuntu:
		return []v1alpha5.BlockDeviceMapping{vol("/dev/sda1", rootVolumeGi)}
	default:
		return []v1alpha5.BlockDeviceMapping{vol("/dev/xvda", rootVolumeGi)}
	}
}

// blockDeviceRequests converts block device mappings to EC2's request shape. Errors: a
// volumeSize outside 1Gi..64Ti, with its field path.
func blockDeviceRequests(bdms []v1alpha5.BlockDeviceMapping) ([]ec2types.LaunchTemplateBlockDeviceMappingRequest, error) {
	out := make([]ec2types.LaunchTemplateBlockDeviceMappingRequest, 0, len(bdms))
	for i, b := range bdms {
		e := b.EBS
		req := &ec2types.LaunchTemplateEbsBlockDeviceRequest{
			DeleteOnTermination: e.DeleteOnTermination, Encrypted: e.Encrypted, KmsKeyId: e.KMSKeyID, SnapshotId: e.SnapshotID,
		}
		if e.IOPS != nil {
			req.Iops = awssdk.Int32(int32(*e.IOPS))
		}
		if e.Throughput != nil {
			req.Throughput = awssdk.Int32(int32(*e.Throughput))
		}
		if e.VolumeType != nil {
			req.VolumeType = ec2types.VolumeType(*e.VolumeType)
		}
		if e.VolumeSize != nil {
			gi, err := v1alpha5.VolumeSizeGiB(*e.VolumeSize)
			if err != nil {
				return nil, fmt.Errorf("spec.provider.blockDeviceMappings[%d].ebs.volumeSize: %w", i, err)
			}
			req.VolumeSize = awssdk.Int32(gi)
		}
		out = append(out, ec2types.LaunchTemplateBlockDeviceMappingRequest{DeviceName: awssdk.String(b.DeviceName), Ebs: req})
	}
	return out, nil
}

// ephemeralStorageGi is the size (GiB, rounded up) of the volume that holds a family's kubelet
// and container data, as Karpenter v0.31 reads it from the mappings: Bottlerocket's data volume
// /dev/xvdb, else the root volume (/dev/xvda for AL2, /dev/sda1 for Ubuntu), else the last
// mapping; rootVolumeGi when none is found or it has no size.
func ephemeralStorageGi(family string, bdms []v1alpha5.BlockDeviceMapping) int64 {
	if len(bdms) == 0 {
		bdms = defaultBlockDevices(family)
	}
	want := "/dev/xvda"
	switch family {
	case v1alpha5.AMIFamilyBottlerocket:
		want = "/dev/xvdb"
	case v1alpha5.AMIFamilyUbuntu:
		want = "/dev/sda1"
	}
	pick := bdms[len(bdms)-1]
	for _, b := range bdms {
		if b.DeviceName == want {
			pick = b
		}
	}
	if pick.EBS.VolumeSize == nil {
		return rootVolumeGi
	}
	gi, err := v1alpha5.VolumeSizeGiB(*pick.EBS.VolumeSize)
	if err != nil {
		return rootVolumeGi
	}
	return int64(gi)
}

// metadataOptionsRequest fills unset metadata options with Karpenter's defaults: endpoint
// enabled, IPv6 endpoint disabled, hop limit 2, tokens required.
func metadataOptionsRequest(o *v1alpha5.MetadataOptions) *ec2types.LaunchTemplateInstanceMetadataOptionsRequest {
	out := &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
		HttpEndpoint:            ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled,
		HttpProtocolIpv6:        ec2types.LaunchTemplateInstanceMetadataProtocolIpv6Disabled,
		HttpPutResponseHopLimit: awssdk.Int32(2),
		HttpTokens:              ec2types.LaunchTemplateHttpTokensStateRequired,
	}
	if o == nil {
		return out
	}
	if o.HTTPEndpoint != nil {
		out.HttpEndpoint = ec2types.LaunchTemplateInstanceMetadataEndpointState(*o.HTTPEndpoint)
	}
	if o.HTTPProtocolIPv6 != nil {
		out.HttpProtocolIpv6 = ec2types.LaunchTemplateInstanceMetadataProtocolIpv6(*o.HTTPProtocolIPv6)
	}
	if o.HTTPPutResponseHopLimit != nil {
		out.HttpPutResponseHopLimit = awssdk.Int32(int32(*o.HTTPPutResponseHopLimit))
	}
	if o.HTTPTokens != nil {
		out.HttpTokens = ec2types.LaunchTemplateHttpTokensState(*o.HTTPTokens)
	}
	return out
}

// UserData renders the user data of a family: for AL2 and Ubuntu the bootstrap.sh script
// (BootstrapUserData) as the last part of a MIME multi-part document after the parts of
// custom (MergeMIMEUserData); for Bottlerocket TOML settings (BottlerocketUserData). Errors
// name the field (spec.provider.userData, labels, taints, kubeletConfiguration).
func UserData(family string, cluster *ClusterInfo, labels map[string]string, taints []corev1.Taint, kc *v1alpha5.KubeletConfiguration, custom *string) (string, error) {
	if family == v1alpha5.AMIFamilyBottlerocket {
		return BottlerocketUserData(cluster, labels, taints, kc, awssdk.ToString(custom))
	}
	script, err := BootstrapUserData(cluster, labels, taints, kc)
	if err != nil {
		return "", err
	}
	return MergeMIMEUserData(awssdk.ToString(custom), script)
}

// mimeBoundary is the boundary of generated MIME documents, as Karpenter's ("//"); fixed, so
// that equal content gives equal user data and the same launch template name.
const mimeBoundary = "//"

// MergeMIMEUserData returns a MIME multi-part document (cloud-init's format: "MIME-Version:
// 1.0", Content-Type multipart/mixed) of the parts of custom followed by the bootstrap script,
// as Karpenter merges AL2 user data: custom may be empty, a shell script (one
// text/x-shellscript part) or a MIME multi-part document (its parts are kept, in order, with
// their content types). cloud-init runs the parts in order, so custom's scripts run before the
// node joins. Errors: a MIME document that does not parse (v1alpha5.ParseMIMEUserData; field
// spec.provider.userData).
func MergeMIMEUserData(custom, bootstrap string) (string, error) {
	type part struct {
		header textproto.MIMEHeader
		body   []byte
	}
	var parts []part
	shell := func(body []byte) part {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", `text/x-shellscript; charset="us-ascii"`)
		return part{h, body}
	}
	trimmed := strings.TrimLeft(custom, " \t\r\n")
	switch {
	case trimmed == "":
	case v1alpha5.IsMIMEUserData(custom):
		mimeParts, err := v1alpha5.ParseMIMEUserData(custom)
		if err != nil {
			return "", fmt.Errorf("spec.provider.userData: %w", err)
		}
		for _, p := range mimeParts {
			parts = append(parts, part{p.Header, p.Body})
		}
	default:
		parts = append(parts, shell([]byte(custom)))
	}
	parts = append(parts, shell([]byte(bootstrap)))
	var b bytes.Buffer
	b.WriteString("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"" + mimeBoundary + "\"\n\n")
	w := multipart.NewWriter(&b)
	if err := w.SetBoundary(mimeBoundary); err != nil {
		return "", err
	}
	for _, p := range parts {
		pw, err := w.CreatePart(p.header)
		if err != nil {
			return "", err
		}
		if _, err := pw.Write(p.body); err != nil {
			return "", err
		}
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// BottlerocketUserData renders Bottlerocket settings (TOML, "settings.kubernetes" of the
// Bottlerocket settings reference) as Karpenter v0.31 does: custom's settings are the base and
// the controller writes over them the cluster (cluster-name, api-server, cluster-certificate),
// node-labels (custom's labels kept, the provisioner's win), node-taints (key to a list of
// "value:Effect") and the kubelet configuration's settings that Bottlerocket has: max-pods,
// cluster-dns-ip (the first address), kube-reserved, system-reserved, eviction-hard,
// eviction-soft, eviction-soft-grace-period, eviction-max-pod-grace-period,
// image-gc-high-threshold-percent, image-gc-low-threshold-percent and cpu-cfs-quota-enforced
// (source: the kubelet-config template of bottlerocket-os/bottlerocket-core-kit,
// packages/kubernetes-1.29/kubelet-config, which maps each to its KubeletConfiguration field).
// Bottlerocket has no pods-per-core or container runtime setting: podsPerCore reaches the node
// as max-pods, which fleetConfigs sets per instance type group (kc.MaxPods, the solver's pod
// capacity); containerRuntime is not passed. Errors: custom is not TOML or its
// settings.kubernetes is not a table (field spec.provider.userData); a bad label or taint (as
// BootstrapUserData).
func BottlerocketUserData(cluster *ClusterInfo, labels map[string]string, taints []corev1.Taint, kc *v1alpha5.KubeletConfiguration, custom string) (string, error) {
	// Labels, taints and cluster facts are checked as for AL2 (the same rules, the same errors).
	if _, err := BootstrapUserData(cluster, labels, taints, nil); err != nil {
		return "", err
	}
	doc := map[string]any{}
	if strings.TrimSpace(custom) != "" {
		if err := toml.Unmarshal([]byte(custom), &doc); err != nil {
			return "", fmt.Errorf("spec.provider.userData: not Bottlerocket TOML settings: %w", err)
		}
	}
	table := func(parent map[string]any, key, at string) (map[string]any, error) {
		switch v := parent[key].(type) {
		case nil:
			m := map[string]any{}
			parent[key] = m
			return m, nil
		case map[string]any:
			return v, nil
		default:
			return nil, fmt.Errorf("spec.provider.userData: %s is a %T, not a table", at, v)
		}
	}
	settings, err := table(doc, "settings", "settings")
	if err != nil {
		return "", err
	}
	k8s, err := table(settings, "kubernetes", "settings.kubernetes")
	if err != nil {
		return "", err
	}
	k8s["cluster-name"] = cluster.Name
	k8s["api-server"] = cluster.Endpoint
	k8s["cluster-certificate"] = cluster.CABase64
	nodeLabels, err := table(k8s, "node-labels", "settings.kubernetes.node-labels")
	if err != nil {
		return "", err
	}
	for k, v := range labels {
		nodeLabels[k] = v
	}
	if len(taints) > 0 {
		nodeTaints := map[string]any{}
		for _, t := range taints {
			list, _ := nodeTaints[t.Key].([]any)
			nodeTaints[t.Key] = append(list, t.Value+":"+string(t.Effect))
		}
		k8s["node-taints"] = nodeTaints
	}
	if kc != nil {
		if kc.MaxPods != nil {
			k8s["max-pods"] = int64(*kc.MaxPods)
		}
		if len(kc.ClusterDNS) > 0 {
			k8s["cluster-dns-ip"] = kc.ClusterDNS[0]
		}
		for key, m := range map[string]map[string]v1alpha5.KubeletValue{"kube-reserved": kc.KubeReserved, "system-reserved": kc.SystemReserved,
			"eviction-hard": kc.EvictionHard, "eviction-soft": kc.EvictionSoft, "eviction-soft-grace-period": kc.EvictionSoftGracePeriod} {
			if len(m) == 0 {
				continue
			}
			t := map[string]any{}
			for k, v := range m {
				t[k] = string(v)
			}
			k8s[key] = t
		}
		if kc.EvictionMaxPodGracePeriod != nil {
			k8s["eviction-max-pod-grace-period"] = int64(*kc.EvictionMaxPodGracePeriod)
		}
		if kc.ImageGCHighThresholdPercent != nil {
			k8s["image-gc-high-threshold-percent"] = int64(*kc.ImageGCHighThresholdPercent)
		}
		if kc.ImageGCLowThresholdPercent != nil {
			k8s["image-gc-low-threshold-percent"] = int64(*kc.ImageGCLowThresholdPercent)
		}
		if kc.CPUCFSQuota != nil {
			k8s["cpu-cfs-quota-enforced"] = *kc.CPUCFSQuota
		}
	}
	out, err := toml.Marshal(doc) // go-toml sorts map keys: equal settings give equal text
	if err != nil {
		return "", fmt.Errorf("spec.provider.userData: %w", err)
	}
	return string(out), nil
}
