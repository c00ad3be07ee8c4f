package aws

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/podidentity"
)

func newEKS(base string, cfg awssdk.Config) *eks.Client {
	return eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = awssdk.String(base) })
}

func TestEKSAccessEntries(t *testing.T) {
	ctx := context.Background()
	e, base, cfg := startEmulator(t, Options{ClusterName: "demo", AuthenticationMode: AuthModeConfigMap})
	c, ic := newEKS(base, cfg), newIAM(base, cfg)
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("node"), Path: awssdk.String("/nodes/"), AssumeRolePolicyDocument: awssdk.String(ec2Trust)})
	must(t, err)
	pathless := "arn:aws:iam::111122223333:role/node"
	cluster := awssdk.String("demo")

	d, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: cluster})
	must(t, err)
	if d.Cluster.AccessConfig.AuthenticationMode != ekstypes.AuthenticationModeConfigMap {
		t.Errorf("authenticationMode = %s", d.Cluster.AccessConfig.AuthenticationMode)
	}
	_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: role.Role.Arn, Type: awssdk.String("EC2_LINUX")})
	wantCode(t, err, "InvalidRequestException") // CONFIG_MAP clusters have no access entries

	must(t, e.SetAuthenticationMode(AuthModeAPI))
	if err := e.SetAuthenticationMode(AuthModeAPIAndConfigMap); err == nil {
		t.Error("going back from API to API_AND_CONFIG_MAP was allowed; EKS refuses it")
	}
	d, err = c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: cluster})
	must(t, err)
	if d.Cluster.AccessConfig.AuthenticationMode != ekstypes.AuthenticationModeApi {
		t.Errorf("authenticationMode = %s", d.Cluster.AccessConfig.AuthenticationMode)
	}

	_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: role.Role.Arn, Type: awssdk.String("EC2_LINUX"),
		KubernetesGroups: []string{"nodes"}})
	wantCode(t, err, "InvalidParameterException")
	_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: awssdk.String("arn:aws:iam::111122223333:role/missing"), Type: awssdk.String("EC2_LINUX")})
	wantCode(t, err, "InvalidParameterException")
	_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: role.Role.Arn, Type: awssdk.String("WINDOWS_95")})
	wantCode(t, err, "InvalidParameterException")

	out, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: role.Role.Arn, Type: awssdk.String("EC2_LINUX"),
		Tags: map[string]string{"owner": "test"}})
	must(t, err)
	en := out.AccessEntry
	if *en.PrincipalArn != pathless || *en.Type != "EC2_LINUX" || *en.Username != "system:node:{{EC2PrivateDNSName}}" ||
		!strings.HasPrefix(*en.AccessEntryArn, "arn:aws:eks:us-east-1:111122223333:access-entry/demo/role/111122223333/node/") || en.CreatedAt.IsZero() {
		t.Errorf("entry = %+v", en)
	}
	_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: role.Role.Arn, Type: awssdk.String("EC2_LINUX")})
	wantCode(t, err, "ResourceInUseException")
	if typ, ok := e.AccessEntryType(*role.Role.Arn); !ok || typ != "EC2_LINUX" {
		t.Errorf("AccessEntryType = %q %v", typ, ok)
	}

	admin, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("admins"), AssumeRolePolicyDocument: awssdk.String(ec2Trust)})
	must(t, err)
	_, err = c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: admin.Role.Arn, KubernetesGroups: []string{"system:masters"}})
	wantCode(t, err, "InvalidParameterException")
	std, err := c.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: admin.Role.Arn, KubernetesGroups: []string{"ops"}})
	must(t, err)
	if *std.AccessEntry.Type != "STANDARD" || *std.AccessEntry.Username != "arn:aws:sts::111122223333:assumed-role/admins/{{SessionName}}" ||
		len(std.AccessEntry.KubernetesGroups) != 1 {
		t.Errorf("standard entry = %+v", std.AccessEntry)
	}

	var listed []string
	p := eks.NewListAccessEntriesPaginator(c, &eks.ListAccessEntriesInput{ClusterName: cluster, MaxResults: awssdk.Int32(1)})
	for pages := 0; p.HasMorePages(); pages++ {
		pg, err := p.NextPage(ctx)
		must(t, err)
		if len(pg.AccessEntries) != 1 {
			t.Fatalf("page %d = %v, want one entry per page", pages, pg.AccessEntries)
		}
		listed = append(listed, pg.AccessEntries...)
	}
	if strings.Join(listed, ",") != *admin.Role.Arn+","+pathless {
		t.Errorf("listed = %v", listed)
	}

	got, err := c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: cluster, PrincipalArn: role.Role.Arn})
	must(t, err)
	if *got.AccessEntry.AccessEntryArn != *en.AccessEntryArn || got.AccessEntry.Tags["owner"] != "test" {
		t.Errorf("described = %+v", got.AccessEntry)
	}
	_, err = c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: cluster, PrincipalArn: awssdk.String(pathless)})
	must(t, err)
	_, err = c.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: cluster, PrincipalArn: role.Role.Arn})
	var rnf *ekstypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("describe after delete: %T %v", err, err)
	}
	_, err = c.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: cluster, PrincipalArn: role.Role.Arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.ListAccessEntries(ctx, &eks.ListAccessEntriesInput{ClusterName: awssdk.String("other")})
	wantCode(t, err, "ResourceNotFoundException")
}

// podIdentityTrust is the trust policy EKS Pod Identity needs (Amazon EKS User Guide, "Create
// a Pod Identity association").
const podIdentityTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`

// TestPodIdentity runs the chain a pod's SDK uses: the container credential provider asks the
// Pod Identity agent with the pod's token, the agent calls eks-auth AssumeRoleForPodIdentity,
// and the credentials act as the associated role.
func TestPodIdentity(t *testing.T) {
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	e, base, cfg := startEmulator(t, Options{ClusterName: "demo", OIDCIssuerURL: testIssuer, ServiceAccountPublicKeyPEM: publicPEM(t, &key.PublicKey)})
	c, ic := newEKS(base, cfg), newIAM(base, cfg)
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("karpenter"), AssumeRolePolicyDocument: awssdk.String(podIdentityTrust)})
	must(t, err)
	cluster := awssdk.String("demo")

	id := createAssociation(t, c, *role.Role.Arn)

	agent := &podidentity.Agent{ClusterName: "demo", Client: &podidentity.Client{Endpoint: base, Region: "us-east-1", Credentials: cfg.Credentials}}
	agentURL, err := agent.Start("127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { _ = agent.Close() })
	token := func(sub, aud string) string {
		now := time.Now()
		return signTokenClaims(t, key, jwt.Claims{Issuer: testIssuer, Subject: sub, Audience: jwt.Audience{aud},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))},
			map[string]any{"kubernetes.io": map[string]any{"namespace": "karpenter", "pod": map[string]string{"name": "karpenter-0", "uid": "u-1"}}})
	}
	callerWith := func(tok string) (string, error) {
		prov := endpointcreds.New(agentURL, func(o *endpointcreds.Options) { o.AuthorizationToken = tok })
		s := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = awssdk.String(base); o.Credentials = prov })
		out, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return "", err
		}
		return *out.Arn, nil
	}
	arn, err := callerWith(token(testSA, PodIdentityAudience))
	must(t, err)
	if arn != "arn:aws:sts::111122223333:assumed-role/karpenter/eks-demo-karpenter-0" {
		t.Errorf("caller = %s", arn)
	}
	for name, tok := range map[string]string{
		"audience sts.amazonaws.com": token(testSA, "sts.amazonaws.com"),
		"no association":             token("system:serviceaccount:karpenter:other", PodIdentityAudience),
		"not a JWT":                  "garbage",
	} {
		if _, err := callerWith(tok); err == nil {
			t.Errorf("%s: credentials were issued", name)
		}
	}

	// A trust without sts:TagSession is refused.
	_, err = ic.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("karpenter"),
		PolicyDocument: awssdk.String(strings.Replace(podIdentityTrust, `["sts:AssumeRole","sts:TagSession"]`, `"sts:AssumeRole"`, 1))})
	must(t, err)
	_, err = agent.Client.AssumeRoleForPodIdentity(ctx, "demo", token(testSA, PodIdentityAudience))
	var ae *podidentity.APIError
	if !errors.As(err, &ae) || ae.Code != "AccessDeniedException" {
		t.Errorf("trust without TagSession: %v", err)
	}
	_, err = ic.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("karpenter"), PolicyDocument: awssdk.String(podIdentityTrust)})
	must(t, err)

	// The session's tags are aws:PrincipalTag keys: a policy scoped to the namespace tag works.
	creds, err := agent.Client.AssumeRoleForPodIdentity(ctx, "demo", token(testSA, PodIdentityAudience))
	must(t, err)
	scoped := newEKS(base, cfg)
	sc := eks.NewFromConfig(cfg, func(o *eks.Options) {
		o.BaseEndpoint = awssdk.String(base)
		o.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	})
	_, err = sc.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: cluster, AssociationId: &id})
	wantCode(t, err, "AccessDeniedException")
	_, err = ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String("karpenter"), PolicyName: awssdk.String("read"),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks:Describe*","Resource":"*",` +
			`"Condition":{"StringEquals":{"aws:PrincipalTag/kubernetes-namespace":"karpenter"}}}]}`)})
	must(t, err)
	_, err = sc.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: cluster, AssociationId: &id})
	must(t, err)
	_, err = sc.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: cluster, AssociationId: &id})
	wantCode(t, err, "AccessDeniedException")

	if r, ok := e.PodIdentityRole("karpenter", "karpenter"); !ok || r != *role.Role.Arn {
		t.Errorf("PodIdentityRole = %s %v", r, ok)
	}
	_, err = scoped.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: cluster, AssociationId: &id})
	must(t, err)
	_, err = c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: cluster, AssociationId: &id})
	wantCode(t, err, "ResourceNotFoundException")
	if _, err := callerWith(token(testSA, PodIdentityAudience)); err == nil {
		t.Error("credentials issued after the association was deleted")
	}
}

// signTokenClaims signs registered claims plus private claims extra (e.g. "kubernetes.io").
func signTokenClaims(t *testing.T, key *rsa.PrivateKey, c jwt.Claims, extra map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	must(t, err)
	tok, err := jwt.Signed(signer).Claims(c).Claims(extra).Serialize()
	must(t, err)
	return tok
}

// createAssociation associates karpenter/karpenter with roleArn, checking refusals and List.
func createAssociation(t *testing.T, c *eks.Client, roleArn string) string {
	t.Helper()
	ctx := context.Background()
	cluster := awssdk.String("demo")
	_, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: cluster, Namespace: awssdk.String("karpenter"),
		ServiceAccount: awssdk.String("karpenter"), RoleArn: awssdk.String("arn:aws:iam::111122223333:role/missing")})
	wantCode(t, err, "InvalidParameterException")
	a, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: cluster, Namespace: awssdk.String("karpenter"),
		ServiceAccount: awssdk.String("karpenter"), RoleArn: &roleArn})
	must(t, err)
	id := *a.Association.AssociationId
	if !strings.HasPrefix(id, "a-") || *a.Association.AssociationArn != "arn:aws:eks:us-east-1:111122223333:podidentityassociation/demo/"+id {
		t.Errorf("association = %+v", a.Association)
	}
	_, err = c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: cluster, Namespace: awssdk.String("karpenter"),
		ServiceAccount: awssdk.String("karpenter"), RoleArn: &roleArn})
	wantCode(t, err, "ResourceInUseException")
	l, err := c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: cluster, Namespace: awssdk.String("karpenter")})
	must(t, err)
	if len(l.Associations) != 1 || *l.Associations[0].AssociationId != id || *l.Associations[0].ServiceAccount != "karpenter" {
		t.Errorf("list = %+v", l.Associations)
	}
	l, err = c.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: cluster, Namespace: awssdk.String("other")})
	must(t, err)
	if len(l.Associations) != 0 {
		t.Errorf("list(other) = %+v", l.Associations)
	}

	return id
}
