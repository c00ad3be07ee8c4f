package faults

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/garbagecollection"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// Boot timings of TestSlowAndStuckBoot. The garbage collector terminates an instance without
// a claim GracePeriod after launch, checking every Interval; a slow boot must outlast both
// (so at least one collection saw the pending instance past its grace) and still register
// before the registration timeout. The case is a boot slower than 2 minutes against
// the default 15-minute timeout; the ordering, not the scale, is what is proven here.
const (
	slowBoot            = garbagecollection.DefaultGracePeriod + garbagecollection.DefaultInterval + 5*time.Second
	registrationTimeout = slowBoot + 25*time.Second
)

// TestSlowAndStuckBoot: (1) instances of the m5 family boot after slowBoot (the emulator's boot
// fault): none is terminated, their pods run once they register; (2) one c5.large instance
// never boots: after the registration timeout its claim and instance go and its pod is planned
// again onto a new claim, whose instance boots.
func TestSlowAndStuckBoot(t *testing.T) {
	if garbagecollection.DefaultGracePeriod >= slowBoot || slowBoot >= registrationTimeout {
		t.Fatalf("timings out of order: grace %s, boot %s, registration timeout %s", garbagecollection.DefaultGracePeriod, slowBoot, registrationTimeout)
	}
	e := newEnv(t, "boot", 10*time.Minute)
	start := time.Now()
	e.createProvisioner([]string{"spot", "on-demand"}, 0)
	rec := e.recordClaims()
	mon := e.startMonitor(0)
	em := e.sb.Emulator
	if err := em.AddBootFault(sandboxaws.BootFault{InstanceType: "c5.large", Never: true, Next: 1}); err != nil {
		t.Fatal(err)
	}
	if err := em.AddBootFault(sandboxaws.BootFault{InstanceType: "m5.*", Delay: sandboxaws.Duration(slowBoot)}); err != nil {
		t.Fatal(err)
	}
	defer em.ClearBootFaults()
	c := e.startController("single", "--leader-elect=false", "--registration-timeout", registrationTimeout.String())
	defer c.kill()

	// Slow: 3 pods for m5 nodes. Stuck: 1 pod for a c5.large node.
	e.createNamedDeployment(e.name, 3, "1", map[string]string{v1alpha5.LabelInstanceType: "m5.large"})
	e.createNamedDeployment(e.name+"-stuck", 1, "1", map[string]string{v1alpha5.LabelInstanceType: "c5.large"})

	// The stuck instance: the first c5.large launched.
	var stuckID, stuckClaim string
	e.waitFor(time.Minute, "the never-booting c5.large instance", func() (bool, string) {
		for _, i := range e.scenarioInstances() {
			if i.InstanceType == "c5.large" {
				stuckID, stuckClaim = i.ID, i.Tags[karpv1.TagNodeClaim]
				return true, ""
			}
		}
		return false, "not launched yet"
	})
	launchedStuck := time.Now()

	// Slow boots register: every m5 instance launched is still live, and the pods run.
	e.waitFor(slowBoot+90*time.Second, "3 pods Running on slowly booting m5.large nodes", func() (bool, string) {
		running, total, err := e.podsOf(e.name)
		if err != nil {
			return false, err.Error()
		}
		return running == 3 && total == 3, fmt.Sprintf("%d of %d Running", running, total)
	})
	var slowInstances int
	for _, i := range e.scenarioInstances() {
		if i.InstanceType != "m5.large" {
			continue
		}
		slowInstances++
		if !live(i) {
			t.Errorf("slowly booting instance %s was %s before it could register (boot %s, registration timeout %s)", i.ID, i.State, slowBoot, registrationTimeout)
		}
		if since := time.Since(i.LaunchTime); since < slowBoot {
			t.Errorf("instance %s runs pods %s after launch, before its boot delay %s: the boot fault did not apply", i.ID, since, slowBoot)
		}
	}

	// Stuck boot: claim and instance go after the timeout, the pod runs on a new claim.
	e.waitFor(registrationTimeout+2*time.Minute, "the stuck pod Running on a new claim", func() (bool, string) {
		running, total, err := e.podsOf(e.name + "-stuck")
		if err != nil {
			return false, err.Error()
		}
		return running == 1 && total == 1, fmt.Sprintf("%d of %d Running", running, total)
	})
	stuckGone := time.Since(launchedStuck)
	var stuckState string
	for _, i := range e.scenarioInstances() {
		if i.ID == stuckID {
			stuckState = i.State
		}
	}
	if live(sandboxaws.InstanceInfo{State: stuckState}) {
		t.Errorf("never-booting instance %s is still %s", stuckID, stuckState)
	}
	if err := e.kube.Get(e.ctx, client.ObjectKey{Name: stuckClaim}, &karpv1.NodeClaim{}); err == nil {
		t.Errorf("claim %s of the never-booting instance still exists", stuckClaim)
	}
	pods := &corev1.PodList{}
	if err := e.kube.List(e.ctx, pods, client.MatchingLabels{"app": e.name + "-stuck"}); err != nil || len(pods.Items) != 1 {
		t.Fatalf("stuck pods: %v %d", err, len(pods.Items))
	}
	n := &corev1.Node{}
	if err := e.kube.Get(e.ctx, client.ObjectKey{Name: pods.Items[0].Spec.NodeName}, n); err != nil {
		t.Fatal(err)
	}
	if n.Spec.ProviderID == "" || n.Spec.ProviderID == "aws:///"+n.Labels[v1alpha5.LabelZone]+"/"+stuckID {
		t.Errorf("stuck pod runs on %s (%s), want a new instance", n.Name, n.Spec.ProviderID)
	}
	final := e.waitConsistent(-1, 2*time.Minute)
	var f figures
	e.collect(&f, rec, mon, final, start)
	f.phases = append(f.phases,
		fmt.Sprintf("gc grace %s < slow boot %s < registration timeout %s; %d slow instances, none terminated before registering", garbagecollection.DefaultGracePeriod, slowBoot, registrationTimeout, slowInstances),
		fmt.Sprintf("never-booting %s (claim %s) was %s and its pod Running on %s %.0f s after its launch", stuckID, stuckClaim, stuckState, n.Spec.ProviderID, stuckGone.Seconds()),
		"final: "+final.String())
	e.verify("slow-and-stuck-boot", f)
	// One claim more than instances that ran: the stuck one; no other launch beyond the claims.
	if f.instances != f.claimsSeen {
		t.Errorf("%d instances launched for %d claims", f.instances, f.claimsSeen)
	}
	e.deleteDeployment(e.name + "-stuck")
	e.cleanup(3 * time.Minute)
}
