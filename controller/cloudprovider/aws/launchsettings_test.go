package aws_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/node"
)

// familyAMI is the seeded x86_64 image of an AMI family (what its SSM parameter resolves to).
func familyAMI(t *testing.T, family string) string {
	t.Helper()
	for _, a := range sandboxaws.SeedAMIs {
		if a.Family == family && a.Architecture == "x86_64" && !strings.Contains(a.Name, "gpu") && !strings.Contains(a.Name, "nvidia") {
			return a.ID
		}
	}
	t.Fatalf("no seeded %s AMI", family)
	return ""
}

// Every field of spec.provider reaches EC2 through the wire protocol and the booted node, for
// each AMI family: the family's AMI (its SSM parameter), the block device mappings, metadata
// options and detailed monitoring in the launch template (DescribeLaunchTemplateVersions) and
// on the instance (DescribeInstances), the user data in the family's format merged with the
// custom part, which the sandbox's node boot parses into the Node's labels, taints and max pods,
// and the data volume's size as the Node's and the solver's ephemeral-storage. Changing the
// template's content launches from a new launch template.
func TestProviderLaunchSettingsOverTheWire(t *testing.T) {
	for _, tc := range []struct {
		family, dataDevice, custom string
		wantCustom                 string // in the decoded launch template user data
	}{
		{v1alpha5.AMIFamilyAL2, "/dev/xvda", "#!/bin/bash\necho prepared > /etc/prepared\n", "echo prepared > /etc/prepared"},
		{v1alpha5.AMIFamilyUbuntu, "/dev/sda1", "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n\n--XYZ\nContent-Type: text/cloud-config; charset=\"us-ascii\"\n\npackages: [jq]\n--XYZ--\n", "packages: [jq]"},
		{v1alpha5.AMIFamilyBottlerocket, "/dev/xvdb", "[settings.host-containers.admin]\nenabled = true\n[settings.kubernetes.node-labels]\nfrom-user-data = \"yes\"\n", "[settings.host-containers.admin]"},
	} {
		t.Run(tc.family, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			prov := provisioner("default")
			size := v1alpha5.VolumeSize("100Gi")
			prov.Spec.Provider.AMIFamily = ptr.To(tc.family)
			prov.Spec.Provider.BlockDeviceMappings = []v1alpha5.BlockDeviceMapping{
				{DeviceName: "/dev/xvdz", EBS: v1alpha5.BlockDevice{VolumeSize: ptr.To(v1alpha5.VolumeSize("8Gi")), VolumeType: ptr.To("gp2")}},
				{DeviceName: tc.dataDevice, EBS: v1alpha5.BlockDevice{VolumeSize: &size, VolumeType: ptr.To("gp3"), IOPS: ptr.To[int64](4000),
					Throughput: ptr.To[int64](250), Encrypted: ptr.To(true), KMSKeyID: ptr.To("alias/nodes"), DeleteOnTermination: ptr.To(false)}},
			}
			prov.Spec.Provider.MetadataOptions = &v1alpha5.MetadataOptions{HTTPPutResponseHopLimit: ptr.To[int64](1), HTTPTokens: ptr.To("optional")}
			prov.Spec.Provider.UserData = ptr.To(tc.custom)
			prov.Spec.Provider.DetailedMonitoring = ptr.To(true)
			prov.Spec.KubeletConfiguration = &v1alpha5.KubeletConfiguration{MaxPods: ptr.To[int32](42)}

			types, err := e.cp.GetInstanceTypes(ctx, prov)
			if err != nil {
				t.Fatal(err)
			}
			options := byName(types, "m5.large")
			if got := options[0].Capacity[corev1.ResourceEphemeralStorage]; got.Value() != 100<<30 {
				t.Errorf("solver's ephemeral-storage = %s, want the %s volume's 100Gi", got.String(), tc.dataDevice)
			}
			req := &cloudprovider.NodeRequest{
				ClaimName: "default-1", ClaimUID: "8d3f5b8e-0000-4000-8000-0000000000a1", Provisioner: prov, InstanceTypeOptions: options,
				Labels: map[string]string{"team": "blue", v1alpha5.LabelProvisionerName: "default"}, Taints: prov.Spec.Taints,
			}
			n, err := e.cp.Create(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			id := n.ProviderID[strings.LastIndex(n.ProviderID, "/")+1:]
			boot := e.waitForBoot(t, id)

			inst := assertFamilyInstance(t, e, id, tc.family, tc.dataDevice)
			assertFamilyTemplate(t, e, inst, tc.family, tc.dataDevice, tc.wantCustom)
			assertFamilyNode(t, boot, tc.family)
			assertNewTemplateOnChange(t, e, prov, req)
		})
	}
}

// assertFamilyInstance checks the launched instance as DescribeInstances reports it: the
// family's AMI, detailed monitoring, metadata options and block devices.
func assertFamilyInstance(t *testing.T, e *env, id, family, dataDevice string) ec2types.Instance {
	t.Helper()
	ctx := context.Background()
	// The instance as EC2 reports it.
	out, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	inst := out.Reservations[0].Instances[0]
	if got, want := awssdk.ToString(inst.ImageId), familyAMI(t, family); got != want {
		t.Errorf("image = %s, want the %s AMI %s", got, family, want)
	}
	if inst.Monitoring == nil || inst.Monitoring.State != ec2types.MonitoringStateEnabled {
		t.Errorf("monitoring = %+v, want enabled", inst.Monitoring)
	}
	if md := inst.MetadataOptions; md == nil || awssdk.ToInt32(md.HttpPutResponseHopLimit) != 1 || md.HttpTokens != ec2types.HttpTokensStateOptional ||
		md.HttpEndpoint != ec2types.InstanceMetadataEndpointStateEnabled {
		t.Errorf("metadata options = %+v, want hop limit 1, tokens optional, endpoint enabled (default)", md)
	}
	var devices []string
	for _, b := range inst.BlockDeviceMappings {
		devices = append(devices, awssdk.ToString(b.DeviceName))
		if awssdk.ToString(b.DeviceName) == dataDevice && (b.Ebs == nil || awssdk.ToBool(b.Ebs.DeleteOnTermination)) {
			t.Errorf("%s deleteOnTermination = %+v, want false", dataDevice, b.Ebs)
		}
	}
	if strings.Join(devices, ",") != "/dev/xvdz,"+dataDevice {
		t.Errorf("instance block devices = %v", devices)
	}

	return inst
}

// assertFamilyTemplate checks the instance's launch template as DescribeLaunchTemplateVersions
// reports it: volumes, metadata options, monitoring and the merged user data.
func assertFamilyTemplate(t *testing.T, e *env, inst ec2types.Instance, family, dataDevice, wantCustom string) {
	t.Helper()
	// The launch template as EC2 keeps it.
	ltID := ""
	for _, tag := range inst.Tags {
		if awssdk.ToString(tag.Key) == "aws:ec2launchtemplate:id" {
			ltID = awssdk.ToString(tag.Value)
		}
	}
	lt := describeTemplate(t, e, ltID)
	d := lt.LaunchTemplateData
	if len(d.BlockDeviceMappings) != 2 {
		t.Fatalf("template block devices = %+v", d.BlockDeviceMappings)
	}
	data := d.BlockDeviceMappings[1].Ebs
	if awssdk.ToString(d.BlockDeviceMappings[1].DeviceName) != dataDevice || awssdk.ToInt32(data.VolumeSize) != 100 || data.VolumeType != ec2types.VolumeTypeGp3 ||
		awssdk.ToInt32(data.Iops) != 4000 || awssdk.ToInt32(data.Throughput) != 250 || !awssdk.ToBool(data.Encrypted) || awssdk.ToString(data.KmsKeyId) != "alias/nodes" {
		t.Errorf("template data volume = %+v", data)
	}
	if awssdk.ToInt32(d.BlockDeviceMappings[0].Ebs.VolumeSize) != 8 {
		t.Errorf("template first volume = %+v", d.BlockDeviceMappings[0].Ebs)
	}
	if md := d.MetadataOptions; md == nil || awssdk.ToInt32(md.HttpPutResponseHopLimit) != 1 || md.HttpTokens != ec2types.LaunchTemplateHttpTokensStateOptional ||
		md.HttpProtocolIpv6 != ec2types.LaunchTemplateInstanceMetadataProtocolIpv6Disabled {
		t.Errorf("template metadata options = %+v", md)
	}
	if d.Monitoring == nil || !awssdk.ToBool(d.Monitoring.Enabled) {
		t.Errorf("template monitoring = %+v", d.Monitoring)
	}
	ud, _ := base64.StdEncoding.DecodeString(awssdk.ToString(d.UserData))
	if !strings.Contains(string(ud), wantCustom) {
		t.Errorf("template user data lacks the custom part %q:\n%s", wantCustom, ud)
	}
	if family == v1alpha5.AMIFamilyBottlerocket {
		if strings.Contains(string(ud), "bootstrap.sh") {
			t.Errorf("Bottlerocket user data calls bootstrap.sh:\n%s", ud)
		}
	} else if strings.Index(string(ud), wantCustom) > strings.Index(string(ud), "/etc/eks/bootstrap.sh") {
		t.Errorf("custom part does not come before the bootstrap part:\n%s", ud)
	}

}

// assertFamilyNode checks that the booted instance's user data parses in its family's format
// into the Node's labels, taints, pods and ephemeral-storage.
func assertFamilyNode(t *testing.T, boot *sandboxaws.BootedInstance, family string) {
	t.Helper()
	id := boot.InstanceID
	// The node boots from it in its family's format.
	if boot.AMIFamily != family {
		t.Errorf("booted AMI family = %s, want %s", boot.AMIFamily, family)
	}
	bs, err := node.ParseUserDataFor(boot.AMIFamily, boot.UserData)
	if err != nil {
		t.Fatalf("the %s node cannot read its user data: %v", family, err)
	}
	if bs.ClusterName != testCluster || bs.MaxPods != 42 || bs.Labels["team"] != "blue" || bs.Labels[v1alpha5.LabelProvisionerName] != "default" ||
		len(bs.Taints) != 1 || bs.Taints[0].Key != "dedicated" {
		t.Errorf("bootstrap = %+v", bs)
	}
	if family == v1alpha5.AMIFamilyBottlerocket && bs.Labels["from-user-data"] != "yes" {
		t.Errorf("Bottlerocket: the user data's own label was lost: %v", bs.Labels)
	}
	ni := node.Instance{InstanceID: id, InstanceType: boot.InstanceType, Zone: boot.Zone, PrivateDNSName: boot.PrivateDNSName,
		VCPUs: boot.VCPUs, MemoryMiB: boot.MemoryMiB, Architecture: boot.Architecture, MaxPods: boot.MaxPods, AMIFamily: boot.AMIFamily}
	for _, v := range boot.Volumes {
		ni.Volumes = append(ni.Volumes, node.Volume{DeviceName: v.DeviceName, SizeGiB: v.SizeGiB})
	}
	nd, err := node.BuildNode(ni, bs, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := nd.Status.Capacity[corev1.ResourceEphemeralStorage]; got.Value() != 100<<30 {
		t.Errorf("node ephemeral-storage = %s, want 100Gi", got.String())
	}
	if got := nd.Status.Capacity[corev1.ResourcePods]; got.Value() != 42 {
		t.Errorf("node pods = %s, want 42", got.String())
	}

}

// assertNewTemplateOnChange launches again after a change of the template's content and wants
// the change on the instance and a second launch template.
func assertNewTemplateOnChange(t *testing.T, e *env, prov *v1alpha5.Provisioner, req *cloudprovider.NodeRequest) {
	t.Helper()
	ctx := context.Background()
	// New content, new launch template; the same content reuses it.
	prov.Spec.Provider.MetadataOptions.HTTPPutResponseHopLimit = ptr.To[int64](3)
	req.ClaimName, req.ClaimUID = "default-2", "8d3f5b8e-0000-4000-8000-0000000000a2"
	n2, err := e.cp.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	id2 := n2.ProviderID[strings.LastIndex(n2.ProviderID, "/")+1:]
	out2, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id2}})
	if err != nil {
		t.Fatal(err)
	}
	if md := out2.Reservations[0].Instances[0].MetadataOptions; awssdk.ToInt32(md.HttpPutResponseHopLimit) != 3 {
		t.Errorf("after the change the hop limit = %d, want 3", awssdk.ToInt32(md.HttpPutResponseHopLimit))
	}
	lts, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lts.LaunchTemplates) != 2 {
		t.Errorf("launch templates = %d, want 2 (one per content)", len(lts.LaunchTemplates))
	}
}

func describeTemplate(t *testing.T, e *env, id string) ec2types.LaunchTemplateVersion {
	t.Helper()
	out, err := e.ec2.DescribeLaunchTemplateVersions(context.Background(), &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: awssdk.String(id), Versions: []string{"$Latest"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.LaunchTemplateVersions) != 1 {
		t.Fatalf("template %s: versions = %+v", id, out.LaunchTemplateVersions)
	}
	return out.LaunchTemplateVersions[0]
}

// Bad launch settings are refused before anything is created, with the field path.
func TestProviderLaunchSettingsBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, want string
		mutate     func(*v1alpha5.AWS)
	}{
		{"bottlerocket-not-toml", "spec.provider.userData", func(a *v1alpha5.AWS) {
			a.AMIFamily, a.UserData = ptr.To("Bottlerocket"), ptr.To("#!/bin/bash\necho not toml\n")
		}},
		{"bottlerocket-kubernetes-not-a-table", "spec.provider.userData", func(a *v1alpha5.AWS) {
			a.AMIFamily, a.UserData = ptr.To("Bottlerocket"), ptr.To("[settings]\nkubernetes = 3\n")
		}},
		{"mime-without-boundary", "spec.provider.userData", func(a *v1alpha5.AWS) {
			a.UserData = ptr.To("MIME-Version: 1.0\nContent-Type: multipart/mixed\n\nx\n")
		}},
		{"volume-too-small", "spec.provider.blockDeviceMappings[0].ebs.volumeSize", func(a *v1alpha5.AWS) {
			a.BlockDeviceMappings = []v1alpha5.BlockDeviceMapping{{DeviceName: "/dev/xvda", EBS: v1alpha5.BlockDevice{VolumeSize: ptr.To(v1alpha5.VolumeSize("1Mi"))}}}
		}},
		{"user-data-too-long", "spec.provider.userData", func(a *v1alpha5.AWS) {
			a.UserData = ptr.To("#!/bin/bash\n" + strings.Repeat("#", v1alpha5.MaxUserDataBytes))
		}},
		{"custom-family", "spec.provider.amiFamily", func(a *v1alpha5.AWS) { a.AMIFamily = ptr.To("Custom") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prov := provisioner("bad")
			tc.mutate(prov.Spec.Provider)
			types, err := e.cp.GetInstanceTypes(ctx, prov)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.cp.Create(ctx, &cloudprovider.NodeRequest{ClaimName: "bad-" + tc.name, ClaimUID: k8stypes.UID("uid-" + tc.name), Provisioner: prov,
				InstanceTypeOptions: byName(types, "m5.large"), Labels: map[string]string{v1alpha5.LabelProvisionerName: "bad"}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one at %s", err, tc.want)
			}
		})
	}
	out, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Reservations) != 0 {
		t.Errorf("bad input launched %d reservations", len(out.Reservations))
	}
}
