package provider

import (
	"strings"
	"testing"
)

// TestPartitionFromARN checks the partition and DNS suffix taken from callers' ARNs, and the
// trust policy and default policy ARNs built from them.
func TestPartitionFromARN(t *testing.T) {
	for _, c := range []struct{ arn, partition, principal, policy string }{
		{"arn:aws:iam::111122223333:user/admin", "aws", "ec2.amazonaws.com", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
		{"arn:aws-cn:sts::111122223333:assumed-role/ops/session", "aws-cn", "ec2.amazonaws.com.cn", "arn:aws-cn:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
		{"arn:aws-us-gov:iam::111122223333:root", "aws-us-gov", "ec2.amazonaws.com", "arn:aws-us-gov:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
	} {
		p, err := partitionFromARN(c.arn)
		if err != nil {
			t.Fatalf("%s: %v", c.arn, err)
		}
		if p.Partition != c.partition || p.servicePrincipal("ec2") != c.principal || defaultNodePolicyARNs(p)[0] != c.policy {
			t.Errorf("%s: %+v, principal %s, policy %s", c.arn, p, p.servicePrincipal("ec2"), defaultNodePolicyARNs(p)[0])
		}
		if !strings.Contains(trustPolicyFor(p, "ec2"), `"Service":"`+c.principal+`"`) {
			t.Errorf("%s: trust policy %s", c.arn, trustPolicyFor(p, "ec2"))
		}
	}
	for _, bad := range []string{"not-an-arn", "arn:aws-mars:iam::111122223333:root"} {
		if _, err := partitionFromARN(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
