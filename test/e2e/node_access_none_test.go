package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestModuleExistingNodeAccess applies the quickstart (modules/karpenter) to a cluster whose
// aws-auth already maps the node role KarpenterNodeRole-<cluster>, with
// node_access_method = "none": apply succeeds without touching aws-auth (karpenter_node_access
// would refuse the existing entry rather than adopt it), the state holds no node access, and
// destroy leaves the entry exactly as it was.
func TestModuleExistingNodeAccess(t *testing.T) {
	bin := requireBin(t)
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatal("terraform is not on PATH")
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	ws, err := PrepareTerraform(ctx, bin, root, tf, "quickstart", logWriter(t))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(ws.TempDir)
	sb := NewSandbox(bin, filepath.Join(t.TempDir(), "sandbox"), logWriter(t))
	defer func() { _ = sb.Down(context.Background()) }()
	if err := sb.Up(ctx, "--boot-delay", "0"); err != nil {
		t.Fatal(err)
	}
	kube, err := NewKube(sb.Env["KUBECONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	cluster := sb.Env["CLUSTER_NAME"]
	ws.Terraform.Env = ws.Environ(sb.Environ(), "TF_VAR_cluster_name="+cluster)

	// Someone else already maps the node role (e.g. a managed node group sharing it).
	cms := kube.Clientset.CoreV1().ConfigMaps("kube-system")
	entry := "- rolearn: arn:aws:iam::111122223333:role/KarpenterNodeRole-" + cluster + "\n" +
		"  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n  - system:bootstrappers\n  - system:nodes\n"
	cm, err := cms.Get(ctx, "aws-auth", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"},
			Data: map[string]string{"mapRoles": entry}}, metav1.CreateOptions{})
	case err == nil:
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["mapRoles"] += entry
		cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	want := cm.Data
	unchanged := func(when string) {
		t.Helper()
		got, err := cms.Get(ctx, "aws-auth", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !strings.Contains(got.Data["mapRoles"], entry) || got.Data["mapRoles"] != want["mapRoles"] || len(got.Data) != len(want) {
			t.Fatalf("%s: aws-auth changed:\n%v\nwant\n%v", when, got.Data, want)
		}
	}

	if err := os.WriteFile(filepath.Join(ws.Terraform.Dir, "node_access_override.tf"), []byte(`module "karpenter" {
  node_access_method = "none"
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ws.Terraform.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ws.Terraform.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	unchanged("after apply")
	out, err := ws.Terraform.Outputs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := out["node_role_arn"]; got != "arn:aws:iam::111122223333:role/KarpenterNodeRole-"+cluster {
		t.Fatalf("node_role_arn = %v: the pre-existing entry maps another role", got)
	}
	if list, _, err := ws.Terraform.Run(ctx, "state", "list"); err != nil || strings.Contains(list, "karpenter_node_access") {
		t.Errorf("state list (%v): want no karpenter_node_access:\n%s", err, list)
	}
	if code, diff, err := ws.Terraform.Plan(ctx); err != nil || code != 0 {
		t.Errorf("plan after apply: exit %d, %v\n%s", code, err, strings.Join(diff, "\n"))
	}
	if err := ws.Terraform.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	unchanged("after destroy")
}
