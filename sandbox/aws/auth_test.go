package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	testingclock "k8s.io/utils/clock/testing"
)

// signedPost builds a POST of body to base signed as service with the given key, at signedAt.
func signedPost(t *testing.T, base, service, body, akid, secret, token string, signedAt time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := awssdk.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", signedAt); err != nil {
		t.Fatal(err)
	}
	return req
}

// send sends req and returns the HTTP status and body.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSignatureVerification signs raw requests with the SDK's signer and checks what the
// emulator accepts: the right secret; not a tampered body, a wrong secret, an unknown key, a
// stale date, a malformed header or no signature at all.
func TestSignatureVerification(t *testing.T) {
	_, base, _ := startEmulator(t, Options{ClusterName: "demo"})
	const body = "Action=DescribeAvailabilityZones&Version=2016-11-15"
	now := time.Now().UTC()
	admin := func(b, secret string, at time.Time) *http.Request {
		return signedPost(t, base, "ec2", b, DefaultAdminAccessKeyID, secret, "", at)
	}
	tests := []struct {
		name     string
		req      *http.Request
		status   int
		wantBody string
	}{
		{"good", admin(body, DefaultAdminSecretAccessKey, now), 200, "<availabilityZoneInfo>"},
		{"wrong secret", admin(body, "not-the-secret", now), 401, "<Code>AuthFailure</Code>"},
		{"unknown key", signedPost(t, base, "ec2", body, "AKIAUNKNOWNKEY000001", "x", "", now), 401, "<Code>AuthFailure</Code>"},
		{"signed 20 minutes ago", admin(body, DefaultAdminSecretAccessKey, now.Add(-20*time.Minute)), 400, "<Code>RequestExpired</Code>"},
		{"signed 20 minutes ahead", admin(body, DefaultAdminSecretAccessKey, now.Add(20*time.Minute)), 400, "<Code>RequestExpired</Code>"},
		{"iam wrong secret", signedPost(t, base, "iam", "Action=ListRoles&Version=2010-05-08", DefaultAdminAccessKeyID, "bad", "", now), 403, "<Code>SignatureDoesNotMatch</Code>"},
		{"iam unknown key", signedPost(t, base, "iam", "Action=ListRoles&Version=2010-05-08", "AKIAUNKNOWNKEY000001", "bad", "", now), 403, "<Code>InvalidClientTokenId</Code>"},
		{"sts forged session", signedPost(t, base, "sts", "Action=GetCallerIdentity&Version=2011-06-15", "ASIAFORGED0000000001", "x", "tok", now), 403, "<Code>InvalidClientTokenId</Code>"},
	}
	tampered := admin(body, DefaultAdminSecretAccessKey, now)
	tampered.Body = io.NopCloser(strings.NewReader("Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0"))
	tampered.ContentLength = -1
	tests = append(tests, struct {
		name     string
		req      *http.Request
		status   int
		wantBody string
	}{"tampered body", tampered, 401, "<Code>AuthFailure</Code>"})
	extraHeader := admin(body, DefaultAdminSecretAccessKey, now)
	extraHeader.Header.Set("Authorization", strings.Replace(extraHeader.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=x-extra;", 1))
	tests = append(tests, struct {
		name     string
		req      *http.Request
		status   int
		wantBody string
	}{"signed header list altered", extraHeader, 401, "<Code>AuthFailure</Code>"})
	malformed := admin(body, DefaultAdminSecretAccessKey, now)
	malformed.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIASANDBOXEXAMPLE01/20261202/us-east-1/ec2, Signature=00")
	tests = append(tests, struct {
		name     string
		req      *http.Request
		status   int
		wantBody string
	}{"malformed header", malformed, 400, "<Code>IncompleteSignature</Code>"})
	unsigned, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(body))
	unsigned.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tests = append(tests, struct {
		name     string
		req      *http.Request
		status   int
		wantBody string
	}{"unsigned", unsigned, 403, "<Code>MissingAuthenticationToken</Code>"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := send(t, tt.req)
			if status != tt.status || !strings.Contains(got, tt.wantBody) {
				t.Errorf("status %d body %s; want %d with %s", status, got, tt.status, tt.wantBody)
			}
		})
	}
}

// TestSDKClientsWithWrongSecret checks the code each protocol's SDK client surfaces for a wrong
// secret.
func TestSDKClientsWithWrongSecret(t *testing.T) {
	ctx := context.Background()
	_, base, cfg := startEmulator(t, Options{ClusterName: "demo"})
	cfg.Credentials = credentials.NewStaticCredentialsProvider(DefaultAdminAccessKeyID, "wrong", "")
	ep := awssdk.String(base)
	_, err := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = ep }).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	wantCode(t, err, "AuthFailure")
	_, err = iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = ep }).ListRoles(ctx, &iam.ListRolesInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	_, err = sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = ep }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	_, err = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = ep }).GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String("/x")})
	wantCode(t, err, "InvalidSignatureException")
	_, err = eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = ep }).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("demo")})
	wantCode(t, err, "InvalidSignatureException")
}

// TestAssumeRoleAndExpiry assumes a role with the administrator key (trust: the account root),
// checks the session signs correctly and is refused once expired, in each protocol's code.
func TestAssumeRoleAndExpiry(t *testing.T) {
	ctx := context.Background()
	clk := testingclock.NewFakeClock(time.Now().UTC().Truncate(time.Second))
	_, base, cfg := startEmulator(t, Options{ClusterName: "demo", Clock: clk})
	ep := awssdk.String(base)
	iamC := newIAM(base, cfg)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`
	_, err := iamC.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("ctl"), AssumeRolePolicyDocument: &trust})
	must(t, err)
	_, err = iamC.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String("ctl"), PolicyName: awssdk.String("p"),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","sts:GetCallerIdentity"],"Resource":"*"}]}`)})
	must(t, err)
	stsC := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = ep })
	_, err = stsC.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String("arn:aws:iam::111122223333:role/missing"), RoleSessionName: awssdk.String("s1")})
	wantCode(t, err, "AccessDenied")
	out, err := stsC.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String("arn:aws:iam::111122223333:role/ctl"), RoleSessionName: awssdk.String("s1"), DurationSeconds: awssdk.Int32(900)})
	must(t, err)
	if !strings.HasPrefix(*out.Credentials.AccessKeyId, "ASIA") || *out.AssumedRoleUser.Arn != "arn:aws:sts::111122223333:assumed-role/ctl/s1" {
		t.Fatalf("credentials %s for %s", *out.Credentials.AccessKeyId, *out.AssumedRoleUser.Arn)
	}
	sess := cfg.Copy()
	sess.Credentials = credentials.NewStaticCredentialsProvider(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken)
	ec2C := ec2.NewFromConfig(sess, func(o *ec2.Options) { o.BaseEndpoint = ep })
	_, err = ec2C.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	must(t, err)
	// A session may not assume a role its own policies do not allow.
	_, err = sts.NewFromConfig(sess, func(o *sts.Options) { o.BaseEndpoint = ep }).AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: awssdk.String("arn:aws:iam::111122223333:role/ctl"), RoleSessionName: awssdk.String("s2")})
	wantCode(t, err, "AccessDenied")

	clk.Step(901 * time.Second)
	_, err = ec2C.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	wantCode(t, err, "RequestExpired")
	_, err = sts.NewFromConfig(sess, func(o *sts.Options) { o.BaseEndpoint = ep }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "ExpiredToken")
	_, err = ssm.NewFromConfig(sess, func(o *ssm.Options) { o.BaseEndpoint = ep }).GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String("/x")})
	wantCode(t, err, "ExpiredTokenException")
}

// BenchmarkAuthenticate measures the verification of one signed EC2 query request (re-signing
// with the SDK's signer over the body's SHA-256).
func BenchmarkAuthenticate(b *testing.B) {
	e := New(Options{ClusterName: "demo"})
	const body = "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Akarpenter.sh%2Fcluster&Filter.1.Value.1=demo"
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566/", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	creds := awssdk.Credentials{AccessKeyID: DefaultAdminAccessKeyID, SecretAccessKey: DefaultAdminSecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req.Body = io.NopCloser(strings.NewReader(body))
		if _, aerr := e.authenticate(req, "ec2"); aerr != nil {
			b.Fatal(aerr)
		}
	}
}
