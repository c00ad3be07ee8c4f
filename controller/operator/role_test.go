package operator

import (
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/nodeform/terraform-provider-karpenter/provider"
)

// controllerRole is the role the controller of a test runs as and its policy.
type controllerRole struct {
	name, arn, policyArn string
	policy               provider.PolicyDocument
}

// assumeControllerRole creates role name with the policy karpenter_controller_role writes
// (provider.ControllerPolicy for the sandbox's cluster and the node role nodeRoleArn), trusting
// the account, assumes it with the administrator key (sts:AssumeRole, one hour) and exports the
// session's credentials, so the controller the test starts runs with that policy only, never
// with the administrator key. The sandbox's emulator verifies the session's signatures and
// authorises each of its calls against the policy.
func (e *opEnv) assumeControllerRole(name, nodeRoleArn string) controllerRole {
	t, ctx, sb := e.t, e.ctx, e.sb
	t.Helper()
	cfg := sb.AWSConfig()
	iamc := iam.NewFromConfig(cfg)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` +
		accountOf(nodeRoleArn) + `:root"},"Action":"sts:AssumeRole"}]}`
	role, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: &trust})
	if err != nil {
		t.Fatal(err)
	}
	doc := provider.ControllerPolicy(provider.ControllerPolicyInput{Partition: "aws", Region: sb.Region,
		AccountID: accountOf(nodeRoleArn), ClusterName: sb.ClusterName, NodeRoleARN: nodeRoleArn})
	pol, err := iamc.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: &name, PolicyDocument: awssdk.String(doc.JSON())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &name, PolicyArn: pol.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: awssdk.String("karpenter")})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", awssdk.ToString(out.Credentials.AccessKeyId))
	t.Setenv("AWS_SECRET_ACCESS_KEY", awssdk.ToString(out.Credentials.SecretAccessKey))
	t.Setenv("AWS_SESSION_TOKEN", awssdk.ToString(out.Credentials.SessionToken))
	return controllerRole{name: name, arn: awssdk.ToString(role.Role.Arn), policyArn: awssdk.ToString(pol.Policy.Arn), policy: doc}
}

// setControllerPolicy makes doc the default version of the controller role's policy (deleting
// the oldest non-default version when IAM's limit of five is reached).
func (e *opEnv) setControllerPolicy(doc provider.PolicyDocument) {
	t, ctx := e.t, e.ctx
	t.Helper()
	iamc := iam.NewFromConfig(e.sb.AWSConfig())
	arn := e.controllerRole.policyArn
	versions, err := iamc.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions.Versions) >= 5 {
		for i := len(versions.Versions) - 1; i >= 0; i-- {
			if v := versions.Versions[i]; !v.IsDefaultVersion {
				if _, err := iamc.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: &arn, VersionId: v.VersionId}); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	if _, err := iamc.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: &arn,
		PolicyDocument: awssdk.String(doc.JSON()), SetAsDefault: true}); err != nil {
		t.Fatal(err)
	}
}

// accountOf returns the account ID of an ARN (its fifth colon-separated field).
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}
