package aws

import (
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// EBSCSIDriver is the name of the Amazon EBS CSI driver, the key of the EBS limit in
// cloudprovider.InstanceType.VolumeLimits.
const EBSCSIDriver = "ebs.csi.aws.com"

// Attachment limits from "Amazon EBS volume limits for Amazon EC2 instances"
// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/volume_limits.html):
//   - nitroSharedAttachments: most Nitro instance types have 28 attachments shared by EBS
//     volumes, network interfaces and NVMe instance store volumes;
//   - xenVolumes: on Xen instance types, Linux supports up to 40 EBS volumes, the root
//     volume included.
//
// startupENIs are the network interfaces a node has when the EBS CSI driver starts and counts
// its attachments: the primary one and the one the Amazon VPC CNI attaches at once with its
// default WARM_ENI_TARGET of 1 (https://github.com/aws/amazon-vpc-cni-k8s, docs/eni-and-ip-target.md).
const (
	nitroSharedAttachments = 28
	xenVolumes             = 40
	startupENIs            = 2
)

// volumeLimits returns how many EBS volumes the EBS CSI driver can attach to a new node of the
// type besides the node's root volume (the launch template's only EBS volume), by driver name:
//   - a type with a dedicated EBS limit (DescribeInstanceTypes ebsInfo.attachmentLimitType
//     "dedicated"): ebsInfo.maximumEbsAttachments less the root volume;
//   - any other type not on Xen (hypervisor "nitro", or bare metal, which AWS builds on Nitro):
//     the shared limit (ebsInfo.maximumEbsAttachments when reported, else 28) less the root
//     volume, startupENIs network interfaces (at most the type's maximum) and the NVMe instance
//     store volumes;
//   - a Xen type: 40 less the root volume.
//
// At least 1. The driver reports its own count in the node's CSINode once it runs there; the
// solver prefers that count.
func volumeLimits(info *ec2types.InstanceTypeInfo) map[string]int {
	ebs := info.EbsInfo
	reported := 0
	if ebs != nil {
		reported = int(awssdk.ToInt32(ebs.MaximumEbsAttachments))
	}
	var limit int
	switch {
	case ebs != nil && ebs.AttachmentLimitType == ec2types.AttachmentLimitTypeDedicated && reported > 0:
		limit = reported - 1
	case info.Hypervisor == ec2types.InstanceTypeHypervisorXen:
		limit = xenVolumes - 1
	default:
		shared := nitroSharedAttachments
		if reported > 0 {
			shared = reported
		}
		enis := startupENIs
		if info.NetworkInfo != nil {
			if m := int(awssdk.ToInt32(info.NetworkInfo.MaximumNetworkInterfaces)); m > 0 {
				enis = min(enis, m)
			}
		}
		limit = shared - 1 - enis - nvmeInstanceStoreVolumes(info)
	}
	return map[string]int{EBSCSIDriver: max(limit, 1)}
}

// nvmeInstanceStoreVolumes counts the type's NVMe instance store volumes (0 without NVMe).
func nvmeInstanceStoreVolumes(info *ec2types.InstanceTypeInfo) int {
	s := info.InstanceStorageInfo
	if s == nil || s.NvmeSupport == ec2types.EphemeralNvmeSupportUnsupported {
		return 0
	}
	n := 0
	for _, d := range s.Disks {
		n += int(awssdk.ToInt32(d.Count))
	}
	return n
}
