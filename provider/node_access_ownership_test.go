package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestAccNodeAccessOwnership starts from an aws-auth entry someone else made for a role:
// karpenter_node_access for that role refuses to create (and leaves the entry as it was);
// for another role it adds its own entry, keeps an entry for the same role that someone
// appends later, and its destroy removes only its own entry.
func TestAccNodeAccessOwnership(t *testing.T) {
	_, kc := startSandbox(t)
	const (
		addr    = "karpenter_node_access.test"
		shared  = "arn:aws:iam::111122223333:role/acc-shared-node"
		mine    = "arn:aws:iam::111122223333:role/acc-own-node"
		foreign = "legacy-ng"
	)
	cfg := func(arn string) string {
		return `resource "karpenter_node_access" "test" {
  role_arn = "` + arn + `"
}
`
	}
	edit := func(f func([]map[string]any) (string, error)) {
		r := &nodeAccessResource{c: &clients{kubeClient: kc}}
		r.c.kubeOnce.Do(func() {})
		err := r.modify(ctx, f)
		if apierrors.IsNotFound(err) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: awsAuthNamespace, Name: awsAuthName}}
			must(t, kc.Create(ctx, cm))
			err = r.modify(ctx, f)
		}
		must(t, err)
	}
	appendEntry := func(arn, username string) func([]map[string]any) (string, error) {
		return func(e []map[string]any) (string, error) {
			return marshalMapRoles(append(e, map[string]any{"rolearn": arn, "username": username, "groups": []any{"system:nodes"}}))
		}
	}
	edit(appendEntry(shared, foreign))
	t.Cleanup(func() {
		edit(func(e []map[string]any) (string, error) { return removeMapRole(e, shared) })
		edit(func(e []map[string]any) (string, error) { return removeMapRole(e, mine) })
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(shared), ExpectError: regexp.MustCompile(`(?s)aws-auth already maps this role.*node_access_method[\s│]+=[\s│]+"none"`)},
			{Config: cfg(mine), Check: resource.ComposeAggregateTestCheckFunc(
				checkMapRoles(kc, shared, foreign), checkMapRoles(kc, mine, defaultNodeUsername))},
			{ // someone maps the same role again: this resource's entry (the first) is unchanged
				PreConfig: func() { edit(appendEntry(mine, "later")) },
				Config:    cfg(mine), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop)}},
				Check: checkMapRoles(kc, mine, defaultNodeUsername, "later"),
			},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(checkMapRoles(kc, shared, foreign), checkMapRoles(kc, mine, "later")),
	})
}

// checkMapRoles checks that the mapRoles entries of roleARN have exactly the user names
// usernames, in order.
func checkMapRoles(kc client.Client, roleARN string, usernames ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var cm corev1.ConfigMap
		if err := kc.Get(ctx, client.ObjectKey{Namespace: awsAuthNamespace, Name: awsAuthName}, &cm); err != nil {
			return err
		}
		entries, err := parseMapRoles(cm.Data["mapRoles"])
		if err != nil {
			return err
		}
		var got []string
		for _, e := range entries {
			if e["rolearn"] == roleARN {
				got = append(got, fmt.Sprint(e["username"]))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(usernames) {
			return fmt.Errorf("aws-auth entries of %s have user names %v, want %v", roleARN, got, usernames)
		}
		return nil
	}
}
