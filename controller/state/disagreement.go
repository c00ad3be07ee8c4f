package state

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
)

// Defaults of the disagreement tracker.
const (
	// DefaultDisagreementGrace is how long kube-scheduler may take to bind a pod to the Ready
	// node planned for it before the plan counts as refused.
	DefaultDisagreementGrace = 30 * time.Second
	// Launch backoff after the n-th disagreement of a pod: initial * 2^(n-1), capped.
	disagreementBackoffInitial = 30 * time.Second
	disagreementBackoffMax     = 10 * time.Minute
	// A registered node that is still not Ready this long after the pod was planned on it is
	// judged too, so a node that never becomes Ready cannot hold a pod forever.
	notReadyTimeout = 5 * time.Minute
)

// Disagreement is one refused plan: Pod stayed pending although Node, planned for it, had been
// Ready for the grace period.
type Disagreement struct {
	Pod  *corev1.Pod
	Node *corev1.Node
	// Count is how many disagreements the pod has had; NoNewNodeUntil ends its launch backoff.
	Count          int
	NoNewNodeUntil time.Time
}

// plan is what the tracker remembers of one pending pod.
type plan struct {
	pod       types.NamespacedName
	uid       types.UID
	node      string    // node the pod was last planned on ("" after a disagreement)
	launched  bool      // node was launched for the pod
	plannedAt time.Time // when it was first planned on node
	count     int       // disagreements so far
	excluded  sets.Set[string]
	backoff   time.Time // no new node for the pod before this
}

// Disagreements tracks, per pending pod, the node the solver planned it on, and turns a plan
// kube-scheduler did not follow into a Disagreement: the node is excluded for the pod from then
// on and the pod may not cause a new launch during an exponential backoff (30 s doubling to
// 10 min). While a node launched for a pod is alive and not yet judged, the pod causes no
// other launch either. So a solver that is wrong about a pod costs one launch per backoff
// period, never a launch per batch. State is in memory; after a restart each pod starts afresh.
type Disagreements struct {
	mu    sync.Mutex
	clk   clock.Clock
	grace time.Duration
	pods  map[string]*plan // by pod UID, or namespace/name when it has none
}

// NewDisagreements returns a tracker that allows kube-scheduler grace (<= 0: the default).
func NewDisagreements(clk clock.Clock, grace time.Duration) *Disagreements {
	if grace <= 0 {
		grace = DefaultDisagreementGrace
	}
	return &Disagreements{clk: clk, grace: grace, pods: map[string]*plan{}}
}

func podID(p *corev1.Pod) string {
	if p.UID != "" {
		return string(p.UID)
	}
	return p.Namespace + "/" + p.Name
}

// Planned records that pod was planned on node (an existing or in-flight node, or one launched
// for it: launched). Planning it again on the same node keeps the first time. It reports
// whether the plan is new: the pod had none or another node.
func (d *Disagreements) Planned(pod *corev1.Pod, node string, launched bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pods[podID(pod)]
	if p == nil {
		p = &plan{pod: types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}, uid: pod.UID}
		d.pods[podID(pod)] = p
	}
	if p.node == node {
		return false
	}
	p.node, p.plannedAt, p.launched = node, d.clk.Now(), launched
	return true
}

// Check is called with the pods pending now and the cluster's nodes. It forgets pods no longer
// pending, and returns a Disagreement for each pending pod whose planned node exists and has
// been both planned and Ready for longer than the grace period, or planned and not Ready for
// longer than 5 minutes.
//
// fits (nil: always) reports whether the pod still fits the room left on the node. A pod
// whose planned node has no room left for it is released instead: kube-scheduler filled the
// node with other pending pods, which is no refusal of this pod (capacity is fungible among
// pods of one batch), so its plan is dropped without a disagreement, exclusion or backoff and
// the next solve places it anew.
func (d *Disagreements) Check(pending []*corev1.Pod, nodes []corev1.Node, fits func(pod *corev1.Pod, node string) bool) []Disagreement {
	d.mu.Lock()
	defer d.mu.Unlock()
	byName := make(map[string]*corev1.Node, len(nodes))
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	now := d.clk.Now()
	keep := make(map[string]*plan, len(pending))
	var out []Disagreement
	for _, pod := range pending {
		p := d.pods[podID(pod)]
		if p == nil {
			continue
		}
		keep[podID(pod)] = p
		n := byName[p.node]
		if n == nil || n.DeletionTimestamp != nil {
			continue
		}
		if fits != nil && !fits(pod, p.node) {
			p.node, p.launched = "", false
			continue
		}
		readySince, ready := readyTime(n)
		since := p.plannedAt
		if ready && readySince.After(since) {
			since = readySince
		}
		if (ready && now.Sub(since) < d.grace) || (!ready && now.Sub(since) < notReadyTimeout) {
			continue
		}
		p.count++
		if p.excluded == nil {
			p.excluded = sets.New[string]()
		}
		p.excluded.Insert(p.node)
		wait := disagreementBackoffInitial << min(p.count-1, 10)
		p.backoff = now.Add(min(wait, disagreementBackoffMax))
		p.node, p.launched = "", false
		out = append(out, Disagreement{Pod: pod, Node: n, Count: p.count, NoNewNodeUntil: p.backoff})
	}
	d.pods = keep
	return out
}

// Hold is what the tracker says of one pending pod.
type Hold struct {
	// Excluded are the nodes kube-scheduler refused for the pod.
	Excluded sets.Set[string]
	// PlannedNode is the node the pod is planned on and not yet judged ("" when none).
	PlannedNode string
	// NoNewNodeUntil ends the pod's launch backoff (zero: none running).
	NoNewNodeUntil time.Time
	// Outstanding is set while PlannedNode was launched for the pod and is alive: the pod
	// must not cause another launch meanwhile.
	Outstanding bool
}

// Hold returns what restricts pod now, and false when nothing does. alive reports whether a
// node (registered or in flight) still exists; a node launched for the pod that is gone (its
// launch failed, it was reclaimed) releases the pod.
func (d *Disagreements) Hold(pod *corev1.Pod, alive func(node string) bool) (Hold, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pods[podID(pod)]
	if p == nil {
		return Hold{}, false
	}
	if p.node != "" && !alive(p.node) {
		p.node, p.launched = "", false
	}
	h := Hold{Excluded: p.excluded.Clone(), PlannedNode: p.node, Outstanding: p.launched}
	if d.clk.Now().Before(p.backoff) {
		h.NoNewNodeUntil = p.backoff
	}
	return h, p.count > 0 || h.PlannedNode != ""
}

// NominatedUntil returns until when pods planned on node n keep it: over the pods planned on n
// that pending reports still unbound (by namespace/name and UID), the latest time the
// provisioner still waits for kube-scheduler to bind them there (the grace period after the
// plan, or after n became Ready when that is later); zero when there is none. The deprovisioner
// does not count such a node as empty: a pod kube-scheduler has not retried yet (its backoff
// reaches 10 s, more after its volumes could not bind) would otherwise lose the node launched
// for it. pending is called without the tracker's lock held.
func (d *Disagreements) NominatedUntil(n *corev1.Node, pending func(types.NamespacedName, types.UID) bool) time.Time {
	type candidate struct {
		pod   types.NamespacedName
		uid   types.UID
		until time.Time
	}
	var candidates []candidate
	d.mu.Lock()
	readySince, ready := readyTime(n)
	for _, p := range d.pods {
		if p.node != n.Name {
			continue
		}
		since := p.plannedAt
		if ready && readySince.After(since) {
			since = readySince
		}
		if until := since.Add(d.grace); until.After(d.clk.Now()) {
			candidates = append(candidates, candidate{p.pod, p.uid, until})
		}
	}
	d.mu.Unlock()
	var until time.Time
	for _, c := range candidates {
		if c.until.After(until) && pending(c.pod, c.uid) {
			until = c.until
		}
	}
	return until
}

// readyTime returns when n's Ready condition last turned True, and whether it is True.
func readyTime(n *corev1.Node) (time.Time, bool) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.LastTransitionTime.Time, c.Status == corev1.ConditionTrue
		}
	}
	return time.Time{}, false
}
