package provider

import (
	"context"
	"os"
	"os/exec"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/controller/operator"
	emulator "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
)

// testClusterName is the EKS cluster record of the test emulator.
const testClusterName = "acc-test"

// testAccProtoV6ProviderFactories serves the provider in-process to terraform.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"karpenter": providerserver.NewProtocol6WithError(New("test")()),
}

// TestMain makes terraform-plugin-testing use the terraform on PATH (never a download) and
// keeps terraform offline (no checkpoint calls).
func TestMain(m *testing.M) {
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		if p, err := exec.LookPath("terraform"); err == nil {
			_ = os.Setenv("TF_ACC_TERRAFORM_PATH", p)
		}
	}
	_ = os.Setenv("CHECKPOINT_DISABLE", "1")
	ControllerFlags = operator.SettingFlags // as main.go does
	// Two static nodes: the controller's two replicas need one each (hostname anti-affinity).
	sandboxtest.Options.StaticNodes = 2
	sandboxtest.Main(m) // runs the tests, then stops the shared sandbox if one was started
}

// testAccPreCheck skips acceptance tests unless TF_ACC is set (as resource.Test does).
func testAccPreCheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Skip("acceptance test: terraform not on PATH")
	}
}

// awsEnv is an in-process AWS emulator the provider (in this process) reaches through the
// SDK's AWS_ENDPOINT_URL_<SERVICE> variables, plus SDK clients for out-of-band changes.
type awsEnv struct {
	e   *emulator.Emulator
	url string
	iam *iam.Client
	ec2 *ec2.Client
}

// startEmulator starts an emulator for the test and points the process environment at it.
func startEmulator(t *testing.T) *awsEnv {
	t.Helper()
	return startEmulatorIn(t, "us-east-1")
}

// startEmulatorIn is startEmulator with the emulator (and AWS_REGION) in region, whose
// partition the emulator's ARNs follow (sandbox/aws.PartitionOf).
func startEmulatorIn(t *testing.T, region string) *awsEnv {
	t.Helper()
	e := emulator.New(emulator.Options{Region: region, ClusterName: testClusterName, NoBootDelay: true,
		ClusterEndpoint: "https://127.0.0.1:6443", OIDCIssuerURL: "https://127.0.0.1:6443/oidc"})
	url, err := e.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	for _, svc := range []string{"EC2", "IAM", "STS", "EKS", "SSM"} {
		t.Setenv("AWS_ENDPOINT_URL_"+svc, url)
	}
	t.Setenv("AWS_REGION", region)
	t.Setenv("AWS_ACCESS_KEY_ID", emulator.DefaultAdminAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", emulator.DefaultAdminSecretAccessKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	cfg := awssdk.Config{Region: region, BaseEndpoint: awssdk.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(emulator.DefaultAdminAccessKeyID, emulator.DefaultAdminSecretAccessKey, ""), HTTPClient: sdkhttp.New()}
	return &awsEnv{e: e, url: url, iam: iam.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg)}
}

// must fails the test on err; for out-of-band changes in PreConfig.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var ctx = context.Background()
