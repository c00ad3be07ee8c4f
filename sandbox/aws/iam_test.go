package aws

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
)

// startEmulator starts an Emulator on 127.0.0.1:0 and returns it with its base URL and an SDK
// config using static sandbox credentials (no shared config files, no retries so errors show
// at once).
func startEmulator(t *testing.T, opts Options) (*Emulator, string, awssdk.Config) {
	t.Helper()
	e := New(opts)
	base, err := e.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(DefaultAdminAccessKeyID, DefaultAdminSecretAccessKey, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPClient = sdkhttp.Wrap(cfg.HTTPClient)
	return e, base, cfg
}

func newIAM(base string, cfg awssdk.Config) *iam.Client {
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = awssdk.String(base) })
}

// wantCode fails unless err is an API error with the code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want API error %s, got %v", code, err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("want error code %s, got %s (%s)", code, ae.ErrorCode(), ae.ErrorMessage())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const ec2Trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// nodeRole is the role TestIAMRoleLifecycle creates, updates and deletes.
const nodeRole = "KarpenterNodeRole-demo"

// nodeManagedPolicies are the AWS managed policies a Karpenter node role attaches.
var nodeManagedPolicies = []string{"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"}

// TestIAMRoleLifecycle takes one role through create, read, update, tagging, managed and
// inline policies and delete; each step builds on the state the previous ones left.
func TestIAMRoleLifecycle(t *testing.T) {
	_, base, cfg := startEmulator(t, Options{})
	c := newIAM(base, cfg)
	createNodeRole(t, c)
	checkGetRoleTrustAndTags(t, c)
	checkCreateAndGetRoleErrors(t, c)
	checkUpdateAssumeRolePolicy(t, c)
	checkTagUntagRole(t, c)
	checkAttachManagedPolicies(t, c)
	checkInlineRolePolicies(t, c)
	checkDeleteRole(t, c)
}

// createNodeRole creates nodeRole with a path, description, session duration and discovery
// tag, and checks the ARN, the role ID's shape and the echoed attributes.
func createNodeRole(t *testing.T, c *iam.Client) {
	t.Helper()
	out, err := c.CreateRole(context.Background(), &iam.CreateRoleInput{
		RoleName: awssdk.String(nodeRole), Path: awssdk.String("/karpenter/"),
		AssumeRolePolicyDocument: awssdk.String(ec2Trust), Description: awssdk.String("nodes"),
		MaxSessionDuration: awssdk.Int32(7200),
		Tags:               []iamtypes.Tag{{Key: awssdk.String("karpenter.sh/discovery"), Value: awssdk.String("demo")}},
	})
	must(t, err)
	r := out.Role
	if got, want := *r.Arn, "arn:aws:iam::111122223333:role/karpenter/KarpenterNodeRole-demo"; got != want {
		t.Errorf("Arn = %s, want %s", got, want)
	}
	if !strings.HasPrefix(*r.RoleId, "AROA") || len(*r.RoleId) != 21 {
		t.Errorf("RoleId = %s, want AROA + 17 characters", *r.RoleId)
	}
	if r.CreateDate == nil || r.CreateDate.IsZero() || *r.MaxSessionDuration != 7200 || *r.Description != "nodes" {
		t.Errorf("CreateDate/MaxSessionDuration/Description not returned: %+v", r)
	}
}

// checkGetRoleTrustAndTags reads nodeRole by a differently cased name: GetRole returns the
// trust policy URL-encoded, as AWS does, and the role's tags.
func checkGetRoleTrustAndTags(t *testing.T, c *iam.Client) {
	t.Helper()
	got, err := c.GetRole(context.Background(), &iam.GetRoleInput{RoleName: awssdk.String("karpenternoderole-DEMO")}) // names are case-insensitive
	must(t, err)
	if strings.Contains(*got.Role.AssumeRolePolicyDocument, "{") {
		t.Errorf("trust policy not URL-encoded: %s", *got.Role.AssumeRolePolicyDocument)
	}
	if dec, _ := url.QueryUnescape(*got.Role.AssumeRolePolicyDocument); dec != ec2Trust {
		t.Errorf("decoded trust policy = %s", dec)
	}
	if len(got.Role.Tags) != 1 || *got.Role.Tags[0].Value != "demo" {
		t.Errorf("tags = %+v", got.Role.Tags)
	}
}

// checkCreateAndGetRoleErrors checks CreateRole's errors (duplicate name, bad name or path,
// malformed or wrong-kind trust policy) and GetRole's typed NoSuchEntity error.
func checkCreateAndGetRoleErrors(t *testing.T, c *iam.Client) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String(nodeRole), AssumeRolePolicyDocument: awssdk.String(ec2Trust)})
	wantCode(t, err, "EntityAlreadyExists")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("bad name!"), AssumeRolePolicyDocument: awssdk.String(ec2Trust)})
	wantCode(t, err, "ValidationError")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("r2"), Path: awssdk.String("nopath"), AssumeRolePolicyDocument: awssdk.String(ec2Trust)})
	wantCode(t, err, "ValidationError")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("r2"), AssumeRolePolicyDocument: awssdk.String(`{"Statement":[`)})
	wantCode(t, err, "MalformedPolicyDocument")
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("r2"), AssumeRolePolicyDocument: awssdk.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`)})
	wantCode(t, err, "MalformedPolicyDocument") // trust policy without Principal, with Resource
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("missing")})
	wantCode(t, err, "NoSuchEntity")
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("GetRole(missing) error %T is not *types.NoSuchEntityException", err)
	}
}

// checkUpdateAssumeRolePolicy replaces nodeRole's trust policy, rejects a malformed one and
// reads the replacement back.
func checkUpdateAssumeRolePolicy(t *testing.T, c *iam.Client) {
	t.Helper()
	ctx := context.Background()
	newTrust := strings.Replace(ec2Trust, "ec2.amazonaws.com", "eks.amazonaws.com", 1)
	_, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyDocument: awssdk.String(newTrust)})
	must(t, err)
	_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyDocument: awssdk.String(`{"Version":"2012-10-17"}`)})
	wantCode(t, err, "MalformedPolicyDocument")
	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(nodeRole)})
	must(t, err)
	if dec, _ := url.QueryUnescape(*got.Role.AssumeRolePolicyDocument); dec != newTrust {
		t.Errorf("trust after update = %s", dec)
	}
}

// checkTagUntagRole overwrites one tag, adds and removes another, and lists what is left.
func checkTagUntagRole(t *testing.T, c *iam.Client) {
	t.Helper()
	ctx := context.Background()
	_, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: awssdk.String(nodeRole), Tags: []iamtypes.Tag{
		{Key: awssdk.String("karpenter.sh/discovery"), Value: awssdk.String("other")}, {Key: awssdk.String("team"), Value: awssdk.String("infra")}}})
	must(t, err)
	_, err = c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: awssdk.String(nodeRole), TagKeys: []string{"team"}})
	must(t, err)
	tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: awssdk.String(nodeRole)})
	must(t, err)
	if len(tags.Tags) != 1 || *tags.Tags[0].Key != "karpenter.sh/discovery" || *tags.Tags[0].Value != "other" {
		t.Errorf("tags after tag/untag = %+v", tags.Tags)
	}
}

// checkAttachManagedPolicies attaches the AWS managed node policies (which exist; an unknown
// ARN does not) and pages through the attachments 3 at a time.
func checkAttachManagedPolicies(t *testing.T, c *iam.Client) {
	t.Helper()
	ctx := context.Background()
	for _, name := range nodeManagedPolicies {
		_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/" + name)})
		must(t, err)
	}
	_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/NoSuchPolicy")})
	wantCode(t, err, "NoSuchEntity")
	var attached []string
	pager := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: awssdk.String(nodeRole), MaxItems: awssdk.Int32(3)})
	pages := 0
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		must(t, err)
		pages++
		for _, p := range page.AttachedPolicies {
			attached = append(attached, *p.PolicyName)
		}
	}
	if len(attached) != 4 || pages != 2 || attached[0] != "AmazonEKSWorkerNodePolicy" {
		t.Errorf("attached = %v over %d pages, want 4 over 2", attached, pages)
	}
}

// nodeInlinePolicy is the inline policy "extra" that checkInlineRolePolicies puts on nodeRole.
const nodeInlinePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:DescribeInstances"],"Resource":"*"}]}`

// checkInlineRolePolicies puts the inline policy "extra" on nodeRole, rejects one without a
// Resource, and reads and lists it back.
func checkInlineRolePolicies(t *testing.T, c *iam.Client) {
	t.Helper()
	ctx := context.Background()
	_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyName: awssdk.String("extra"), PolicyDocument: awssdk.String(nodeInlinePolicy)})
	must(t, err)
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyName: awssdk.String("bad"),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*"}]}`)})
	wantCode(t, err, "MalformedPolicyDocument") // no Resource
	gp, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyName: awssdk.String("extra")})
	must(t, err)
	if dec, _ := url.QueryUnescape(*gp.PolicyDocument); dec != nodeInlinePolicy {
		t.Errorf("inline policy = %s", dec)
	}
	lp, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: awssdk.String(nodeRole)})
	must(t, err)
	if len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "extra" {
		t.Errorf("inline names = %v", lp.PolicyNames)
	}
}

// checkDeleteRole checks DeleteRole refuses while managed or inline policies remain, detaches
// and deletes them, then deletes nodeRole, after which no role is left.
func checkDeleteRole(t *testing.T, c *iam.Client) {
	t.Helper()
	ctx := context.Background()
	_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: awssdk.String(nodeRole)})
	wantCode(t, err, "DeleteConflict")
	for _, name := range nodeManagedPolicies {
		_, err = c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/" + name)})
		must(t, err)
	}
	_, err = c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy")})
	wantCode(t, err, "NoSuchEntity")
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: awssdk.String(nodeRole)})
	wantCode(t, err, "DeleteConflict") // inline policy left
	_, err = c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyName: awssdk.String("extra")})
	must(t, err)
	_, err = c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: awssdk.String(nodeRole), PolicyName: awssdk.String("extra")})
	wantCode(t, err, "NoSuchEntity")
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: awssdk.String(nodeRole)})
	must(t, err)
	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(nodeRole)})
	wantCode(t, err, "NoSuchEntity")
	roles, err := c.ListRoles(ctx, &iam.ListRolesInput{})
	must(t, err)
	if len(roles.Roles) != 0 {
		t.Errorf("roles left: %d", len(roles.Roles))
	}
}

func TestIAMCustomerManagedPolicy(t *testing.T) {
	ctx := context.Background()
	_, base, cfg := startEmulator(t, Options{})
	c := newIAM(base, cfg)
	doc1 := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/karpenter.sh/discovery":"demo"}}}]}`
	doc2 := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["ec2:CreateFleet","ec2:RunInstances"],"Resource":"*"}}`

	_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: awssdk.String("p"), PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"ec2:*","Resource":"*"}]}`)})
	wantCode(t, err, "MalformedPolicyDocument")
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: awssdk.String("p"), PolicyDocument: awssdk.String(`{"Version":"2099-01-01","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`)})
	wantCode(t, err, "MalformedPolicyDocument")

	cp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: awssdk.String("KarpenterControllerPolicy-demo"), PolicyDocument: awssdk.String(doc1), Description: awssdk.String("controller")})
	must(t, err)
	arn := *cp.Policy.Arn
	if arn != "arn:aws:iam::111122223333:policy/KarpenterControllerPolicy-demo" || *cp.Policy.DefaultVersionId != "v1" || !strings.HasPrefix(*cp.Policy.PolicyId, "ANPA") {
		t.Fatalf("policy = %+v", cp.Policy)
	}
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: awssdk.String("KarpenterControllerPolicy-demo"), PolicyDocument: awssdk.String(doc1)})
	wantCode(t, err, "EntityAlreadyExists")

	v1, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: &arn, VersionId: awssdk.String("v1")})
	must(t, err)
	if dec, _ := url.QueryUnescape(*v1.PolicyVersion.Document); dec != doc1 || !v1.PolicyVersion.IsDefaultVersion {
		t.Errorf("v1 = %s default=%v", dec, v1.PolicyVersion.IsDefaultVersion)
	}
	nv, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: &arn, PolicyDocument: awssdk.String(doc2), SetAsDefault: true})
	must(t, err)
	if *nv.PolicyVersion.VersionId != "v2" || !nv.PolicyVersion.IsDefaultVersion {
		t.Errorf("new version = %+v", nv.PolicyVersion)
	}
	gp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &arn})
	must(t, err)
	if *gp.Policy.DefaultVersionId != "v2" {
		t.Errorf("default = %s", *gp.Policy.DefaultVersionId)
	}
	for i := 0; i < 3; i++ {
		_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: &arn, PolicyDocument: awssdk.String(doc2)})
		must(t, err)
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: &arn, PolicyDocument: awssdk.String(doc2)})
	wantCode(t, err, "LimitExceeded") // 5 versions is the quota
	lv, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: &arn})
	must(t, err)
	if len(lv.Versions) != 5 || *lv.Versions[0].VersionId != "v5" {
		t.Errorf("versions = %d, first %s", len(lv.Versions), *lv.Versions[0].VersionId)
	}
	_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: &arn, VersionId: awssdk.String("v2")})
	wantCode(t, err, "DeleteConflict") // the default version

	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("ctrl"), AssumeRolePolicyDocument: awssdk.String(ec2Trust)})
	must(t, err)
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String("ctrl"), PolicyArn: &arn})
	must(t, err)
	gp, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &arn})
	must(t, err)
	if *gp.Policy.AttachmentCount != 1 {
		t.Errorf("AttachmentCount = %d", *gp.Policy.AttachmentCount)
	}
	ents, err := c.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: &arn})
	must(t, err)
	if len(ents.PolicyRoles) != 1 || *ents.PolicyRoles[0].RoleName != "ctrl" {
		t.Errorf("entities = %+v", ents.PolicyRoles)
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &arn})
	wantCode(t, err, "DeleteConflict") // attached
	_, err = c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: awssdk.String("ctrl"), PolicyArn: &arn})
	must(t, err)
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &arn})
	wantCode(t, err, "DeleteConflict") // non-default versions left
	for _, v := range []string{"v1", "v3", "v4", "v5"} {
		_, err = c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: &arn, VersionId: awssdk.String(v)})
		must(t, err)
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: &arn})
	must(t, err)
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &arn})
	wantCode(t, err, "NoSuchEntity")
}

func TestIAMInstanceProfileLifecycle(t *testing.T) {
	ctx := context.Background()
	e, base, cfg := startEmulator(t, Options{})
	c := newIAM(base, cfg)
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("node"), AssumeRolePolicyDocument: awssdk.String(ec2Trust)})
	must(t, err)
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("other"), AssumeRolePolicyDocument: awssdk.String(ec2Trust)})
	must(t, err)

	ip, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo")})
	must(t, err)
	arn := *ip.InstanceProfile.Arn
	if arn != "arn:aws:iam::111122223333:instance-profile/KarpenterNodeInstanceProfile-demo" || !strings.HasPrefix(*ip.InstanceProfile.InstanceProfileId, "AIPA") {
		t.Fatalf("profile = %+v", ip.InstanceProfile)
	}
	_, err = c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo")})
	wantCode(t, err, "EntityAlreadyExists")
	if _, _, ok := e.InstanceProfileRole(arn); ok {
		t.Error("empty profile resolved to a role")
	}
	_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo"), RoleName: awssdk.String("missing")})
	wantCode(t, err, "NoSuchEntity")
	_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo"), RoleName: awssdk.String("node")})
	must(t, err)
	_, err = c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo"), RoleName: awssdk.String("other")})
	wantCode(t, err, "LimitExceeded")

	gp, err := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo")})
	must(t, err)
	if len(gp.InstanceProfile.Roles) != 1 || *gp.InstanceProfile.Roles[0].RoleName != "node" {
		t.Errorf("roles = %+v", gp.InstanceProfile.Roles)
	}
	for _, key := range []string{"KarpenterNodeInstanceProfile-demo", arn} {
		name, roleArn, ok := e.InstanceProfileRole(key)
		if !ok || name != "node" || roleArn != "arn:aws:iam::111122223333:role/node" {
			t.Errorf("InstanceProfileRole(%s) = %s %s %v", key, name, roleArn, ok)
		}
	}
	if _, _, ok := e.InstanceProfileRole("arn:aws:iam::999999999999:instance-profile/KarpenterNodeInstanceProfile-demo"); ok {
		t.Error("profile ARN of another account resolved")
	}
	e.mu.Lock()
	gotArn, ok := e.state.iam.instanceProfileArn("KarpenterNodeInstanceProfile-demo")
	_, okMissing := e.state.iam.instanceProfileArn("nope")
	e.mu.Unlock()
	if !ok || gotArn != arn || okMissing {
		t.Errorf("instanceProfileArn = %s %v, missing %v", gotArn, ok, okMissing)
	}

	lp, err := c.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: awssdk.String("node")})
	must(t, err)
	if len(lp.InstanceProfiles) != 1 || *lp.InstanceProfiles[0].Arn != arn {
		t.Errorf("profiles for role = %+v", lp.InstanceProfiles)
	}
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: awssdk.String("node")})
	wantCode(t, err, "DeleteConflict")
	_, err = c.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo")})
	wantCode(t, err, "DeleteConflict")
	_, err = c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo"), RoleName: awssdk.String("other")})
	wantCode(t, err, "NoSuchEntity")
	_, err = c.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo"), RoleName: awssdk.String("node")})
	must(t, err)
	_, err = c.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo")})
	must(t, err)
	_, err = c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-demo")})
	wantCode(t, err, "NoSuchEntity")
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: awssdk.String("node")})
	must(t, err)
}

func TestIAMOpenIDConnectProvider(t *testing.T) {
	ctx := context.Background()
	_, base, cfg := startEmulator(t, Options{})
	c := newIAM(base, cfg)
	out, err := c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: awssdk.String("https://oidc.eks.us-east-1.amazonaws.com/id/ABC123/"), ClientIDList: []string{"sts.amazonaws.com"},
		ThumbprintList: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"},
	})
	must(t, err)
	arn := *out.OpenIDConnectProviderArn
	if arn != "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123" {
		t.Fatalf("arn = %s", arn)
	}
	_, err = c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: awssdk.String("https://oidc.eks.us-east-1.amazonaws.com/id/ABC123"), ClientIDList: []string{"x"}})
	wantCode(t, err, "EntityAlreadyExists")
	_, err = c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: awssdk.String("http://insecure.example"), ClientIDList: []string{"x"}})
	wantCode(t, err, "InvalidInput")
	_, err = c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: awssdk.String("https://x.example"), ThumbprintList: []string{"abc"}})
	wantCode(t, err, "ValidationError")

	g, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
	must(t, err)
	if *g.Url != "oidc.eks.us-east-1.amazonaws.com/id/ABC123" || len(g.ClientIDList) != 1 || g.ClientIDList[0] != "sts.amazonaws.com" || len(g.ThumbprintList) != 1 || g.CreateDate == nil {
		t.Errorf("provider = %+v", g)
	}
	l, err := c.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	must(t, err)
	if len(l.OpenIDConnectProviderList) != 1 || *l.OpenIDConnectProviderList[0].Arn != arn {
		t.Errorf("list = %+v", l.OpenIDConnectProviderList)
	}
	_, err = c.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
	must(t, err)
	_, err = c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
	wantCode(t, err, "NoSuchEntity")
}

func TestPolicyDocumentValidation(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		kind policyKind
		ok   bool
	}{
		{"identity ok", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`, policyKindIdentity, true},
		{"single statement object", `{"Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:iam::*:role/x"}}`, policyKindIdentity, true},
		{"not JSON", `Version: 2012`, policyKindIdentity, false},
		{"trailing data", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} {}`, policyKindIdentity, false},
		{"no statement", `{"Version":"2012-10-17"}`, policyKindIdentity, false},
		{"empty statement list", `{"Version":"2012-10-17","Statement":[]}`, policyKindIdentity, false},
		{"unknown top field", `{"Version":"2012-10-17","Statements":[]}`, policyKindIdentity, false},
		{"bad action", `{"Statement":[{"Effect":"Allow","Action":"DescribeInstances","Resource":"*"}]}`, policyKindIdentity, false},
		{"principal in identity policy", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`, policyKindIdentity, false},
		{"bad resource", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}]}`, policyKindIdentity, false},
		{"bad condition operator", `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringSortOf":{"a":"b"}}}]}`, policyKindIdentity, false},
		{"trust ok", ec2Trust, policyKindTrust, true},
		{"trust no principal", `{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`, policyKindTrust, false},
		{"trust bad principal type", `{"Statement":[{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"sts:AssumeRole"}]}`, policyKindTrust, false},
	}
	for _, tc := range cases {
		aerr := validatePolicyDocument(tc.doc, tc.kind)
		if (aerr == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, aerr, tc.ok)
		}
		if aerr != nil && aerr.Code != "MalformedPolicyDocument" {
			t.Errorf("%s: code %s", tc.name, aerr.Code)
		}
	}
}

func TestTrustAllows(t *testing.T) {
	const prov = "arn:aws:iam::111122223333:oidc-provider/issuer.example/id/1"
	doc := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"Federated":"` + prov + `"},"Action":"sts:AssumeRoleWithWebIdentity",
	  "Condition":{"StringEquals":{"issuer.example/id/1:aud":"sts.amazonaws.com"},"StringLike":{"issuer.example/id/1:sub":"system:serviceaccount:karpenter:*"}}},
	 {"Effect":"Deny","Principal":"*","Action":"sts:*","Condition":{"StringEquals":{"issuer.example/id/1:sub":"system:serviceaccount:karpenter:evil"}}}]}`
	ctx := func(sub, aud string) map[string][]string {
		return map[string][]string{"issuer.example/id/1:sub": {sub}, "ISSUER.example/id/1:aud": {aud}}
	}
	cases := []struct {
		name, principal, action, sub, aud string
		want                              bool
	}{
		{"allowed", prov, "sts:AssumeRoleWithWebIdentity", "system:serviceaccount:karpenter:karpenter", "sts.amazonaws.com", true},
		{"wrong audience", prov, "sts:AssumeRoleWithWebIdentity", "system:serviceaccount:karpenter:karpenter", "other", false},
		{"wrong namespace", prov, "sts:AssumeRoleWithWebIdentity", "system:serviceaccount:default:karpenter", "sts.amazonaws.com", false},
		{"explicit deny wins", prov, "sts:AssumeRoleWithWebIdentity", "system:serviceaccount:karpenter:evil", "sts.amazonaws.com", false},
		{"wrong provider", "arn:aws:iam::111122223333:oidc-provider/other", "sts:AssumeRoleWithWebIdentity", "system:serviceaccount:karpenter:karpenter", "sts.amazonaws.com", false},
		{"wrong action", prov, "sts:AssumeRole", "system:serviceaccount:karpenter:karpenter", "sts.amazonaws.com", false},
	}
	for _, tc := range cases {
		if got := trustAllows(doc, "Federated", tc.principal, tc.action, ctx(tc.sub, tc.aud)); got != tc.want {
			t.Errorf("%s: trustAllows = %v, want %v", tc.name, got, tc.want)
		}
	}
	if trustAllows(`{"Statement":[{"Effect":"Allow","Principal":{"Federated":"`+prov+`"},"Action":"sts:*","Condition":{"StringEquals":{"issuer.example/id/1:sub":"x"}}}]}`,
		"Federated", prov, "sts:AssumeRoleWithWebIdentity", map[string][]string{}) {
		t.Error("condition on a missing key must not hold")
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*c", "abbbc", true}, {"a*c", "abbb", false}, {"a?c", "abc", true},
		{"a?c", "ac", false}, {"system:serviceaccount:*:karpenter", "system:serviceaccount:ns:karpenter", true},
		{"*x*y", "axbxcy", true}, {"abc", "abcd", false},
	}
	for _, tc := range cases {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}
