package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/sandbox"
)

func TestHandoverFrom(t *testing.T) {
	for _, c := range []struct {
		name                    string
		tagged, had, want, keep string
		same                    bool
	}{
		{"first move keeps the old account", "", "karpenter/karpenter", "moved/karpenter", "karpenter/karpenter", true},
		{"no change", "", "karpenter/karpenter", "karpenter/karpenter", "", true},
		{"pending move continues", "karpenter/karpenter", "moved/karpenter", "moved/karpenter", "karpenter/karpenter", true},
		{"second target keeps the running one", "karpenter/karpenter", "moved/karpenter", "third/karpenter", "karpenter/karpenter", true},
		{"reverted move ends the hand-over", "karpenter/karpenter", "moved/karpenter", "karpenter/karpenter", "", true},
		{"identity switch: no hand-over", "", "karpenter/karpenter", "moved/karpenter", "", false},
		{"foreign trust: nothing to keep", "", "", "karpenter/karpenter", "", true},
	} {
		if got := handoverFrom(c.tagged, c.had, c.want, c.same); got != c.keep {
			t.Errorf("%s: handoverFrom(%q, %q, %q, %v) = %q, want %q", c.name, c.tagged, c.had, c.want, c.same, got, c.keep)
		}
	}
}

func TestPreviousServiceAccountStatement(t *testing.T) {
	trust := OIDCTrustPolicy("arn:aws:iam::111122223333:oidc-provider/oidc.example.com/id/X", "https://oidc.example.com/id/X", "moved", "karpenter")
	both := withPreviousServiceAccount(trust, "karpenter/karpenter")
	if len(both.Statement) != 2 || both.Statement[1].Sid != previousServiceAccountSid {
		t.Fatalf("want the trust statement and a PreviousServiceAccount one, got %s", both.JSON())
	}
	if got := both.Statement[1].Condition["StringEquals"]["oidc.example.com/id/X:sub"]; len(got) != 1 || got[0] != "system:serviceaccount:karpenter:karpenter" {
		t.Errorf("previous statement's subject %v", got)
	}
	if got := both.Statement[0].Condition["StringEquals"]["oidc.example.com/id/X:sub"]; got[0] != "system:serviceaccount:moved:karpenter" {
		t.Errorf("the planned statement changed: %v", got)
	}
	// Read sees the planned service account only; releasing drops the previous statement.
	parsed, err := ParsePolicyDocument(both.JSON())
	if err != nil {
		t.Fatal(err)
	}
	kept, dropped := withoutPreviousServiceAccount(parsed)
	if !dropped || kept.JSON() != trust.JSON() {
		t.Errorf("withoutPreviousServiceAccount = %s, %v; want %s", kept.JSON(), dropped, trust.JSON())
	}
	if _, _, ns, sa, ok := trustPolicyFacts(kept); !ok || ns != "moved" || sa != "karpenter" {
		t.Errorf("trustPolicyFacts after release: %s/%s %v", ns, sa, ok)
	}
	if _, dropped := withoutPreviousServiceAccount(trust); dropped {
		t.Error("a trust policy without a hand-over reported one")
	}
}

// TestAccControllerRoleHandover moves a running controller, wired as modules/karpenter wires
// it (the role's service_account_namespace follows the controller's namespace, so Terraform
// updates the role first), into a namespace whose ResourceQuota refuses its Deployment, for
// IRSA and for EKS Pod Identity. After the failed move the old installation runs again and its
// role still trusts it: its pods, restarted, get credentials and launch a node. Going back to
// the old namespace ends the hand-over; a move that succeeds ends it too (the role trusts only
// the new service account, the kept association is deleted); each is followed by an empty plan.
func TestAccControllerRoleHandover(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	ic := iam.NewFromConfig(sb.AWSConfig())
	const role, ctrl = "karpenter_controller_role.ctrl", "karpenter_controller.test"
	for _, identity := range []string{identityIRSA, identityPodIdentity} {
		t.Run(identity, func(t *testing.T) {
			h := newHandoverFixture(t, sb, kc, ic, identity)
			home, away := h.config("karpenter"), h.config(h.target)
			refused := regexp.MustCompile(`exceeded quota`)
			updates := func(roleAction, ctrlAction plancheck.ResourceActionType) resource.ConfigPlanChecks {
				return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(role, roleAction), plancheck.ExpectResourceAction(ctrl, ctrlAction)}}
			}
			otherIdentity := identityPodIdentity
			if identity == identityPodIdentity {
				otherIdentity = identityIRSA
			}
			steps := []resource.TestStep{
				{Config: home, Check: h.trusts("karpenter/karpenter")},
				// The move fails after the role was updated: the role keeps the old account.
				{PreConfig: h.noDeployment, Config: away, ExpectError: refused},
				{Config: away, PlanOnly: true, ExpectNonEmptyPlan: true},
				// Back home: the role trusts the old account alone again, nothing else changes.
				{PreConfig: h.oldRunsWithCredentials, Config: home, ConfigPlanChecks: updates(plancheck.ResourceActionUpdate, plancheck.ResourceActionNoop),
					Check: h.trusts("karpenter/karpenter")},
				{Config: home, PlanOnly: true},
				// Failed again, then moved: the hand-over ends with the move.
				{Config: away, ExpectError: refused},
				{PreConfig: h.allowDeployment, Config: away, ConfigPlanChecks: updates(plancheck.ResourceActionNoop, plancheck.ResourceActionUpdate),
					Check: resource.ComposeTestCheckFunc(h.trusts(h.target+"/karpenter"), resource.TestCheckResourceAttr(ctrl, "namespace", h.target))},
				{Config: away, PlanOnly: true},
				// Identity and service account together, while the controller runs with the
				// role: refused at plan (no hand-over across identities).
				{Config: moduleWiringConfig(sb.ClusterName, otherIdentity, h.provisioner, "karpenter"),
					ExpectError: regexp.MustCompile(`Change identity and the service account in separate applies`)},
			}
			if identity == identityIRSA { // (with Pod Identity a service account has one association: one role)
				steps = append(steps,
					// A role no controller uses with that service account switches at once, even
					// though a controller (with another role) runs as it.
					resource.TestStep{Config: away + soloRole(sb.ClusterName, identityIRSA, h.target)},
					resource.TestStep{Config: away + soloRole(sb.ClusterName, identityIRSA, "elsewhere"), Check: h.soloTrusts("elsewhere:karpenter")},
					resource.TestStep{Config: away + soloRole(sb.ClusterName, identityIRSA, "elsewhere"), PlanOnly: true},
					// Also with Pod Identity: the controller's service account names its IRSA role,
					// which wins over any association, so it does not use this one.
					resource.TestStep{Config: away + soloRole(sb.ClusterName, identityPodIdentity, h.target)},
					resource.TestStep{Config: away + soloRole(sb.ClusterName, identityPodIdentity, "elsewhere"), Check: h.soloAssociated("elsewhere")},
					resource.TestStep{Config: away + soloRole(sb.ClusterName, identityPodIdentity, "elsewhere"), PlanOnly: true})
			}
			resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
		})
	}
}

// handoverFixture is one identity's case of TestAccControllerRoleHandover: the target namespace
// (created, with a ResourceQuota to switch on), the provisioner and controller role names.
type handoverFixture struct {
	t                             *testing.T
	sb                            *sandbox.Sandbox
	kc                            client.Client
	ic                            *iam.Client
	identity, target, provisioner string
	quota                         *corev1.ResourceQuota
}

func newHandoverFixture(t *testing.T, sb *sandbox.Sandbox, kc client.Client, ic *iam.Client, identity string) *handoverFixture {
	name := "acc-handover-" + strings.ReplaceAll(identity, "_", "-")
	h := &handoverFixture{t: t, sb: sb, kc: kc, ic: ic, identity: identity, target: name, provisioner: name,
		quota: &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "obstacle"},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/deployments.apps": kresource.MustParse("0")}}}}
	targetNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	must(t, kc.Create(ctx, targetNS.DeepCopy()))
	t.Cleanup(func() { _ = kc.Delete(context.Background(), targetNS.DeepCopy()) })
	t.Cleanup(h.allowDeployment)
	return h
}

// config is the module wiring with the controller in namespace.
func (h *handoverFixture) config(namespace string) string {
	return moduleWiringConfig(h.sb.ClusterName, h.identity, h.provisioner, namespace)
}

// noDeployment makes the target's quota refuse Deployments; allowDeployment removes it.
func (h *handoverFixture) noDeployment() {
	must(h.t, h.kc.Create(ctx, h.quota.DeepCopy()))
	must(h.t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var live corev1.ResourceQuota
		err := h.kc.Get(ctx, client.ObjectKeyFromObject(h.quota), &live)
		return err == nil && live.Status.Used != nil, client.IgnoreNotFound(err)
	}))
}

func (h *handoverFixture) allowDeployment() {
	must(h.t, client.IgnoreNotFound(h.kc.Delete(ctx, h.quota.DeepCopy())))
}

// trusts checks the service accounts ("<namespace>/<name>") the controller role lets assume
// it: the IRSA trust statements' subjects, or the Pod Identity associations' service accounts;
// and that the hand-over tag is set exactly when there are two.
func (h *handoverFixture) trusts(want ...string) resource.TestCheckFunc {
	roleName := h.provisioner + "-ctrl"
	return func(*terraform.State) error {
		out, err := h.ic.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(roleName)})
		if err != nil {
			return err
		}
		var got []string
		if h.identity == identityIRSA {
			doc, err := ParsePolicyDocument(awssdk.ToString(out.Role.AssumeRolePolicyDocument))
			if err != nil {
				return err
			}
			for _, s := range doc.Statement {
				for k, v := range s.Condition["StringEquals"] {
					if strings.HasSuffix(k, ":sub") {
						got = append(got, strings.Replace(strings.TrimPrefix(v[0], "system:serviceaccount:"), ":", "/", 1))
					}
				}
			}
		} else {
			for _, ns := range []string{"karpenter", h.target} {
				if arn, ok := h.sb.Emulator.PodIdentityRole(ns, "karpenter"); ok && arn == awssdk.ToString(out.Role.Arn) {
					got = append(got, ns+"/karpenter")
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("role %s is assumable by %v, want %v (trust %s)", roleName, got, want, awssdk.ToString(out.Role.AssumeRolePolicyDocument))
		}
		if tag := previousServiceAccount(out.Role.Tags); (len(want) > 1) != (tag != "") {
			return fmt.Errorf("hand-over tag %q with %v trusted", tag, want)
		}
		return nil
	}
}

// oldRunsWithCredentials deletes the old installation's pods, waits for new ones, which must
// get credentials from the role afresh, and has them launch a node.
func (h *handoverFixture) oldRunsWithCredentials() {
	must(h.t, h.kc.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace("karpenter"), client.MatchingLabels(selectorLabels())))
	must(h.t, wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		var d appsv1.Deployment
		if err := h.kc.Get(ctx, client.ObjectKey{Namespace: "karpenter", Name: deploymentName}, &d); err != nil {
			return false, err
		}
		return d.Status.ReadyReplicas == 2 && d.Status.UpdatedReplicas == 2, nil
	}))
	if err := checkLaunchesNode(h.t, h.kc, h.provisioner)(nil); err != nil {
		h.t.Fatalf("the restored controller cannot launch: %v", err)
	}
}

// soloTrusts checks that the role acc-solo trusts service account want ("<namespace>:<name>")
// alone, with no hand-over.
func (h *handoverFixture) soloTrusts(want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := h.ic.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("acc-solo")})
		if err != nil {
			return err
		}
		if tag := previousServiceAccount(out.Role.Tags); tag != "" {
			return fmt.Errorf("role acc-solo hands over from %s", tag)
		}
		doc, err := ParsePolicyDocument(awssdk.ToString(out.Role.AssumeRolePolicyDocument))
		if err != nil || len(doc.Statement) != 1 || !strings.Contains(doc.JSON(), `"system:serviceaccount:`+want+`"`) {
			return fmt.Errorf("role acc-solo trust %s (%v), want one statement for %s", doc.JSON(), err, want)
		}
		return nil
	}
}

// soloAssociated checks that acc-solo-pi is associated with karpenter in namespace alone (not
// with the one in h.target) and hands nothing over.
func (h *handoverFixture) soloAssociated(namespace string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := h.ic.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("acc-solo-pi")})
		if err != nil {
			return err
		}
		if tag := previousServiceAccount(out.Role.Tags); tag != "" {
			return fmt.Errorf("role acc-solo-pi hands over from %s", tag)
		}
		if arn, ok := h.sb.Emulator.PodIdentityRole(h.target, "karpenter"); ok {
			return fmt.Errorf("%s/karpenter is still associated with %s", h.target, arn)
		}
		if arn, ok := h.sb.Emulator.PodIdentityRole(namespace, "karpenter"); !ok || arn != awssdk.ToString(out.Role.Arn) {
			return fmt.Errorf("%s/karpenter associated with %q (%v), want acc-solo-pi", namespace, arn, ok)
		}
		return nil
	}
}

// soloRole is a karpenter_controller_role that no controller uses, trusting service account
// karpenter in namespace: "solo" (acc-solo) with IRSA, "solo_pi" (acc-solo-pi) with Pod Identity.
func soloRole(clusterName, identity, namespace string) string {
	resourceName, name := "solo", "acc-solo"
	if identity == identityPodIdentity {
		resourceName, name = "solo_pi", "acc-solo-pi"
	}
	return `
resource "karpenter_controller_role" "` + resourceName + `" {
  name                      = "` + name + `"
  identity                  = "` + identity + `"
  cluster_name              = "` + clusterName + `"
  node_role_arn             = karpenter_node_role.node.arn
  service_account_namespace = "` + namespace + `"
}
`
}
