package provider

import (
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rbacv1 "k8s.io/api/rbac/v1"
)

// TestControllerClusterRoleReadsVolumes checks that the controller's ClusterRole lets the
// provisioner's informers get, list and watch what the solver reads for pods' volumes (and the
// pods and nodes around them): without it the controller's cache never syncs.
func TestControllerClusterRoleReadsVolumes(t *testing.T) {
	var role *rbacv1.ClusterRole
	for _, o := range controllerObjects(controllerSettings{Namespace: "karpenter", ServiceAccountName: "karpenter"}) {
		if cr, ok := o.(*rbacv1.ClusterRole); ok {
			role = cr
		}
	}
	if role == nil {
		t.Fatal("no ClusterRole among the controller's objects")
	}
	allows := func(group, resource, verb string) bool {
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	for _, gr := range [][2]string{{"", "pods"}, {"", "nodes"}, {"", "persistentvolumeclaims"}, {"", "persistentvolumes"},
		{"storage.k8s.io", "storageclasses"}, {"storage.k8s.io", "csinodes"}} {
		for _, verb := range []string{"get", "list", "watch"} {
			if !allows(gr[0], gr[1], verb) {
				t.Errorf("ClusterRole %s does not allow %s on %q/%s", role.Name, verb, gr[0], gr[1])
			}
		}
	}
}

func TestDeploymentRefused(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	failure := func(since time.Duration, status corev1.ConditionStatus) *appsv1.Deployment {
		return &appsv1.Deployment{Status: appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue},
			{Type: appsv1.DeploymentReplicaFailure, Status: status, Reason: "FailedCreate",
				Message: `pods "karpenter-abc" is forbidden: exceeded quota: block`, LastTransitionTime: metav1.NewTime(now.Add(-since))},
		}}}
	}
	for _, tc := range []struct {
		name string
		d    *appsv1.Deployment
		want string
	}{
		{"no condition", &appsv1.Deployment{}, ""},
		{"refused for a minute", failure(time.Minute, corev1.ConditionTrue), "exceeded quota: block"},
		{"refused just now", failure(5*time.Second, corev1.ConditionTrue), ""},
		{"cleared", failure(time.Minute, corev1.ConditionFalse), ""},
	} {
		err := deploymentRefused(tc.d, now)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}
