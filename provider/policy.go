package provider

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// PolicyDocument is an IAM policy document (source: IAM User Guide, "IAM JSON policy elements
// reference"). Action and Resource are always written as arrays.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement of a PolicyDocument. Condition maps an operator
// (StringEquals, ...) to condition keys and their value (a string or a list of strings).
type PolicyStatement struct {
	Sid       string                             `json:"Sid,omitempty"`
	Effect    string                             `json:"Effect"`
	Principal map[string]policyValues            `json:"Principal,omitempty"`
	Action    policyValues                       `json:"Action"`
	Resource  policyValues                       `json:"Resource,omitempty"`
	Condition map[string]map[string]policyValues `json:"Condition,omitempty"`
}

// policyValues is a JSON string or array of strings; it marshals as an array, except that a
// single value marshals as a string (the form IAM itself returns for one value).
type policyValues []string

// UnmarshalJSON accepts "x" or ["x", "y"].
func (s *policyValues) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = policyValues{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or an array of strings: %w", err)
	}
	*s = many
	return nil
}

// MarshalJSON writes one value as a string and several as an array.
func (s policyValues) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// ControllerPolicyInput is what the controller policy is scoped to.
type ControllerPolicyInput struct {
	Partition   string // "aws", "aws-cn", "aws-us-gov", ...
	DNSSuffix   string // the partition's: "amazonaws.com" (the default when empty), "amazonaws.com.cn"
	Region      string // e.g. "us-east-1"
	AccountID   string // 12 digits
	ClusterName string
	NodeRoleARN string
}

// Statement ids of the controller policy; Read finds cluster name and node role by them.
const (
	sidReadOnly        = "AllowRegionalReadActions"
	sidLaunchScoped    = "AllowScopedEC2InstanceAccessActions"
	sidLaunchNetwork   = "AllowDiscoveredNetworkLaunch"
	sidLaunchTemplate  = "AllowClusterLaunchTemplateUse"
	sidLaunchTagged    = "AllowScopedEC2LaunchWithClusterTag"
	sidTagOnCreate     = "AllowScopedResourceCreationTagging"
	sidDeleteTagged    = "AllowScopedDeletion"
	sidPassNodeRole    = "AllowPassingInstanceRole"
	sidSSM             = "AllowSSMReadActions"
	sidPricing         = "AllowPricingReadActions"
	sidClusterDescribe = "AllowAPIServerEndpointDiscovery"

	clusterTagKey   = "karpenter.sh/cluster"
	discoveryTagKey = "karpenter.sh/discovery"
)

// ControllerPolicy returns the least-privilege policy of the Karpenter controller. Its shape
// follows the statements of Karpenter's getting-started CloudFormation template
// (KarpenterControllerPolicy, v0.32), narrowed further:
//   - read-only EC2 Describe* limited to the region;
//   - launch (CreateFleet/RunInstances) from the region's public images and snapshots; into
//     subnets and security groups only if tagged karpenter.sh/discovery=<cluster> (the
//     karpenter_discovery_tags resource writes the tag, so a Provisioner's selectors must pick
//     tagged ones); from launch templates only if tagged karpenter.sh/cluster=<cluster> (the
//     controller tags those it creates);
//   - creation of instances, fleets, volumes, network interfaces, spot requests and launch
//     templates only with the request tag karpenter.sh/cluster=<cluster>; CreateTags only as part
//     of those creations (ec2:CreateAction);
//   - TerminateInstances/DeleteLaunchTemplate only on resources tagged
//     karpenter.sh/cluster=<cluster>;
//   - iam:PassRole of the node role to EC2 only (iam:PassedToService);
//   - ssm:GetParameter on the public EKS/Bottlerocket/Ubuntu AMI parameters;
//     eks:DescribeCluster on the cluster; pricing:GetProducts.
//
// The sandbox's AWS emulator enforces every condition of it (sandbox/aws/ec2_authz.go), and
// the controller runs there with this policy only.
func ControllerPolicy(in ControllerPolicyInput) PolicyDocument {
	p, r := in.Partition, in.Region
	suffix := in.DNSSuffix
	if suffix == "" {
		suffix = "amazonaws.com"
	}
	ec2ARN := func(kind string) string { return fmt.Sprintf("arn:%s:ec2:%s:*:%s/*", p, r, kind) }
	created := policyValues{ec2ARN("fleet"), ec2ARN("instance"), ec2ARN("volume"), ec2ARN("network-interface"),
		ec2ARN("launch-template"), ec2ARN("spot-instances-request")}
	clusterTag := map[string]policyValues{"aws:RequestTag/" + clusterTagKey: {in.ClusterName}}
	launch := policyValues{"ec2:CreateFleet", "ec2:RunInstances"}
	return PolicyDocument{Version: "2012-10-17", Statement: []PolicyStatement{
		{Sid: sidReadOnly, Effect: "Allow", Resource: policyValues{"*"},
			Action: policyValues{"ec2:DescribeAvailabilityZones", "ec2:DescribeImages", "ec2:DescribeInstanceTypeOfferings",
				"ec2:DescribeInstanceTypes", "ec2:DescribeInstances", "ec2:DescribeLaunchTemplates", "ec2:DescribeSecurityGroups",
				"ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"},
			Condition: map[string]map[string]policyValues{"StringEquals": {"aws:RequestedRegion": {r}}}},
		{Sid: sidLaunchScoped, Effect: "Allow", Action: launch,
			Resource: policyValues{fmt.Sprintf("arn:%s:ec2:%s::image/*", p, r), fmt.Sprintf("arn:%s:ec2:%s::snapshot/*", p, r)}},
		{Sid: sidLaunchNetwork, Effect: "Allow", Action: launch, Resource: policyValues{ec2ARN("security-group"), ec2ARN("subnet")},
			Condition: map[string]map[string]policyValues{"StringEquals": {"ec2:ResourceTag/" + discoveryTagKey: {in.ClusterName}}}},
		{Sid: sidLaunchTemplate, Effect: "Allow", Action: launch, Resource: policyValues{ec2ARN("launch-template")},
			Condition: map[string]map[string]policyValues{"StringEquals": {"ec2:ResourceTag/" + clusterTagKey: {in.ClusterName}}}},
		{Sid: sidLaunchTagged, Effect: "Allow", Action: policyValues{"ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:RunInstances"},
			Resource: created, Condition: map[string]map[string]policyValues{"StringEquals": clusterTag}},
		{Sid: sidTagOnCreate, Effect: "Allow", Action: policyValues{"ec2:CreateTags"}, Resource: created,
			Condition: map[string]map[string]policyValues{"StringEquals": {
				"aws:RequestTag/" + clusterTagKey: {in.ClusterName},
				"ec2:CreateAction":                {"CreateFleet", "CreateLaunchTemplate", "RunInstances"}}}},
		{Sid: sidDeleteTagged, Effect: "Allow", Action: policyValues{"ec2:DeleteLaunchTemplate", "ec2:TerminateInstances"},
			Resource:  policyValues{ec2ARN("instance"), ec2ARN("launch-template")},
			Condition: map[string]map[string]policyValues{"StringEquals": {"ec2:ResourceTag/" + clusterTagKey: {in.ClusterName}}}},
		{Sid: sidPassNodeRole, Effect: "Allow", Action: policyValues{"iam:PassRole"}, Resource: policyValues{in.NodeRoleARN},
			Condition: map[string]map[string]policyValues{"StringEquals": {"iam:PassedToService": {"ec2." + suffix}}}},
		{Sid: sidSSM, Effect: "Allow", Action: policyValues{"ssm:GetParameter"},
			Resource: policyValues{fmt.Sprintf("arn:%s:ssm:%s::parameter/aws/service/eks/optimized-ami/*", p, r),
				fmt.Sprintf("arn:%s:ssm:%s::parameter/aws/service/bottlerocket/*", p, r),
				fmt.Sprintf("arn:%s:ssm:%s::parameter/aws/service/canonical/ubuntu/*", p, r)}},
		{Sid: sidPricing, Effect: "Allow", Action: policyValues{"pricing:GetProducts"}, Resource: policyValues{"*"}},
		{Sid: sidClusterDescribe, Effect: "Allow", Action: policyValues{"eks:DescribeCluster"},
			Resource: policyValues{fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", p, r, in.AccountID, in.ClusterName)}},
	}}
}

// OIDCTrustPolicy lets the service account ns/name of the cluster whose OIDC provider is
// providerARN (issuer host+path issuer) assume the role by web identity (source: IAM User Guide,
// "Creating a role for web identity or OIDC federation"; EKS User Guide, "IAM roles for service
// accounts"). The audience is irsaAudience in every partition.
func OIDCTrustPolicy(providerARN, issuerURL, namespace, name string) PolicyDocument {
	host := issuerHostPath(issuerURL)
	return PolicyDocument{Version: "2012-10-17", Statement: []PolicyStatement{{
		Effect:    "Allow",
		Principal: map[string]policyValues{"Federated": {providerARN}},
		Action:    policyValues{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]map[string]policyValues{"StringEquals": {
			host + ":sub": {"system:serviceaccount:" + namespace + ":" + name},
			host + ":aud": {irsaAudience},
		}},
	}}}
}

// irsaAudience is the audience of the service account tokens EKS projects for IRSA and the
// client id of the cluster's IAM OIDC provider: "sts.amazonaws.com" in every partition, China
// included (the EKS Pod Identity Webhook's default token audience; a provider with
// "sts.amazonaws.com.cn" fails with "Incorrect token audience": eksctl-io/eksctl#1910,
// terraform-aws-modules/terraform-aws-eks#1704).
const irsaAudience = "sts.amazonaws.com"

// issuerHostPath strips the scheme and trailing slash: the form IAM uses in OIDC provider ARNs
// and condition keys.
func issuerHostPath(issuer string) string {
	return strings.TrimSuffix(strings.TrimPrefix(issuer, "https://"), "/")
}

// JSON returns the canonical compact JSON of the document (struct field order, map keys sorted).
func (d PolicyDocument) JSON() string {
	b, err := json.Marshal(d)
	if err != nil {
		return "" // unreachable: the document holds only strings
	}
	return string(b)
}

// ParsePolicyDocument parses a policy document as IAM returns it (URL-encoded or plain JSON).
// It returns an error naming the problem if the document is not a policy.
func ParsePolicyDocument(doc string) (PolicyDocument, error) {
	if strings.HasPrefix(doc, "%7B") || strings.HasPrefix(doc, "%7b") {
		dec, err := url.QueryUnescape(doc)
		if err != nil {
			return PolicyDocument{}, fmt.Errorf("policy document: bad URL encoding: %w", err)
		}
		doc = dec
	}
	var d PolicyDocument
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return PolicyDocument{}, fmt.Errorf("policy document: %w", err)
	}
	return d, nil
}

// statement returns the statement with the given Sid.
func (d PolicyDocument) statement(sid string) (PolicyStatement, bool) {
	for _, s := range d.Statement {
		if s.Sid == sid {
			return s, true
		}
	}
	return PolicyStatement{}, false
}

// controllerPolicyFacts recovers the cluster name and node role ARN from a controller policy
// made by ControllerPolicy; missing facts are "".
func controllerPolicyFacts(d PolicyDocument) (cluster, nodeRoleARN string) {
	if s, ok := d.statement(sidDeleteTagged); ok {
		if v := s.Condition["StringEquals"]["ec2:ResourceTag/"+clusterTagKey]; len(v) == 1 {
			cluster = v[0]
		}
	}
	if s, ok := d.statement(sidPassNodeRole); ok && len(s.Resource) == 1 {
		nodeRoleARN = s.Resource[0]
	}
	return cluster, nodeRoleARN
}

// trustPolicyFacts recovers the OIDC provider ARN, issuer URL and service account namespace and
// name from a trust policy made by OIDCTrustPolicy; ok is false if it has another shape.
func trustPolicyFacts(d PolicyDocument) (providerARN, issuerURL, namespace, name string, ok bool) {
	if len(d.Statement) != 1 || len(d.Statement[0].Principal["Federated"]) != 1 {
		return "", "", "", "", false
	}
	s := d.Statement[0]
	providerARN = s.Principal["Federated"][0]
	for key, v := range s.Condition["StringEquals"] {
		host, ok := strings.CutSuffix(key, ":sub")
		if !ok || len(v) != 1 {
			continue
		}
		rest, ok := strings.CutPrefix(v[0], "system:serviceaccount:")
		if !ok {
			continue
		}
		ns, n, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		return providerARN, "https://" + host, ns, n, true
	}
	return "", "", "", "", false
}

// podIdentityServicePrincipal is the service principal of EKS Pod Identity. A literal: the EKS
// User Guide names only this one (no partition-specific form such as ec2's .amazonaws.com.cn).
const podIdentityServicePrincipal = "pods.eks.amazonaws.com"

// PodIdentityTrustPolicy lets EKS Pod Identity assume the role and tag its sessions (source:
// Amazon EKS User Guide, "Create a Pod Identity association": the trust names the service
// principal pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession).
func PodIdentityTrustPolicy() PolicyDocument {
	return PolicyDocument{Version: "2012-10-17", Statement: []PolicyStatement{{
		Effect:    "Allow",
		Principal: map[string]policyValues{"Service": {podIdentityServicePrincipal}},
		Action:    policyValues{"sts:AssumeRole", "sts:TagSession"},
	}}}
}

// isPodIdentityTrust reports whether d is exactly PodIdentityTrustPolicy.
func isPodIdentityTrust(d PolicyDocument) bool { return d.JSON() == PodIdentityTrustPolicy().JSON() }
