package aws

import (
	"fmt"
	"regexp"
	"strings"
)

// Partition is the AWS partition a region belongs to: its ID as ARNs carry it ("aws",
// "aws-cn", "aws-us-gov") and the DNS suffix of its service endpoints and of the service
// principals that take one ("amazonaws.com", "amazonaws.com.cn").
type Partition struct {
	ID        string
	DNSSuffix string
}

// PartitionOf returns the partition of region as AWS assigns it (source: the partitions
// metadata of the AWS SDKs, partitions.json: "regionRegex" and "dnsSuffix" of each
// partition): cn-* is aws-cn with DNS suffix amazonaws.com.cn, us-gov-* is aws-us-gov with
// amazonaws.com, any other region aws with amazonaws.com. The emulator emulates only these
// three partitions.
func PartitionOf(region string) Partition {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return Partition{ID: "aws-cn", DNSSuffix: "amazonaws.com.cn"}
	case strings.HasPrefix(region, "us-gov-"):
		return Partition{ID: "aws-us-gov", DNSSuffix: "amazonaws.com"}
	default:
		return Partition{ID: "aws", DNSSuffix: "amazonaws.com"}
	}
}

// EC2ServicePrincipal is the service principal of EC2 in the partition, which a node role's
// trust policy must name for instances to get its credentials and which iam:PassedToService
// carries when a role is passed to EC2: ec2.amazonaws.com, and ec2.amazonaws.com.cn in the
// China partition. Sources: the IAM User Guide for the China Regions (docs.amazonaws.cn,
// "AWS JSON policy elements: Principal": service principals are usually
// service-name.amazonaws.com, some services use the .amazonaws.com.cn form) and EKS's own
// check in China, "Following required service principals [ec2.amazonaws.com.cn] were not
// found in the trust relationships of nodeRole arn:aws-cn:..." (quoted in
// awslabs/cdk-eks-blueprints#558 and bottlerocket-os/bottlerocket-update-operator#316).
func (p Partition) EC2ServicePrincipal() string { return "ec2." + p.DNSSuffix }

// ManagedPolicyARN is the ARN of the AWS managed policy name in the partition,
// arn:<partition>:iam::aws:policy/<name>.
func (p Partition) ManagedPolicyARN(name string) string {
	return "arn:" + p.ID + ":iam::aws:policy/" + name
}

// ARN formats arn:<partition>:<service>:<region>:<account>:<resource>; region and account may
// be empty (IAM and STS ARNs have no region, AWS-owned images no account).
func (p Partition) ARN(service, region, account, resource string) string {
	return "arn:" + p.ID + ":" + service + ":" + region + ":" + account + ":" + resource
}

// regionRE is the shape of an AWS region name: a two-letter area, one or more words, a number
// (us-east-1, cn-north-1, us-gov-west-1).
var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// ValidRegion returns nil if region has the shape of an AWS region name (us-east-1,
// cn-north-1, us-gov-west-1), else an error naming it.
func ValidRegion(region string) error {
	if !regionRE.MatchString(region) {
		return fmt.Errorf("region %q is not an AWS region name such as us-east-1, cn-north-1 or us-gov-west-1", region)
	}
	return nil
}

// partition is the emulator's partition, from Options.Region.
func (e *Emulator) partition() Partition { return PartitionOf(e.opts.Region) }

// Partition returns the partition of the emulator's region (see PartitionOf).
func (e *Emulator) Partition() Partition { return e.partition() }

// iamARN is arn:<partition>:iam::<account>:<resource> of the emulated account.
func (e *Emulator) iamARN(resource string) string {
	return e.partition().ARN("iam", "", e.opts.AccountID, resource)
}

// privateDNSDomain is the domain of instances' private DNS names in the emulator's region:
// ec2.internal in us-east-1, <region>.compute.internal elsewhere (source: Amazon VPC User
// Guide, "DNS attributes for your VPC": the private IPv4 DNS hostname forms).
func (e *Emulator) privateDNSDomain() string {
	if e.opts.Region == "us-east-1" {
		return "ec2.internal"
	}
	return e.opts.Region + ".compute.internal"
}

// catalogRegion is the region whose zones the instance type catalogue names (us-east-1a, -1b,
// -1c); the emulator renames them into its own region's zones (zoneName).
const catalogRegion = "us-east-1"

// zoneName maps a catalogue or seed zone (us-east-1a) to the same zone letter in the
// emulator's region (cn-north-1a); a name of another shape is returned as it is.
func (e *Emulator) zoneName(catalogZone string) string {
	if letter, ok := strings.CutPrefix(catalogZone, catalogRegion); ok {
		return e.opts.Region + letter
	}
	return catalogZone
}

// zoneIDs maps each seed zone as the catalogue names it (us-east-1a) to the emulator's ID of
// that zone (zoneID).
func (e *Emulator) zoneIDs() map[string]string {
	out := map[string]string{}
	for _, sn := range SeedSubnets {
		out[sn.Zone] = e.zoneID(sn.ZoneID)
	}
	return out
}

// zoneID maps a seed zone ID (use1-az1) into the emulator's region: its short region code
// (the two-letter area, then the first letter of each further word, then the number:
// us-east-1 -> use1, cn-north-1 -> cnn1, us-gov-west-1 -> usgw1, the form AWS's zone IDs
// take) followed by the same -azN.
func (e *Emulator) zoneID(seedZoneID string) string {
	_, az, ok := strings.Cut(seedZoneID, "-")
	if !ok {
		return seedZoneID
	}
	parts := strings.Split(e.opts.Region, "-")
	if ValidRegion(e.opts.Region) != nil {
		return seedZoneID
	}
	code := parts[0]
	for _, w := range parts[1 : len(parts)-1] {
		code += w[:1]
	}
	return code + parts[len(parts)-1] + "-" + az
}
