package aws

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	testingclock "k8s.io/utils/clock/testing"
)

const (
	testIssuer   = "https://127.0.0.1:6443/sandbox"
	testSA       = "system:serviceaccount:karpenter:karpenter"
	testAudience = "sts.amazonaws.com"
)

func publicPEM(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// signToken returns a compact JWS with the claims, as kube-apiserver issues projected
// service-account tokens.
func signToken(t *testing.T, alg jose.SignatureAlgorithm, key any, c jwt.Claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// irsaFixture starts an emulator whose service-account key is a fresh RSA key, registers the
// issuer as an OIDC provider and creates role "karpenter" trusting the karpenter service
// account, as the controller role resource does.
type irsaFixture struct {
	e       *Emulator
	base    string
	cfg     awssdk.Config
	clock   *testingclock.FakeClock
	key     *rsa.PrivateKey
	sts     *sts.Client
	iam     *iam.Client
	provArn string
	roleArn string
}

func newIRSAFixture(t *testing.T, extraPEM []byte) *irsaFixture {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// Start at the real time: the SDK's credential cache judges expiry by the real clock.
	clk := testingclock.NewFakeClock(time.Now().UTC().Truncate(time.Second))
	e, base, cfg := startEmulator(t, Options{
		OIDCIssuerURL: testIssuer, Clock: clk, ClusterName: "demo",
		ServiceAccountPublicKeyPEM: append(publicPEM(t, &key.PublicKey), extraPEM...),
	})
	f := &irsaFixture{e: e, base: base, cfg: cfg, clock: clk, key: key}
	f.sts = sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = awssdk.String(base) })
	f.iam = newIAM(base, cfg)
	ctx := context.Background()
	p, err := f.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: awssdk.String(testIssuer), ClientIDList: []string{testAudience}})
	must(t, err)
	f.provArn = *p.OpenIDConnectProviderArn
	host := strings.TrimPrefix(testIssuer, "https://")
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + f.provArn + `"},` +
		`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + host + `:aud":"` + testAudience + `","` + host + `:sub":"` + testSA + `"}}}]}`
	r, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("karpenter"), AssumeRolePolicyDocument: awssdk.String(trust)})
	must(t, err)
	f.roleArn = *r.Role.Arn
	return f
}

func (f *irsaFixture) claims() jwt.Claims {
	now := f.clock.Now()
	return jwt.Claims{
		Issuer: testIssuer, Subject: testSA, Audience: jwt.Audience{testAudience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}
}

func (f *irsaFixture) assume(token string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	return f.sts.AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: awssdk.String(f.roleArn), RoleSessionName: awssdk.String("karpenter-controller"), WebIdentityToken: awssdk.String(token),
	})
}

func TestGetCallerIdentityStaticCredentials(t *testing.T) {
	_, base, cfg := startEmulator(t, Options{AccountID: "123456789012"})
	c := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = awssdk.String(base) })
	out, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	must(t, err)
	if *out.Account != "123456789012" || *out.Arn != "arn:aws:iam::123456789012:user/sandbox-admin" || *out.UserId == "" {
		t.Errorf("identity = %s %s %s", *out.Account, *out.Arn, *out.UserId)
	}
}

func TestAssumeRoleWithWebIdentity(t *testing.T) {
	ctx := context.Background()
	f := newIRSAFixture(t, nil)

	out, err := f.assume(signToken(t, jose.RS256, f.key, f.claims()))
	must(t, err)
	cr := out.Credentials
	if !strings.HasPrefix(*cr.AccessKeyId, "ASIA") || *cr.SecretAccessKey == "" || *cr.SessionToken == "" {
		t.Fatalf("credentials = %+v", cr)
	}
	if want := f.clock.Now().Add(time.Hour); !cr.Expiration.Equal(want) {
		t.Errorf("Expiration = %v, want %v", cr.Expiration, want)
	}
	wantArn := "arn:aws:sts::111122223333:assumed-role/karpenter/karpenter-controller"
	if *out.AssumedRoleUser.Arn != wantArn || *out.SubjectFromWebIdentityToken != testSA || *out.Audience != testAudience || *out.Provider != f.provArn {
		t.Errorf("output = %s %s %s %s", *out.AssumedRoleUser.Arn, *out.SubjectFromWebIdentityToken, *out.Audience, *out.Provider)
	}

	// The issued credentials identify as the assumed role.
	tmp := sts.NewFromConfig(f.cfg, func(o *sts.Options) {
		o.BaseEndpoint = awssdk.String(f.base)
		o.Credentials = credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)
	})
	id, err := tmp.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if *id.Arn != wantArn || !strings.HasSuffix(*id.UserId, ":karpenter-controller") || !strings.HasPrefix(*id.UserId, "AROA") {
		t.Errorf("caller = %s %s", *id.Arn, *id.UserId)
	}
	// A wrong session token is refused; after expiry the credentials stop working.
	bad := sts.NewFromConfig(f.cfg, func(o *sts.Options) {
		o.BaseEndpoint = awssdk.String(f.base)
		o.Credentials = credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, "forged")
	})
	_, err = bad.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	f.clock.Step(time.Hour + time.Second)
	_, err = tmp.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "ExpiredToken")
}

func TestAssumeRoleWithWebIdentityRejections(t *testing.T) {
	ctx := context.Background()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := newIRSAFixture(t, nil)

	cases := []struct {
		name   string
		mutate func(*jwt.Claims)
		key    any
		code   string
	}{
		{"wrong audience", func(c *jwt.Claims) { c.Audience = jwt.Audience{"kubernetes"} }, nil, "InvalidIdentityToken"},
		{"wrong subject", func(c *jwt.Claims) { c.Subject = "system:serviceaccount:default:default" }, nil, "AccessDenied"},
		{"wrong issuer", func(c *jwt.Claims) { c.Issuer = "https://evil.example" }, nil, "InvalidIdentityToken"},
		{"wrong signing key", func(*jwt.Claims) {}, otherKey, "InvalidIdentityToken"},
		{"expired", func(c *jwt.Claims) {
			c.IssuedAt = jwt.NewNumericDate(f.clock.Now().Add(-2 * time.Hour))
			c.NotBefore = c.IssuedAt
			c.Expiry = jwt.NewNumericDate(f.clock.Now().Add(-time.Hour))
		}, nil, "ExpiredTokenException"},
		{"missing subject", func(c *jwt.Claims) { c.Subject = "" }, nil, "InvalidIdentityToken"},
	}
	for _, tc := range cases {
		c := f.claims()
		tc.mutate(&c)
		key := any(f.key)
		if tc.key != nil {
			key = tc.key
		}
		_, err := f.assume(signToken(t, jose.RS256, key, c))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		wantCode(t, err, tc.code)
	}

	var exp *ststypes.ExpiredTokenException
	c := f.claims()
	c.Expiry = jwt.NewNumericDate(f.clock.Now().Add(-time.Hour))
	if _, err := f.assume(signToken(t, jose.RS256, f.key, c)); err == nil || !errors.As(err, &exp) {
		t.Errorf("expired token error %T is not *types.ExpiredTokenException", err)
	}

	_, err = f.assume("not-a-jwt")
	wantCode(t, err, "InvalidIdentityToken")

	// Unknown role, and a role in another account.
	_, err = f.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: awssdk.String("arn:aws:iam::111122223333:role/nope"), RoleSessionName: awssdk.String("s1"), WebIdentityToken: awssdk.String(signToken(t, jose.RS256, f.key, f.claims())),
	})
	wantCode(t, err, "AccessDenied")
	_, err = f.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: awssdk.String("not-an-arn"), RoleSessionName: awssdk.String("s1"), WebIdentityToken: awssdk.String(signToken(t, jose.RS256, f.key, f.claims())),
	})
	wantCode(t, err, "ValidationError")
	_, err = f.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: awssdk.String(f.roleArn), RoleSessionName: awssdk.String("s1"), DurationSeconds: awssdk.Int32(7200),
		WebIdentityToken: awssdk.String(signToken(t, jose.RS256, f.key, f.claims())),
	})
	wantCode(t, err, "ValidationError") // above the role's MaxSessionDuration (3600)

	// Once the OIDC provider is gone the issuer is no longer trusted.
	_, err = f.iam.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: &f.provArn})
	must(t, err)
	_, err = f.assume(signToken(t, jose.RS256, f.key, f.claims()))
	wantCode(t, err, "InvalidIdentityToken")
}

// TestWebIdentityCredentialProvider drives the SDK's own web identity credential provider (what
// the controller uses with AWS_WEB_IDENTITY_TOKEN_FILE), with an ECDSA-signed token, as a
// kube-apiserver with an EC service-account key issues.
func TestWebIdentityCredentialProvider(t *testing.T) {
	ctx := context.Background()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := newIRSAFixture(t, publicPEM(t, &ecKey.PublicKey))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(signToken(t, jose.ES256, ecKey, f.claims())), 0o600); err != nil {
		t.Fatal(err)
	}
	prov := stscreds.NewWebIdentityRoleProvider(f.sts, f.roleArn, stscreds.IdentityTokenFile(tokenFile), func(o *stscreds.WebIdentityRoleOptions) {
		o.RoleSessionName = "from-token-file"
	})
	client := sts.NewFromConfig(f.cfg, func(o *sts.Options) {
		o.BaseEndpoint = awssdk.String(f.base)
		o.Credentials = awssdk.NewCredentialsCache(prov)
	})
	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	if *id.Arn != "arn:aws:sts::111122223333:assumed-role/karpenter/from-token-file" {
		t.Errorf("caller = %s", *id.Arn)
	}
}
