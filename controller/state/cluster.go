// Package state keeps what the API server cannot tell the controllers yet: instances launched
// but not registered as Nodes (in-flight capacity), and turns listed nodes and pods into the
// solver's view of existing capacity and per-provisioner usage.
package state

import (
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// InFlightTTL is how long a launch is counted as capacity without its Node registering
// (an instance that has not joined in 5 minutes is presumed failed; Karpenter's registration
// TTL is 15 minutes, kept short here because the solver re-plans its pods).
const InFlightTTL = 5 * time.Minute

// InFlight is a launched instance whose Node has not registered yet.
type InFlight struct {
	Node *cloudprovider.Node
	// Provisioner is the launching Provisioner's name.
	Provisioner string
	// Labels the node will carry (request labels, instance type labels, zone, capacity type).
	Labels map[string]string
	// Taints the node will keep after startup (the provisioner's taints; startup taints excluded).
	Taints []corev1.Taint
	// Pods the node was launched for.
	Pods       []types.NamespacedName
	LaunchedAt time.Time
}

// Cluster holds in-flight launches. Safe for concurrent use.
type Cluster struct {
	mu       sync.Mutex
	clk      clock.Clock
	inflight map[string]*InFlight // by provider ID
}

// NewCluster returns an empty Cluster using clk for launch times and expiry.
func NewCluster(clk clock.Clock) *Cluster {
	return &Cluster{clk: clk, inflight: map[string]*InFlight{}}
}

// RecordLaunch remembers a launched instance as in-flight capacity until its Node registers
// (MarkRegistered) or InFlightTTL passes. rec.LaunchedAt is set from the clock when zero.
func (c *Cluster) RecordLaunch(rec *InFlight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec.LaunchedAt.IsZero() {
		rec.LaunchedAt = c.clk.Now()
	}
	c.inflight[rec.Node.ProviderID] = rec
}

// InFlightNode returns the in-flight record for a provider ID, if any (expired ones are not
// returned).
func (c *Cluster) InFlightNode(providerID string) (*InFlight, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
	rec, ok := c.inflight[providerID]
	return rec, ok
}

// MarkRegistered clears the in-flight record of a registered Node; it reports whether there was one.
func (c *Cluster) MarkRegistered(providerID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.inflight[providerID]
	delete(c.inflight, providerID)
	return ok
}

// InFlightNodes returns the unexpired in-flight records, oldest first.
func (c *Cluster) InFlightNodes() []*InFlight {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
	out := make([]*InFlight, 0, len(c.inflight))
	for _, rec := range c.inflight {
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LaunchedAt.Equal(out[j].LaunchedAt) {
			return out[i].LaunchedAt.Before(out[j].LaunchedAt)
		}
		return out[i].Node.ProviderID < out[j].Node.ProviderID
	})
	return out
}

func (c *Cluster) expireLocked() {
	now := c.clk.Now()
	for id, rec := range c.inflight {
		if now.Sub(rec.LaunchedAt) >= InFlightTTL {
			delete(c.inflight, id)
		}
	}
}

// Snapshot is existing capacity as the solver sees it.
type Snapshot struct {
	// Nodes: schedulable registered nodes (with what their bound pods leave free), then
	// in-flight launches.
	Nodes []scheduling.ExistingNode
	// Usage is, per provisioner name, the summed capacity of its registered and in-flight nodes.
	Usage map[string]corev1.ResourceList
}

// ephemeralTaints are set by the node lifecycle and cloud controllers on a starting node and
// removed once it is ready; pods land after they go, so capacity behind them counts.
var ephemeralTaints = map[string]bool{
	corev1.TaintNodeNotReady:                         true,
	corev1.TaintNodeUnreachable:                      true,
	"node.cloudprovider.kubernetes.io/uninitialized": true,
}

// Snapshot builds the solver's view from listed nodes, pods and provisioners. In-flight records
// of nodes that have registered (matched by provider ID) are not counted twice.
// Nodes being deleted or cordoned offer no capacity but still count towards usage.
// A node's available resources are its allocatable minus the requests of the non-terminal pods
// bound to it; those pods are listed with it (they point into pods). Ephemeral taints (not-ready, unreachable, uninitialized) and, on nodes of a
// provisioner, that provisioner's startup taints are ignored.
func (c *Cluster) Snapshot(nodes []corev1.Node, pods []corev1.Pod, provisioners []v1alpha5.Provisioner) Snapshot {
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
		if n.DeletionTimestamp != nil || n.Spec.Unschedulable {
			continue
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
			Available: scheduling.FromList(n.Status.Allocatable).Sub(bound[n.Name]).List(),
			Pods:      boundPods[n.Name],
		})
	}

	for _, rec := range c.InFlightNodes() {
		if registered[rec.Node.ProviderID] {
			continue // counted as a node; the registration reconciler clears the record
		}
		addUsage(rec.Provisioner, rec.Node.Capacity)
		snap.Nodes = append(snap.Nodes, scheduling.ExistingNode{
			Name:      rec.Node.Name,
			Labels:    rec.Labels,
			Taints:    rec.Taints,
			Available: rec.Node.Allocatable,
			InFlight:  true,
		})
	}
	for prov, r := range usage {
		snap.Usage[prov] = r.List()
	}
	return snap
}
