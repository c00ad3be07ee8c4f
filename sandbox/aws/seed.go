package aws

// Fixed identifiers of the seeded account, so tests and the sandbox can refer to them.
const (
	SeedVPCID                  = "vpc-0a1b2c3d4e5f60001"
	SeedVPCCIDR                = "10.0.0.0/16"
	SeedClusterSecurityGroupID = "sg-0a1b2c3d4e5f60001"
)

// SeedSubnets are the three subnets (one per zone) the account starts with.
var SeedSubnets = []struct{ ID, Zone, ZoneID, CIDR string }{
	{"subnet-0a1b2c3d4e5f60001", "us-east-1a", "use1-az1", "10.0.0.0/18"},
	{"subnet-0a1b2c3d4e5f60002", "us-east-1b", "use1-az2", "10.0.64.0/18"},
	{"subnet-0a1b2c3d4e5f60003", "us-east-1c", "use1-az4", "10.0.128.0/18"},
}

// SeedAMIs are EKS-optimized images, keyed by the SSM parameter path suffix that resolves them
// (see ssm.go): family/architecture/variant.
var SeedAMIs = []struct{ ID, Name, Architecture, SSMPath string }{
	{"ami-0eks0al2x8664000001", "amazon-eks-node-1.37-v20261115", "x86_64", "/aws/service/eks/optimized-ami/%s/amazon-linux-2/recommended/image_id"},
	{"ami-0eks0al2arm64000001", "amazon-eks-arm64-node-1.37-v20261115", "arm64", "/aws/service/eks/optimized-ami/%s/amazon-linux-2-arm64/recommended/image_id"},
	{"ami-0eks0al2gpu00000001", "amazon-eks-gpu-node-1.37-v20261115", "x86_64", "/aws/service/eks/optimized-ami/%s/amazon-linux-2-gpu/recommended/image_id"},
	{"ami-0bottlerocketx86001", "bottlerocket-aws-k8s-1.37-x86_64-v1.30.0", "x86_64", "/aws/service/bottlerocket/aws-k8s-%s/x86_64/latest/image_id"},
	{"ami-0bottlerocketarm001", "bottlerocket-aws-k8s-1.37-aarch64-v1.30.0", "arm64", "/aws/service/bottlerocket/aws-k8s-%s/arm64/latest/image_id"},
}
