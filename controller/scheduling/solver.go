package scheduling

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

// DefaultMaxInstanceTypes caps the instance type options of one new node when
// Input.MaxInstanceTypes is 0 (Karpenter passes at most 60 types to CreateFleet too).
const DefaultMaxInstanceTypes = 60

// ProvisionerInput is one Provisioner with what it can launch and what it has launched.
type ProvisionerInput struct {
	Provisioner *v1alpha5.Provisioner
	// InstanceTypes are the types the cloud provider offers this provisioner
	// (cloudprovider.CloudProvider.GetInstanceTypes), offerings' availability included.
	InstanceTypes []*cloudprovider.InstanceType
	// Usage is the summed capacity of the provisioner's registered and in-flight nodes,
	// compared with spec.limits.resources.
	Usage corev1.ResourceList
}

// ExistingNode is capacity that exists already or is being launched.
type ExistingNode struct {
	Name   string
	Labels map[string]string
	// Taints that keep pods off; callers drop ephemeral ones (not-ready, startup taints).
	Taints []corev1.Taint
	// Available is allocatable minus the requests of the pods bound to the node.
	Available corev1.ResourceList
	// InFlight marks a launched, not yet registered node: the solver subtracts the requests of
	// the daemonsets that will run on it from Available.
	InFlight bool
	// Pods bound to the node and not terminal, for inter-pod affinity, anti-affinity and host
	// ports (their requests are already subtracted from Available).
	Pods []*corev1.Pod
}

// Input is a snapshot of everything the solver needs.
type Input struct {
	Pods         []*corev1.Pod
	Provisioners []ProvisionerInput
	Nodes        []ExistingNode
	// DaemonSets whose pods will run on new nodes they select and tolerate; their pod
	// template's requests count against every such node.
	DaemonSets []*appsv1.DaemonSet
	// MaxInstanceTypes caps each new node's options, cheapest first (0: DefaultMaxInstanceTypes).
	MaxInstanceTypes int
	// NamespaceLabels maps a namespace name to its labels, for pod affinity terms with a
	// namespaceSelector (nil: such a selector matches no namespace).
	NamespaceLabels map[string]map[string]string
	// Holds restrict pods (keyed "namespace/name") on which kube-scheduler disagreed with an
	// earlier plan: see Hold.
	Holds map[string]Hold
	// Volumes are the claims, volumes, classes and CSINodes pods' volumes need (volume.go).
	Volumes Volumes
}

// Hold is what the controller learned from kube-scheduler not binding a pod to the node planned
// for it: the solver was wrong about that pod somewhere, so it trusts itself less.
type Hold struct {
	// ExcludedNodes are nodes the pod is not planned on again (kube-scheduler refused them).
	ExcludedNodes sets.Set[string]
	// PlannedNode is the existing or in-flight node an earlier batch planned the pod on; the
	// pod is placed there first, before pods without a plan can take its room.
	PlannedNode string
	// NoNewNode forbids opening a new node for the pod (a launch backoff is running); it may
	// still be planned on existing and in-flight capacity. Reason says why, for PodError.
	NoNewNode bool
	Reason    string
}

// NodeClaim is one new node to launch.
type NodeClaim struct {
	Provisioner *v1alpha5.Provisioner
	// Requirements the node must satisfy: the provisioner's template narrowed by its pods.
	Requirements Requirements
	// InstanceTypeOptions can each hold all Pods plus daemonset overhead and have an available
	// offering allowed by Requirements; cheapest first, at most Input.MaxInstanceTypes.
	InstanceTypeOptions []*cloudprovider.InstanceType
	// Prices[i] is the cheapest allowed available offering of InstanceTypeOptions[i], USD/hour.
	Prices []float64
	Pods   []*corev1.Pod
	// Requests are the summed requests of Pods (without daemonsets).
	Requests Resources
}

// Labels returns the labels the node registers with: the provisioner's labels,
// karpenter.sh/provisioner-name and every label the requirements fix to a single value.
func (c *NodeClaim) Labels() map[string]string {
	out := c.Requirements.SingleValueLabels()
	for k, v := range c.Provisioner.Spec.Labels {
		out[k] = v
	}
	out[v1alpha5.LabelProvisionerName] = c.Provisioner.Name
	return out
}

// Taints returns the provisioner's taints followed by its startup taints.
func (c *NodeClaim) Taints() []corev1.Taint {
	out := append([]corev1.Taint{}, c.Provisioner.Spec.Taints...)
	return append(out, c.Provisioner.Spec.StartupTaints...)
}

// PodError says why a pod cannot be placed anywhere.
type PodError struct {
	Pod    *corev1.Pod
	Reason string
}

// Result is the solver's plan.
type Result struct {
	// ExistingNodes maps a node name to the pods expected to land on it (kube-scheduler binds
	// them; the solver only counts capacity).
	ExistingNodes map[string][]*corev1.Pod
	// NewNodes to launch, in the order they were opened.
	NewNodes []*NodeClaim
	// Errors for pods that fit nowhere, in the order the pods were considered.
	Errors []PodError
}

type typeInfo struct {
	it       *cloudprovider.InstanceType
	usable   Resources // allocatable minus daemonset overhead
	capacity Resources
	// price is the cheapest offering the provisioner's template allows (see reqPricer), USD/hour;
	// zonePrice the same per zone.
	price     float64
	priceOK   bool
	zonePrice map[string]float64
	// cpu and memory are usable's, in millicores and bytes (a quick first test in filter).
	cpu, memory int64
	// accelerators are the extended resources it has (see wastesAccelerators).
	accelerators []corev1.ResourceName
	// denseUsable and denseCapacity are usable and capacity of denseNames; sparse is set when
	// either has another resource (claim.recompute then works on the maps).
	denseUsable, denseCapacity [len(denseNames)]int64
	sparse                     bool
}

// denseNames are the resources every type has, which claim.recompute reads from arrays.
var denseNames = [...]corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage}

// setDense fills denseUsable, denseCapacity and sparse from usable and capacity.
func (t *typeInfo) setDense() {
	dense := func(r Resources, out *[len(denseNames)]int64) {
		n := 0
		for i, name := range denseNames {
			if v, ok := r[name]; ok {
				out[i] = v
				n++
			}
		}
		if n != len(r) {
			t.sparse = true
		}
	}
	dense(t.usable, &t.denseUsable)
	dense(t.capacity, &t.denseCapacity)
}

// denseAmounts returns r's amounts of denseNames, and false when r has a positive amount of
// another resource (Fits must then read the maps).
func denseAmounts(r Resources) ([len(denseNames)]int64, bool) {
	var out [len(denseNames)]int64
	n := 0
	for i, name := range denseNames {
		if v, ok := r[name]; ok {
			out[i] = v
			n++
		}
	}
	if n != len(r) {
		for k, v := range r {
			if v > 0 && !slices.Contains(denseNames[:], k) {
				return out, false
			}
		}
	}
	return out, true
}

// fitsDense is Resources.Fits on dense amounts (see denseAmounts and typeInfo.denseUsable).
func fitsDense(r, capacity *[len(denseNames)]int64) bool {
	for i, v := range r {
		if v > 0 && v > capacity[i] {
			return false
		}
	}
	return true
}

type provState struct {
	in        ProvisionerInput
	name      string
	template  Requirements
	taints    []corev1.Taint
	typeKeys  []string
	isTypeKey map[string]bool
	types     []*typeInfo
	limits    Resources
	usage     Resources
	committed Resources // summed worst-case capacity of open claims
	claims    []*claim
	typeErr   string // why no type is usable at all
	topo      *topology
	// priceBase is the template typeInfo prices were computed under (see reqPricer); a repacking
	// provState shares the types, so it shares this too.
	priceBase Requirements
	// opened caches what openWith computed for pods of equal requests and node requirements,
	// keyed by both rendered (see openWith).
	opened map[string]*claim
	// blocks bound the room of claims, claimBlock at a time (see place).
	blocks []blockRoom
	// antiCursor is firstCandidate's progress per hostname anti-affinity term.
	antiCursor map[*podTerm]int
	// antiHeld has, per hostname anti-affinity term t, bit i%claimBlock of word i/claimBlock set
	// when claims[i] is known to hold a pod t selects (see place).
	antiHeld map[*podTerm][]uint64
	// maxTypes caps a new node's instance type options (Input.MaxInstanceTypes).
	maxTypes int
	// smallest caches smallestCapacity by the requests' key; explained caches explainTypes
	// by requests, requirements and term. Both only for the placement, which runs on one
	// goroutine.
	smallest  map[string]Resources
	explained map[string]explained
	// mu guards byPrice while resize splits claims concurrently; deferCommit is set then (split
	// leaves committed to resize).
	mu          sync.Mutex
	deferCommit bool
	// pieceVolumes, set on the provState of a repacking (sizing.go), holds the volumes of the
	// pods planned on each of its claims in place of the volume state, which the pieces replace
	// the claim in afterwards (volumeState.splitInto).
	pieceVolumes map[*claim]*attached
	// emptyTopo is repackTopology's (sizing.go).
	emptyTopo *topology
	// byPrice caches compatibleByPrice (sizing.go).
	byPrice map[string][]pricedType
	// perPod caches perPodPrice (domain.go); guarded by mu.
	perPod map[string]float64
	// creatableDomains caches the sorted values of creatable for topology.candidates, by key
	// and requirements; guarded by mu.
	creatableDomains map[string][]string
}

type claim struct {
	prov      *provState
	host      host
	reqs      Requirements
	types     []*typeInfo
	pods      []*corev1.Pod
	infos     []*podInfo // the compiled pods, as pods
	requests  Resources
	maxUsable Resources
	minUsable Resources // every remaining type holds at least this
	committed Resources // max capacity over types, for limits
	// price is the cheapest allowed available offering over types, USD/hour.
	price float64
	// roomCPU and roomMemory are maxUsable less requests, in millicores and milli-bytes (as
	// Resources): a pod asking for more fits none of the claim's types (a cheap first test, see
	// setRoom).
	roomCPU, roomMemory int64
	// sized is set once resize has considered the claim.
	sized bool
	// squeezed is set once squeeze has narrowed the claim's types.
	squeezed bool
	// fixed caches claimDomain for one key while the claim holds fixedPods pods (see
	// claim.domain).
	fixed     fixedDomain
	fixedPods int
}

// fixedDomain is the domain of one key a claim's requirements fix (ok false: none).
type fixedDomain struct {
	key, domain string
	ok, valid   bool
}

// domain is claimDomain(c.reqs, key), kept for the key last asked while no pod joins or leaves
// the claim: while pods are placed, a claim's requirements change only with its pods
// (tryAdd, and restore with them). Only for the placement, which runs on one goroutine.
func (c *claim) domain(key string) (string, bool) {
	if f := c.fixed; f.valid && f.key == key && c.fixedPods == len(c.pods) {
		return f.domain, f.ok
	}
	d, ok := claimDomain(c.reqs, key)
	c.fixed, c.fixedPods = fixedDomain{key: key, domain: d, ok: ok, valid: true}, len(c.pods)
	return d, ok
}

// setRoom refreshes roomCPU and roomMemory after requests or maxUsable changed.
func (c *claim) setRoom() {
	c.roomCPU = c.maxUsable[corev1.ResourceCPU] - c.requests[corev1.ResourceCPU]
	c.roomMemory = c.maxUsable[corev1.ResourceMemory] - c.requests[corev1.ResourceMemory]
}

type existing struct {
	node      ExistingNode
	available Resources
	// room is available's cpu (millicores) and memory (bytes), for a quick test.
	room blockRoom
	host host
}

type podInfo struct {
	pod      *corev1.Pod
	requests Resources
	// reqKey is requests.key(), the requests' part of the packing's and openWith's cache keys.
	reqKey string
	terms  []Requirements
	// notNames are the nodes its terms keep out by name (matchFields metadata.name NotIn), all
	// terms' together: a node one term keeps out is not used even when another term would
	// admit it (stricter than kube-scheduler, never looser; terms change with volumes).
	notNames sets.Set[string]
	err      error
	// host are its required hostname-scoped pod (anti-)affinity terms and ports its host ports.
	host  hostTerms
	ports []hostPort
	// pinned[i] is set when some pod already matches host.affinity[i] (see host.admits).
	pinned []bool
	// domain are its required constraints on wider topology keys (zone, capacity type).
	domain []domainConstraint
	// prefs are the preferences compiled as requirements, in the order they are dropped.
	prefs []preference
	// symAnti are its required (not preferred) hostname anti-affinity terms: only those keep
	// other pods off its node in kube-scheduler.
	symAnti []*podTerm
	// symSpread are its own DoNotSchedule hostname spread constraints (not promoted
	// ScheduleAnyway ones): the pods planned on its node with it must leave them met.
	symSpread []hostSpread

	// cpu and memory are requests' cpu (millicores) and memory (bytes), for claim.roomCPU.
	cpu, memory int64

	hold Hold
	vol  *podVolumes // nil without claims
	// group is set on the pods of a co-located group on Solve's second try: the summed
	// requests of the pods its self-selecting required hostname affinity term selects.
	group Resources
	// repels is set when one of its required hostname anti-affinity terms selects the pod
	// itself: one such pod per node.
	repels bool
	// lateSpread marks a pod whose topology spread counts pods of the second round: it is
	// placed after them (compilePods), in that round.
	lateSpread bool
	// selected caches selectedBy. Copies of a compiled pod (identical pods) share it; a
	// repacking's copy starts its own (repacks run concurrently).
	selected *termSelection
	// domainKeys caches topology.keys and topology.counting for the pod.
	domainKeys domainKeysCache
}

// isolated reports whether pi is the first pod of a co-located group to be placed on a new
// node of its own (pi.group set and a required hostname affinity term of pi that no pod placed
// so far matches: see pinAffinity).
func (pi *podInfo) isolated() bool {
	if pi.group == nil {
		return false
	}
	for _, pinned := range pi.pinned {
		if !pinned {
			return true
		}
	}
	return false
}

// newPodInfo compiles what the solver needs of p.
func newPodInfo(p *corev1.Pod, vs *volumeState) *podInfo {
	pi := &podInfo{pod: p, requests: PodRequests(p), ports: podHostPorts(p)}
	pi.cpu, pi.memory = pi.requests[corev1.ResourceCPU], pi.requests[corev1.ResourceMemory]
	names := sortedNames(pi.requests)
	pi.reqKey = pi.requests.keyOf(names)
	for _, k := range names {
		if pi.requests[k] < 0 {
			// The API server refuses these; a plan must not count them as room.
			pi.err = fmt.Errorf("invalid requests: %s is negative (%s)", k, pi.requests)
			return pi
		}
	}
	var notNames []sets.Set[string]
	pi.terms, notNames, pi.err = podTerms(p)
	for _, n := range notNames {
		pi.notNames = pi.notNames.Union(n)
	}
	if pi.err == nil {
		if pi.host, pi.err = compileHostTerms(p); pi.err != nil {
			pi.err = fmt.Errorf("invalid pod affinity or topology spread: %w", pi.err)
		}
	} else {
		pi.err = fmt.Errorf("invalid node affinity: %w", pi.err)
	}
	if pi.err == nil {
		pi.err = vs.compile(pi)
	}
	return pi
}

// Solve places pods: first-fit-decreasing by dominant share (see compilePods) onto existing and in-flight nodes,
// then onto new nodes of the first provisioner (weight desc, then name) that can take them.
// It never fails as a whole; pods that fit nowhere are listed in Result.Errors with a reason.
func Solve(in Input) *Result {
	res := solve(in, retry{})
	if r := retryFor(in, res); r.unsized || len(r.first) > 0 {
		// Pods with required hostname affinity placed after the nodes of the pods they follow
		// were sized by the bill can be stranded: the sizing cut those nodes to types without
		// room for them, or a co-located group (a term that selects its own pods) placed pod
		// by pod had its first pod join a node without room for the rest, or beside a pod
		// whose hostname spread counts them. Solved again with the first round's nodes left
		// unsized for the second round and each such group's first pod on a new node of its
		// own, sized for the whole group; kept when it places more pods and leaves no more at
		// risk. A pod that a required anti-affinity on a zone (or other domain key) keeps
		// from the domain it needs, its own or another pod's, is placed first instead: the
		// pods placed before it had taken every domain it could go to (a pod pinned to a zone
		// that a pod with anti-affinity against it took first).
		again := solve(in, r)
		if len(again.Errors) < len(res.Errors) && len(CheckSpreads(in.Nodes, again)) <= len(CheckSpreads(in.Nodes, res)) {
			return again
		}
	}
	return res
}

// retry says how Solve plans a batch again when its first plan left pods with required
// hostname pod affinity unplaced (retryFor).
type retry struct {
	// unsized leaves the first round's nodes unsized until the second round's pods are placed.
	unsized bool
	// groups maps the pods of each co-located group with a pod left unplaced (a required
	// hostname affinity term of that pod selects the pod itself) to the summed requests of the
	// pods that term selects: the room the group's first pod opens a node for (podInfo.group).
	groups map[*corev1.Pod]Resources
	// first marks the pods placed before all others (podOrderKey.first).
	first map[*corev1.Pod]bool
}

// retryFor returns how to plan in again after res (see Solve): unsized is false when res
// leaves no pod with required hostname pod affinity unplaced. Its work is linear in the pods
// for each group and each required anti-affinity term on a wider key, not per unplaced pod.
func retryFor(in Input, res *Result) retry {
	var out retry
	if len(res.Errors) == 0 {
		return out
	}
	anti := domainAntiAffinityTerms(in.Pods)
	for _, e := range res.Errors {
		if repelledByDomain(e.Pod, anti, in.NamespaceLabels) {
			if out.first == nil {
				out.first = map[*corev1.Pod]bool{}
			}
			out.first[e.Pod] = true
		}
		host, err := compileHostTerms(e.Pod)
		if err != nil || len(host.affinity) == 0 {
			continue
		}
		out.unsized = true
		if _, ok := out.groups[e.Pod]; ok {
			continue // its group's room is known: it was a member of an earlier pod's group
		}
		for _, t := range host.affinity {
			if !t.matches(e.Pod, in.NamespaceLabels[e.Pod.Namespace]) {
				continue
			}
			var members []*corev1.Pod
			total := Resources{}
			for _, p := range in.Pods {
				if t.matches(p, in.NamespaceLabels[p.Namespace]) {
					members = append(members, p)
					total.AddInPlace(PodRequests(p))
				}
			}
			if out.groups == nil {
				out.groups = map[*corev1.Pod]Resources{}
			}
			for _, p := range members {
				if _, ok := out.groups[p]; !ok {
					out.groups[p] = total
				}
			}
		}
	}
	return out
}

// FollowsOwnPods reports whether one of p's required pod affinity terms on
// kubernetes.io/hostname selects p itself, as the solver reads the term
// (namespaces, namespace selector; nsLabels: the labels of p's namespace): the pods it selects
// must share one node. An invalid term: false (the solver refuses the pod for it).
func FollowsOwnPods(p *corev1.Pod, nsLabels map[string]string) bool {
	host, err := compileHostTerms(p)
	if err != nil {
		return false
	}
	for _, t := range host.affinity {
		if t.matches(p, nsLabels) {
			return true
		}
	}
	return false
}

// ownedTerm is a compiled pod (anti-)affinity term and the pod that carries it.
type ownedTerm struct {
	owner *corev1.Pod
	term  *podTerm
}

// domainAntiAffinityTerms returns the required pod anti-affinity terms of pods on a key other
// than kubernetes.io/hostname (legacy keys read as their GA keys), compiled; invalid ones are
// left out (the pod carrying one is refused for it anyway).
func domainAntiAffinityTerms(pods []*corev1.Pod) []ownedTerm {
	var out []ownedTerm
	for _, q := range pods {
		if q.Spec.Affinity == nil || q.Spec.Affinity.PodAntiAffinity == nil {
			continue
		}
		terms := q.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		for i := range terms {
			if v1alpha5.NormalizeLabelKey(terms[i].TopologyKey) == corev1.LabelHostname {
				continue
			}
			if t, err := compilePodTerm(q, &terms[i], ""); err == nil {
				out = append(out, ownedTerm{owner: q, term: t})
			}
		}
	}
	return out
}

// repelledByDomain reports whether p carries one of anti, or one of them selects p.
func repelledByDomain(p *corev1.Pod, anti []ownedTerm, nsLabels map[string]map[string]string) bool {
	for _, a := range anti {
		if a.owner == p || a.term.matches(p, nsLabels[p.Namespace]) {
			return true
		}
	}
	return false
}

// solve is Solve, planning again as again says (the zero retry: the first plan).
// likeCounts counts pods by their requests' key (topology.like).
func likeCounts(pods []*podInfo) map[string]int {
	like := make(map[string]int)
	for _, pi := range pods {
		like[pi.reqKey]++
	}
	return like
}

func solve(in Input, again retry) *Result {
	res := &Result{ExistingNodes: map[string][]*corev1.Pod{}}
	maxTypes := in.MaxInstanceTypes
	if maxTypes <= 0 {
		maxTypes = DefaultMaxInstanceTypes
	}
	dss := compileDaemonSets(in.DaemonSets)

	in.Nodes = normalizeNodes(in.Nodes) // a node with legacy labels only gets their GA keys too
	nodes := newExistingNodes(in.Nodes, dss)

	provs := make([]*provState, 0, len(in.Provisioners))
	for _, p := range in.Provisioners {
		if p.Provisioner == nil {
			continue
		}
		ps := newProvState(p, dss)
		ps.maxTypes = maxTypes
		provs = append(provs, ps)
	}
	sort.SliceStable(provs, func(i, j int) bool {
		wi, wj := weight(provs[i].in.Provisioner), weight(provs[j].in.Provisioner)
		if wi != wj {
			return wi > wj
		}
		return provs[i].name < provs[j].name
	})

	topo := newTopology(nodes, in.NamespaceLabels)
	topo.provs = provs
	topo.vs = newVolumeState(&in, nodes)
	for _, ps := range provs {
		ps.topo = topo
	}

	pods := compilePods(in, topo, again.first)
	topo.like = likeCounts(pods)
	for _, pi := range pods {
		pi.group = again.groups[pi.pod]
	}
	placed := reservePlanned(pods, nodes, topo, res)
	// Two rounds: the pods that repel their own kind from a node (one per node) and the pods
	// with required pod affinity (which may follow them) are placed after the others' nodes
	// are sized by the bill (sizing.go), so they fill the room left in the final nodes instead
	// of each seeding a node the sizing then cuts up around them.
	second := slices.IndexFunc(pods, func(pi *podInfo) bool { return pi.repels || pi.hasAffinity() || pi.lateSpread })
	if second < 0 {
		second = len(pods)
	}
	// The nodes of pooled pods only are packed anew at the end (pack.go): the last round
	// leaves them to that instead of splitting them.
	for r, round := range [][]*podInfo{pods[:second], pods[second:]} {
		topo.holdsActive = true
		var failed []*podInfo
		var errs []PodError
		// A spread pod that its own spreads refuse everywhere waits (pending): kube-scheduler
		// requeues a pod its PodTopologySpread filter refused when a pod its selectors count is
		// added, and the pod is tried again each time a least count it reads grows.
		var pending pendingSpreads
		for _, pi := range round {
			if placed[pi] {
				continue
			}
			if e := placeFirst(pi, nodes, provs, topo, res); e != nil {
				if pi.hasSpread() {
					pending.add(pi, *e, topo)
				} else {
					failed, errs = append(failed, pi), append(errs, *e)
				}
				continue
			}
			pending.retry(topo, func(pi *podInfo) bool {
				return placeRelaxing(pi, nodes, provs, topo, res, false) == nil
			})
		}
		pending.settle()
		failed, errs = append(failed, pending.pods...), append(errs, pending.errs...)
		// A pod that fit nowhere when tried may fit once the round's later pods are placed: a
		// topology spread's least count grows as they land (kube-scheduler retries a pending
		// pod as the cluster changes too). Each is tried once more, in order, now with the last
		// resort (placeRelaxing) and without steering (placeFirst).
		topo.steerOff = true
		for i, pi := range failed {
			if len(pi.domain) == 0 {
				continue
			}
			if e := placeRelaxing(pi, nodes, provs, topo, res, true); e == nil {
				errs[i].Pod = nil
			} else {
				errs[i] = *e
			}
		}
		topo.steerOff = false
		for _, e := range errs {
			if e.Pod != nil {
				res.Errors = append(res.Errors, e)
			}
		}
		topo.holdsActive = false
		last := r == 1 || second == len(pods)
		topo.allPlaced = last // counts read by no later placement: detach may move pods out of them
		if again.unsized && !last {
			continue // the second round's pods may follow pods of the first onto their nodes
		}
		for _, p := range provs {
			p.resize(last)
		}
	}
	hostAffinity := topo.hostAffinityTerms(pods)
	for _, p := range provs {
		p.packAndSize() // pools packed anew, the claims of pools that did not pack for less split
		p.absorb(hostAffinity)
		for _, c := range p.claims {
			res.NewNodes = append(res.NewNodes, c.finish(maxTypes))
		}
	}
	repairSpreads(in.Nodes, res, pods, topo)
	return res
}

// placeFirst is pi's first try in its round (placeRelaxing): a pod that fits nowhere while it
// is steered to better nodes (topology.leavesShort, spotFirst) is tried without; a pod with a topology
// spread constraint tries the last resort only when its own spreads leave it a domain (refused
// by the holds of other pods, or by room: before pods waited, every pod did), else it is left to
// wait (pendingSpreads). It returns the error of the last try, nil when pi is placed.
func placeFirst(pi *podInfo, nodes []*existing, provs []*provState, topo *topology, res *Result) *PodError {
	spread := pi.hasSpread()
	topo.steered = false
	e := placeRelaxing(pi, nodes, provs, topo, res, !spread)
	if e != nil && topo.steered {
		topo.steerOff = true
		e = placeRelaxing(pi, nodes, provs, topo, res, !spread)
		topo.steerOff = false
	}
	if e != nil && spread && !topo.blocked(&pendingSpread{pi: pi}) {
		e = placeRelaxing(pi, nodes, provs, topo, res, true)
	}
	return e
}

// placeRelaxing places pi (placePod), dropping its preferences one at a time while it fits
// nowhere. On pi's final try, a pod that fits nowhere even without them is tried once more
// without the spread holds of pods planned before it (topology.holdsAllow: kube-scheduler may
// bind it first), as the last resort. It returns why the pod fits nowhere (explained against
// the existing nodes on the final try only), nil when pi is placed.
func placeRelaxing(pi *podInfo, nodes []*existing, provs []*provState, topo *topology, res *Result, final bool) *PodError {
	for {
		reason := placePod(pi, nodes, provs, topo, res)
		if reason == "" {
			return nil
		}
		next := pi.relax(topo)
		if next == nil && final && topo.holdsActive && topo.nHolds > 0 {
			topo.holdsActive = false
			reason = placePod(pi, nodes, provs, topo, res)
			topo.holdsActive = true
			if reason == "" {
				return nil
			}
		}
		if next == nil {
			if final && pi.err == nil {
				if why := explainExisting(nodes, pi, topo); why != "" {
					reason += "; " + why
				}
			}
			return &PodError{Pod: pi.pod, Reason: reason}
		}
		pi = next
	}
}

// placePod places pi on an existing node (recorded in res) or on a claim of the first
// provisioner that takes it; it returns "" then, else why it fits nowhere.
func placePod(pi *podInfo, nodes []*existing, provs []*provState, topo *topology, res *Result) string {
	if pi.err == nil {
		pi.err = pi.vol.refresh(pi) // PVs planned for pods placed before it are gone
	}
	if pi.err != nil {
		return pi.err.Error()
	}
	if reason := pinAffinity(pi, nodes, provs, topo.nsLabels); reason != "" {
		return reason
	}
	if reason := unplaceable(pi); reason != "" {
		return reason
	}
	if pi.isolated() {
		// The first pod of a co-located group goes on a new node of its own (see Solve).
	} else if n := placeExistingIndexed(pi, topo); n != nil {
		res.ExistingNodes[n.node.Name] = append(res.ExistingNodes[n.node.Name], pi.pod)
		return ""
	}
	if pi.hold.NoNewNode {
		return "no room on existing nodes, and no new node for it: " + pi.hold.Reason
	}
	var reasons []string
	for _, p := range provs {
		reason, ok := p.place(pi, topo.nsLabels)
		if ok {
			return ""
		}
		reasons = append(reasons, fmt.Sprintf("provisioner %s: %s", p.name, reason))
	}
	if len(provs) == 0 {
		reasons = append(reasons, "no provisioner exists")
	}
	return strings.Join(reasons, "; ")
}

// compilePod compiles p with the preferences prefs (in drop order) as requirements.
func compilePod(p *corev1.Pod, prefs []preference, topo *topology) *podInfo {
	src := p
	if len(prefs) > 0 {
		src = strictPod(p, prefs)
	}
	pi := newPodInfo(src, topo.vs)
	topo.internHost(&pi.host)
	pi.pod, pi.prefs, pi.symAnti, pi.symSpread = p, prefs, pi.host.antiAffinity, pi.host.spread
	if len(prefs) > 0 && pi.err == nil {
		own, _ := compileHostSpread(p) // p's own constraints compiled without error above
		for i := range own {
			own[i].term = topo.intern(own[i].term)
		}
		pi.symSpread = own
	}
	requiredAnti := 0
	if a := p.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		requiredAnti = len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
		if len(prefs) > 0 {
			pi.symAnti, _ = compileHostnameTerms(p, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, "")
			for i := range pi.symAnti {
				pi.symAnti[i] = topo.intern(pi.symAnti[i])
			}
		}
	}
	if pi.err == nil {
		// Spread eligibility follows the pod's own required node affinity and node selector
		// (kube-scheduler's nodeAffinityPolicy Honor), not the zone its volumes confine it to
		// nor the preferred node affinity promoted to requirements: those narrow where the pod
		// may go, never which domains the spread counts (else a preferred zone would make it
		// the only eligible domain, and the spread would hold with every pod there).
		own := pi.terms
		if pi.vol != nil {
			own = pi.vol.base
		}
		if promotesNodeAffinity(prefs) {
			// p compiled without error as part of src, which only adds to its terms.
			own, _, _ = podTerms(p)
		}
		if pi.domain, pi.err = topo.compilePod(src, own, requiredAnti); pi.err != nil {
			pi.err = fmt.Errorf("invalid pod affinity or topology spread: %w", pi.err)
		}
	}
	return pi
}

// relax returns pi compiled without its first remaining preference, or nil when none is left.
func (pi *podInfo) relax(topo *topology) *podInfo {
	if len(pi.prefs) == 0 {
		return nil
	}
	next := compilePod(pi.pod, pi.prefs[1:], topo)
	next.hold, next.group = pi.hold, pi.group
	return next
}

// TemplateKey identifies pods made from one template: namespace, controller owner UID, labels
// and effective requests (an in-place resize changes one pod's resources); "" for pods without
// a controller and for pods with PersistentVolumeClaim or ephemeral volumes (each pod of a
// StatefulSet has claims of its own). Pods with one non-empty key have the same constraints:
// the solver compiles them once, and they are interchangeable in a plan (the disagreement
// check lets one take the node planned for another).
func TemplateKey(p *corev1.Pod) string {
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.UID == "" {
		return ""
	}
	for i := range p.Spec.Volumes {
		if v := &p.Spec.Volumes[i]; v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			return "" // each pod of a StatefulSet has claims of its own
		}
	}
	// An order-independent digest of every container's requests and the pod overhead (map
	// iteration order varies): the sum of one FNV-1a hash per entry.
	var sum uint64
	entry := func(prefix string, name corev1.ResourceName, q resource.Quantity) {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%s=%d", prefix, name, q.MilliValue())
		sum += h.Sum64()
	}
	for i := range p.Spec.InitContainers {
		for name, q := range p.Spec.InitContainers[i].Resources.Requests {
			entry("i"+strconv.Itoa(i), name, q)
		}
	}
	for i := range p.Spec.Containers {
		for name, q := range p.Spec.Containers[i].Resources.Requests {
			entry("c"+strconv.Itoa(i), name, q)
		}
	}
	for name, q := range p.Spec.Overhead {
		entry("o", name, q)
	}
	return fmt.Sprintf("%s/%s/%s/%x", p.Namespace, ref.UID, labels.FormatLabels(p.Labels), sum)
}

// contentKeyer identifies a pod without a controller by its namespace, labels, effective
// requests (PodRequests) and the rest of its spec (the protobuf encoding of namespace and
// labels, of the spec without containers, and of each container without resources: map keys
// sorted), so that identical pods are compiled once as a controller's are (see TemplateKey).
// compilePods shares only a compilation without error or volumes (an error may name the pod).
// Its fields are scratch space.
type contentKeyer struct {
	buf  []byte
	meta metav1.ObjectMeta
	spec corev1.PodSpec
	c    corev1.Container
}

// key returns p's key, valid until the next call; nil for pods with PersistentVolumeClaim or
// ephemeral volumes, and when an encoding fails.
func (k *contentKeyer) key(p *corev1.Pod) []byte {
	for i := range p.Spec.Volumes {
		if v := &p.Spec.Volumes[i]; v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			return nil
		}
	}
	// A leading NUL keeps these apart from TemplateKey's; every part is prefixed by its length.
	b := append(k.buf[:0], 0)
	k.meta = metav1.ObjectMeta{Namespace: p.Namespace, Labels: p.Labels}
	b, ok := appendProto(b, &k.meta)
	// The requests as the solver reads them, not as written ("1" and "1000m" are one).
	k.spec = p.Spec
	k.spec.Containers, k.spec.InitContainers, k.spec.Overhead, k.spec.Resources = nil, nil, nil, nil
	if ok {
		b, ok = appendProto(b, &k.spec)
	}
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		b = append(b, '|')
		for i := 0; ok && i < len(list); i++ {
			k.c = list[i]
			k.c.Resources = corev1.ResourceRequirements{}
			b, ok = appendProto(b, &k.c)
		}
	}
	k.spec, k.c = corev1.PodSpec{}, corev1.Container{} // keep no reference to p
	if !ok {
		return nil
	}
	req := PodRequests(p)
	for _, n := range sortedNames(req) {
		b = strconv.AppendInt(b, int64(len(n)), 10)
		b = append(b, ':')
		b = append(b, n...)
		b = strconv.AppendInt(b, req[n], 10)
		b = append(b, ';')
	}
	k.buf = b
	return b
}

// podKeys returns each pod's TemplateKey and, for a pod without one, its contentKeyer key ("" for
// none), computed on every CPU (podKeysChunk pods at a time).
func podKeys(pods []*corev1.Pod) (keys, contents []string) {
	keys, contents = make([]string, len(pods)), make([]string, len(pods))
	chunks := (len(pods) + podKeysChunk - 1) / podKeysChunk
	parallel(chunks, func(c int) {
		var keyer contentKeyer
		for i := c * podKeysChunk; i < min(len(pods), (c+1)*podKeysChunk); i++ {
			if keys[i] = TemplateKey(pods[i]); keys[i] == "" {
				contents[i] = string(keyer.key(pods[i]))
			}
		}
	})
	return keys, contents
}

// podKeysChunk is how many pods' keys podKeys computes in one piece of work.
const podKeysChunk = 256

// sizedMarshaler is a generated protobuf message.
type sizedMarshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// appendProto appends m's length and encoding to b; false when the encoding fails.
func appendProto(b []byte, m sizedMarshaler) ([]byte, bool) {
	n := m.Size()
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ':')
	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	if w, err := m.MarshalToSizedBuffer(b[start:]); err != nil || w != n {
		return b, false
	}
	return b, true
}

// compilePods compiles the pods and orders them: pods with required pod affinity last (so the
// pods they follow are placed first), before them pods with hostname anti-affinity against
// their own kind, then by decreasing dominant share (the larger of the pod's share of the
// batch's total cpu and of its total memory, as dominant resource fairness measures a demand:
// a pod large in either dimension is placed early), then by decreasing cpu and memory, then
// by name.
func compilePods(in Input, topo *topology, first map[*corev1.Pod]bool) []*podInfo {
	pods := make([]*podInfo, 0, len(in.Pods))
	// Pods of one controller (a ReplicaSet, StatefulSet, Job) with the same labels share one
	// spec: they are compiled once; so are identical pods without a controller (contentKeyer).
	compiled := map[string]*podInfo{}
	templateKeys, contents := podKeys(in.Pods)
	for i, p := range in.Pods {
		var pi *podInfo
		key, content := templateKeys[i], contents[i]
		var tmpl *podInfo
		switch {
		case key != "":
			tmpl = compiled[key]
		case content != "":
			tmpl = compiled[content]
		}
		if tmpl != nil {
			if tmpl.selected == nil {
				tmpl.selected = &termSelection{} // shared by the copies: their labels are the same
			}
			cp := *tmpl
			cp.pod = p
			pi = &cp
		} else {
			pi = compilePod(p, reachable(p, podPreferences(p), topo.nodes, topo.provs), topo)
			switch {
			case key != "":
				compiled[key] = pi
			case content != "" && pi.err == nil && pi.vol == nil:
				compiled[content] = pi
			}
		}
		pi.hold = in.Holds[podKey(p)]
		pods = append(pods, pi)
	}
	for _, pi := range pods {
		for _, t := range pi.host.antiAffinity {
			if t.matches(pi.pod, in.NamespaceLabels[pi.pod.Namespace]) {
				pi.repels = true
			}
		}
		for i := range pi.domain {
			if dc := &pi.domain[i]; dc.kind == kindSpread {
				dc.group.countHeld(dc.maxSkew)
			}
		}
	}
	for _, g := range topo.list {
		if g.floor() > 0 && g.eligible.everyNode() {
			topo.floored = append(topo.floored, g)
		}
	}
	late, counted := spreadOrder(pods, topo)
	keys := make([]podOrderKey, len(pods))
	var totalCPU, totalMemory float64
	for _, pi := range pods {
		totalCPU += float64(pi.cpu)
		totalMemory += float64(pi.memory)
	}
	for i, pi := range pods {
		keys[i] = podOrderKey{pi: pi, first: first[pi.pod], affinity: pi.hasAffinity(), repels: pi.repels, namespace: pi.pod.Namespace, name: pi.pod.Name}
		keys[i].size = max(float64(pi.cpu)/max(totalCPU, 1), float64(pi.memory)/max(totalMemory, 1))
		keys[i].cpu, keys[i].memory = pi.cpu, pi.memory
		for _, dc := range pi.domain {
			if dc.kind == kindSpread && (!keys[i].spread || dc.maxSkew < keys[i].skew) {
				keys[i].spread, keys[i].skew = true, dc.maxSkew
			}
		}
		keys[i].choices = domainChoices(pi, topo)
		keys[i].late, keys[i].counted = late[pi], counted[pi]
		pi.lateSpread = late[pi]
	}
	slices.SortFunc(keys, comparePodOrder)
	for i := range keys {
		pods[i] = keys[i].pi
	}
	return pods
}

// domainChoices returns how many domains pi's node requirements let it choose from for its
// topology spread constraints on domain keys (the fewest over its constraints, the values its
// terms admit for the key among all its domains, admitted), math.MaxInt when a constraint's
// key is left free by some term.
func domainChoices(pi *podInfo, t *topology) int {
	fewest := math.MaxInt
	for i := range pi.domain {
		dc := &pi.domain[i]
		if dc.kind != kindSpread {
			continue
		}
		var values sets.Set[string] // allocated only for a key every term names values of
		for _, term := range pi.terms {
			r, ok := term[dc.group.key]
			v := admitted(r, t.allDomains(dc.group.key))
			if !ok || v == nil {
				values = nil
				break
			}
			if values == nil {
				values = sets.New[string]()
			}
			values.Insert(v...)
		}
		if values != nil {
			fewest = min(fewest, values.Len())
		}
	}
	return fewest
}

// podOrderKey is what compilePods orders the pods by (comparePodOrder).
type podOrderKey struct {
	pi *podInfo
	// first: placed before every other pod (Solve's retry).
	first                 bool
	affinity, repels      bool
	spread, late, counted bool
	choices, skew         int
	cpu, memory           int64
	size                  float64
	namespace, name       string
}

// comparePodOrder is the order pods are placed in (compilePods).
func comparePodOrder(a, b podOrderKey) int {
	if a.first != b.first {
		return boolOrder(!a.first)
	}
	// Pods whose topology spread counts pods of the second round (below) go after all of
	// them, for the reason spread pods go last in their round.
	if a.late != b.late {
		return boolOrder(a.late)
	}
	// Among those, the pods another's spread counts go first (below), whatever else they
	// carry: a pod that repels its kind is counted by a later spread as it is placed.
	if a.late && a.counted != b.counted {
		return boolOrder(!a.counted)
	}
	// Pods with required pod affinity go last, so the pods they follow are placed.
	if a.affinity != b.affinity {
		return boolOrder(a.affinity)
	}
	// Pods that repel each other from a node (one per node) go after the others: they
	// take one slot in each node already planned, then get small nodes of their own,
	// instead of each seeding a node the others then grow.
	if a.repels != b.repels {
		return boolOrder(a.repels)
	}
	// Pods with a topology spread constraint on a zone or other domain key go after the
	// other pods of their round: kube-scheduler may bind them after every pod their
	// constraint counts, so the solver checks them against those pods' domains (and keeps
	// later pods from breaking them, topology.holdsAllow), and the pods they count are free
	// to take the cheapest domain first.
	if a.spread != b.spread {
		return boolOrder(a.spread)
	}
	// Among those, the pods another pod's spread counts go first, for the same reason.
	if a.spread && a.counted != b.counted {
		return boolOrder(!a.counted)
	}
	// Then the pods with the fewest domains to choose from (a pod pinned to a zone first):
	// where spreads count each other, the pods placed later must also keep the earlier ones
	// within their skew (holdsAllow), and a pinned pod placed last has no domain left that
	// does (two Deployments spreading over one label, one of them pinned to a zone).
	if a.spread && a.choices != b.choices {
		return cmp.Compare(a.choices, b.choices)
	}
	// Then the looser spreads (the larger least maxSkew): where spreads count each other,
	// the pods placed later are checked against the counts the earlier ones left and must
	// also keep the earlier ones within their skew (holdsAllow); the tighter spread has
	// more choices placed last, within the room the looser one leaves.
	if a.spread && a.skew != b.skew {
		return cmp.Compare(b.skew, a.skew)
	}
	if c := cmp.Compare(b.size, a.size); c != 0 {
		return c
	}
	if c := cmp.Compare(b.cpu, a.cpu); c != 0 {
		return c
	}
	if c := cmp.Compare(b.memory, a.memory); c != 0 {
		return c
	}
	if c := strings.Compare(a.namespace, b.namespace); c != 0 {
		return c
	}
	return strings.Compare(a.name, b.name)
}

// spreadOrder returns, of the pods with a topology spread constraint on a zone or other domain
// key (pi.domain), those whose constraint counts a pod of the second round (one that repels
// its kind from a node or has required pod affinity), and those another pod's such constraint
// counts while their own count no spread pod of other constraints.
func spreadOrder(pods []*podInfo, topo *topology) (late, counted map[*podInfo]bool) {
	late, counted = map[*podInfo]bool{}, map[*podInfo]bool{}
	countsSecond := map[*domainGroup]bool{}
	var spreadGroups []*domainGroup
	for _, pi := range pods {
		for i := range pi.domain {
			if g := pi.domain[i].group; pi.domain[i].kind == kindSpread && !slices.Contains(spreadGroups, g) {
				spreadGroups = append(spreadGroups, g)
			}
		}
	}
	if len(spreadGroups) == 0 {
		return late, counted
	}
	for _, pi := range pods {
		second := pi.repels || pi.hasAffinity()
		for _, g := range spreadGroups {
			if second && !countsSecond[g] && g.term.matches(pi.pod, topo.nsLabels[pi.pod.Namespace]) {
				countsSecond[g] = true
			}
		}
	}
	// countsOthers marks the groups that count a spread pod of other groups.
	countsOthers := map[*domainGroup]bool{}
	owns := make([][]*domainGroup, len(pods))
	for j, pi := range pods {
		for i := range pi.domain {
			if dc := &pi.domain[i]; dc.kind == kindSpread {
				owns[j] = append(owns[j], dc.group)
				if countsSecond[dc.group] {
					late[pi] = true
				}
			}
		}
		if len(owns[j]) == 0 {
			continue
		}
		for _, g := range spreadGroups {
			if !slices.Contains(owns[j], g) && g.term.matches(pi.pod, topo.nsLabels[pi.pod.Namespace]) {
				counted[pi], countsOthers[g] = true, true
			}
		}
	}
	// Only the counted pods whose own spreads count no other spread pod go first: where spreads
	// count each other both ways, no order puts every counted pod first.
	for j, pi := range pods {
		if counted[pi] && slices.ContainsFunc(owns[j], func(g *domainGroup) bool { return countsOthers[g] }) {
			delete(counted, pi)
		}
	}
	return late, counted
}

// boolOrder sorts false before true: it returns 1 for true (the larger) and -1 for false, for
// two values known to differ.
func boolOrder(v bool) int {
	if v {
		return 1
	}
	return -1
}

// newExistingNodes wraps the existing and in-flight nodes with their free room (in-flight
// nodes minus the daemonsets that will land on them) and the pods bound to them.
func newExistingNodes(in []ExistingNode, dss compiledDaemonSets) []*existing {
	nodes := make([]*existing, 0, len(in))
	for _, n := range in {
		avail := FromList(n.Available)
		if n.InFlight {
			avail = avail.Sub(dss.overhead(n.Labels, n.Taints))
		}
		e := &existing{node: n, available: avail, room: blockRoom{avail[corev1.ResourceCPU], avail[corev1.ResourceMemory]}}
		for _, p := range n.Pods {
			// Only a bound pod's anti-affinity and ports constrain others; invalid terms constrain nothing.
			var anti []*podTerm
			if a := p.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
				anti, _ = compileHostnameTerms(p, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, "")
			}
			e.host.add(p, anti, nil, podHostPorts(p))
		}
		nodes = append(nodes, e)
	}
	return nodes
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func weight(p *v1alpha5.Provisioner) int32 {
	if p.Spec.Weight == nil {
		return 0
	}
	return *p.Spec.Weight
}

// hasAffinity reports whether pi has a required pod affinity term (any topology key).
func (pi *podInfo) hasAffinity() bool {
	if len(pi.host.affinity) > 0 {
		return true
	}
	for i := range pi.domain {
		if pi.domain[i].kind == kindAffinity {
			return true
		}
	}
	return false
}

func placeExisting(nodes []*existing, pi *podInfo, topo *topology) *existing {
	for _, n := range nodes {
		if tryExisting(n, pi, topo) {
			return n
		}
	}
	return nil
}

// placeExistingIndexed is placeExisting on every existing node of the Solve call
// (topo.nodes), in the same order, skipping the blocks of nodeBlock nodes none of which has
// the cpu or memory pi requests left (topo.nodeRooms bounds them).
func placeExistingIndexed(pi *podInfo, topo *topology) *existing {
	nodes := topo.nodes
	if topo.nodeRooms == nil && len(nodes) > 0 {
		topo.nodeRooms = make([]blockRoom, (len(nodes)+nodeBlock-1)/nodeBlock)
		for i, n := range nodes {
			r := &topo.nodeRooms[i/nodeBlock]
			r.cpu, r.memory = max(r.cpu, n.room.cpu), max(r.memory, n.room.memory)
		}
	}
	for b := range topo.nodeRooms {
		if !topo.nodeRooms[b].holds(pi) {
			continue // no node of the block has room
		}
		var room blockRoom
		for i := b * nodeBlock; i < min(len(nodes), (b+1)*nodeBlock); i++ {
			n := nodes[i]
			if tryExisting(n, pi, topo) {
				return n
			}
			room.cpu, room.memory = max(room.cpu, n.room.cpu), max(room.memory, n.room.memory)
		}
		topo.nodeRooms[b] = room // the whole block was seen and took nothing: its bound is exact again
	}
	return nil
}

// holds reports whether room has the cpu and memory pi requests (as Resources.Fits: a request
// of 0 fits even where less than nothing is left).
func (r blockRoom) holds(pi *podInfo) bool {
	return (pi.cpu <= 0 || pi.cpu <= r.cpu) && (pi.memory <= 0 || pi.memory <= r.memory)
}

// nodeBlock is how many consecutive existing nodes share a blockRoom in topology.nodeRooms.
const nodeBlock = 64

// tryExisting places pi on existing node n when n admits it, and reports whether it did.
func tryExisting(n *existing, pi *podInfo, topo *topology) bool {
	if !n.room.holds(pi) || !pi.requests.Fits(n.available) {
		return false
	}
	if Tolerates(pi.pod.Spec.Tolerations, n.node.Taints) != nil || pi.hold.ExcludedNodes.Has(n.node.Name) {
		return false
	}
	if !topo.allowsNode(pi, n.node.Labels, n.node.Taints) || n.host.admits(pi, topo.nsLabels, pi.pinned) != "" || !pi.vol.admitsNode(n) {
		return false
	}
	for _, t := range pi.terms {
		if t.MatchLabels(n.node.Labels) == nil && !pi.notNames.Has(n.node.Name) {
			for k, v := range pi.requests {
				n.available[k] -= v
			}
			n.room = blockRoom{n.available[corev1.ResourceCPU], n.available[corev1.ResourceMemory]}
			n.host.add(pi.pod, pi.symAnti, pi.symSpread, pi.ports)
			topo.placedOnNode(pi, n)
			pi.vol.placedOnNode(n)
			return true
		}
	}
	return false
}

// reservePlanned places each pod that has a PlannedNode on that node first, when it still fits
// there, so that the room a node was launched for is not taken by pods solved before it.
func reservePlanned(pods []*podInfo, nodes []*existing, topo *topology, res *Result) map[*podInfo]bool {
	placed := map[*podInfo]bool{}
	var byName map[string]*existing
	for _, pi := range pods {
		if pi.hold.PlannedNode == "" || pi.err != nil || pi.hasAffinity() {
			continue
		}
		if byName == nil {
			byName = make(map[string]*existing, len(nodes))
			for _, n := range nodes {
				byName[n.node.Name] = n
			}
		}
		n := byName[pi.hold.PlannedNode]
		if n == nil {
			continue
		}
		if placeExisting([]*existing{n}, pi, topo) != nil {
			res.ExistingNodes[n.node.Name] = append(res.ExistingNodes[n.node.Name], pi.pod)
			placed[pi] = true
		}
	}
	return placed
}

// pinAffinity sets pi.pinned: whether some pod on an existing node or a planned node matches
// each of pi's required hostname affinity terms. A term no pod matches is waived when pi
// matches it itself (the first pod of a co-located group); otherwise pi cannot be placed and
// the reason is returned.
func pinAffinity(pi *podInfo, nodes []*existing, provs []*provState, nsLabels map[string]map[string]string) string {
	if len(pi.host.affinity) == 0 {
		return ""
	}
	pi.pinned = make([]bool, len(pi.host.affinity))
	for i, t := range pi.host.affinity {
		for _, n := range nodes {
			if n.host.hasMatch(t, nsLabels) {
				pi.pinned[i] = true
				break
			}
		}
		for _, p := range provs {
			for _, c := range p.claims {
				if !pi.pinned[i] && c.host.hasMatch(t, nsLabels) {
					pi.pinned[i] = true
				}
			}
		}
		if !pi.pinned[i] && !t.matches(pi.pod, nsLabels[pi.pod.Namespace]) {
			return fmt.Sprintf("required pod affinity term %d (kubernetes.io/hostname) matches no pod, running or planned", i)
		}
	}
	return ""
}

// offeringKeys are decided per offering, not per instance type.
var offeringKeys = map[string]bool{v1alpha5.LabelZone: true, v1alpha5.LabelCapacityType: true}

func newProvState(in ProvisionerInput, dss compiledDaemonSets) *provState {
	p := in.Provisioner
	ps := &provState{in: in, name: p.Name, taints: p.Spec.Taints, usage: FromList(in.Usage), committed: Resources{}, isTypeKey: map[string]bool{}}
	if p.Spec.Limits != nil && len(p.Spec.Limits.Resources) > 0 {
		ps.limits = FromList(p.Spec.Limits.Resources)
	}
	// The template: every well-known and instance-type label key is unconstrained, then the
	// provisioner's requirements and labels narrow it; keys it does not define stay absent.
	keys := map[string]bool{}
	for _, k := range v1alpha5.WellKnownLabels {
		keys[k] = true
	}
	for _, it := range in.InstanceTypes {
		for k := range it.Labels {
			keys[k] = true
		}
	}
	t := Requirements{}
	for k := range keys {
		t[k] = Any(k)
		if k != v1alpha5.LabelProvisionerName && !offeringKeys[k] {
			ps.typeKeys = append(ps.typeKeys, k)
			ps.isTypeKey[k] = true
		}
	}
	sort.Strings(ps.typeKeys)
	reqs, err := FromNodeSelector(field.NewPath("spec", "requirements"), toCore(p.Spec.Requirements))
	if err != nil {
		ps.typeErr = "invalid spec.requirements: " + err.Error()
		ps.template = t
		return ps
	}
	for _, k := range reqs.Keys() {
		t.Add(reqs[k])
	}
	for k, v := range p.Spec.Labels {
		t.Add(&Requirement{Key: v1alpha5.NormalizeLabelKey(k), values: sets.New(v)})
	}
	t[v1alpha5.LabelProvisionerName] = t[v1alpha5.LabelProvisionerName].Intersect(
		&Requirement{Key: v1alpha5.LabelProvisionerName, values: sets.New(p.Name)})
	ps.template, ps.priceBase = t, t
	for _, k := range t.Keys() {
		if t[k].IsEmpty() {
			ps.typeErr = fmt.Sprintf("requirements and labels conflict on %s", k)
			return ps
		}
	}

	nodeLabels := t.SingleValueLabels()
	for _, it := range in.InstanceTypes {
		if err := ps.typeCompatible(it, t, ps.typeKeys); err != nil {
			continue
		}
		labels := make(map[string]string, len(nodeLabels)+len(it.Labels))
		for k, v := range nodeLabels {
			labels[k] = v
		}
		for k, v := range it.Labels {
			labels[k] = v
		}
		alloc := FromList(it.Allocatable())
		ti := &typeInfo{it: it, usable: alloc.Sub(dss.offeringOverhead(it, t, labels, p.Spec.Taints)), capacity: FromList(it.Capacity)}
		ti.price, ti.priceOK = cheapestOffering(it, t)
		ti.zonePrice = zonePrices(it, t)
		ti.cpu, ti.memory = ti.usable[corev1.ResourceCPU], ti.usable[corev1.ResourceMemory]
		for name, v := range ti.capacity {
			if v > 0 && isExtendedResource(name) {
				ti.accelerators = append(ti.accelerators, name)
			}
		}
		ti.setDense()
		ps.types = append(ps.types, ti)
	}
	if len(ps.types) == 0 {
		ps.typeErr = fmt.Sprintf("none of %d instance types has an available offering compatible with the provisioner's requirements (%s)", len(in.InstanceTypes), t)
	}
	return ps
}

func toCore(in []v1alpha5.NodeSelectorRequirement) []corev1.NodeSelectorRequirement {
	out := make([]corev1.NodeSelectorRequirement, len(in))
	for i, r := range in {
		out[i] = corev1.NodeSelectorRequirement{Key: r.Key, Operator: r.Operator, Values: r.Values}
	}
	return out
}

// typeCompatible checks the instance type's labels for keys (instance-level keys) and that one
// of its offerings is available and allowed by reqs' zone and capacity type.
func (ps *provState) typeCompatible(it *cloudprovider.InstanceType, reqs Requirements, keys []string) error {
	for _, k := range keys {
		r, ok := reqs[k]
		if !ok || offeringKeys[k] || k == v1alpha5.LabelProvisionerName {
			continue
		}
		v, present := it.Labels[k]
		if !r.Matches(v, present) {
			return fmt.Errorf("%s", r)
		}
	}
	if _, ok := cheapestOffering(it, reqs); !ok {
		return fmt.Errorf("no available offering")
	}
	return nil
}

// cheapestOffering returns the lowest price (USD/hour) of an available offering of it whose
// zone and capacity type reqs allow (see CheapestOffering).
func cheapestOffering(it *cloudprovider.InstanceType, reqs Requirements) (float64, bool) {
	o, ok := CheapestOffering(it, reqs)
	return o.Price, ok
}

// withinLimits reports whether launching a node of capacity on top of usage and the other
// claims' worst case stays within the provisioner's limits.
func (ps *provState) withinLimits(capacity, others Resources) bool {
	for k, limit := range ps.limits {
		if ps.usage[k]+others[k]+capacity[k] > limit {
			return false
		}
	}
	return true
}

// place puts the pod on an open claim or a new one; it returns why not otherwise.
func (ps *provState) place(pi *podInfo, nsLabels map[string]map[string]string) (string, bool) {
	if ps.typeErr != "" {
		return ps.typeErr, false
	}
	if err := Tolerates(pi.pod.Spec.Tolerations, ps.taints); err != nil {
		return err.Error(), false
	}
	ps.topo.fixedMemo = ps.topo.fixedMemo[:0]
	// A claim that holds a pod one of pi's hostname anti-affinity terms selects refuses pi, and
	// every later pod with the term: pods are only added to claims while pods are placed (as
	// for firstCandidate). antiHeld remembers the claims seen so, and withRoom skips them.
	if pi.isolated() {
		return ps.open(pi)
	}
	held := ps.antiMasks(pi)
	try := func(i int, c *claim) bool {
		if ps.tryClaim(pi, c, nsLabels) {
			return true
		}
		for k, t := range pi.host.antiAffinity {
			if c.host.hasMatch(t, nsLabels) {
				held[k][i/claimBlock] |= 1 << (i % claimBlock)
			}
		}
		return false
	}
	if ps.withRoom(pi, ps.firstCandidate(pi, nsLabels), held, try) {
		return "", true
	}
	for i, pinned := range pi.pinned {
		if pinned {
			return fmt.Sprintf("required pod affinity term %d (kubernetes.io/hostname): %s", i, ps.pinnedRefusal(pi, i, nsLabels)), false
		}
	}
	return ps.open(pi)
}

// pinnedRefusal says why no claim holding a pod that matches pi's required hostname affinity
// term i took pi (place found none): the first refusal among those claims, in claim order —
// no room, a host port, anti-affinity or spread on the node (host.admits), volumes, a zone or
// capacity-type topology term, or the node's instance types and limits.
func (ps *provState) pinnedRefusal(pi *podInfo, i int, nsLabels map[string]map[string]string) string {
	for _, c := range ps.claims {
		if !c.host.hasMatch(pi.host.affinity[i], nsLabels) {
			continue
		}
		switch {
		case pi.cpu > c.roomCPU || pi.memory > c.roomMemory:
			return ps.noRoom(c, pi)
		case c.host.admits(pi, nsLabels, pi.pinned) != "":
			return "the node planned with a matching pod refuses it: " + c.host.admits(pi, nsLabels, pi.pinned)
		case !pi.vol.admitsClaim(c):
			return "the node planned with a matching pod cannot attach its volumes (zone or attach limit)"
		case !ps.topo.admitsFixed(pi, c):
			return "the node planned with a matching pod is in a zone or capacity type its topology spread or pod affinity refuses"
		default:
			return "none of the instance types of the node planned with a matching pod holds it beside that node's pods within the provisioner's limits"
		}
	}
	return "no node planned so far holds a matching pod"
}

// noRoom says why claim c, planned with a pod pi must share a host with, has no room for pi: what
// the largest of c's instance types (most cpu, then memory) leaves beside c's pods, and when a
// type of the provisioner that c's requirements allow would hold them all but the provisioner's
// limits keep it out, that type and the limits. E.g. "the node planned with a matching pod has
// no room for it: its largest instance type, m5.4xlarge, has cpu=2890m, memory=50Gi left, the
// pod needs cpu=3, memory=2Gi; m5.8xlarge would hold it, but the provisioner's limits (cpu=16)
// leave no room for it".
func (ps *provState) noRoom(c *claim, pi *podInfo) string {
	var largest *typeInfo
	for _, t := range c.types {
		if largest == nil || t.cpu > largest.cpu || (t.cpu == largest.cpu && t.memory > largest.memory) {
			largest = t
		}
	}
	need := Resources{corev1.ResourceCPU: pi.cpu, corev1.ResourceMemory: pi.memory}
	if largest == nil {
		return fmt.Sprintf("the node planned with a matching pod has no room for it (the pod needs %s)", need)
	}
	const mi = 1000 << 20 // memory left in whole MiB, as it reads best (Resources are milli-units)
	left := Resources{corev1.ResourceCPU: max(largest.cpu-c.requests[corev1.ResourceCPU], 0),
		corev1.ResourceMemory: max(largest.memory-c.requests[corev1.ResourceMemory], 0) / mi * mi}
	out := fmt.Sprintf("the node planned with a matching pod has no room for it: its largest instance type, %s, has %s left, the pod needs %s",
		largest.it.Name, left, need)
	if ps.limits != nil {
		total := c.requests.Add(pi.requests)
		if bigger := ps.filter(ps.types, c.reqs, c.reqs, total, nil); len(bigger) > 0 {
			smallest := bigger[0]
			for _, t := range bigger[1:] {
				if t.cpu < smallest.cpu || (t.cpu == smallest.cpu && t.memory < smallest.memory) {
					smallest = t
				}
			}
			out += fmt.Sprintf("; %s would hold it, but the provisioner's limits (%s) leave no room for it", smallest.it.Name, ps.limits)
		}
	}
	return out
}

// withRoom calls try on the claims from index start on, in order, that may have room for pi,
// with their index, until it returns true; it reports whether one did. Blocks of claims none
// of which has room are skipped, and so are the claims whose bit is set in one of refused
// (claim i is bit i%claimBlock of word i/claimBlock): the caller knows they refuse pi.
func (ps *provState) withRoom(pi *podInfo, start int, refused [][]uint64, try func(int, *claim) bool) bool {
	for b := start / claimBlock; b < len(ps.blocks); b++ {
		if pi.cpu > ps.blocks[b].cpu || pi.memory > ps.blocks[b].memory {
			continue // no claim of the block has room
		}
		lo, hi := max(start, b*claimBlock), min(len(ps.claims), (b+1)*claimBlock)
		var skip uint64
		for _, m := range refused {
			if b < len(m) {
				skip |= m[b]
			}
		}
		if inBlock := blockMask(lo-b*claimBlock, hi-b*claimBlock); skip&inBlock == inBlock {
			continue // every claim left refuses pi
		}
		var room blockRoom
		for i := lo; i < hi; i++ {
			c := ps.claims[i]
			room.cpu, room.memory = max(room.cpu, c.roomCPU), max(room.memory, c.roomMemory)
			if skip&(1<<(i-b*claimBlock)) == 0 && pi.cpu <= c.roomCPU && pi.memory <= c.roomMemory && try(i, c) {
				return true
			}
		}
		if lo == b*claimBlock {
			ps.blocks[b] = room // the whole block was seen: its bound is exact again
		}
	}
	return false
}

// blockMask is the mask of the bits from lo up to hi (exclusive) of a block's word.
func blockMask(lo, hi int) uint64 {
	m := ^uint64(0) << lo
	if hi < claimBlock {
		m &= uint64(1)<<hi - 1
	}
	return m
}

// antiMasks returns antiHeld's masks of pi's hostname anti-affinity terms, one word per block
// of claims.
func (ps *provState) antiMasks(pi *podInfo) [][]uint64 {
	if len(pi.host.antiAffinity) == 0 {
		return nil
	}
	if ps.antiHeld == nil {
		ps.antiHeld = map[*podTerm][]uint64{}
	}
	held := make([][]uint64, len(pi.host.antiAffinity))
	for k, t := range pi.host.antiAffinity {
		m := ps.antiHeld[t]
		if n := len(ps.blocks); len(m) < n {
			m = append(m, make([]uint64, n-len(m))...)
			ps.antiHeld[t] = m
		}
		held[k] = m
	}
	return held
}

// tryClaim adds pi to c when c admits it, and reports whether it did.
func (ps *provState) tryClaim(pi *podInfo, c *claim, nsLabels map[string]map[string]string) bool {
	if pi.cpu > c.roomCPU || pi.memory > c.roomMemory {
		return false
	}
	if !ps.topo.admitsFixed(pi, c) || ps.topo.leavesShort(pi, c) || ps.topo.spotFirst(pi, c) || c.host.admits(pi, nsLabels, pi.pinned) != "" || !pi.vol.admitsClaim(c) {
		return false
	}
	before := c.reqs
	var st claimState
	if ps.limits != nil {
		st = c.save()
	}
	if !c.tryAdd(pi) {
		return false
	}
	if ps.limits != nil && ps.overLimits() {
		// The node's cheapest options grew past what the limits leave.
		c.restore(st)
		return false
	}
	ps.settleEligibility(pi, c, before)
	c.sized = false // resize considers it again
	c.host.add(pi.pod, pi.symAnti, pi.symSpread, pi.ports)
	ps.topo.placedOnClaim(pi, c, before)
	pi.vol.placedOnClaim(c)
	return true
}

// claimBlock is how many consecutive claims share a blockRoom.
const claimBlock = 64

// blockRoom bounds the room of the claims of one block: no claim of it has more cpu
// (millicores) or memory (bytes) room. A claim's room only shrinks while pods are placed, so
// the bound stays valid; place tightens it when it has seen every claim of the block.
type blockRoom struct{ cpu, memory int64 }

// addClaim appends c (its room set) to the claims and their blocks.
func (ps *provState) addClaim(c *claim) {
	ps.claims = append(ps.claims, c)
	if b := (len(ps.claims) - 1) / claimBlock; b == len(ps.blocks) {
		ps.blocks = append(ps.blocks, blockRoom{c.roomCPU, c.roomMemory})
	} else {
		ps.blocks[b] = blockRoom{max(ps.blocks[b].cpu, c.roomCPU), max(ps.blocks[b].memory, c.roomMemory)}
	}
}

// setClaims replaces the claims (after resize or absorb) and rebuilds their blocks; the
// anti-affinity cursors and masks, which name claims by index, start over.
func (ps *provState) setClaims(claims []*claim) {
	ps.claims, ps.blocks, ps.antiCursor, ps.antiHeld = nil, nil, nil, nil
	for _, c := range claims {
		ps.addClaim(c)
	}
}

// firstCandidate returns the index of the first claim that may take pi as far as its hostname
// anti-affinity goes: every claim before it holds a pod one of pi's anti-affinity terms selects.
// Pods are only ever added to a claim, so such a claim refuses every later pod with that term
// too; ps.antiCursor remembers, per term, how far that prefix reaches.
func (ps *provState) firstCandidate(pi *podInfo, nsLabels map[string]map[string]string) int {
	start := 0
	for _, t := range pi.host.antiAffinity {
		i := ps.antiCursor[t]
		for i < len(ps.claims) && ps.claims[i].host.hasMatch(t, nsLabels) {
			i++
		}
		if ps.antiCursor == nil {
			ps.antiCursor = map[*podTerm]int{}
		}
		ps.antiCursor[t] = i
		start = max(start, i)
	}
	return start
}

// filter returns the types of from that are compatible with reqs on the keys of term, can hold
// total, keep the provisioner within its limits given the other claims' commitment (others;
// nil leaves limits out), and have no accelerator total does not request (wastesAccelerators).
func (ps *provState) filter(from []*typeInfo, reqs, term Requirements, total, others Resources) []*typeInfo {
	return ps.filterTypes(from, reqs, term, total, others, false)
}

// filterTypes is filter; with accelerators set it keeps the types with accelerators total does
// not request too (what a node may be, whatever pods it is launched for).
func (ps *provState) filterTypes(from []*typeInfo, reqs, term Requirements, total, others Resources, accelerators bool) []*typeInfo {
	var keys []string
	checkOfferings := false
	for k := range term {
		if offeringKeys[k] {
			checkOfferings = true
		} else if ps.isTypeKey[k] {
			keys = append(keys, k)
		}
	}
	var out []*typeInfo
	cpu, memory := total[corev1.ResourceCPU], total[corev1.ResourceMemory]
	dense, isDense := denseAmounts(total)
	var pricer reqPricer
	if checkOfferings {
		pricer = ps.pricer(reqs)
	}
	for _, t := range from {
		if cpu > t.cpu || memory > t.memory {
			continue
		}
		if isDense {
			if !fitsDense(&dense, &t.denseUsable) {
				continue
			}
		} else if !total.Fits(t.usable) {
			continue
		}
		if !accelerators && wastesAccelerators(total, t) {
			continue
		}
		if ps.limits != nil && others != nil && !ps.withinLimits(t.capacity, others) {
			continue
		}
		ok := true
		for _, k := range keys {
			r := reqs[k]
			v, present := t.it.Labels[k]
			if r != nil && !r.Matches(v, present) {
				ok = false
				break
			}
		}
		if ok && checkOfferings {
			_, ok = pricer.price(t)
		}
		if ok {
			out = append(out, t)
		}
	}
	return out
}

// wastesAccelerators reports whether the type has an extended resource (a GPU such as
// nvidia.com/gpu, or another accelerator) that the pods do not request: such types cost many
// times a plain type of the same CPU and memory, so, as Karpenter does, they are launched only
// for pods that request the accelerator.
func wastesAccelerators(total Resources, t *typeInfo) bool {
	for _, name := range t.accelerators {
		if total[name] == 0 {
			return true
		}
	}
	return false
}

// extendedProbe returns one milli-unit of each extended resource requests asks for: as the
// total of ps.filter it keeps the types whose labels and offerings fit, whatever their size,
// without the accelerator types for pods that need no accelerator (see wastesAccelerators).
func extendedProbe(requests Resources) Resources {
	probe := Resources{}
	for k, v := range requests {
		if v > 0 && isExtendedResource(k) {
			probe[k] = 1
		}
	}
	return probe
}

// isExtendedResource is true for resources outside the kubernetes.io domain other than the
// built-in cpu, memory, pods, ephemeral-storage and hugepages.
func isExtendedResource(name corev1.ResourceName) bool {
	switch name {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage:
		return false
	}
	n := string(name)
	return !strings.HasPrefix(n, corev1.ResourceHugePagesPrefix) && !strings.HasPrefix(n, "requests.") && strings.Contains(n, "/") && !strings.HasPrefix(n, "kubernetes.io/")
}

// open opens a new claim for pi on the first of its node affinity terms, cheapest first (see
// termsByPrice), that leaves an instance type; it returns why none did otherwise, term by term.
func (ps *provState) open(pi *podInfo) (string, bool) {
	var reasons []string
	for _, i := range ps.termsByPrice(pi) {
		term := pi.terms[i]
		reqs, err := ps.template.Constrain(term)
		if err != nil {
			reasons = append(reasons, termReason(i, len(pi.terms), "incompatible: "+err.Error()))
			continue
		}
		opts, constrained, why := ps.topo.options(pi, ps, reqs, nil)
		if constrained && len(opts) == 0 {
			reasons = append(reasons, termReason(i, len(pi.terms), why))
			continue
		}
		if c := ps.openWith(pi, reqs, term, opts); c != nil {
			ps.settleEligibility(pi, c, Requirements{})
			ps.topo.placedOnClaim(pi, c, Requirements{})
			ps.placedVolumes(pi, c)
			return "", true
		}
		reasons = append(reasons, termReason(i, len(pi.terms), ps.explain(pi, reqs, term)))
	}
	return strings.Join(reasons, "; "), false
}

// placedVolumes records pi's volumes on the new node c: in pieceVolumes on a repacking's
// provState (the PVs planned for pi's claims stay its own), else in the volume state.
func (ps *provState) placedVolumes(pi *podInfo, c *claim) {
	if ps.pieceVolumes == nil {
		pi.vol.placedOnClaim(c)
		return
	}
	if pi.vol == nil || len(pi.vol.attach) == 0 {
		return
	}
	a := ps.pieceVolumes[c]
	if a == nil {
		a = &attached{}
		ps.pieceVolumes[c] = a
	}
	a.add(pi.vol.attach)
}

// termsByPrice returns the indices of pi's node affinity terms (ORed: kube-scheduler takes a
// node matching any), ordered by the cheapest offering a new node opened on each would start
// at (ties, and terms no type satisfies, keep their order). Kubernetes gives the terms no
// order, so taking the first that fits can price a pod on a dear term beside a cheap one
// (instance-cpu > 7 OR a zone). A pod with one term costs nothing here.
func (ps *provState) termsByPrice(pi *podInfo) []int {
	order := make([]int, len(pi.terms))
	for i := range order {
		order[i] = i
	}
	if len(pi.terms) < 2 {
		return order
	}
	prices := make([]float64, len(pi.terms))
	for i, term := range pi.terms {
		prices[i] = math.Inf(1)
		reqs, err := ps.template.Constrain(term)
		if err != nil {
			continue
		}
		opts, constrained, _ := ps.topo.options(pi, ps, reqs, nil)
		if constrained && len(opts) == 0 {
			continue
		}
		for _, o := range withOptions(term, opts) {
			r, err := reqs.constrainShared(o)
			if err != nil {
				continue
			}
			if types := ps.filter(ps.types, r, o, pi.requests, ps.committed); len(types) > 0 {
				prices[i] = ps.minPrice(types, r)
				break
			}
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(prices[a], prices[b]) })
	return order
}

// openWith opens a claim for pi with requirements reqs (the template narrowed by term) and the
// first of opts (domain choices; nil: none needed) that leaves an instance type; nil if none does.
func (ps *provState) openWith(pi *podInfo, reqs, term Requirements, opts []Requirements) *claim {
	// Identical pods opening nodes of their own (one per node, say) get the same types: the
	// filtered types and their summary are reused while nothing else (limits, domain options,
	// volumes) bears on them.
	isolated := pi.isolated()
	cacheable := opts == nil && ps.limits == nil && pi.vol == nil && !isolated
	need := pi.requests
	if isolated {
		need = pi.group // types that hold the whole group
	}
	var key string
	if cacheable {
		key = pi.reqKey + "|" + term.String()
	}
	if cacheable {
		if v, ok := ps.opened[key]; ok {
			c := &claim{prov: ps, reqs: v.reqs, types: v.types, pods: []*corev1.Pod{pi.pod}, infos: []*podInfo{pi}, requests: pi.requests.Copy(),
				maxUsable: v.maxUsable, minUsable: v.minUsable, committed: v.committed, price: v.price}
			ps.committed.AddInPlace(v.committed)
			c.setRoom()
			c.host.add(pi.pod, pi.symAnti, pi.symSpread, pi.ports)
			ps.addClaim(c)
			return c
		}
	}
	for squeezed := false; ; squeezed = true {
		if ps.limits == nil || ps.roomForSmallest(need) {
			if c := ps.openFirst(pi, reqs, term, opts, need, key, cacheable); c != nil {
				return c
			}
		}
		if squeezed || ps.limits == nil || !ps.squeeze() {
			return nil
		}
	}
}

// roomForSmallest reports whether the limits leave room for the smallest type that holds need,
// whatever its requirements: false means no node for need fits under the limits (a pod refused
// for the limits, as thousands may be in one batch, is refused without filtering the types).
func (ps *provState) roomForSmallest(need Resources) bool {
	key := need.key()
	least, ok := ps.smallest[key]
	if !ok {
		least = smallestCapacity(ps.types, need, ps.limits)
		if ps.smallest == nil {
			ps.smallest = map[string]Resources{}
		}
		ps.smallest[key] = least
	}
	if least == nil {
		return true // no type holds need: the filter says why
	}
	return ps.withinLimits(least, ps.committed)
}

// smallestCapacity is, per resource of limits, the least capacity of the types that hold need
// (accelerator types only when need requests the accelerator, as filter keeps them); nil when
// none does.
func smallestCapacity(types []*typeInfo, need, limits Resources) Resources {
	var least Resources
	for _, t := range types {
		if !need.Fits(t.usable) || wastesAccelerators(need, t) {
			continue
		}
		if least == nil {
			least = Resources{}
			for k := range limits {
				least[k] = t.capacity[k]
			}
			continue
		}
		for k := range limits {
			least[k] = min(least[k], t.capacity[k])
		}
	}
	return least
}

// openFirst is openWith's search: the claim opened on the first of opts that leaves a type.
func (ps *provState) openFirst(pi *podInfo, reqs, term Requirements, opts []Requirements, need Resources, key string, cacheable bool) *claim {
	for _, o := range withOptions(term, opts) {
		r, err := reqs.constrainShared(o)
		if err != nil {
			continue
		}
		types := pi.vol.attachableTypes(ps.filter(ps.types, r, o, need, ps.committed))
		if len(types) == 0 {
			continue
		}
		c := &claim{prov: ps, reqs: r, types: types, pods: []*corev1.Pod{pi.pod}, infos: []*podInfo{pi}, requests: pi.requests.Copy()}
		c.host.add(pi.pod, pi.symAnti, pi.symSpread, pi.ports)
		c.recompute()
		ps.addClaim(c)
		if cacheable {
			if ps.opened == nil {
				ps.opened = map[string]*claim{}
			}
			// Read only from here on: claims replace, never modify, these fields.
			ps.opened[key] = &claim{reqs: c.reqs, types: c.types, maxUsable: c.maxUsable, minUsable: c.minUsable, committed: c.committed, price: c.price}
		}
		return c
	}
	return nil
}

// squeeze narrows each claim of the provisioner to the types no larger, on any resource its
// limits name, than the claim's cheapest type, so that the claim counts against the limits at
// about what it launches as when its cheapest offering is taken instead of at the largest of its
// options (up to MaxInstanceTypes of them, each holding the claim's pods). It reports whether the
// commitment fell. openWith calls it only when a pod would otherwise be refused for the limits:
// the claims then give up types to fall back to (other spot capacity pools) for room under the
// limits, which is what a limit that binds asks. Every type kept still holds the claim's pods.
func (ps *provState) squeeze() bool {
	before := ps.committed.Copy()
	for _, c := range ps.claims {
		if c.squeezed {
			continue
		}
		c.squeezed = true
		var cheapest *typeInfo
		best := math.Inf(1)
		pricer := ps.pricer(c.reqs)
		for _, t := range c.launchable() {
			if p, ok := pricer.price(t); ok && (p < best || p == best && t.it.Name < cheapest.it.Name) {
				cheapest, best = t, p
			}
		}
		if cheapest == nil {
			continue
		}
		kept := make([]*typeInfo, 0, len(c.types))
		for _, t := range c.types {
			small := true
			for k := range ps.limits {
				if t.capacity[k] > cheapest.capacity[k] {
					small = false
					break
				}
			}
			if small {
				kept = append(kept, t)
			}
		}
		if len(kept) < len(c.types) {
			c.types = kept // a new slice: claims replace, never modify, their types
			c.recompute()
		}
	}
	for k, v := range ps.committed {
		if v < before[k] {
			return true
		}
	}
	return false
}

// minPrice returns the cheapest allowed available offering over types under reqs, USD/hour
// (+Inf when there is none).
func (ps *provState) minPrice(types []*typeInfo, reqs Requirements) float64 {
	best := math.Inf(1)
	pricer := ps.pricer(reqs)
	for _, t := range types {
		if p, ok := pricer.price(t); ok && p < best {
			best = p
		}
	}
	return best
}

// reqPricer prices types under one reqs, which it reads once: cheapestOffering(t, reqs), read
// from t when reqs allow the same zones and capacity types as priceBase, the template t's prices
// were computed under (requirements are immutable, so same pointers mean same sets).
type reqPricer struct {
	reqs Requirements
	// base: reqs allow the zones and capacity types of priceBase (t.price applies); zone: else,
	// when reqs allow priceBase's capacity types and fix the zone (t.zonePrice applies), that zone.
	base     bool
	zone     string
	zoneOnly bool
}

// pricer returns the pricer of reqs (see reqPricer).
func (ps *provState) pricer(reqs Requirements) reqPricer {
	p := reqPricer{reqs: reqs}
	zone := reqs[v1alpha5.LabelZone]
	if reqs[v1alpha5.LabelCapacityType] == ps.priceBase[v1alpha5.LabelCapacityType] {
		if zone == ps.priceBase[v1alpha5.LabelZone] {
			p.base = true
		} else {
			p.zone, p.zoneOnly = zone.Single()
		}
	}
	return p
}

// price returns cheapestOffering(t, p.reqs): USD/hour, and false when no offering is allowed.
func (p *reqPricer) price(t *typeInfo) (float64, bool) {
	if p.base {
		return t.price, t.priceOK
	}
	if p.zoneOnly && t.zonePrice != nil {
		price, ok := t.zonePrice[p.zone]
		return price, ok
	}
	return cheapestOffering(t.it, p.reqs)
}

// zonePrices maps each zone to the cheapest available offering of it there that template
// allows, USD/hour.
func zonePrices(it *cloudprovider.InstanceType, template Requirements) map[string]float64 {
	out := map[string]float64{}
	for _, o := range it.Offerings {
		if !o.Available || !allowsOffering(template, o.Zone, o.CapacityType) {
			continue
		}
		if p, ok := out[o.Zone]; !ok || o.Price < p {
			out[o.Zone] = o.Price
		}
	}
	return out
}

// offeringsNarrowed reports whether after allows fewer zones or capacity types than before.
func offeringsNarrowed(before, after Requirements) bool {
	for k := range offeringKeys {
		if before[k] != after[k] {
			return true
		}
	}
	return false
}

// withOptions returns term ANDed with each domain option, or term alone when opts is nil.
func withOptions(term Requirements, opts []Requirements) []Requirements {
	if opts == nil {
		return []Requirements{term}
	}
	out := make([]Requirements, 0, len(opts))
	for _, o := range opts {
		if len(o) == 0 {
			out = append(out, term) // read only, as every option is
			continue
		}
		merged := make(Requirements, len(term)+len(o))
		for k, r := range term {
			merged[k] = r
		}
		for _, r := range o { // one requirement per key: the order does not matter
			merged.Add(r)
		}
		out = append(out, merged)
	}
	return out
}

func termReason(i, n int, reason string) string {
	if n == 1 {
		return reason
	}
	return fmt.Sprintf("node affinity term %d: %s", i, reason)
}

// explain says why no type of the provisioner can take the pod alone.
func (ps *provState) explain(pi *podInfo, reqs, term Requirements) string {
	key := pi.reqKey + "|" + reqs.String() + "|" + term.String()
	e, ok := ps.explained[key]
	if !ok {
		e = ps.explainTypes(pi, reqs, term)
		if ps.explained == nil {
			ps.explained = map[string]explained{}
		}
		ps.explained[key] = e
	}
	if e.why != "" {
		return e.why
	}
	return fmt.Sprintf("launching a node for requests %s would exceed the provisioner's limits %s: the instance types that hold it have "+
		"at least %s (registered and in-flight nodes %s, nodes planned in this batch at their largest instance type %s)",
		pi.requests, ps.limits, e.least, orNone(ps.usage), orNone(ps.committed))
}

// explained is explainTypes' answer: the reason, or "" when it is the limits, and then least,
// per resource the limits name, the least capacity of the types that hold the pod.
type explained struct {
	why   string
	least Resources
}

// explainTypes is explain's reason when it is not the limits (which depend on the claims so
// far); when it is, the least capacity the limits would be charged for a node of the pod.
func (ps *provState) explainTypes(pi *podInfo, reqs, term Requirements) explained {
	why, fitting := ps.explainFit(pi, reqs, term)
	if why != "" {
		return explained{why: why}
	}
	return explained{least: smallestCapacity(fitting, pi.requests, ps.limits)}
}

// explainFit says why no type the requirements allow holds the pod, or returns those that do.
func (ps *provState) explainFit(pi *podInfo, reqs, term Requirements) (string, []*typeInfo) {
	// The types the requirements allow, limits aside (limits are the last reason tried) and with
	// the pod's extended resources asked for, so accelerator types stay in.
	probe := extendedProbe(pi.requests)
	compatible := ps.filter(ps.types, reqs, term, probe, nil)
	if len(compatible) == 0 {
		if missing := ps.missingExtended(reqs, term, probe); len(missing) > 0 {
			return fmt.Sprintf("no instance type satisfying the requirements has %s (requirements %s)", strings.Join(missing, ", "), reqs), nil
		}
		if unrequested := ps.unrequestedAccelerators(reqs, term, probe); len(unrequested) > 0 {
			return fmt.Sprintf("every instance type satisfying the requirements has %s, which the pod does not request: "+
				"such types are launched only for pods that request them (requirements %s)", strings.Join(unrequested, ", "), reqs), nil
		}
		return fmt.Sprintf("no instance type with an available offering satisfies the requirements (%s)", reqs), nil
	}
	var fitting []*typeInfo
	largest := Resources{}
	for _, t := range compatible {
		largest.MaxInPlace(t.usable)
		if pi.requests.Fits(t.usable) {
			fitting = append(fitting, t)
		}
	}
	if len(fitting) == 0 {
		shown := Resources{}
		for k := range pi.requests {
			shown[k] = largest[k]
		}
		return fmt.Sprintf("no instance type satisfies requests %s (largest usable after daemonsets and overhead: %s; short of %s)",
			pi.requests, shown, strings.Join(pi.requests.Exceeding(largest), ", ")), nil
	}
	return "", fitting
}

// unrequestedAccelerators returns, sorted, the accelerators of the types the requirements allow
// when filter kept none of them only because each has an accelerator probe does not request
// (wastesAccelerators); nil otherwise.
func (ps *provState) unrequestedAccelerators(reqs, term Requirements, probe Resources) []string {
	names := sets.New[string]()
	for _, t := range ps.filterTypes(ps.types, reqs, term, probe, nil, true) {
		for _, a := range t.accelerators {
			if probe[a] == 0 {
				names.Insert(string(a))
			}
		}
	}
	return sets.List(names)
}

// missingExtended returns, sorted, the extended resources of probe that no instance type the
// requirements allow offers (such as example.com/foo, or nvidia.com/gpu when the requirements
// exclude every GPU type); nil when the types that exist lack none of them.
func (ps *provState) missingExtended(reqs, term Requirements, probe Resources) []string {
	if len(probe) == 0 {
		return nil
	}
	types := ps.filter(ps.types, reqs, term, Resources{}, nil)
	var missing []string
	for name := range probe {
		found := false
		for _, t := range types {
			if t.usable[name] > 0 {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, string(name))
		}
	}
	sort.Strings(missing)
	return missing
}

// orNone renders r, or "none" when it is empty.
func orNone(r Resources) string {
	if s := r.String(); s != "" {
		return s
	}
	return "none"
}

func (c *claim) recompute() {
	c.price = c.prov.minPrice(c.types, c.reqs)
	var newCommitted Resources
	if !c.recomputeDense(&newCommitted) {
		c.maxUsable = Resources{}
		newCommitted = Resources{}
		for _, t := range c.types {
			c.maxUsable.MaxInPlace(t.usable)
		}
		for _, t := range c.launchable() {
			newCommitted.MaxInPlace(t.capacity)
		}
		c.minUsable = Resources{}
		for k := range c.maxUsable {
			m := c.maxUsable[k]
			for _, t := range c.types {
				m = min(m, t.usable[k])
			}
			c.minUsable[k] = m
		}
	}
	for k, v := range c.committed {
		c.prov.committed[k] -= v
	}
	for k, v := range newCommitted {
		c.prov.committed[k] += v
	}
	c.committed = newCommitted
	c.setRoom()
}

// recomputeDense sets maxUsable, minUsable and *committed as recompute does, from the types'
// dense arrays, and reports true; false, changing nothing, when a type has other resources or
// the claim's launchable types are not all its types.
func (c *claim) recomputeDense(committed *Resources) bool {
	ps := c.prov
	if len(c.types) == 0 || (ps.limits != nil && ps.maxTypes > 0 && len(c.types) > ps.maxTypes) {
		return false
	}
	var maxU, minU, maxC [len(denseNames)]int64
	minU = c.types[0].denseUsable
	for _, t := range c.types {
		if t.sparse {
			return false
		}
		for i := range denseNames {
			maxU[i] = max(maxU[i], t.denseUsable[i])
			minU[i] = min(minU[i], t.denseUsable[i])
			maxC[i] = max(maxC[i], t.denseCapacity[i])
		}
	}
	// As the maps' MaxInPlace leaves them: a resource no type has more than 0 of is absent.
	c.maxUsable, c.minUsable, *committed = make(Resources, len(denseNames)), make(Resources, len(denseNames)), make(Resources, len(denseNames))
	for i, name := range denseNames {
		if maxU[i] > 0 {
			c.maxUsable[name], c.minUsable[name] = maxU[i], minU[i]
		}
		if maxC[i] > 0 {
			(*committed)[name] = maxC[i]
		}
	}
	return true
}

// launchable returns the types a node of the claim could launch as if it were finished now:
// with limits, the cheapest maxTypes of its types (finish keeps no others, so the commitment
// counted against limits is the largest of those, not of every type that would hold the pods);
// without limits, all of them.
func (c *claim) launchable() []*typeInfo {
	ps := c.prov
	if ps.limits == nil || ps.maxTypes <= 0 || len(c.types) <= ps.maxTypes {
		return c.types
	}
	type priced struct {
		t     *typeInfo
		price float64
	}
	opts := make([]priced, 0, len(c.types))
	pricer := ps.pricer(c.reqs)
	for _, t := range c.types {
		if p, ok := pricer.price(t); ok {
			opts = append(opts, priced{t, p})
		}
	}
	slices.SortFunc(opts, func(a, b priced) int {
		if a.price != b.price {
			return cmp.Compare(a.price, b.price)
		}
		return strings.Compare(a.t.it.Name, b.t.it.Name)
	})
	out := make([]*typeInfo, 0, ps.maxTypes)
	for _, o := range opts[:min(len(opts), ps.maxTypes)] {
		out = append(out, o.t)
	}
	return out
}

// overLimits reports whether the provisioner's usage and commitment exceed one of its limits.
func (ps *provState) overLimits() bool {
	for k, limit := range ps.limits {
		if ps.usage[k]+ps.committed[k] > limit {
			return true
		}
	}
	return false
}

// fitsWith reports whether used+add fits capacity on add's resources (used is known to fit).
func fitsWith(used, add, capacity Resources) bool {
	for k, v := range add {
		if v > 0 && used[k]+v > capacity[k] {
			return false
		}
	}
	return true
}

// plainBeside reports whether the claim's pods request an accelerator of its types (an
// extended resource such as nvidia.com/gpu) that pi does not request.
func (c *claim) plainBeside(pi *podInfo) bool {
	if len(c.types) == 0 {
		return false
	}
	for _, name := range c.types[0].accelerators {
		if c.requests[name] > 0 && pi.requests[name] == 0 {
			return true
		}
	}
	return false
}

func (c *claim) tryAdd(pi *podInfo) bool {
	if !fitsWith(c.requests, pi.requests, c.maxUsable) {
		return false
	}
	opts, constrained, _ := c.prov.topo.options(pi, c.prov, c.reqs, c.pods)
	if constrained && len(opts) == 0 {
		return false
	}
	// Fast path: a pod without node requirements that fits the smallest remaining type keeps
	// every type.
	if !constrained && len(pi.terms) == 1 && len(pi.terms[0]) == 0 && fitsWith(c.requests, pi.requests, c.minUsable) {
		c.requests.AddInPlace(pi.requests)
		c.pods, c.infos = append(c.pods, pi.pod), append(c.infos, pi)
		c.setRoom()
		return true
	}
	// A pod that requests none of the accelerators the claim's pods request only takes room
	// the claim's node has anyway: joining may not narrow its types or requirements (below,
	// the fast path only). Else first-fit grows a GPU node for small plain pods (two 1-GPU
	// pods became g5g.4xlarge nodes in a dearer zone, 0.2067 USD/hour each, for a g4dn.xlarge
	// at 0.1104 each) or piles them onto it until it is the largest GPU instance (p3.16xlarge,
	// 7.55 USD/hour).
	plain := c.plainBeside(pi)
	total := c.requests.Add(pi.requests)
	// Limits are not checked here: every type of the claim was admitted against the commitment
	// of the claims opened before it; what the claim commits (its cheapest options, see
	// launchable) may still grow as small types drop out, so callers with limits check the
	// provisioner's total afterwards.
	others := Resources{}
	// Of several node affinity terms (ORed, unordered in Kubernetes), the one that leaves the
	// claim's cheapest offering cheapest: each term's first option that admits a type.
	var best Requirements
	var bestTypes []*typeInfo
	bestPrice := math.Inf(1)
	for _, term := range pi.terms {
		for _, o := range withOptions(term, opts) {
			// Fast path: requirements the claim already fixes, and room in its smallest type.
			if impliedBy(c.reqs, o) && fitsWith(c.requests, pi.requests, c.minUsable) {
				c.requests = total
				c.pods, c.infos = append(c.pods, pi.pod), append(c.infos, pi)
				c.setRoom()
				return true
			}
			if plain {
				continue
			}
			reqs, err := c.reqs.constrainShared(o)
			if err != nil {
				continue
			}
			types := c.prov.filter(c.types, reqs, o, total, others)
			if len(types) == 0 {
				continue
			}
			if len(pi.terms) == 1 {
				c.add(pi, reqs, types, total)
				return true
			}
			if price := c.prov.minPrice(types, reqs); best == nil || price < bestPrice {
				best, bestTypes, bestPrice = reqs, types, price
			}
			break
		}
	}
	if best == nil {
		return false
	}
	c.add(pi, best, bestTypes, total)
	return true
}

// add puts pi on c, whose requirements and types pi narrowed to reqs and types (total: c's
// requests with pi's).
func (c *claim) add(pi *podInfo, reqs Requirements, types []*typeInfo, total Resources) {
	changed := len(types) != len(c.types) || offeringsNarrowed(c.reqs, reqs) // filter only removes types
	c.reqs, c.types, c.requests = reqs, types, total
	c.pods, c.infos = append(c.pods, pi.pod), append(c.infos, pi)
	if changed {
		c.recompute()
	} else {
		c.setRoom()
	}
}

// impliedBy reports, cheaply and conservatively, whether reqs already satisfy every
// requirement of term: each term key is unconstrained or fixes the single value reqs fix.
func impliedBy(reqs, term Requirements) bool {
	for k, r := range term {
		if r.IsAny() {
			continue
		}
		want, ok := r.Single()
		if !ok {
			return false
		}
		cur, defined := reqs[k]
		if !defined {
			return false
		}
		if got, ok := cur.Single(); !ok || got != want {
			return false
		}
	}
	return true
}

func (c *claim) finish(maxTypes int) *NodeClaim {
	type option struct {
		t     *typeInfo
		price float64
	}
	opts := make([]option, 0, len(c.types))
	pricer := c.prov.pricer(c.reqs)
	for _, t := range c.types {
		if price, ok := pricer.price(t); ok {
			opts = append(opts, option{t, price})
		}
	}
	slices.SortFunc(opts, func(a, b option) int {
		if a.price != b.price {
			return cmp.Compare(a.price, b.price)
		}
		return strings.Compare(a.t.it.Name, b.t.it.Name)
	})
	if len(opts) > maxTypes {
		opts = opts[:maxTypes]
	}
	nc := &NodeClaim{Provisioner: c.prov.in.Provisioner, Requirements: c.reqs, Pods: c.pods, Requests: c.requests}
	for _, o := range opts {
		nc.InstanceTypeOptions = append(nc.InstanceTypeOptions, o.t.it)
		nc.Prices = append(nc.Prices, o.price)
	}
	return nc
}

// offeringOverhead is the daemonset overhead of a node of type it with labels: the most over
// the zones and capacity types of its available offerings that reqs allow, since which one is
// launched is decided later (a daemonset selecting karpenter.sh/capacity-type spot counts
// wherever a spot offering may be chosen). labels is modified.
func (dss compiledDaemonSets) offeringOverhead(it *cloudprovider.InstanceType, reqs Requirements, labels map[string]string, taints []corev1.Taint) Resources {
	if len(dss) == 0 {
		return Resources{}
	}
	out := Resources{}
	seen := map[[2]string]bool{}
	for _, o := range it.Offerings {
		key := [2]string{o.Zone, o.CapacityType}
		if !o.Available || seen[key] || !allowsOffering(reqs, o.Zone, o.CapacityType) {
			continue
		}
		seen[key] = true
		labels[v1alpha5.LabelZone], labels[v1alpha5.LabelCapacityType] = o.Zone, o.CapacityType
		out.MaxInPlace(dss.overhead(labels, taints))
	}
	return out
}

// Refresh recomputes the claim's options from refreshed instance types (e.g. after an
// insufficient-capacity error made pools unavailable): it keeps the current options, by name,
// that still have an available offering allowed by the claim's requirements, re-priced and
// re-sorted cheapest first. It reports whether any option is left.
func (c *NodeClaim) Refresh(types []*cloudprovider.InstanceType) bool {
	byName := make(map[string]*cloudprovider.InstanceType, len(types))
	for _, it := range types {
		byName[it.Name] = it
	}
	type option struct {
		it    *cloudprovider.InstanceType
		price float64
	}
	var opts []option
	for _, old := range c.InstanceTypeOptions {
		it, ok := byName[old.Name]
		if !ok {
			continue
		}
		if price, ok := cheapestOffering(it, c.Requirements); ok {
			opts = append(opts, option{it, price})
		}
	}
	sort.SliceStable(opts, func(i, j int) bool {
		if opts[i].price != opts[j].price {
			return opts[i].price < opts[j].price
		}
		return opts[i].it.Name < opts[j].it.Name
	})
	c.InstanceTypeOptions, c.Prices = nil, nil
	for _, o := range opts {
		c.InstanceTypeOptions = append(c.InstanceTypeOptions, o.it)
		c.Prices = append(c.Prices, o.price)
	}
	return len(opts) > 0
}

// sortedNames returns r's resource names, sorted.
func sortedNames(r Resources) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(r))
	for k := range r {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
