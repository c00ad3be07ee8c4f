package operator

import (
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/provisioning"
	"github.com/nodeform/terraform-provider-karpenter/provider"
)

// TestDeniedLaunchIsAnEvent removes ec2:CreateFleet from the controller role's policy: pending
// pods then get no node, and the Provisioner gets a Warning Event NotAuthorized naming the
// denied action and resource as the emulator (and AWS) refuse it. With the permission back,
// the same pods get nodes.
func TestDeniedLaunchIsAnEvent(t *testing.T) {
	e, done := startOpEnv(t, 8*time.Minute, "-denied-node")
	defer done()
	kube, ctx := e.kube, e.ctx

	e.setControllerPolicy(withoutAction(e.controllerRole.policy, "AllowScopedEC2LaunchWithClusterTag", "ec2:CreateFleet"))
	e.createProvisioner()
	defer e.deleteProvisioner("default")
	deploy := e.createInflateDeployment()

	want := "is not authorized to perform: ec2:CreateFleet on resource: arn:aws:ec2:" + e.sb.Region + ":" + accountOf(e.controllerRole.arn) + ":fleet/*"
	waitFor(t, ctx, 90*time.Second, "a NotAuthorized Event on the Provisioner", func() (bool, string) {
		events := &corev1.EventList{}
		if err := kube.List(ctx, events, client.InNamespace("default")); err != nil {
			return false, err.Error()
		}
		seen := 0
		for _, ev := range events.Items {
			if ev.InvolvedObject.Kind != "Provisioner" || ev.InvolvedObject.Name != "default" || ev.Reason != provisioning.ReasonNotAuthorized {
				continue
			}
			seen++
			if ev.Type == corev1.EventTypeWarning && strings.HasPrefix(ev.Message, "not authorised: ec2:CreateFleet: ") && strings.Contains(ev.Message, want) {
				t.Logf("Event %s %s on Provisioner default: %s", ev.Type, ev.Reason, ev.Message)
				return true, ""
			}
			t.Logf("NotAuthorized event: %s", ev.Message)
		}
		return false, "no matching event among " + strconv.Itoa(seen)
	})

	e.setControllerPolicy(e.controllerRole.policy)
	e.waitRunningOnLaunchedSpot("3 pods Running once ec2:CreateFleet is allowed again")
	if err := kube.Delete(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	e.waitDeprovisioned()
}

// withoutAction returns a copy of doc whose statement sid lacks action.
func withoutAction(doc provider.PolicyDocument, sid, action string) provider.PolicyDocument {
	out := provider.PolicyDocument{Version: doc.Version, Statement: append([]provider.PolicyStatement(nil), doc.Statement...)}
	for i, st := range out.Statement {
		if st.Sid != sid {
			continue
		}
		kept := st.Action[:0:0]
		for _, a := range st.Action {
			if a != action {
				kept = append(kept, a)
			}
		}
		out.Statement[i].Action = kept
	}
	return out
}
