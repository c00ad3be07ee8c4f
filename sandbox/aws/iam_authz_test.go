package aws

import (
	"context"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	jose "github.com/go-jose/go-jose/v4"
)

// TestAssumedRolePermissions checks that credentials from AssumeRoleWithWebIdentity get exactly
// what the role's identity policies grant on IAM, EKS and SSM, and nothing after they expire.
func TestAssumedRolePermissions(t *testing.T) {
	ctx := context.Background()
	f := newIRSAFixture(t, nil)
	out, err := f.assume(signToken(t, jose.RS256, f.key, f.claims()))
	must(t, err)
	cr := out.Credentials
	creds := credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)
	ssmC := ssm.NewFromConfig(f.cfg, func(o *ssm.Options) { o.BaseEndpoint = awssdk.String(f.base); o.Credentials = creds })
	eksC := eks.NewFromConfig(f.cfg, func(o *eks.Options) { o.BaseEndpoint = awssdk.String(f.base); o.Credentials = creds })
	iamC := iam.NewFromConfig(f.cfg, func(o *iam.Options) { o.BaseEndpoint = awssdk.String(f.base); o.Credentials = creds })
	param := "/aws/service/eks/optimized-ami/1.37/amazon-linux-2/recommended/image_id"

	// No policies yet: everything is denied.
	_, err = ssmC.GetParameter(ctx, &ssm.GetParameterInput{Name: &param})
	wantCode(t, err, "AccessDeniedException")
	_, err = eksC.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("demo")})
	wantCode(t, err, "AccessDeniedException")
	_, err = iamC.ListRoles(ctx, &iam.ListRolesInput{})
	wantCode(t, err, "AccessDenied")

	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:*::parameter/aws/service/*"},
	 {"Effect":"Allow","Action":"eks:DescribeCluster","Resource":"arn:aws:eks:us-east-1:111122223333:cluster/demo"},
	 {"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
	 {"Effect":"Deny","Action":"iam:GetRole","Resource":"arn:aws:iam::111122223333:role/karpenter"}]}`
	_, err = f.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String("karpenter"), PolicyName: awssdk.String("controller"), PolicyDocument: awssdk.String(policy)})
	must(t, err)

	p, err := ssmC.GetParameter(ctx, &ssm.GetParameterInput{Name: &param})
	must(t, err)
	if *p.Parameter.Value != SeedAMIs[0].ID {
		t.Errorf("parameter = %s", *p.Parameter.Value)
	}
	_, err = ssmC.GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String("/private/secret")})
	wantCode(t, err, "AccessDeniedException") // outside the granted path: denied before lookup
	_, err = eksC.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("demo")})
	must(t, err)
	_, err = eksC.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("other")})
	wantCode(t, err, "AccessDeniedException")
	_, err = iamC.ListRoles(ctx, &iam.ListRolesInput{})
	must(t, err)
	_, err = iamC.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("karpenter")})
	wantCode(t, err, "AccessDenied") // explicit deny wins over iam:Get*
	_, err = iamC.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: awssdk.String("karpenter"), PolicyName: awssdk.String("controller")})
	wantCode(t, err, "AccessDenied")

	// A managed policy attached to the role counts too.
	_, err = eksC.ListClusters(ctx, &eks.ListClustersInput{})
	wantCode(t, err, "AccessDeniedException")
	cp, err := f.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: awssdk.String("list"), PolicyDocument: awssdk.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks:List*","Resource":"*"}]}`)})
	must(t, err)
	_, err = f.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String("karpenter"), PolicyArn: cp.Policy.Arn})
	must(t, err)
	_, err = eksC.ListClusters(ctx, &eks.ListClustersInput{})
	must(t, err)

	f.clock.Step(2 * time.Hour)
	_, err = ssmC.GetParameter(ctx, &ssm.GetParameterInput{Name: &param})
	wantCode(t, err, "ExpiredTokenException")
	_, err = iamC.ListRoles(ctx, &iam.ListRolesInput{})
	wantCode(t, err, "ExpiredToken")
}

func TestIdentityAllows(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["ec2:RunInstances","ec2:CreateFleet"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/karpenter.sh/discovery":"demo"}}},
	 {"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"},
	 {"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::*","Condition":{"Null":{"aws:RequestTag/team":"false"}}},
	 {"Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"*","Condition":{"StringNotEquals":{"ec2:ResourceTag/karpenter.sh/discovery":"demo"}}}]}`
	tag := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = []string{kv[i+1]}
		}
		return m
	}
	cases := []struct {
		name, action, resource string
		ctx                    map[string][]string
		want                   bool
	}{
		{"tagged launch", "ec2:RunInstances", "*", tag("aws:RequestTag/karpenter.sh/discovery", "demo"), true},
		{"untagged launch", "ec2:RunInstances", "*", nil, false},
		{"wrongly tagged launch", "ec2:CreateFleet", "*", tag("aws:requesttag/karpenter.sh/discovery", "prod"), false},
		{"describe", "ec2:DescribeSubnets", "*", nil, true},
		{"action case-insensitive", "EC2:describeSubnets", "*", nil, true},
		{"not-action with team tag", "ssm:GetParameter", "arn:aws:ssm:us-east-1::parameter/x", tag("aws:RequestTag/team", "a"), true},
		{"not-action excludes iam", "iam:PassRole", "arn:aws:iam::1:role/x", tag("aws:RequestTag/team", "a"), false},
		{"not-resource excludes s3", "s3:GetObject", "arn:aws:s3:::bucket", tag("aws:RequestTag/team", "a"), false},
		{"terminate foreign instance denied", "ec2:TerminateInstances", "arn:aws:ec2:us-east-1:1:instance/i-1", tag("ec2:ResourceTag/karpenter.sh/discovery", "prod", "aws:RequestTag/team", "a"), false},
		{"terminate own instance allowed", "ec2:TerminateInstances", "arn:aws:ec2:us-east-1:1:instance/i-1", tag("ec2:ResourceTag/karpenter.sh/discovery", "demo", "aws:RequestTag/team", "a"), true},
	}
	for _, tc := range cases {
		if got := identityAllows([]string{doc}, tc.action, tc.resource, tc.ctx); got != tc.want {
			t.Errorf("%s: identityAllows = %v, want %v", tc.name, got, tc.want)
		}
	}
	if identityAllows([]string{`not json`}, "ec2:DescribeSubnets", "*", nil) {
		t.Error("an unparsable policy granted access")
	}
}

// TestConditionOperators checks each condition operator the controller policy and its tests use,
// one statement at a time, and that an explicit Deny wins over any Allow.
func TestConditionOperators(t *testing.T) {
	type tc struct {
		cond string
		ctx  map[string][]string
		want bool
	}
	one := func(k, v string) map[string][]string { return map[string][]string{k: {v}} }
	cases := []tc{
		{`{"StringEquals":{"aws:RequestTag/k":"v"}}`, one("aws:RequestTag/k", "v"), true},
		{`{"StringEquals":{"aws:RequestTag/k":"v"}}`, one("aws:RequestTag/k", "V"), false},
		{`{"StringEquals":{"aws:RequestTag/k":"v"}}`, nil, false},
		{`{"StringEquals":{"aws:RequestTag/k":["a","v"]}}`, one("aws:RequestTag/k", "v"), true},
		{`{"StringNotEquals":{"aws:RequestTag/k":"v"}}`, one("aws:RequestTag/k", "w"), true},
		{`{"StringNotEquals":{"aws:RequestTag/k":"v"}}`, nil, true},
		{`{"StringEqualsIgnoreCase":{"aws:RequestTag/k":"v"}}`, one("aws:RequestTag/k", "V"), true},
		{`{"StringLike":{"aws:RequestTag/k":"ka*-?"}}`, one("aws:RequestTag/k", "karpenter-1"), true},
		{`{"StringLike":{"aws:RequestTag/k":"ka*-?"}}`, one("aws:RequestTag/k", "karpenter-12"), false},
		{`{"StringNotLike":{"aws:RequestTag/k":"ka*"}}`, one("aws:RequestTag/k", "other"), true},
		{`{"StringEqualsIfExists":{"aws:RequestTag/k":"v"}}`, nil, true},
		{`{"StringEqualsIfExists":{"aws:RequestTag/k":"v"}}`, one("aws:RequestTag/k", "w"), false},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/karpenter-*"}}`, one("aws:PrincipalArn", "arn:aws:iam::111122223333:role/karpenter-demo"), true},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/karpenter-*"}}`, one("aws:PrincipalArn", "arn:aws:iam::111122223333:user/karpenter-demo"), false},
		{`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*"}}`, one("aws:PrincipalArn", "arn:aws:iam::111122223333:role/x"), false}, // five parts: never an ARN pattern
		{`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/x"}}`, one("aws:PrincipalArn", "arn:aws:iam::111122223333:role/x"), true},
		{`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/x"}}`, one("aws:PrincipalArn", "arn:aws:iam::1:role/y"), true},
		{`{"Null":{"aws:RequestTag/k":"true"}}`, nil, true},
		{`{"Null":{"aws:RequestTag/k":"true"}}`, one("aws:RequestTag/k", "v"), false},
		{`{"Null":{"aws:RequestTag/k":"false"}}`, one("aws:RequestTag/k", "v"), true},
		{`{"Bool":{"aws:SecureTransport":"true"}}`, one("aws:SecureTransport", "true"), true},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, map[string][]string{"aws:TagKeys": {"a", "b"}}, true},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, map[string][]string{"aws:TagKeys": {"a", "c"}}, false},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}`, nil, true}, // vacuously true without keys
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}`, map[string][]string{"aws:TagKeys": {"x", "a"}}, true},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}`, map[string][]string{"aws:TagKeys": {"x"}}, false},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}`, nil, false},
		{`{"ForAnyValue:StringLike":{"aws:TagKeys":["karpenter.sh/*"]}}`, map[string][]string{"aws:TagKeys": {"Name", "karpenter.sh/cluster"}}, true},
		{`{"NumericLessThan":{"ec2:VolumeSize":"10"}}`, one("ec2:VolumeSize", "5"), false}, // unsupported operators never hold
		// Several keys and operators in one block are ANDed.
		{`{"StringEquals":{"aws:RequestTag/k":"v","ec2:CreateAction":"CreateFleet"}}`, merged(one("aws:RequestTag/k", "v"), one("ec2:CreateAction", "RunInstances")), false},
		{`{"StringEquals":{"aws:RequestTag/k":"v"},"StringLike":{"ec2:CreateAction":"Create*"}}`, merged(one("aws:RequestTag/k", "v"), one("ec2:CreateAction", "CreateFleet")), true},
	}
	for i, c := range cases {
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*","Condition":` + c.cond + `}]}`
		if got := identityAllows([]string{doc}, "ec2:RunInstances", "*", c.ctx); got != c.want {
			t.Errorf("case %d %s with %v: allowed = %v, want %v", i, c.cond, c.ctx, got, c.want)
		}
	}

	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"arn:aws:ec2:*:*:instance/*"}]}`
	if got := evaluateIdentity([]string{deny, allow}, "ec2:TerminateInstances", "arn:aws:ec2:us-east-1:1:instance/i-1", nil); got != decisionExplicitDeny {
		t.Errorf("deny then allow: %v, want explicit deny", got)
	}
	if got := evaluateIdentity([]string{allow, deny}, "ec2:TerminateInstances", "arn:aws:ec2:us-east-1:1:instance/i-1", nil); got != decisionExplicitDeny {
		t.Errorf("allow then deny: %v, want explicit deny", got)
	}
	if got := evaluateIdentity([]string{allow, deny}, "ec2:TerminateInstances", "arn:aws:ec2:us-east-1:1:launch-template/lt-1", nil); got != decisionAllow {
		t.Errorf("deny on another resource: %v, want allow", got)
	}
	if got := evaluateIdentity([]string{deny}, "ec2:RunInstances", "*", nil); got != decisionImplicitDeny {
		t.Errorf("no allow: %v, want implicit deny", got)
	}
}
