package aws_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	corev1 "k8s.io/api/core/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/node"
)

// TestBottlerocketPodsPerCore launches Bottlerocket nodes of a Provisioner with podsPerCore 2
// and soft eviction through the AWS emulator. Bottlerocket has no pods-per-core setting, so the
// launch templates carry max-pods per instance type group: 4 for the 2-vCPU types (m5.large,
// c5.large: below their ENI limit of 29), 8 for the 4-vCPU m5.xlarge, each the solver's pods
// capacity. The booted node (the sandbox's Bottlerocket boot of the instance's user data) has
// the pods capacity and allocatable the solver planned with, and the user data carries
// eviction-soft, eviction-soft-grace-period and eviction-max-pod-grace-period.
func TestBottlerocketPodsPerCore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	prov := provisioner("default")
	prov.Spec.Provider.AMIFamily = ptr.To(v1alpha5.AMIFamilyBottlerocket)
	prov.Spec.KubeletConfiguration = &v1alpha5.KubeletConfiguration{PodsPerCore: ptr.To[int32](2),
		EvictionSoft:              map[string]v1alpha5.KubeletValue{"memory.available": "500Mi"},
		EvictionSoftGracePeriod:   map[string]v1alpha5.KubeletValue{"memory.available": "1m30s"},
		EvictionMaxPodGracePeriod: ptr.To[int32](60)}
	types, err := e.cp.GetInstanceTypes(ctx, prov)
	if err != nil {
		t.Fatal(err)
	}
	wantPods := map[string]int64{"m5.large": 4, "c5.large": 4, "m5.xlarge": 8}
	for name, want := range wantPods {
		if got := byName(types, name)[0].Capacity.Pods().Value(); got != want {
			t.Errorf("solver's %s pods = %d, want %d (podsPerCore 2 x vCPUs)", name, got, want)
		}
	}
	launch := func(i int, options ...string) (*cloudprovider.InstanceType, *node.Bootstrap, *corev1.Node, string) {
		t.Helper()
		req := &cloudprovider.NodeRequest{ClaimName: fmt.Sprintf("claim-%d", i), ClaimUID: k8stypes.UID(fmt.Sprintf("8d3f5b8e-0000-4000-8000-0000000000b%d", i)),
			Provisioner: prov, InstanceTypeOptions: byName(types, options...),
			Labels: map[string]string{"team": "blue", v1alpha5.LabelProvisionerName: "default"}, Taints: prov.Spec.Taints}
		n, err := e.cp.Create(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		boot := e.waitForBoot(t, n.ProviderID[strings.LastIndex(n.ProviderID, "/")+1:])
		bs, err := node.ParseUserDataFor(boot.AMIFamily, boot.UserData)
		if err != nil {
			t.Fatalf("Bottlerocket boot: %v\n%s", err, boot.UserData)
		}
		nd, err := node.BuildNode(node.Instance{InstanceID: boot.InstanceID, InstanceType: boot.InstanceType, Zone: boot.Zone,
			PrivateDNSName: boot.PrivateDNSName, VCPUs: boot.VCPUs, MemoryMiB: boot.MemoryMiB, Architecture: boot.Architecture,
			MaxPods: boot.MaxPods, AMIFamily: boot.AMIFamily}, bs, "us-east-1")
		if err != nil {
			t.Fatal(err)
		}
		return byName(types, boot.InstanceType)[0], bs, nd, string(boot.UserData)
	}
	for i, options := range [][]string{{"m5.large", "c5.large", "m5.xlarge"}, {"m5.xlarge"}} {
		it, bs, nd, ud := launch(i, options...)
		want := it.Capacity.Pods().Value()
		capacity, allocatable, planned := nd.Status.Capacity[corev1.ResourcePods], nd.Status.Allocatable[corev1.ResourcePods], it.Allocatable()
		if int64(bs.MaxPods) != want || capacity.Value() != want {
			t.Errorf("%s: user data max-pods %d, node pods %s, want the solver's %d", it.Name, bs.MaxPods, capacity.String(), want)
		}
		if got, plan := allocatable.Value(), planned.Pods().Value(); got != plan {
			t.Errorf("%s: node allocatable pods %d, solver's %d", it.Name, got, plan)
		}
		for _, s := range []string{"eviction-max-pod-grace-period = 60", "[settings.kubernetes.eviction-soft]", "'memory.available' = '500Mi'",
			"[settings.kubernetes.eviction-soft-grace-period]", "'memory.available' = '1m30s'"} {
			if !strings.Contains(ud, s) {
				t.Errorf("%s: user data lacks %q:\n%s", it.Name, s, ud)
			}
		}
	}
	// The launch templates: one per max-pods group of the first launch (4 and 8), reused by the
	// second (8).
	lts, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var maxPods []int
	for _, lt := range lts.LaunchTemplates {
		v := describeTemplate(t, e, awssdk.ToString(lt.LaunchTemplateId))
		ud, _ := base64.StdEncoding.DecodeString(awssdk.ToString(v.LaunchTemplateData.UserData))
		bs, err := node.ParseBottlerocketUserData(ud)
		if err != nil {
			t.Fatal(err)
		}
		maxPods = append(maxPods, int(bs.MaxPods))
	}
	slices.Sort(maxPods)
	if fmt.Sprint(maxPods) != "[4 8]" {
		t.Errorf("launch templates' max-pods = %v, want [4 8]", maxPods)
	}
}
