package simulate_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	sbaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/simulate"
)

// noAWSConfig empties the standard AWS configuration sources for the test.
func noAWSConfig(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
		"AWS_SESSION_TOKEN": "", "AWS_CONFIG_FILE": dir + "/config", "AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_EC2": "",
	} {
		t.Setenv(k, v)
	}
}

// Looking for credentials through an instance metadata service that refuses tokens (here one on
// 127.0.0.1), the AWS SDK logs a warning on stderr by itself; --catalog auto keeps it quiet and
// says in its note why it used the sandbox catalogue.
func TestAutoCatalogKeepsTheSDKQuiet(t *testing.T) {
	noAWSConfig(t)
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer imds.Close()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	t.Setenv("AWS_REGION", "us-west-2")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	var notes bytes.Buffer
	c, err := simulate.OpenCatalog(context.Background(), simulate.CatalogAuto, &notes)
	os.Stderr = stderr
	_ = w.Close()
	logged, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if len(logged) != 0 {
		t.Errorf("stderr holds %q", logged)
	}
	if c.Name != simulate.CatalogSandbox || !strings.Contains(notes.String(), "no AWS credentials") {
		t.Errorf("auto chose %s, notes %q; want the sandbox and why", c.Name, notes.String())
	}
}

// --catalog=aws goes through the standard AWS configuration; pointed at an emulator (as
// `sandbox env` does), it sees the same instance types as the sandbox catalogue.
func TestAWSCatalogUsesTheStandardConfiguration(t *testing.T) {
	noAWSConfig(t)
	ctx := context.Background()
	if _, err := simulate.OpenCatalog(ctx, simulate.CatalogAWS, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no AWS region") {
		t.Fatalf("aws without a region: %v", err)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	if _, err := simulate.OpenCatalog(ctx, simulate.CatalogAWS, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Fatalf("aws without credentials: %v", err)
	}
	emu := sbaws.New(sbaws.Options{NoBootDelay: true})
	url, err := emu.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = emu.Close() }()
	t.Setenv("AWS_ACCESS_KEY_ID", sbaws.DefaultAdminAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sbaws.DefaultAdminSecretAccessKey)
	t.Setenv("AWS_ENDPOINT_URL_EC2", url)
	t.Setenv("AWS_ENDPOINT_URL_PRICING", url)
	var notes bytes.Buffer
	live, err := simulate.OpenCatalog(ctx, simulate.CatalogAuto, &notes)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = live.Close() }()
	sandbox, err := simulate.OpenCatalog(ctx, simulate.CatalogSandbox, &notes)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sandbox.Close() }()
	if live.Name != simulate.CatalogAWS || notes.Len() != 0 {
		t.Fatalf("auto with a region and credentials chose %s (notes %q)", live.Name, notes.String())
	}
	p := (&v1alpha5.Provisioner{}).WithDefaults()
	a, err := live.InstanceTypes(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sandbox.InstanceTypes(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) || len(a) < 300 || a[0].Name != b[0].Name || len(a[0].Offerings) != len(b[0].Offerings) {
		t.Fatalf("aws through the emulator: %d types, sandbox: %d", len(a), len(b))
	}
}

func TestAutoFallsBackToTheSandbox(t *testing.T) {
	noAWSConfig(t)
	var notes bytes.Buffer
	c, err := simulate.OpenCatalog(context.Background(), simulate.CatalogAuto, &notes)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if c.Name != simulate.CatalogSandbox || !strings.Contains(notes.String(), "using the sandbox catalogue (no AWS region") {
		t.Fatalf("auto without AWS configuration: %s, notes %q", c.Name, notes.String())
	}
	if z := c.Zones(); len(z) != 3 || z[0] != "us-east-1a" {
		t.Fatalf("sandbox zones %v", z)
	}
}
