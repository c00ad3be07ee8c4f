package aws_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	cpaws "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
)

// awsEnv isolates the SDK's default configuration from the machine's (shared files, IMDS,
// static keys) and points EC2 and STS at base.
func awsEnv(t *testing.T, base string) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_EC2": base, "AWS_ENDPOINT_URL_STS": base, "AWS_MAX_ATTEMPTS": "",
	} {
		t.Setenv(k, v)
	}
}

// fakeAWS answers STS AssumeRoleWithWebIdentity and the container credentials endpoint
// (/v1/credentials) with AWS's errors and counts the EC2 calls that reach it.
type fakeAWS struct {
	ec2Calls atomic.Int32
}

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	switch {
	case r.URL.Path == "/v1/credentials":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"code":"ResourceNotFoundException","message":"No Pod Identity Association exists for the service account karpenter/karpenter"}`))
	case r.Form.Get("Action") == "AssumeRoleWithWebIdentity":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
			`<Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error>` +
			`<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>`))
	default:
		f.ec2Calls.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: arn:aws:sts::111122223333:assumed-role/karpenter/s is not authorized to perform: ec2:DescribeSubnets</Message></Error></Errors><RequestID>r</RequestID></Response>`))
	}
}

func writeToken(t *testing.T, path string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// describeSubnets makes one EC2 call with the configuration LoadAWSConfig builds from the
// environment, so the SDK's own credential providers (stscreds, endpointcreds) and its
// credentials cache wrap the failure as they do in the controller.
func describeSubnets(t *testing.T) error {
	t.Helper()
	cfg, err := cpaws.LoadAWSConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	_, err = ec2.NewFromConfig(cfg).DescribeSubnets(context.Background(), &ec2.DescribeSubnetsInput{})
	if err == nil {
		t.Fatal("DescribeSubnets succeeded")
	}
	return err
}

// TestCredentialsErrorWebIdentity: STS refusing AssumeRoleWithWebIdentity (the role's trust
// does not allow the service account) fails the EC2 call with a CredentialsError naming
// sts:AssumeRoleWithWebIdentity and STS's code and message, not a NotAuthorizedError for the
// EC2 action, and no EC2 request is sent.
func TestCredentialsErrorWebIdentity(t *testing.T) {
	f := &fakeAWS{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	awsEnv(t, srv.URL)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/karpenter")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", writeToken(t, filepath.Join(t.TempDir(), "token")))

	err := describeSubnets(t)
	ce, ok := cloudprovider.AsCredentialsError(err)
	if !ok {
		t.Fatalf("not a CredentialsError: %v", err)
	}
	want := "could not obtain AWS credentials: sts:AssumeRoleWithWebIdentity: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"
	if ce.Error() != want {
		t.Errorf("CredentialsError\n got %q\nwant %q", ce.Error(), want)
	}
	if na, ok := cloudprovider.AsNotAuthorized(err); ok {
		t.Errorf("also a NotAuthorizedError: %v", na)
	}
	if n := f.ec2Calls.Load(); n != 0 {
		t.Errorf("%d EC2 calls sent without credentials", n)
	}
}

// TestCredentialsErrorPodIdentity: the EKS Pod Identity agent answering an error (no
// association) fails the EC2 call with a CredentialsError naming the Pod Identity credentials
// endpoint and the agent's code and message.
func TestCredentialsErrorPodIdentity(t *testing.T) {
	f := &fakeAWS{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	awsEnv(t, srv.URL)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v1/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		writeToken(t, filepath.Join(t.TempDir(), "pods.eks.amazonaws.com", "serviceaccount", "eks-pod-identity-token")))

	err := describeSubnets(t)
	ce, ok := cloudprovider.AsCredentialsError(err)
	if !ok {
		t.Fatalf("not a CredentialsError: %v", err)
	}
	want := "could not obtain AWS credentials: EKS Pod Identity credentials endpoint " + srv.URL + "/v1/credentials: " +
		"ResourceNotFoundException: No Pod Identity Association exists for the service account karpenter/karpenter"
	if ce.Error() != want {
		t.Errorf("CredentialsError\n got %q\nwant %q", ce.Error(), want)
	}
	if n := f.ec2Calls.Load(); n != 0 {
		t.Errorf("%d EC2 calls sent without credentials", n)
	}
}

// TestServiceDenialIsNotACredentialsError: with valid credentials, EC2's own refusal stays a
// NotAuthorizedError for the EC2 action.
func TestServiceDenialIsNotACredentialsError(t *testing.T) {
	f := &fakeAWS{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	awsEnv(t, srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

	err := describeSubnets(t)
	if ce, ok := cloudprovider.AsCredentialsError(err); ok {
		t.Fatalf("a CredentialsError: %v", ce)
	}
	na, ok := cloudprovider.AsNotAuthorized(err)
	if !ok {
		t.Fatalf("not a NotAuthorizedError: %v", err)
	}
	if na.Action != "ec2:DescribeSubnets" || !strings.Contains(na.Message, "ec2:DescribeSubnets") {
		t.Errorf("NotAuthorizedError %q", na.Error())
	}
	if n := f.ec2Calls.Load(); n != 1 {
		t.Errorf("%d EC2 calls, want 1", n)
	}
}
