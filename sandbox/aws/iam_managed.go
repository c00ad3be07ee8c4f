package aws

import "strings"

// awsManagedPolicy is an AWS managed policy the emulated account can attach
// (arn:<partition>:iam::aws:policy/<Name>, in the partition of the emulator's region). Names, descriptions and the actions of each document are
// facts from the AWS Managed Policy Reference Guide
// (docs.aws.amazon.com/aws-managed-policy/latest/reference/<Name>.html); the documents are
// abridged to the statements that matter to EKS nodes. The IDs are fixed ANPA identifiers so
// they are stable across emulator restarts (not asserted to equal AWS's).
type awsManagedPolicy struct {
	Name, ID, Description, Document string
}

// arn is the policy's ARN in partition part.
func (p awsManagedPolicy) arn(part Partition) string { return part.ManagedPolicyARN(p.Name) }

// document is the policy's document with the resource ARNs in partition part (the documents
// below are written for the aws partition; AWS publishes each managed policy in every
// partition with that partition's ARNs).
func (p awsManagedPolicy) document(part Partition) string {
	return strings.ReplaceAll(p.Document, `"arn:aws:`, `"arn:`+part.ID+`:`)
}

var awsManagedPolicies = []awsManagedPolicy{
	{
		Name: "AmazonEKSWorkerNodePolicy", ID: "ANPAIBVMOY52IPQ6HD3PO",
		Description: "This policy allows Amazon EKS worker nodes to connect to Amazon EKS Clusters.",
		Document:    `{"Version":"2012-10-17","Statement":[{"Sid":"WorkerNodePermissions","Effect":"Allow","Action":["ec2:DescribeInstances","ec2:DescribeInstanceTypes","ec2:DescribeRouteTables","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVolumes","ec2:DescribeVolumesModifications","ec2:DescribeVpcs","eks:DescribeCluster","eks-auth:AssumeRoleForPodIdentity"],"Resource":"*"}]}`,
	},
	{
		Name: "AmazonEKS_CNI_Policy", ID: "ANPAJWLAS474LDBXNNTM4",
		Description: "This policy provides the Amazon VPC CNI Plugin (amazon-vpc-cni-k8s) the permissions it requires to modify the IP address configuration on your EKS worker nodes.",
		Document:    `{"Version":"2012-10-17","Statement":[{"Sid":"AmazonEKSCNIPolicy","Effect":"Allow","Action":["ec2:AssignPrivateIpAddresses","ec2:AttachNetworkInterface","ec2:CreateNetworkInterface","ec2:DeleteNetworkInterface","ec2:DescribeInstances","ec2:DescribeTags","ec2:DescribeNetworkInterfaces","ec2:DescribeInstanceTypes","ec2:DescribeSubnets","ec2:DetachNetworkInterface","ec2:ModifyNetworkInterfaceAttribute","ec2:UnassignPrivateIpAddresses"],"Resource":"*"},{"Sid":"AmazonEKSCNIPolicyENITag","Effect":"Allow","Action":["ec2:CreateTags"],"Resource":["arn:aws:ec2:*:*:network-interface/*"]}]}`,
	},
	{
		Name: "AmazonEC2ContainerRegistryReadOnly", ID: "ANPAIFYZPA37OOHVIH7KQ",
		Description: "Provides read-only access to Amazon EC2 Container Registry repositories.",
		Document:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:GetRepositoryPolicy","ecr:DescribeRepositories","ecr:ListImages","ecr:DescribeImages","ecr:BatchGetImage","ecr:GetLifecyclePolicy","ecr:GetLifecyclePolicyPreview","ecr:ListTagsForResource","ecr:DescribeImageScanFindings"],"Resource":"*"}]}`,
	},
	{
		Name: "AmazonSSMManagedInstanceCore", ID: "ANPAIXSHM2BNB2D3AXXRU",
		Description: "The policy for Amazon EC2 Role to enable AWS Systems Manager service core functionality.",
		Document:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:DescribeAssociation","ssm:GetDeployablePatchSnapshotForInstance","ssm:GetDocument","ssm:DescribeDocument","ssm:GetManifest","ssm:GetParameter","ssm:GetParameters","ssm:ListAssociations","ssm:ListInstanceAssociations","ssm:PutInventory","ssm:PutComplianceItems","ssm:PutConfigurePackageResult","ssm:UpdateAssociationStatus","ssm:UpdateInstanceAssociationStatus","ssm:UpdateInstanceInformation"],"Resource":"*"},{"Effect":"Allow","Action":["ssmmessages:CreateControlChannel","ssmmessages:CreateDataChannel","ssmmessages:OpenControlChannel","ssmmessages:OpenDataChannel"],"Resource":"*"},{"Effect":"Allow","Action":["ec2messages:AcknowledgeMessage","ec2messages:DeleteMessage","ec2messages:FailMessage","ec2messages:GetEndpoint","ec2messages:GetMessages","ec2messages:SendReply"],"Resource":"*"}]}`,
	},
	{
		Name: "AmazonEKSClusterPolicy", ID: "ANPAIBTLDQMIC6UOIGFWA",
		Description: "This policy provides Kubernetes the permissions it requires to manage resources on your behalf.",
		Document:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["autoscaling:DescribeAutoScalingGroups","autoscaling:UpdateAutoScalingGroup","ec2:AttachVolume","ec2:AuthorizeSecurityGroupIngress","ec2:CreateRoute","ec2:CreateSecurityGroup","ec2:CreateTags","ec2:CreateVolume","ec2:DeleteRoute","ec2:DeleteSecurityGroup","ec2:DeleteVolume","ec2:DescribeInstances","ec2:DescribeRouteTables","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVolumes","ec2:DescribeVolumesModifications","ec2:DescribeVpcs","ec2:DescribeDhcpOptions","ec2:DescribeNetworkInterfaces","ec2:DescribeAvailabilityZones","ec2:DetachVolume","ec2:ModifyInstanceAttribute","ec2:ModifyVolume","ec2:RevokeSecurityGroupIngress","elasticloadbalancing:*","kms:DescribeKey"],"Resource":"*"}]}`,
	},
}
