package aws

// Fixed identifiers of the seeded account, so tests and the sandbox can refer to them.
const (
	SeedVPCID                  = "vpc-0a1b2c3d4e5f60001"
	SeedVPCCIDR                = "10.0.0.0/16"
	SeedClusterSecurityGroupID = "sg-0a1b2c3d4e5f60001"
)

// SeedSubnets are the three subnets (one per zone) the account starts with. Zone and ZoneID
// are given in us-east-1, the region the instance type catalogue names its zones in; an
// emulator of another region puts each subnet in the same zone letter of its own region
// (cn-north-1a, zone ID cnn1-az1).
var SeedSubnets = []struct{ ID, Zone, ZoneID, CIDR string }{
	{"subnet-0a1b2c3d4e5f60001", "us-east-1a", "use1-az1", "10.0.0.0/18"},
	{"subnet-0a1b2c3d4e5f60002", "us-east-1b", "use1-az2", "10.0.64.0/18"},
	{"subnet-0a1b2c3d4e5f60003", "us-east-1c", "use1-az4", "10.0.128.0/18"},
}

// SeedAMIs are the public node images of the account, each with the SSM parameter path that
// resolves it (see ssm.go; %s is the Kubernetes version) and its AMI family (AL2, Bottlerocket
// or Ubuntu), which decides the user data format its instances read at boot.
var SeedAMIs = []struct{ ID, Name, Architecture, SSMPath, Family string }{
	{"ami-0eks0al2x8664000001", "amazon-eks-node-1.37-v20261115", "x86_64", "/aws/service/eks/optimized-ami/%s/amazon-linux-2/recommended/image_id", "AL2"},
	{"ami-0eks0al2arm64000001", "amazon-eks-arm64-node-1.37-v20261115", "arm64", "/aws/service/eks/optimized-ami/%s/amazon-linux-2-arm64/recommended/image_id", "AL2"},
	{"ami-0eks0al2gpu00000001", "amazon-eks-gpu-node-1.37-v20261115", "x86_64", "/aws/service/eks/optimized-ami/%s/amazon-linux-2-gpu/recommended/image_id", "AL2"},
	{"ami-0bottlerocketx86001", "bottlerocket-aws-k8s-1.37-x86_64-v1.30.0", "x86_64", "/aws/service/bottlerocket/aws-k8s-%s/x86_64/latest/image_id", "Bottlerocket"},
	{"ami-0bottlerocketarm001", "bottlerocket-aws-k8s-1.37-aarch64-v1.30.0", "arm64", "/aws/service/bottlerocket/aws-k8s-%s/arm64/latest/image_id", "Bottlerocket"},
	{"ami-0bottlerocketgpu001", "bottlerocket-aws-k8s-1.37-nvidia-x86_64-v1.30.0", "x86_64", "/aws/service/bottlerocket/aws-k8s-%s-nvidia/x86_64/latest/image_id", "Bottlerocket"},
	{"ami-0ubuntueksamd640001", "ubuntu-eks/k8s_1.37/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20261115", "x86_64", "/aws/service/canonical/ubuntu/eks/20.04/%s/stable/current/amd64/hvm/ebs-gp2/ami-id", "Ubuntu"},
	{"ami-0ubuntueksarm640001", "ubuntu-eks/k8s_1.37/images/hvm-ssd/ubuntu-focal-20.04-arm64-server-20261115", "arm64", "/aws/service/canonical/ubuntu/eks/20.04/%s/stable/current/arm64/hvm/ebs-gp2/ami-id", "Ubuntu"},
}
