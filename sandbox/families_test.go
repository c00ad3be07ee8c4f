package sandbox_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
)

// launchImage runs one m5.large of image with the given volumes and user data.
func launchImage(t *testing.T, sb *sandbox.Sandbox, profile, image, userData string, volumes map[string]int32) ec2types.Instance {
	t.Helper()
	in := &ec2.RunInstancesInput{
		MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), ImageId: awssdk.String(image),
		InstanceType: ec2types.InstanceTypeM5Large, SubnetId: awssdk.String(aws.SeedSubnets[1].ID),
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: &profile},
		UserData:           awssdk.String(base64.StdEncoding.EncodeToString([]byte(userData))),
	}
	for dev, gi := range volumes {
		in.BlockDeviceMappings = append(in.BlockDeviceMappings, ec2types.BlockDeviceMapping{DeviceName: awssdk.String(dev),
			Ebs: &ec2types.EbsBlockDevice{VolumeSize: awssdk.Int32(gi), VolumeType: ec2types.VolumeTypeGp3}})
	}
	out, err := ec2.NewFromConfig(sb.AWSConfig()).RunInstances(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out.Instances[0]
}

func seedImage(t *testing.T, family string) string {
	t.Helper()
	for _, a := range aws.SeedAMIs {
		if a.Family == family && a.Architecture == "x86_64" && !strings.Contains(a.Name, "nvidia") && !strings.Contains(a.Name, "gpu") {
			return a.ID
		}
	}
	t.Fatalf("no %s image", family)
	return ""
}

// An instance boots in its image's AMI family's format: the controller's Bottlerocket TOML and
// its AL2 and Ubuntu MIME documents (with a custom part first) each register a Node with the
// labels, taints and max pods they carry and the data volume's ephemeral-storage; an AL2
// script on a Bottlerocket image never joins.
func TestFamiliesBootFromTheirUserData(t *testing.T) {
	sb := sandboxtest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(sb.RESTConfig())
	profile := nodeRole(t, sb, "test-family-role", true)
	cluster := &awscloud.ClusterInfo{Name: sb.ClusterName, Endpoint: sb.Endpoint, CABase64: base64.StdEncoding.EncodeToString(sb.CACertPEM)}
	taints := []corev1.Taint{{Key: "dedicated", Value: "blue", Effect: corev1.TaintEffectNoSchedule}}
	kc := &v1alpha5.KubeletConfiguration{MaxPods: ptr.To[int32](30)}
	type launched struct {
		family string
		inst   ec2types.Instance
	}
	var ok []launched
	for _, tc := range []struct {
		family, custom, dataDevice string
	}{
		{v1alpha5.AMIFamilyBottlerocket, "[settings.host-containers.admin]\nenabled = true\n", "/dev/xvdb"},
		{v1alpha5.AMIFamilyUbuntu, "#!/bin/bash\necho prepared\n", "/dev/sda1"},
		{v1alpha5.AMIFamilyAL2, "", "/dev/xvda"},
	} {
		labels := map[string]string{"team": "blue", "family": strings.ToLower(tc.family)}
		ud, err := awscloud.UserData(tc.family, cluster, labels, taints, kc, ptr.To(tc.custom))
		if err != nil {
			t.Fatal(err)
		}
		ok = append(ok, launched{tc.family, launchImage(t, sb, profile, seedImage(t, tc.family), ud, map[string]int32{"/dev/xvdz": 8, tc.dataDevice: 50})})
	}
	wrongFormat := launchImage(t, sb, profile, seedImage(t, v1alpha5.AMIFamilyBottlerocket), userData(sb, sb.ClusterName), nil)

	for _, l := range ok {
		var n *corev1.Node
		eventually(t, 30*time.Second, l.family+" node of "+*l.inst.InstanceId, func() (bool, error) {
			var err error
			n, err = cs.CoreV1().Nodes().Get(ctx, *l.inst.PrivateDnsName, metav1.GetOptions{})
			return err == nil, err
		})
		if n.Labels["family"] != strings.ToLower(l.family) || n.Labels["team"] != "blue" {
			t.Errorf("%s node labels %v", l.family, n.Labels)
		}
		if len(n.Spec.Taints) == 0 || !hasTaint(n.Spec.Taints, taints[0]) {
			t.Errorf("%s node taints %v", l.family, n.Spec.Taints)
		}
		if got := n.Status.Capacity[corev1.ResourcePods]; got.Value() != 30 {
			t.Errorf("%s node pods %s, want 30", l.family, got.String())
		}
		if got := n.Status.Capacity[corev1.ResourceEphemeralStorage]; got.Value() != 50<<30 {
			t.Errorf("%s node ephemeral-storage %s, want the data volume's 50Gi", l.family, got.String())
		}
	}
	eventually(t, 20*time.Second, "boot of "+*wrongFormat.InstanceId, func() (bool, error) {
		_, booted := sb.BootResult(*wrongFormat.InstanceId)
		return booted, nil
	})
	if err, _ := sb.BootResult(*wrongFormat.InstanceId); err == nil || !strings.Contains(err.Error(), "not TOML") {
		t.Errorf("AL2 script on Bottlerocket: join error %v, want a TOML error", err)
	}
	if _, err := cs.CoreV1().Nodes().Get(ctx, *wrongFormat.PrivateDnsName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Bottlerocket instance with an AL2 script joined (%v)", err)
	}
}

func hasTaint(ts []corev1.Taint, want corev1.Taint) bool {
	for _, t := range ts {
		if t.Key == want.Key && t.Value == want.Value && t.Effect == want.Effect {
			return true
		}
	}
	return false
}
