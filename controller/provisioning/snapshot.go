package provisioning

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// Snapshot is existing capacity as the solver sees it.
type Snapshot struct {
	// Nodes: schedulable registered nodes (with what their bound pods leave free), then
	// in-flight NodeClaims.
	Nodes []scheduling.ExistingNode
	// Usage is, per provisioner name, the summed capacity of its registered nodes and
	// in-flight NodeClaims.
	Usage map[string]corev1.ResourceList
}

// ephemeralTaints are set by the node lifecycle and cloud controllers on a starting node and
// removed once it is ready; pods land after they go, so capacity behind them counts.
var ephemeralTaints = map[string]bool{
	corev1.TaintNodeNotReady:                         true,
	corev1.TaintNodeUnreachable:                      true,
	"node.cloudprovider.kubernetes.io/uninitialized": true,
}

// NotReadyGrace is how long a registered node may be not Ready (its Ready condition False or
// Unknown since lastTransitionTime) and still offer its room to pending pods: a node starting
// up becomes Ready within it, one that is still not Ready after it is broken or gone, and
// kube-scheduler keeps pods off it (node.kubernetes.io/not-ready and unreachable taints). The
// same 5 minutes as the disagreement tracker's wait for a node that never becomes Ready.
const NotReadyGrace = 5 * time.Minute

// notReadyFor returns how long n has been not Ready at now, and false when it is Ready or has
// no Ready condition yet.
func notReadyFor(n *corev1.Node, now time.Time) (time.Duration, bool) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return 0, false
			}
			return now.Sub(c.LastTransitionTime.Time), true
		}
	}
	return 0, false
}

// BuildSnapshot builds the solver's view from listed nodes, pods, provisioners and NodeClaims;
// everything it reads is in the API server, so a restarted controller sees what the previous
// one launched.
//
// Nodes being deleted or cordoned, and nodes not Ready for NotReadyGrace or longer at now,
// offer no capacity (Available is empty) but are listed with their pods, which still count for
// pod affinity, anti-affinity and topology spread, and count towards usage. A node's
// available resources are its allocatable minus the requests of the non-terminal pods bound to
// it; those pods are listed with it (they point into pods). Ephemeral taints (not-ready,
// unreachable, uninitialized) and, on nodes of a provisioner, that provisioner's startup taints
// are ignored.
//
// A NodeClaim whose provider ID no registered Node carries, and that is not being deleted, is
// in-flight capacity: named by status.nodeName (the instance's private DNS name, known at
// launch) or, before launch, by the claim's name; labelled with the claim's labels; tainted with
// spec.taints; offering status.allocatable, or before launch (capacity not known yet, e.g. a
// launch resumed after a restart) spec.resources.requests, the requests of the pods it was
// planned for. Its usage is status.capacity, or spec.resources.requests before launch.
func BuildSnapshot(now time.Time, nodes []corev1.Node, pods []corev1.Pod, provisioners []v1alpha5.Provisioner, claims []karpv1.NodeClaim) Snapshot {
	startup := map[string][]corev1.Taint{}
	for i := range provisioners {
		startup[provisioners[i].Name] = provisioners[i].Spec.StartupTaints
	}
	bound := map[string]scheduling.Resources{}
	boundPods := map[string][]*corev1.Pod{}
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		r, ok := bound[p.Spec.NodeName]
		if !ok {
			r = scheduling.Resources{}
			bound[p.Spec.NodeName] = r
		}
		r.AddInPlace(scheduling.PodRequests(p))
		boundPods[p.Spec.NodeName] = append(boundPods[p.Spec.NodeName], p)
	}

	snap := Snapshot{Usage: map[string]corev1.ResourceList{}}
	usage := map[string]scheduling.Resources{}
	addUsage := func(prov string, capacity corev1.ResourceList) {
		if prov == "" {
			return
		}
		if usage[prov] == nil {
			usage[prov] = scheduling.Resources{}
		}
		usage[prov].AddInPlace(scheduling.FromList(capacity))
	}
	registered := map[string]bool{}
	for i := range nodes {
		n := &nodes[i]
		if n.Spec.ProviderID != "" {
			registered[n.Spec.ProviderID] = true
		}
		prov := n.Labels[v1alpha5.LabelProvisionerName]
		addUsage(prov, n.Status.Capacity)
		// A node that takes no new pod still holds its pods, which kube-scheduler counts for
		// pod affinity, anti-affinity and topology spread: it stays, with no room.
		noRoom := n.DeletionTimestamp != nil || n.Spec.Unschedulable
		if d, notReady := notReadyFor(n, now); notReady && d >= NotReadyGrace {
			noRoom = true
		}
		ignore := map[string]bool{}
		for _, t := range startup[prov] {
			ignore[t.Key+"/"+string(t.Effect)] = true
		}
		var taints []corev1.Taint
		for _, t := range n.Spec.Taints {
			if ephemeralTaints[t.Key] || ignore[t.Key+"/"+string(t.Effect)] {
				continue
			}
			taints = append(taints, t)
		}
		snap.Nodes = append(snap.Nodes, scheduling.ExistingNode{
			Name:      n.Name,
			Labels:    n.Labels,
			Taints:    taints,
			Available: available(n, bound[n.Name], noRoom),
			Pods:      boundPods[n.Name],
		})
	}

	for i := range claims {
		c := &claims[i]
		if c.DeletionTimestamp != nil || (c.Status.ProviderID != "" && registered[c.Status.ProviderID]) {
			continue // gone, or counted as a node
		}
		name, capacity, allocatable := c.Name, c.Status.Capacity, c.Status.Allocatable
		if c.Status.NodeName != "" {
			name = c.Status.NodeName
		}
		if c.Status.ProviderID == "" || len(allocatable) == 0 {
			capacity, allocatable = c.Spec.Resources.Requests, c.Spec.Resources.Requests
		}
		addUsage(c.Spec.ProvisionerName, capacity)
		snap.Nodes = append(snap.Nodes, scheduling.ExistingNode{
			Name:      name,
			Labels:    c.Labels,
			Taints:    c.Spec.Taints,
			Available: allocatable,
			InFlight:  true,
		})
	}
	for prov, r := range usage {
		snap.Usage[prov] = r.List()
	}
	return snap
}

// available is what n offers to new pods: its allocatable minus the requests of its pods, or
// nothing when noRoom.
func available(n *corev1.Node, requested scheduling.Resources, noRoom bool) corev1.ResourceList {
	if noRoom {
		return corev1.ResourceList{}
	}
	return scheduling.FromList(n.Status.Allocatable).Sub(requested).List()
}
