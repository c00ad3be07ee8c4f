package state

import (
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
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
	// backlogQuiet is how long after kube-scheduler last bound a pod that was pending at the
	// previous Check a pod past its grace period still waits: while kube-scheduler binds
	// pending pods it is working through its queue and may simply not have reached the pod.
	// 10 s is the most kube-scheduler's pod backoff (podMaxBackoffSeconds) delays a retry, so a
	// pod it refused before and retries now has been retried once the quiet period passes.
	backlogQuiet = 10 * time.Second
	// backlogCap is how long after its grace period a pod is judged even while kube-scheduler
	// keeps binding other pods (a cluster with constant churn), so a real refusal is still
	// judged and no pod waits forever; the same 5 minutes a node may take to become Ready.
	backlogCap = notReadyTimeout
	// How long the tracker remembers a pod kube-scheduler bound to another node than the one
	// planned for it, for a sibling planned on that node to take over the node it left.
	swapMemory = 10 * time.Minute
)

// Disagreement is one refused plan: Pod stayed pending although Node, planned for it, had been
// Ready for the grace period and kube-scheduler had bound no other pending pod for 10 s (or
// the grace period had been over for 5 minutes).
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
	// key is the pod's scheduling.TemplateKey: pods with one non-empty key are interchangeable.
	key string
}

// moved is a pod pending at the last check that kube-scheduler bound to another node (boundTo)
// than the one planned for it (node; "" when the solver placed it nowhere): it took a place
// planned for a sibling (a pod of the same template key) on boundTo, and left its own on node.
type moved struct {
	key, node, boundTo string
	launched           bool
	at                 time.Time
}

// Disagreements tracks, per pending pod, the node the solver planned it on, and turns a plan
// kube-scheduler did not follow into a Disagreement: the node is excluded for the pod from then
// on and the pod may not cause a new launch during an exponential backoff (30 s doubling to
// 10 min). A plan is judged once the node has been Ready for the grace period, but not while
// kube-scheduler is working through a backlog (it bound a pod pending at the previous Check
// less than 10 s ago), and at the latest 5 minutes after the grace period. While a node
// launched for a pod is alive and not yet judged, the pod causes no other launch either. So a solver that is wrong about a pod costs one launch per backoff
// period, never a launch per batch. State is in memory; after a restart each pod starts afresh.
type Disagreements struct {
	mu    sync.Mutex
	clk   clock.Clock
	grace time.Duration
	pods  map[string]*plan // by pod UID, or namespace/name when it has none
	// moved are the pods bound to another node than planned, by pod id, until a sibling takes
	// over their place or swapMemory passes.
	moved map[string]*moved
	// seen are the template keys of the pods pending at the last check, by pod id ("" for a
	// pod with no key).
	seen map[string]string
	// progress is when a Check last found a pod of seen bound to a node: kube-scheduler was
	// working through its queue (zero: never).
	progress time.Time
}

// NewDisagreements returns a tracker that allows kube-scheduler grace (<= 0: the default).
func NewDisagreements(clk clock.Clock, grace time.Duration) *Disagreements {
	if grace <= 0 {
		grace = DefaultDisagreementGrace
	}
	return &Disagreements{clk: clk, grace: grace, pods: map[string]*plan{}, moved: map[string]*moved{}}
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
		p = &plan{pod: types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}, uid: pod.UID, key: scheduling.TemplateKey(pod)}
		d.pods[podID(pod)] = p
	}
	if p.node == node {
		return false
	}
	p.node, p.plannedAt, p.launched = node, d.clk.Now(), launched
	return true
}

// Check is called with the pods pending now, the cluster's nodes and the pods bound to each
// node (by node name; nil when unknown). It forgets pods no longer pending, and returns a
// Disagreement for each pending pod whose planned node exists and is Ready and whose judgement
// time (see judgeAt: the grace period after both plan and Ready, postponed while kube-scheduler
// works through a backlog, by at most 5 minutes) has come, or whose planned node has been
// planned and not Ready for longer than 5 minutes.
//
// A pod pending at the previous Check that bound holds on any node now is progress
// (kube-scheduler is working through its queue): Check records it at now, and while such progress is less than 10 s old no Ready plan is judged.
// Under thousands of pending pods kube-scheduler takes longer than the grace period to reach
// each one; binding them is no refusal of those it has not reached yet.
//
// Pods of one template (scheduling.TemplateKey) are interchangeable: when kube-scheduler binds
// a pending pod to the node planned for a sibling, the sibling's plan moves to the node the
// bound pod was planned on, with a fresh grace period (kube-scheduler bound replica A where B
// was planned and B waits for A's node: the plan holds, the pods only swapped); when the bound
// pod was planned nowhere (the solver refused it: minDomains, limits), the sibling's plan is
// dropped without a disagreement, as the pod refused instead of it, and the next solve places it
// anew. A pod is judged only on a node no sibling has taken from it, so a real refusal is still
// one.
//
// fits (nil: always) reports whether the pod still fits the room left on the node. A pod
// whose planned node has no room left for it is released instead: kube-scheduler filled the
// node with other pending pods, which is no refusal of this pod (capacity is fungible among
// pods of one batch), so its plan is dropped without a disagreement, exclusion or backoff and
// the next solve places it anew.
func (d *Disagreements) Check(pending []*corev1.Pod, nodes []corev1.Node, bound map[string][]*corev1.Pod, fits func(pod *corev1.Pod, node string) bool) []Disagreement {
	d.mu.Lock()
	defer d.mu.Unlock()
	byName := make(map[string]*corev1.Node, len(nodes))
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	now := d.clk.Now()
	takers := d.trackMoves(pending, bound, now)
	keep := make(map[string]*plan, len(pending))
	var out []Disagreement
	for _, pod := range pending {
		p := d.pods[podID(pod)]
		if p == nil {
			continue
		}
		keep[podID(pod)] = p
		d.swap(p, takers, now)
		n := byName[p.node]
		if n == nil || n.DeletionTimestamp != nil {
			continue
		}
		if fits != nil && !fits(pod, p.node) {
			p.node, p.launched = "", false
			continue
		}
		_, ready := readyTime(n)
		if (ready && now.Before(d.judgeAt(p, n))) || (!ready && now.Sub(p.plannedAt) < notReadyTimeout) {
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

// trackMoves records the pods pending at the last check, or planned, that are no longer pending
// and that bound (bound) holds on another node than the one planned for them; records progress
// at now when bound holds a pod pending at the last check; forgets the moves older than
// swapMemory and those of pods no longer bound where they were; remembers the pods pending now
// (seen); and returns, per node, the ids of the pods bound there whose moves
// no sibling has taken over yet, sorted.
func (d *Disagreements) trackMoves(pending []*corev1.Pod, bound map[string][]*corev1.Pod, now time.Time) map[string][]string {
	isPending := make(map[string]bool, len(pending))
	for _, pod := range pending {
		isPending[podID(pod)] = true
	}
	boundTo := map[string]string{}
	for node, pods := range bound {
		for _, pod := range pods {
			id := podID(pod)
			boundTo[id] = node
			if isPending[id] {
				continue
			}
			key, wasPending := d.seen[id]
			if wasPending {
				d.progress = now
			}
			if d.moved[id] != nil {
				continue
			}
			planned, launched := "", false
			if p := d.pods[id]; p != nil {
				key, planned, launched = p.key, p.node, p.launched
			}
			if key == "" || planned == node {
				continue
			}
			d.moved[id] = &moved{key: key, node: planned, boundTo: node, launched: launched, at: now}
		}
	}
	takers := map[string][]string{}
	for id, m := range d.moved {
		if now.Sub(m.at) > swapMemory || boundTo[id] != m.boundTo {
			delete(d.moved, id)
			continue
		}
		takers[m.boundTo] = append(takers[m.boundTo], id)
	}
	for _, ids := range takers {
		slices.Sort(ids)
	}
	d.seen = make(map[string]string, len(pending))
	for _, pod := range pending {
		d.seen[podID(pod)] = scheduling.TemplateKey(pod)
	}
	return takers
}

// swap moves p's plan, while a sibling (a pod of its template key) bound to p's planned node
// was planned on another node, to that other node: the sibling took p's place and left its own.
// A chain of such moves (A took B's node, B took C's) is followed, each taken over once. When
// the sibling was planned nowhere, p's plan is dropped: p is the one left without a place.
func (d *Disagreements) swap(p *plan, takers map[string][]string, now time.Time) {
	if p.key == "" {
		return
	}
	for p.node != "" {
		ids := takers[p.node]
		i := slices.IndexFunc(ids, func(id string) bool { return d.moved[id] != nil && d.moved[id].key == p.key })
		if i < 0 {
			return
		}
		m := d.moved[ids[i]]
		delete(d.moved, ids[i])
		takers[p.node] = slices.Delete(ids, i, i+1)
		p.node, p.launched, p.plannedAt = m.node, m.launched && m.node != "", now
	}
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
// provisioner still waits for kube-scheduler to bind them there (judgeAt: the grace period
// after the plan, or after n became Ready when that is later, postponed while kube-scheduler
// works through a backlog); zero when there is none. A node whose pod's judgement is postponed
// stays nominated until the postponement ends; the deprovisioner asks again then, and gets a
// later time if a Check found kube-scheduler binding more pods meanwhile. The deprovisioner
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
	for _, p := range d.pods {
		if p.node != n.Name {
			continue
		}
		if until := d.judgeAt(p, n); until.After(d.clk.Now()) {
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

// judgeAt returns when p's plan on node n (p.node) is judged if n is Ready: the grace period
// after the later of the plan and n turning Ready (on a node not Ready: after the plan); or,
// when kube-scheduler last bound a pending pod (d.progress) later than 10 s before that, 10 s
// after that progress, but never later than 5 minutes after the grace period. Called with d.mu
// held.
func (d *Disagreements) judgeAt(p *plan, n *corev1.Node) time.Time {
	since := p.plannedAt
	if readySince, ready := readyTime(n); ready && readySince.After(since) {
		since = readySince
	}
	at := since.Add(d.grace)
	if quiet := d.progress.Add(backlogQuiet); quiet.After(at) {
		limit := at.Add(backlogCap)
		at = quiet
		if at.After(limit) {
			at = limit
		}
	}
	return at
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
