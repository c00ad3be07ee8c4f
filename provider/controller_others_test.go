package provider

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// TestKarpenterControllerDeployments: the warning about other controllers (controllersElsewhere)
// and the destroy's decision to leave what the controllers share (otherControllers) count the
// same Deployments, those labelled app.kubernetes.io/name=karpenter whatever their
// app.kubernetes.io/instance (a Helm release's is its name), not one being deleted nor one of
// another name label. A Deployment scaled to zero is not warned about, but the destroy counts it
// (its Provisioners are in the shared CRD), named as such. A Deployment already warned about at
// plan (skip) is not named again; with none left to name nothing is added.
func TestKarpenterControllerDeployments(t *testing.T) {
	dep := func(ns, name string, labels map[string]string, replicas *int32, mod func(*appsv1.Deployment)) client.Object {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: appsv1.DeploymentSpec{Replicas: replicas}}
		if mod != nil {
			mod(d)
		}
		return d
	}
	helm := map[string]string{nameLabel: "karpenter", "app.kubernetes.io/instance": "karpenter-helm"}
	deleting := func(d *appsv1.Deployment) {
		d.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		d.Finalizers = []string{"test/keep"}
	}
	kc := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		dep("own", deploymentName, selectorLabels(), ptr.To(int32(2)), nil),
		dep("helmk", "karpenter", helm, ptr.To(int32(1)), nil),
		dep("helmz", "karpenter", helm, ptr.To(int32(0)), nil),
		dep("unset", "karpenter", selectorLabels(), nil, func(d *appsv1.Deployment) {
			d.Annotations = map[string]string{installIDAnnotation: "abc"}
		}),
		dep("gone", "karpenter", helm, ptr.To(int32(1)), deleting),
		dep("web", "nginx", map[string]string{nameLabel: "nginx"}, ptr.To(int32(1)), nil),
	).Build()

	others, err := otherControllers(ctx, kc, "own")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"helmk/karpenter", "helmz/karpenter (scaled to zero)", "unset/karpenter"}; !reflect.DeepEqual(others, want) {
		t.Errorf("otherControllers = %q, want %q", others, want)
	}
	elsewhere, err := controllersElsewhere(ctx, kc, "own", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"helmk/karpenter", "unset/karpenter (install id abc)"}; !reflect.DeepEqual(elsewhere, want) {
		t.Errorf("controllersElsewhere = %q, want %q", elsewhere, want)
	}
	// A move from unset to own counts neither; install id abc is this installation.
	if got, _ := controllersElsewhere(ctx, kc, "own", "abc", "unset"); !reflect.DeepEqual(got, []string{"helmk/karpenter"}) {
		t.Errorf("controllersElsewhere of a move = %q, want [helmk/karpenter]", got)
	}

	var diags diag.Diagnostics
	found, err := warnControllersElsewhere(ctx, kc, "own", "", "", map[string]bool{"helmk/karpenter": true}, &diags)
	if err != nil || !reflect.DeepEqual(found, elsewhere) {
		t.Fatalf("warnControllersElsewhere found %q (err %v), want %q", found, err, elsewhere)
	}
	if len(diags) != 1 || !strings.HasPrefix(diags[0].Detail(), "Deployment unset/karpenter (install id abc), labelled") {
		t.Errorf("warning with helmk/karpenter skipped: %v", diags)
	}
	diags = nil
	if _, err := warnControllersElsewhere(ctx, kc, "own", "", "", map[string]bool{"helmk/karpenter": true, "unset/karpenter (install id abc)": true}, &diags); err != nil || len(diags) != 0 {
		t.Errorf("everything skipped: diagnostics %v (err %v), want none", diags, err)
	}
}
