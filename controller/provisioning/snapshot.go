package provisioning

import (
	"sort"
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
// A NodeClaim whose Node has registered (registeredClaims) counts as that Node, once. Any other
// NodeClaim that is not being deleted is in-flight capacity: named by status.nodeName (the
// instance's private DNS name, known at launch) or, before launch, by the claim's name;
// labelled with the claim's labels; tainted with spec.taints; offering status.allocatable, or
// before launch (capacity not known yet, e.g. a launch resumed after a restart)
// spec.resources.requests, the requests of the pods it was planned for. Its usage is status.capacity, or spec.resources.requests before launch.
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
	registered := registeredClaims(nodes, claims)
	for i := range nodes {
		n := &nodes[i]
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
		if c.DeletionTimestamp != nil || registered[c.Name] {
			continue // gone, or counted as its node
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

// registeredClaims returns the names of the NodeClaims whose Node has registered, so that each
// counts once, as its Node. A claim is matched to a Node by status.providerID, else by
// status.nodeName (a Node whose spec.providerID its cloud controller has not set yet). A claim
// not launched yet (no provider ID: its launch was not recorded before a restart, and the
// lifecycle reconciler has not resumed it) is matched to a Node that can only be its own
// (unclaimedNodeFits); unlaunched claims are taken oldest first, each with the oldest such
// Node, and a Node serves one claim at most. Without that last match, such a claim counted as
// in-flight capacity and its Node as a registered node until the claim was resumed: usage
// against the provisioner's limits counted the node twice, and pods were planned on the
// phantom capacity.
func registeredClaims(nodes []corev1.Node, claims []karpv1.NodeClaim) map[string]bool {
	byProviderID := map[string]*corev1.Node{}
	byName := map[string]*corev1.Node{}
	for i := range nodes {
		if id := nodes[i].Spec.ProviderID; id != "" {
			byProviderID[id] = &nodes[i]
		}
		byName[nodes[i].Name] = &nodes[i]
	}
	out := map[string]bool{}
	taken := map[string]bool{} // node names counted as a claim, or named by one
	var unlaunched []*karpv1.NodeClaim
	for i := range claims {
		c := &claims[i]
		if c.Status.NodeName != "" {
			taken[c.Status.NodeName] = true
		}
		if c.Status.ProviderID != "" {
			if n, ok := byProviderID[c.Status.ProviderID]; ok {
				out[c.Name], taken[n.Name] = true, true
				continue
			}
		}
		if c.Status.NodeName != "" {
			if n, ok := byName[c.Status.NodeName]; ok && (n.Spec.ProviderID == "" || n.Spec.ProviderID == c.Status.ProviderID) {
				out[c.Name] = true
			}
			continue
		}
		if c.Status.ProviderID == "" && c.DeletionTimestamp == nil {
			unlaunched = append(unlaunched, c)
		}
	}
	if len(unlaunched) == 0 {
		return out
	}
	launchedIDs := map[string]bool{}
	for i := range claims {
		if id := claims[i].Status.ProviderID; id != "" {
			launchedIDs[id] = true
		}
	}
	var candidates []*corev1.Node
	for i := range nodes {
		n := &nodes[i]
		if n.Spec.ProviderID != "" && !taken[n.Name] && !launchedIDs[n.Spec.ProviderID] && n.Labels[v1alpha5.LabelProvisionerName] != "" && !ownedByClaim(n) {
			candidates = append(candidates, n)
		}
	}
	sort.SliceStable(unlaunched, func(i, j int) bool {
		return unlaunched[i].CreationTimestamp.Before(&unlaunched[j].CreationTimestamp)
	})
	sort.SliceStable(candidates, func(i, j int) bool {
		return candidates[i].CreationTimestamp.Before(&candidates[j].CreationTimestamp)
	})
	for _, c := range unlaunched {
		for k, n := range candidates {
			if unclaimedNodeFits(n, c) {
				out[c.Name] = true
				candidates = append(candidates[:k], candidates[k+1:]...)
				break
			}
		}
	}
	return out
}

// ownedByClaim reports whether the Node has an owner reference to a NodeClaim (registration
// gave it one: it is, or was, another claim's).
func ownedByClaim(n *corev1.Node) bool {
	for _, o := range n.OwnerReferences {
		if o.Kind == "NodeClaim" && o.APIVersion == karpv1.SchemeGroupVersion.String() {
			return true
		}
	}
	return false
}

// unclaimedNodeFits reports whether a Node that no claim accounts for (registered by an instance:
// it has a provider ID) can be the Node of the unlaunched claim c: it carries c's provisioner label, was created no earlier than c (its
// instance was launched for a claim that existed), and every requirement of c whose key the Node
// is labelled with admits the Node's value (instance type among c's options, zone, capacity
// type, architecture...); keys the Node lacks are not held against it, as registration, which
// would add them from the claim, has not happened.
func unclaimedNodeFits(n *corev1.Node, c *karpv1.NodeClaim) bool {
	if n.Labels[v1alpha5.LabelProvisionerName] != c.Spec.ProvisionerName || n.CreationTimestamp.Before(&c.CreationTimestamp) {
		return false
	}
	for _, r := range c.Spec.Requirements {
		v, ok := n.Labels[r.Key]
		if !ok {
			continue
		}
		req, err := scheduling.NewRequirement(r.Key, r.Operator, r.Values...)
		if err != nil || !req.Matches(v, true) {
			return false
		}
	}
	return true
}
