package operator

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/provisioning"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/pods"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
)

// TestRefusedCredentialsAreAnEvent runs the controller with IRSA credentials (a web identity
// token of the ServiceAccount default/karpenter, AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE,
// exchanged by the SDK through STS AssumeRoleWithWebIdentity) for a controller role whose trust
// policy allows only karpenter/karpenter: STS refuses every exchange, and the Provisioner gets a
// Warning Event CredentialsUnavailable naming sts:AssumeRoleWithWebIdentity and STS's message,
// the pending pods FailedProvisioning with the same text. Once the trust allows the
// ServiceAccount, the same pods get nodes.
func TestRefusedCredentialsAreAnEvent(t *testing.T) {
	e, done := startOpEnvWebIdentity(t, 8*time.Minute, "-refused-creds", "default", "karpenter")
	defer done()
	kube, ctx := e.kube, e.ctx

	e.createProvisioner()
	defer e.deleteProvisioner("default")
	deploy := e.createInflateDeployment()

	want := "could not obtain AWS credentials: sts:AssumeRoleWithWebIdentity: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"
	waitFor(t, ctx, 90*time.Second, "a CredentialsUnavailable Event on the Provisioner and FailedProvisioning on a pod", func() (bool, string) {
		events := &corev1.EventList{}
		if err := kube.List(ctx, events, client.InNamespace("default")); err != nil {
			return false, err.Error()
		}
		var onProvisioner, onPod bool
		var seen []string
		for _, ev := range events.Items {
			switch {
			case ev.InvolvedObject.Kind == "Provisioner" && ev.InvolvedObject.Name == "default":
				seen = append(seen, ev.Reason+": "+ev.Message)
				onProvisioner = onProvisioner || ev.Type == corev1.EventTypeWarning && ev.Reason == provisioning.ReasonCredentialsUnavailable && ev.Message == want
			case ev.InvolvedObject.Kind == "Pod" && strings.HasPrefix(ev.InvolvedObject.Name, "inflate-") && ev.Reason == provisioning.ReasonFailedProvisioning:
				onPod = onPod || ev.Type == corev1.EventTypeWarning && strings.Contains(ev.Message, want)
			}
		}
		if onProvisioner && onPod {
			t.Logf("Warning %s on Provisioner default: %s", provisioning.ReasonCredentialsUnavailable, want)
			return true, ""
		}
		return false, "pod event " + strconv.FormatBool(onPod) + ", Provisioner events " + strings.Join(seen, "; ")
	})

	e.trustServiceAccount("default", "karpenter")
	e.waitRunningOnLaunchedSpot("3 pods Running once the role trusts the ServiceAccount")
	if err := kube.Delete(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	e.waitDeprovisioned()
}

// startOpEnvWebIdentity is startOpEnv with the controller authenticating as IRSA does on EKS:
// the sandbox's issuer is an IAM OIDC provider (client ID sts.amazonaws.com), the controller
// role trusts it for the subject system:serviceaccount:karpenter:karpenter only, and the
// controller gets AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (a token of the ServiceAccount
// namespace/name, audience sts.amazonaws.com) and no static key.
func startOpEnvWebIdentity(t *testing.T, timeout time.Duration, profileSuffix, namespace, name string) (e *opEnv, done func()) {
	e, cancel := newOpEnv(t, timeout)
	profile, nodeRole := sandboxtest.CreateNodeInstanceProfile(t, e.ctx, e.sb, e.sb.ClusterName+profileSuffix)
	e.setSandboxEnv()
	e.controllerRole = e.assumeControllerRole(e.sb.ClusterName+profileSuffix+"-controller", nodeRole)
	e.ensureOIDCProvider()
	e.setTrust("system:serviceaccount:karpenter:karpenter")

	cs, err := kubernetes.NewForConfig(e.sb.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Create(e.ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().ServiceAccounts(namespace).Delete(e.ctx, name, metav1.DeleteOptions{}) })
	tok, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(e.ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{pods.STSAudience}, ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok.Status.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_ROLE_ARN", e.controllerRole.arn)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	stop := e.startController(profile)
	return e, func() { stop(); cancel() }
}

// ensureOIDCProvider registers the sandbox's service-account issuer as an IAM OIDC provider
// with client ID sts.amazonaws.com (unless it is registered already) and records its ARN.
func (e *opEnv) ensureOIDCProvider() {
	t, ctx := e.t, e.ctx
	t.Helper()
	iamc := iam.NewFromConfig(e.sb.AWSConfig())
	issuer := e.sb.Cluster.Issuer()
	out, err := iamc.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: &issuer, ClientIDList: []string{pods.STSAudience}})
	var exists *iamtypes.EntityAlreadyExistsException
	switch {
	case err == nil:
		e.oidcProviderArn = awssdk.ToString(out.OpenIDConnectProviderArn)
	case errors.As(err, &exists):
		list, err := iamc.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list.OpenIDConnectProviderList {
			if arn := awssdk.ToString(p.Arn); strings.HasSuffix(arn, ":oidc-provider/"+strings.TrimPrefix(issuer, "https://")) {
				e.oidcProviderArn = arn
			}
		}
		if e.oidcProviderArn == "" {
			t.Fatalf("OIDC provider for %s exists but is not listed", issuer)
		}
	default:
		t.Fatal(err)
	}
}

// setTrust makes the controller role trust the OIDC provider for sts:AssumeRoleWithWebIdentity
// by the token subject sub with audience sts.amazonaws.com, as IRSA roles do.
func (e *opEnv) setTrust(sub string) {
	t, ctx := e.t, e.ctx
	t.Helper()
	host := strings.TrimPrefix(e.sb.Cluster.Issuer(), "https://")
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + e.oidcProviderArn +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + host + `:sub":"` + sub + `","` +
		host + `:aud":"` + pods.STSAudience + `"}}}]}`
	if _, err := iam.NewFromConfig(e.sb.AWSConfig()).UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
		RoleName: &e.controllerRole.name, PolicyDocument: &doc}); err != nil {
		t.Fatal(err)
	}
}

// trustServiceAccount makes the controller role trust the ServiceAccount namespace/name.
func (e *opEnv) trustServiceAccount(namespace, name string) {
	e.setTrust("system:serviceaccount:" + namespace + ":" + name)
}
