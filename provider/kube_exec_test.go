package provider

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// execPlugin is a client-go exec credential plugin: it checks its argument and prints an
// ExecCredential holding the token in $TOKEN_FILE.
const execPlugin = `#!/bin/sh
if [ "$1" != "--cluster=sandbox" ]; then echo "exec plugin: unexpected arguments: $*" >&2; exit 1; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat "$TOKEN_FILE")"
`

// TestAccKubernetesExec configures the provider's Kubernetes access with only host, CA and an
// exec plugin (no kubeconfig): the plugin's token, a ServiceAccount token the sandbox's API
// server accepts, is what authenticates. A plugin handing out a bad token or failing makes
// the apply fail with the API server's or the plugin's error.
func TestAccKubernetesExec(t *testing.T) {
	sb, _ := startSandbox(t)
	cs, err := kubernetes.NewForConfig(sb.RESTConfig())
	must(t, err)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "acc-exec"}}
	_, err = cs.CoreV1().ServiceAccounts("kube-system").Create(ctx, sa, metav1.CreateOptions{})
	must(t, err)
	t.Cleanup(func() { _ = cs.CoreV1().ServiceAccounts("kube-system").Delete(ctx, sa.Name, metav1.DeleteOptions{}) })
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "acc-exec"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "acc-exec"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	must(t, err)
	t.Cleanup(func() { _ = cs.RbacV1().ClusterRoleBindings().Delete(ctx, crb.Name, metav1.DeleteOptions{}) })
	tr, err := cs.CoreV1().ServiceAccounts("kube-system").CreateToken(ctx, "acc-exec", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	must(t, err)

	dir := t.TempDir()
	plugin, good, bad, ca := filepath.Join(dir, "plugin.sh"), filepath.Join(dir, "good"), filepath.Join(dir, "bad"), filepath.Join(dir, "ca.pem")
	must(t, os.WriteFile(plugin, []byte(execPlugin), 0o700))
	must(t, os.WriteFile(good, []byte(tr.Status.Token), 0o600))
	must(t, os.WriteFile(bad, []byte("not-a-token"), 0o600))
	must(t, os.WriteFile(ca, sb.RESTConfig().CAData, 0o600))
	// No kubeconfig may be read: only the block's settings count.
	t.Setenv("KUBECONFIG", filepath.Join(dir, "absent"))

	const arn = "arn:aws:iam::111122223333:role/acc-exec"
	cfg := func(arg, tokenFile string) string {
		return `provider "karpenter" {
  kubernetes {
    host                   = "` + sb.RESTConfig().Host + `"
    cluster_ca_certificate = file("` + ca + `")
    exec {
      api_version = "client.authentication.k8s.io/v1"
      command     = "` + plugin + `"
      args        = ["` + arg + `"]
      env         = { TOKEN_FILE = "` + tokenFile + `" }
    }
  }
}
resource "karpenter_node_access" "test" {
  role_arn = "` + arn + `"
}
`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("--cluster=sandbox", bad), ExpectError: regexp.MustCompile(`(?i)unauthorized|provide\s+credentials`)},
			{Config: cfg("--cluster=other", good), ExpectError: regexp.MustCompile(`plugin.sh\s+failed\s+with\s+exit\s+code\s+1`)},
			{Config: cfg("--cluster=sandbox", good), Check: resource.TestCheckResourceAttr("karpenter_node_access.test", "role_arn", arn)},
		},
	})
}
