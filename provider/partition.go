package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// partitionDNSSuffixes maps each AWS partition to the DNS suffix of its service endpoints and
// service principals (source: the partitions metadata of the AWS SDKs, partitions.json:
// "dnsSuffix" of each partition).
var partitionDNSSuffixes = map[string]string{
	"aws":        "amazonaws.com",
	"aws-cn":     "amazonaws.com.cn",
	"aws-us-gov": "amazonaws.com",
	"aws-iso":    "c2s.ic.gov",
	"aws-iso-b":  "sc2s.sgov.gov",
	"aws-iso-e":  "cloud.adc-e.uk",
	"aws-iso-f":  "csp.hci.ic.gov",
	"aws-eusc":   "amazonaws.eu",
}

// partitionInfo is the partition of the caller's account and its DNS suffix.
type partitionInfo struct {
	Partition string // e.g. "aws", "aws-cn", "aws-us-gov"
	DNSSuffix string // e.g. "amazonaws.com", "amazonaws.com.cn"
}

// partitionFromARN returns the partition of an ARN (the caller's, from STS GetCallerIdentity)
// and its DNS suffix. Errors: an ARN that does not parse or a partition this provider does not
// know.
func partitionFromARN(s string) (partitionInfo, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return partitionInfo{}, fmt.Errorf("caller ARN %q: %w", s, err)
	}
	suffix, ok := partitionDNSSuffixes[a.Partition]
	if !ok {
		return partitionInfo{}, fmt.Errorf("caller ARN %q: unknown partition %q", s, a.Partition)
	}
	return partitionInfo{Partition: a.Partition, DNSSuffix: suffix}, nil
}

// servicePrincipal is the principal of service (e.g. "ec2") in the partition: ec2.amazonaws.com,
// or ec2.amazonaws.com.cn in China.
func (p partitionInfo) servicePrincipal(service string) string { return service + "." + p.DNSSuffix }

// managedPolicyARN is the ARN of the AWS managed policy name in the partition.
func (p partitionInfo) managedPolicyARN(name string) string {
	return "arn:" + p.Partition + ":iam::aws:policy/" + name
}

// partitionCache memoises the caller's partition per provider instance.
type partitionCache struct {
	once sync.Once
	info partitionInfo
	err  error
}

// partition returns the partition of the configured credentials' account, from STS
// GetCallerIdentity (called once per provider instance).
func (c *clients) partition(ctx context.Context) (partitionInfo, error) {
	c.part.once.Do(func() {
		out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			c.part.err = fmt.Errorf("sts:GetCallerIdentity (to learn the AWS partition): %w", err)
			return
		}
		c.part.info, c.part.err = partitionFromARN(aws.ToString(out.Arn))
	})
	return c.part.info, c.part.err
}

// trustPolicyFor returns the trust policy letting service's principal assume a role.
func trustPolicyFor(p partitionInfo, service string) string {
	return strings.Replace(ec2TrustPolicy, `"ec2.amazonaws.com"`, `"`+p.servicePrincipal(service)+`"`, 1)
}
