package provider

import (
	"slices"
	"testing"

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
