package aws

import (
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestVolumeLimits(t *testing.T) {
	nitro := func(enis int32) *ec2types.InstanceTypeInfo {
		return &ec2types.InstanceTypeInfo{Hypervisor: ec2types.InstanceTypeHypervisorNitro,
			NetworkInfo: &ec2types.NetworkInfo{MaximumNetworkInterfaces: awssdk.Int32(enis)}}
	}
	withStore := nitro(3)
	withStore.InstanceStorageInfo = &ec2types.InstanceStorageInfo{NvmeSupport: ec2types.EphemeralNvmeSupportRequired,
		Disks: []ec2types.DiskInfo{{Count: awssdk.Int32(2)}}}
	dedicated := nitro(4)
	dedicated.EbsInfo = &ec2types.EbsInfo{AttachmentLimitType: ec2types.AttachmentLimitTypeDedicated, MaximumEbsAttachments: awssdk.Int32(32)}
	reportedShared := nitro(3)
	reportedShared.EbsInfo = &ec2types.EbsInfo{AttachmentLimitType: ec2types.AttachmentLimitTypeShared, MaximumEbsAttachments: awssdk.Int32(27)}
	metal := nitro(15)
	metal.Hypervisor = ""
	for name, tc := range map[string]struct {
		info *ec2types.InstanceTypeInfo
		want int
	}{
		"nitro shared: 28 - root - 2 ENIs":         {nitro(3), 25},
		"nitro with one ENI at most":               {nitro(1), 26},
		"nitro with 2 NVMe instance store volumes": {withStore, 23},
		"dedicated EBS limit: 32 - root":           {dedicated, 31},
		"shared limit as reported by the API":      {reportedShared, 24},
		"bare metal (no hypervisor) is Nitro":      {metal, 25},
		"xen: 40 including the root volume":        {&ec2types.InstanceTypeInfo{Hypervisor: ec2types.InstanceTypeHypervisorXen}, 39},
		"never below 1": {func() *ec2types.InstanceTypeInfo {
			i := nitro(2)
			i.InstanceStorageInfo = &ec2types.InstanceStorageInfo{Disks: []ec2types.DiskInfo{{Count: awssdk.Int32(30)}}}
			return i
		}(), 1},
	} {
		if got := volumeLimits(tc.info)[EBSCSIDriver]; got != tc.want {
			t.Errorf("%s: limit %d, want %d", name, got, tc.want)
		}
	}
}
