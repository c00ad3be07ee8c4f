package faults

import (
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Timings of TestDeadKubelet. notReadyTimeout is the controller's --not-ready-timeout (node
// repair); podGrace the pods' terminationGracePeriodSeconds, which a dead kubelet never lets
// end: the drain of a node deleted by hand must go on once it has passed.
const (
	deadReplicas    = 5
	notReadyTimeout = 15 * time.Second
	podGrace        = 5
)

// deadNode is one node whose kubelet the scenario stops.
type deadNode struct {
	name, providerID, instanceID, claim string
	pods                                int
}

// TestDeadKubelet (issue 7 §3, "a node whose kubelet dies with pods on it: the node goes, the
// finalizer does not hang"): 5 pods of a Deployment, one per node (hostname anti-affinity),
// with a 5 s termination grace period. The kubelets of two nodes die (sandbox
// cluster.StopKubelet: the node Lease is no longer renewed, no status is posted, no pod
// deletion is confirmed) while their instances keep running:
//
//   - node A is deleted by hand at once: the termination finalizer evicts its pods, which stay
//     terminating for ever; once their grace has passed it does not wait for them, terminates
//     the instance, deletes the claim and the node goes;
//   - node B is left alone: kube-controller-manager marks it Ready=Unknown after its
//     --node-monitor-grace-period, and node repair (--not-ready-timeout 15s) deletes it, its
//     pods without waiting for them, its instance and its claim.
//
// The Deployment's replacement pods run on new nodes. Checked: both nodes, instances and claims
// gone, every pod Running, 0 leaked instances, 0 duplicate launches, no pod left on a removed
// node (kube-controller-manager's pod garbage collector).
func TestDeadKubelet(t *testing.T) {
	e := newEnv(t, "kubelet", 10*time.Minute)
	start := time.Now()
	e.createProvisioner([]string{"spot", "on-demand"}, 0)
	rec := e.recordClaims()
	mon := e.startMonitor(0)
	c := e.startController("single", "--leader-elect=false", "--not-ready-timeout", notReadyTimeout.String())
	defer c.kill()

	e.createNamedDeployment(e.name, deadReplicas, "1", nil, onePerNode(e.name), func(p *corev1.PodSpec) {
		p.TerminationGracePeriodSeconds = ptr.To[int64](podGrace)
	})
	e.waitRunning(deadReplicas, 3*time.Minute)
	e.waitConsistent(deadReplicas, 2*time.Minute)
	up := time.Since(start)

	a, b := e.pickDeadNodes()
	killed := time.Now()
	for _, n := range []deadNode{a, b} {
		if err := e.sb.Cluster.StopKubelet(e.ctx, n.name); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("stopped the kubelets of %s (%d pods, deleted by hand) and %s (%d pods, left to node repair)", a.name, a.pods, b.name, b.pods)

	// A: deleted by hand while its kubelet is dead.
	if err := e.kube.Delete(e.ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.name}}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(a, 2*time.Minute)
	aGone := time.Since(killed)
	if !c.logged("not waiting for pods terminating past their grace period") {
		t.Errorf("the drain of %s did not report pods terminating past their grace period: its pods were confirmed by a kubelet that should be dead", a.name)
	}

	// B: Unknown after kube-controller-manager's grace, then repaired.
	var unknownAfter time.Duration
	e.waitFor(3*time.Minute, b.name+" not Ready", func() (bool, string) {
		n := &corev1.Node{}
		if err := e.kube.Get(e.ctx, client.ObjectKey{Name: b.name}, n); err != nil {
			if apierrors.IsNotFound(err) {
				return false, "node gone before it was seen not Ready"
			}
			return false, err.Error()
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
				unknownAfter = time.Since(killed)
				return true, ""
			}
		}
		return false, "still Ready"
	})
	e.waitGone(b, notReadyTimeout+2*time.Minute)
	bGone := time.Since(killed)
	if !c.logged(b.name) || !c.logged("longer than the not-ready timeout") {
		t.Errorf("node repair did not log the removal of %s", b.name)
	}

	e.waitRunning(deadReplicas, 3*time.Minute)
	allRunning := time.Since(killed)
	e.waitFor(3*time.Minute, "no pod left on the removed nodes", func() (bool, string) {
		pods := &corev1.PodList{}
		if err := e.kube.List(e.ctx, pods, client.MatchingLabels{"app": e.name}); err != nil {
			return false, err.Error()
		}
		var left []string
		for _, p := range pods.Items {
			if p.Spec.NodeName == a.name || p.Spec.NodeName == b.name {
				left = append(left, p.Name+" on "+p.Spec.NodeName)
			}
		}
		return len(left) == 0, fmt.Sprintf("%v", left)
	})
	podsGone := time.Since(killed)
	final := e.waitConsistent(deadReplicas, 2*time.Minute)
	var f figures
	e.collect(&f, rec, mon, final, start)
	f.phases = append(f.phases,
		fmt.Sprintf("%d pods Running on %d nodes after %.0f s", deadReplicas, deadReplicas, up.Seconds()),
		fmt.Sprintf("node A %s (%d pods), deleted by hand with a dead kubelet: node, instance %s and claim %s gone %.0f s after the kubelet died (pod grace %d s)",
			a.name, a.pods, a.instanceID, a.claim, aGone.Seconds(), podGrace),
		fmt.Sprintf("node B %s (%d pods), left alone: not Ready after %.0f s, node, instance %s and claim %s gone after %.0f s (not-ready timeout %s)",
			b.name, b.pods, unknownAfter.Seconds(), b.instanceID, b.claim, bGone.Seconds(), notReadyTimeout),
		fmt.Sprintf("every pod Running again %.0f s after the kubelets died; no pod left on the removed nodes after %.0f s", allRunning.Seconds(), podsGone.Seconds()),
		"final: "+final.String())
	e.verify("dead-kubelet", f)
	// Two replacement nodes: one launch per claim, 7 claims in all.
	if f.instances != f.claimsSeen || f.instances != deadReplicas+2 {
		t.Errorf("%d instances launched for %d claims, want %d of each", f.instances, f.claimsSeen, deadReplicas+2)
	}
	e.cleanup(3 * time.Minute)
}

// pickDeadNodes returns two of the scenario's nodes that hold its pods (by name order), with
// their instance and claim.
func (e *env) pickDeadNodes() (deadNode, deadNode) {
	e.t.Helper()
	pods := &corev1.PodList{}
	if err := e.kube.List(e.ctx, pods, client.MatchingLabels{"app": e.name}); err != nil {
		e.t.Fatal(err)
	}
	count := map[string]int{}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && p.DeletionTimestamp == nil {
			count[p.Spec.NodeName]++
		}
	}
	var names []string
	for n := range count {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 2 {
		e.t.Fatalf("pods run on %d nodes, want at least 2", len(names))
	}
	var out []deadNode
	for _, name := range names[:2] {
		n := &corev1.Node{}
		if err := e.kube.Get(e.ctx, client.ObjectKey{Name: name}, n); err != nil {
			e.t.Fatal(err)
		}
		d := deadNode{name: name, providerID: n.Spec.ProviderID, pods: count[name]}
		for _, o := range n.OwnerReferences {
			if o.Kind == "NodeClaim" {
				d.claim = o.Name
			}
		}
		zone := n.Labels[v1alpha5.LabelZone]
		for _, i := range e.scenarioInstances() {
			if "aws:///"+i.Zone+"/"+i.ID == n.Spec.ProviderID && i.Zone == zone {
				d.instanceID = i.ID
			}
		}
		if d.claim == "" || d.instanceID == "" {
			e.t.Fatalf("node %s (%s): claim %q, instance %q", name, n.Spec.ProviderID, d.claim, d.instanceID)
		}
		out = append(out, d)
	}
	return out[0], out[1]
}

// waitGone waits for the node object, its claim and its instance (no longer pending or
// running) to be gone.
func (e *env) waitGone(d deadNode, timeout time.Duration) {
	e.t.Helper()
	e.waitFor(timeout, "node "+d.name+", its claim and its instance gone", func() (bool, string) {
		var left []string
		if err := e.kube.Get(e.ctx, client.ObjectKey{Name: d.name}, &corev1.Node{}); !apierrors.IsNotFound(err) {
			left = append(left, "node")
		}
		if err := e.kube.Get(e.ctx, client.ObjectKey{Name: d.claim}, &karpv1.NodeClaim{}); !apierrors.IsNotFound(err) {
			left = append(left, "claim")
		}
		for _, i := range e.scenarioInstances() {
			if i.ID == d.instanceID && live(i) {
				left = append(left, "instance "+i.State)
			}
		}
		return len(left) == 0, fmt.Sprintf("left: %v", left)
	})
}
