package scheduling

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Inter-pod constraints at the scope of a topology domain wider than one node: every value of a
// node label key other than kubernetes.io/hostname, typically topology.kubernetes.io/zone or
// karpenter.sh/capacity-type. They follow kube-scheduler's InterPodAffinity and
// PodTopologySpread filters
// (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity,
// https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/):
//   - required anti-affinity: the node's domain holds no pod the term selects; and, symmetrically,
//     no pod in the node's domain has a required anti-affinity term that selects the incoming pod;
//   - required affinity: the node's domain holds a pod the term selects (a node without the key
//     never does), unless no pod anywhere is selected and the pod selects itself;
//   - topology spread with whenUnsatisfiable DoNotSchedule: count(domain) + self - min <= maxSkew,
//     where count is the number of selected pods in the pod's namespace on eligible nodes of the
//     domain, self is 1 when the pod matches its own selector, and min is the smallest count over
//     the eligible domains (0 while there are fewer eligible domains than minDomains). A node is
//     eligible when it has the key, matches the pod's node affinity (nodeAffinityPolicy Honor,
//     the default) and has only taints the pod tolerates (nodeTaintsPolicy Honor; the default
//     Ignore counts every node).
//
// Domains the solver can create count as eligible domains with the pods planned there, so the
// solver spreads over every zone a provisioner can launch in; kube-scheduler, which only knows
// domains with nodes, then sees a smaller or equal minimum and accepts the same placements.
// With nodeAffinityPolicy Ignore those are the domains any provisioner can launch in, not only
// those the pod's node affinity allows: nodes launched there for other pods count too.
//
// A pod with such a constraint narrows the node it joins to one domain of the key, so that counts
// stay exact: a new node's zone or capacity type is fixed before launch. Pods placed on a node
// whose domain is not fixed yet are counted when it becomes fixed.

// constraintKind is what a domain constraint asks of the domain.
type constraintKind int

const (
	kindAffinity constraintKind = iota
	kindAntiAffinity
	kindSpread
)

// domainGroup counts, per domain of one topology key, the pods one term selects on the nodes it
// counts. Pods whose constraints share key, term and eligibility share a group.
type domainGroup struct {
	key  string
	term *podTerm
	// counts maps a domain to the number of selected pods in it, bound and planned.
	counts map[string]int
	total  int
	// eligible decides which nodes count, for topology spread; nil counts every node.
	eligible *eligibility
	// domains are the eligible domains, existing or creatable (spread only; filled lazily).
	domains sets.Set[string]
	// holds are, per domain, what the pods planned there whose own topology spread constraint
	// counts with this group ask of it (spread groups only; see topology.holdsAllow).
	holds map[string]spreadHold
	// heldTo are the domains the pods with a topology spread constraint of this group are held
	// to by their node requirements (every term naming the key's values), nil when one of them
	// may go to any: the pods the group counts keep out of those domains where they can, so
	// that the held pods stay within their skew there (see candidates).
	heldTo sets.Set[string]
	// free is set once a pod of the group may go to any domain.
	free bool
	// heldPods counts the pods to place with a topology spread constraint of the group, and
	// heldSkew is their least maxSkew (countHeld): while the group's pods are held to heldTo,
	// the other domains need a floor of counted pods for them to fit (floor).
	heldPods, heldSkew int
	// leastCount is the least count over the eligible domains when total was leastOf-1
	// (topology.least; leastOf 0: not computed yet).
	leastCount, leastOf int
	// left and entered count, per domain, the selected pods let move from nodes the group
	// counts to nodes it does not, and the other way, after placing (eligibility.go: mayFlip).
	left, entered map[string]int
}

// spreadHold is what the planned pods of one domain that carry a group's topology spread
// constraint ask of that domain: its count may exceed the least count of the other eligible
// domains by at most maxSkew (the least of theirs), and with fewer eligible domains than
// minDomains (the largest of theirs) that least count is 0.
type spreadHold struct {
	maxSkew, minDomains int
}

// eligibility is a topology spread constraint's view of which nodes count.
type eligibility struct {
	// terms are the pod's node requirement alternatives: when honourAffinity
	// (nodeAffinityPolicy Honor) they select the existing nodes and limit the domains counted as
	// creatable. With Ignore every domain a provisioner can launch in counts, as in Karpenter:
	// the same batch or a later one may launch a node there for other pods, and kube-scheduler
	// then counts it with no selected pod.
	terms          []Requirements
	honourAffinity bool
	// tolerations apply when honourTaints (nodeTaintsPolicy Honor).
	tolerations  []corev1.Toleration
	honourTaints bool
}

func (e *eligibility) node(labels map[string]string, taints []corev1.Taint) bool {
	if e.honourTaints && Tolerates(e.tolerations, taints) != nil {
		return false
	}
	if !e.honourAffinity {
		return true
	}
	for _, t := range e.terms {
		if t.MatchLabels(labels) == nil {
			return true
		}
	}
	return false
}

func (e *eligibility) claim(c *claim) bool {
	return e.newNode(c.reqs, c.prov.taints)
}

// newNode is claim for a new node with requirements reqs and taints.
func (e *eligibility) newNode(reqs Requirements, taints []corev1.Taint) bool {
	if e.honourTaints && Tolerates(e.tolerations, taints) != nil {
		return false
	}
	if !e.honourAffinity {
		return true
	}
	for _, t := range e.terms {
		if reqs.Compatible(t) {
			return true
		}
	}
	return false
}

// domainConstraint is one of a pod's required constraints on a domain key.
type domainConstraint struct {
	kind       constraintKind
	group      *domainGroup
	maxSkew    int
	minDomains int
	// self is 1 when the pod is selected by the group's term.
	self int
	// symmetric marks a required anti-affinity term of the pod itself (not a preference the
	// solver promoted): only such terms keep other pods out of the pod's domain.
	symmetric bool
	// index is the term's position in its list.
	index int
	// what names the constraint in reasons, e.g. "topology spread (topology.kubernetes.io/zone, maxSkew 1)".
	what string
}

// domainAnti is a placed or bound pod's required anti-affinity term on a domain key: no pod it
// selects may join a node of that domain.
type domainAnti struct {
	term   *podTerm
	domain string
	owner  *corev1.Pod
}

// topology holds the domain groups of one Solve call.
type topology struct {
	groups   map[string]*domainGroup
	list     []*domainGroup
	byKey    map[string][]*domainGroup
	anti     map[string][]domainAnti // by topology key
	nAnti    int
	nodes    []*existing
	provs    []*provState
	nsLabels map[string]map[string]string
	// terms interns compiled pod terms by termID, so that pods with equal terms share one
	// *podTerm and the per-node match counts (host.counts) are made once per distinct term.
	terms map[string]*podTerm
	// vs is the volume state of the Solve call (volume.go).
	vs *volumeState
	// nHolds counts the spread holds recorded (domainGroup.hold); holdsActive turns their check
	// (holdsAllow) on: only while pods are placed, not while placed pods move between nodes of
	// the same domains.
	nHolds      int
	holdsActive bool
	// floored are the groups with a floor (domainGroup.floor) whose eligibility does not depend
	// on the node. steerOff turns off the refusals that steer a pod away from a planned node to
	// a better one (leavesShort, spotFirst), for a pod that fits nowhere with them; steered
	// records that one refused.
	floored           []*domainGroup
	steerOff, steered bool
	// deciding: some group's eligibility honours node affinity that not every node matches
	// (eligibility.decides), so planned nodes are decided for it (eligibility.go).
	deciding bool
	// allPlaced is set once every pod has been placed (only sizing is left): no placement reads
	// the counts any more, so a pod may move to a node a spread counts the other way while the
	// spread's planned pods keep within their skew (eligibility.go: flip).
	allPlaced bool
	// nodeRooms bounds the cpu and memory left on each block of nodes (placeExistingIndexed).
	nodeRooms []blockRoom
	// keyDomains caches allDomains by key.
	keyDomains map[string]sets.Set[string]
	// fixedMemo keeps admitsFixed's answers for the pod being placed.
	fixedMemo []fixedMemoEntry
	// singles caches `key In [domain]` by key and domain for options (requirements are
	// immutable, so options share them).
	singles map[string]map[string]*Requirement
	// like counts the batch's pods by their requests' key (podInfo.reqKey); nil on a
	// repacking's topology.
	like map[string]int
}

// single returns the requirement `key In [d]`, one per key and domain.
func (t *topology) single(key, d string) *Requirement {
	byDomain := t.singles[key]
	if r := byDomain[d]; r != nil {
		return r
	}
	if t.singles == nil {
		t.singles = map[string]map[string]*Requirement{}
	}
	if byDomain == nil {
		byDomain = map[string]*Requirement{}
		t.singles[key] = byDomain
	}
	r := &Requirement{Key: key, values: sets.New(d)}
	byDomain[d] = r
	return r
}

func newTopology(nodes []*existing, nsLabels map[string]map[string]string) *topology {
	t := &topology{groups: map[string]*domainGroup{}, byKey: map[string][]*domainGroup{}, anti: map[string][]domainAnti{},
		nodes: nodes, nsLabels: nsLabels, terms: map[string]*podTerm{}}
	for _, n := range nodes {
		for _, hp := range n.host.pods {
			for i := range hp.anti {
				hp.anti[i] = t.intern(hp.anti[i]) // shares hp's slice with n.host
			}
			aff := hp.pod.Spec.Affinity
			if aff == nil || aff.PodAntiAffinity == nil {
				continue
			}
			for i := range aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
				term := &aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i]
				key := v1alpha5.NormalizeLabelKey(term.TopologyKey)
				d, ok := n.node.Labels[key]
				if key == corev1.LabelHostname || !ok {
					continue
				}
				if pt, err := compilePodTerm(hp.pod, term, ""); err == nil {
					t.addAnti(key, domainAnti{term: pt, domain: d, owner: hp.pod})
				}
			}
		}
	}
	return t
}

func (t *topology) addAnti(key string, a domainAnti) {
	t.anti[key] = append(t.anti[key], a)
	t.nAnti++
}

// groupID identifies a group by key, term and eligibility; %T tells labels.Nothing() from
// labels.Everything(), whose String() are both "".
func groupID(key string, term *podTerm, e *eligibility) string {
	var b strings.Builder
	b.WriteString(key)
	b.WriteByte(0)
	term.writeID(&b)
	if e != nil {
		fmt.Fprintf(&b, "\x00e%v", e.honourAffinity)
		for _, r := range e.terms {
			fmt.Fprintf(&b, "|%s", r)
		}
		if e.honourTaints {
			for _, tol := range e.tolerations {
				fmt.Fprintf(&b, "|%s=%s:%s:%s", tol.Key, tol.Value, tol.Operator, tol.Effect)
			}
		}
	}
	return b.String()
}

// group returns the group for (key, term, e), counting the pods already bound or planned.
func (t *topology) group(key string, term *podTerm, e *eligibility) *domainGroup {
	id := groupID(key, term, e)
	if g, ok := t.groups[id]; ok {
		return g
	}
	g := &domainGroup{key: key, term: term, counts: map[string]int{}, eligible: e}
	t.deciding = t.deciding || e.decides()
	for _, n := range t.nodes {
		d, ok := n.node.Labels[key]
		if !ok || (e != nil && !e.node(n.node.Labels, n.node.Taints)) {
			continue
		}
		for i := range n.host.pods {
			if p := n.host.pods[i].pod; e == nil || p.DeletionTimestamp == nil { // spread does not count pods being deleted
				g.count(p, d, t.nsLabels)
			}
		}
	}
	for _, ps := range t.provs {
		for _, c := range ps.claims {
			d, ok := claimDomain(c.reqs, key)
			if ok && e.decides() && e.state(c.reqs) == undecided &&
				slices.ContainsFunc(c.pods, func(p *corev1.Pod) bool { return term.matches(p, t.nsLabels[p.Namespace]) }) {
				ps.decideEligibility(c, e) // counted below as the nodes it may launch as
			}
			if !ok || (e != nil && !e.claim(c)) {
				continue
			}
			for _, p := range c.pods {
				g.count(p, d, t.nsLabels)
			}
		}
	}
	t.groups[id] = g
	t.list = append(t.list, g)
	t.byKey[key] = append(t.byKey[key], g)
	return g
}

func (g *domainGroup) count(p *corev1.Pod, d string, nsLabels map[string]map[string]string) {
	if g.term.matches(p, nsLabels[p.Namespace]) {
		g.counts[d]++
		g.total++
	}
}

func claimDomain(reqs Requirements, key string) (string, bool) {
	r, ok := reqs[key]
	if !ok {
		return "", false
	}
	return r.Single()
}

// compilePod returns p's required constraints on domain keys; terms are p's node requirement
// alternatives; the first requiredAnti anti-affinity terms are the pod's own (the rest are
// promoted preferences). Errors name the field path.
func (t *topology) compilePod(p *corev1.Pod, terms []Requirements, requiredAnti int) ([]domainConstraint, error) {
	var out []domainConstraint
	for i := range p.Spec.TopologySpreadConstraints {
		c := &p.Spec.TopologySpreadConstraints[i]
		if c.TopologyKey == corev1.LabelHostname || c.WhenUnsatisfiable != corev1.DoNotSchedule {
			continue
		}
		term, err := compileSpreadTerm(p, i)
		if err != nil {
			return nil, err
		}
		e := &eligibility{terms: terms, honourAffinity: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor}
		if c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor {
			e.honourTaints, e.tolerations = true, p.Spec.Tolerations
		}
		key := v1alpha5.NormalizeLabelKey(c.TopologyKey) // a legacy key's domains are its GA key's
		dc := domainConstraint{kind: kindSpread, group: t.group(key, term, e), maxSkew: int(c.MaxSkew),
			what: fmt.Sprintf("topology spread (%s, maxSkew %d)", c.TopologyKey, c.MaxSkew)}
		if c.MinDomains != nil {
			dc.minDomains = int(*c.MinDomains)
		}
		if term.matches(p, nil) {
			dc.self = 1
		}
		dc.group.holdTo(terms, t.allDomains(key))
		out = append(out, dc)
	}
	aff := p.Spec.Affinity
	if aff == nil {
		return out, nil
	}
	if aff.PodAffinity != nil {
		cs, err := t.compileTerms(p, kindAffinity, aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			"spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution")
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	if aff.PodAntiAffinity != nil {
		cs, err := t.compileTerms(p, kindAntiAffinity, aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			"spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution")
		if err != nil {
			return nil, err
		}
		for i := range cs {
			cs[i].symmetric = cs[i].index < requiredAnti
		}
		out = append(out, cs...)
	}
	return out, nil
}

func (t *topology) compileTerms(p *corev1.Pod, kind constraintKind, terms []corev1.PodAffinityTerm, path string) ([]domainConstraint, error) {
	var out []domainConstraint
	name := map[constraintKind]string{kindAffinity: "required pod affinity", kindAntiAffinity: "required pod anti-affinity"}[kind]
	for i := range terms {
		if terms[i].TopologyKey == corev1.LabelHostname {
			continue
		}
		pt, err := compilePodTerm(p, &terms[i], fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		dc := domainConstraint{kind: kind, group: t.group(v1alpha5.NormalizeLabelKey(terms[i].TopologyKey), pt, nil), index: i,
			what: fmt.Sprintf("%s (%s)", name, terms[i].TopologyKey)}
		if pt.matches(p, t.nsLabels[p.Namespace]) {
			dc.self = 1
		}
		out = append(out, dc)
	}
	return out, nil
}

// minCount is kube-scheduler's global minimum for a spread constraint: the smallest count over
// the group's eligible domains, or 0 while there are fewer of them than minDomains.
func (t *topology) minCount(dc *domainConstraint) int {
	doms := t.domains(dc.group)
	if doms.Len() == 0 || doms.Len() < dc.minDomains {
		return 0
	}
	m := -1
	for d := range doms {
		if c := dc.group.counts[d]; m < 0 || c < m {
			m = c
		}
	}
	return m
}

// domains returns the group's eligible domains: those of the eligible existing nodes and those
// a provisioner can launch in for the pod.
func (t *topology) domains(g *domainGroup) sets.Set[string] {
	if g.domains != nil {
		return g.domains
	}
	g.domains = sets.New[string]()
	for _, n := range t.nodes {
		if d, ok := n.node.Labels[g.key]; ok && (g.eligible == nil || g.eligible.node(n.node.Labels, n.node.Taints)) {
			g.domains.Insert(d)
		}
	}
	for _, ps := range t.provs {
		if ps.typeErr != "" {
			continue
		}
		reqsList := []Requirements{ps.template}
		if g.eligible != nil {
			if g.eligible.honourTaints && Tolerates(g.eligible.tolerations, ps.taints) != nil {
				continue
			}
			if len(g.eligible.terms) > 0 && g.eligible.honourAffinity {
				reqsList = nil
				for _, term := range g.eligible.terms {
					if r, err := ps.template.Constrain(term); err == nil {
						reqsList = append(reqsList, r)
					}
				}
			}
		}
		for _, reqs := range reqsList {
			g.domains = g.domains.Union(ps.creatable(reqs, g.key))
		}
	}
	// Planned domains are eligible too (a claim fixed to a domain the loops above missed).
	for d := range g.counts {
		g.domains.Insert(d)
	}
	return g.domains
}

// creatableList is creatable's values, sorted, cached by key and requirements (do not modify).
func (ps *provState) creatableList(reqs Requirements, key string) []string {
	cacheKey := key + "\x00" + reqs.String()
	ps.mu.Lock()
	out, ok := ps.creatableDomains[cacheKey]
	ps.mu.Unlock()
	if ok {
		return out
	}
	out = sets.List(ps.creatable(reqs, key))
	ps.mu.Lock()
	if ps.creatableDomains == nil {
		ps.creatableDomains = map[string][]string{}
	}
	ps.creatableDomains[cacheKey] = out
	ps.mu.Unlock()
	return out
}

// creatable returns the values of key a new node of ps with requirements reqs can carry, of any
// instance type reqs allow: accelerator types too, which only pods that request the accelerator
// launch (wastesAccelerators), so that a GPU pod's spread over zones has the zones of its types.
func (ps *provState) creatable(reqs Requirements, key string) sets.Set[string] {
	out := sets.New[string]()
	r, defined := reqs[key]
	if !defined {
		return out
	}
	if v, ok := r.Single(); ok && !offeringKeys[key] && !ps.isTypeKey[key] {
		return out.Insert(v)
	}
	for _, ti := range ps.filterTypes(ps.types, reqs, reqs, Resources{}, Resources{}, true) {
		switch {
		case key == v1alpha5.LabelZone || key == v1alpha5.LabelCapacityType:
			for _, o := range ti.it.Offerings {
				v := o.Zone
				if key == v1alpha5.LabelCapacityType {
					v = o.CapacityType
				}
				if o.Available && !out.Has(v) && r.Has(v) && allowsOffering(reqs, o.Zone, o.CapacityType) {
					out.Insert(v)
				}
			}
		case ps.isTypeKey[key]:
			if v, ok := ti.it.Labels[key]; ok && r.Has(v) {
				out.Insert(v)
			}
		default:
			out.Insert(r.Values()...)
		}
	}
	return out
}

func allowsOffering(reqs Requirements, zone, capacityType string) bool {
	if r := reqs[v1alpha5.LabelZone]; r != nil && !r.Has(zone) {
		return false
	}
	if r := reqs[v1alpha5.LabelCapacityType]; r != nil && !r.Has(capacityType) {
		return false
	}
	return true
}

// allowsDomain reports whether constraint dc allows domain d. extra are selected pods not
// counted yet that will count in d with the pod (those on a node whose domain the pod fixes);
// the minimum is taken without them, which can only overstate the skew.
func (t *topology) allowsDomain(dc *domainConstraint, d string, extra int) bool {
	g := dc.group
	n := g.counts[d] + extra
	switch dc.kind {
	case kindAffinity:
		return (g.total+extra == 0 && dc.self == 1) || n > 0
	case kindAntiAffinity:
		return n == 0
	case kindSpread:
		return t.domains(g).Has(d) && n+dc.self-t.minCount(dc) <= dc.maxSkew
	}
	return true
}

// domainReason says why dc does not allow d (see allowsDomain), for errors.
func (t *topology) domainReason(dc *domainConstraint, d string, extra int) string {
	g := dc.group
	n := g.counts[d] + extra
	switch dc.kind {
	case kindAffinity:
		return fmt.Sprintf("%s: no selected pod in %s", dc.what, d)
	case kindAntiAffinity:
		return fmt.Sprintf("%s: %d selected pods in %s", dc.what, n, d)
	}
	if !t.domains(g).Has(d) {
		return fmt.Sprintf("%s: %s is not an eligible domain", dc.what, d)
	}
	m := t.minCount(dc)
	reason := fmt.Sprintf("%s: %s in %s, minimum %d", dc.what, selectedPods(n), d, m)
	if doms := t.domains(g).Len(); doms < dc.minDomains {
		reason += fmt.Sprintf(" (minDomains %d: only %d eligible domains, so the global minimum counts as 0)", dc.minDomains, doms)
	} else {
		var least []string
		for e := range t.domains(g) {
			if g.counts[e] == m {
				least = append(least, e)
			}
		}
		if len(least) > 0 {
			reason += " in " + domainList(least)
		}
	}
	return reason
}

// domainList words domains, sorted, naming at most 3: "us-east-1c", "us-east-1b and
// us-east-1c", "a, b and c", "a, b, c and 2 more".
func domainList(domains []string) string {
	sort.Strings(domains)
	switch n := len(domains); {
	case n == 0:
		return ""
	case n == 1:
		return domains[0]
	case n <= 3:
		return strings.Join(domains[:n-1], ", ") + " and " + domains[n-1]
	default:
		return fmt.Sprintf("%s and %d more", strings.Join(domains[:3], ", "), n-3)
	}
}

// unplaceable returns why pi cannot be placed anywhere on account of its domain constraints
// (a required affinity that selects no pod, running or planned, and not the pod itself).
func unplaceable(pi *podInfo) string {
	for i := range pi.domain {
		dc := &pi.domain[i]
		if dc.kind == kindAffinity && dc.group.total == 0 && dc.self == 0 {
			return dc.what + ": selects no pod, running or planned"
		}
	}
	return ""
}

// excluded returns the domains of key that bound or placed pods' anti-affinity closes to pi.
func (t *topology) excluded(pi *podInfo, key string) sets.Set[string] {
	var out sets.Set[string]
	for _, a := range t.anti[key] {
		if a.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
			if out == nil {
				out = sets.New[string]()
			}
			out.Insert(a.domain)
		}
	}
	return out
}

// keys returns the topology keys pi's domain constraints involve, in order, then those of groups
// that count pi (so that a node holding counted pods has a known domain), then those only
// others' anti-affinity involves, sorted.
func (t *topology) keys(pi *podInfo) []string {
	// The answer changes only when groups or anti-affinity entries are added (the pod's labels
	// do not change): it is cached on pi.
	if c := &pi.domainKeys; c.valid && c.groups == len(t.list) && c.anti == t.nAnti {
		return c.keys
	}
	out := t.computeKeys(pi)
	pi.domainKeys = domainKeysCache{valid: true, groups: len(t.list), anti: t.nAnti, keys: out}
	return out
}

// domainKeysCache is topology.keys and topology.counting of one pod, valid while the topology
// has groups groups and anti anti-affinity entries.
type domainKeysCache struct {
	valid        bool
	groups, anti int
	keys         []string
	// counting maps a key to the first group of that key that counts the pod (nil: none).
	counting map[string]*domainGroup
}

// counting returns the first group of key whose term selects pi, or nil.
func (t *topology) counting(pi *podInfo, key string) *domainGroup {
	c := &pi.domainKeys
	if c.counting != nil && c.groups == len(t.list) {
		if g, ok := c.counting[key]; ok {
			return g
		}
	} else if c.groups != len(t.list) {
		c.valid = false // keys must be recomputed too
	}
	var found *domainGroup
	for _, g := range t.byKey[key] {
		if g.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
			found = g
			break
		}
	}
	if c.counting == nil || c.groups != len(t.list) {
		// A fresh map: copies of a compiled pod (identical pods) may share the old one.
		c.counting, c.groups = map[string]*domainGroup{}, len(t.list)
	}
	c.counting[key] = found
	return found
}

// computeKeys is keys without the cache.
func (t *topology) computeKeys(pi *podInfo) []string {
	var out []string
	for i := range pi.domain {
		if !slices.Contains(out, pi.domain[i].group.key) {
			out = append(out, pi.domain[i].group.key)
		}
	}
	for _, g := range t.list {
		if !slices.Contains(out, g.key) && g.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
			out = append(out, g.key)
		}
	}
	if t.nAnti == 0 {
		return out
	}
	var others []string
	for key := range t.anti {
		if !slices.Contains(out, key) && t.excluded(pi, key).Len() > 0 {
			others = append(others, key)
		}
	}
	sort.Strings(others)
	return append(out, others...)
}

// ownDomains reports whether pi's own domain constraints allow a node with labels, and, when
// explain is set, why not.
func (t *topology) ownDomains(pi *podInfo, labels map[string]string, explain bool) (string, bool) {
	for i := range pi.domain {
		dc := &pi.domain[i]
		d, ok := labels[dc.group.key]
		why := ""
		switch {
		case !ok && dc.kind == kindAntiAffinity:
			continue
		case !ok:
			why = dc.what + ": the node has no label " + dc.group.key
		case t.allowsDomain(dc, d, 0):
			continue
		case explain:
			why = t.domainReason(dc, d, 0)
		}
		return why, false
	}
	return "", true
}

// admitsNode returns "" when a node with labels may take pi as far as domain constraints go,
// else why not.
func (t *topology) admitsNode(pi *podInfo, labels map[string]string, taints []corev1.Taint) string {
	why, _ := t.nodeRefusal(pi, labels, taints, true)
	return why
}

// allowsNode is admitsNode without the reason of a refusal of pi's own constraints (the
// most frequent, tested first): for placement, which tries many nodes.
func (t *topology) allowsNode(pi *podInfo, labels map[string]string, taints []corev1.Taint) bool {
	_, ok := t.nodeRefusal(pi, labels, taints, false)
	return ok
}

// nodeRefusal is admitsNode; explain false leaves the reason of pi's own constraints out.
func (t *topology) nodeRefusal(pi *podInfo, labels map[string]string, taints []corev1.Taint, explain bool) (string, bool) {
	if why, ok := t.ownDomains(pi, labels, explain); !ok {
		return why, false
	}
	if t.holdsActive && t.nHolds > 0 {
		for _, key := range t.keys(pi) {
			d, ok := labels[key]
			if !ok {
				continue
			}
			if why := t.holdsAllow(pi, key, d, nil, true, func(e *eligibility) bool { return e.node(labels, taints) }); why != "" {
				return why, false
			}
		}
	}
	if t.nAnti == 0 {
		return "", true
	}
	for key, list := range t.anti {
		d, ok := labels[key]
		if !ok {
			continue
		}
		for _, a := range list {
			if a.domain == d && a.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
				return fmt.Sprintf("pod %s has required anti-affinity against it in %s", podKey(a.owner), d), false
			}
		}
	}
	return "", true
}

// admitsFixed is a quick test before claim.tryAdd: false when c's requirements already fix the
// domain of one of pi's own constraints (pods on c are counted there) and the constraint does
// not allow that domain. It is true when nothing can be told that cheaply.
func (t *topology) admitsFixed(pi *podInfo, c *claim) bool {
	for i := range pi.domain {
		dc := &pi.domain[i]
		d, ok := c.domain(dc.group.key)
		if !ok {
			continue
		}
		// Counts do not change while one pod is tried on the claims: the answer per domain is
		// kept until the next pod (fixedMemo, cleared by provState.place).
		j := slices.IndexFunc(t.fixedMemo, func(m fixedMemoEntry) bool { return m.dc == dc && m.d == d })
		if j < 0 {
			t.fixedMemo = append(t.fixedMemo, fixedMemoEntry{dc: dc, d: d, allowed: t.allowsDomain(dc, d, 0)})
			j = len(t.fixedMemo) - 1
		}
		if !t.fixedMemo[j].allowed {
			return false
		}
	}
	return true
}

// fixedMemoEntry is admitsFixed's answer for one of a pod's domain constraints and a domain.
type fixedMemoEntry struct {
	dc      *domainConstraint
	d       string
	allowed bool
}

// maxDomainOptions bounds the combinations of domains tried for one pod on one node.
const maxDomainOptions = 32

// options returns the requirements to AND, in order of preference, for pi to join a node of ps
// with requirements reqs: each fixes every involved key to one domain (or, for a key only others'
// anti-affinity involves, to the domains left open). onNode are the pods already planned on the
// node (nil for a new one). constrained is false when pi involves no domain key; a constrained
// pod with no options gets the reason.
func (t *topology) options(pi *podInfo, ps *provState, reqs Requirements, onNode []*corev1.Pod) (opts []Requirements, constrained bool, reason string) {
	keys := t.keys(pi)
	if len(keys) == 0 {
		return nil, false, ""
	}
	opts = []Requirements{nil} // one option that adds nothing yet (Copy makes it a map)
	for _, key := range keys {
		cands, narrowed, needsSingle, why := t.candidates(pi, ps, reqs, key, onNode)
		if why != "" {
			return nil, true, why
		}
		if cands == nil {
			continue // the node will not carry the key and nothing requires it
		}
		var next []Requirements
		for _, o := range opts {
			if !needsSingle {
				n := o.Copy()
				n[key] = &Requirement{Key: key, values: sets.New(cands...)}
				next = append(next, n)
				continue
			}
			for _, d := range cands {
				if len(next) >= maxDomainOptions {
					break
				}
				n := o.Copy()
				n[key] = t.single(key, d)
				for _, k := range narrowed[d].Keys() {
					n.Add(narrowed[d][k])
				}
				next = append(next, n)
			}
		}
		opts = next
	}
	return opts, true, ""
}

// candidates returns the domains of key a node of ps with reqs may take for pi, ordered by
// preference, and whether one must be chosen (pi's own constraints count pods per domain).
// It returns nil candidates when the node will not carry key and that is allowed. narrowed
// holds, for a domain the node may take only if spreads that would count it do not
// (excludeFromHolds), the requirements that keep it out of their count.
func (t *topology) candidates(pi *podInfo, ps *provState, reqs Requirements, key string, onNode []*corev1.Pod) (cands []string, narrowed map[string]Requirements, needsSingle bool, why string) {
	var own []*domainConstraint
	for i := range pi.domain {
		if pi.domain[i].group.key == key {
			own = append(own, &pi.domain[i])
		}
	}
	// counting is a group of key that counts pi: its domain must be known, the emptiest first.
	counting := t.counting(pi, key)
	r, defined := reqs[key]
	if !defined {
		for _, dc := range own {
			if dc.kind != kindAntiAffinity {
				return nil, nil, false, fmt.Sprintf("%s: provisioner %s does not set label %s", dc.what, ps.name, key)
			}
		}
		return nil, nil, false, ""
	}
	var all []string
	var extraBuf [4]int
	extra := extraBuf[:0]
	if len(own) > len(extraBuf) {
		extra = make([]int, 0, len(own))
	}
	extra = extra[:len(own)]
	v, fixed := r.Single()
	if fixed {
		all = []string{v}
	} else {
		all = ps.creatableList(reqs, key)
		// The node's pods count in the domain it is fixed to.
		for i, dc := range own {
			for _, p := range onNode {
				if dc.group.term.matches(p, t.nsLabels[p.Namespace]) {
					extra[i]++
				}
			}
		}
	}
	closed := t.excluded(pi, key)
	// Each domain's refusal, formatted only if no domain is left.
	var refusals []func() string
	var repelled []string // domains a required anti-affinity closes
	for _, d := range all {
		if closed.Has(d) {
			repelled = append(repelled, d)
			continue
		}
		ok := true
		for i, dc := range own {
			if !t.allowsDomain(dc, d, extra[i]) {
				ok = false
				dc, d, n := dc, d, extra[i] // captured only here: the loop's variables stay off the heap
				refusals = append(refusals, func() string { return t.domainReason(dc, d, n) })
				break
			}
		}
		if ok {
			if g, reason := t.holdsRefusal(pi, key, d, onNode, fixed, func(e *eligibility) bool { return e.newNode(reqs, ps.taints) }); reason != "" {
				if n := t.excludeFromHolds(g, pi, ps, reqs, key, d, onNode, fixed); n != nil {
					if narrowed == nil {
						narrowed = map[string]Requirements{}
					}
					narrowed[d] = n
				} else {
					ok = false
					refusals = append(refusals, staticReason(reason))
				}
			}
		}
		if ok {
			cands = append(cands, d)
		}
	}
	if len(cands) == 0 {
		return nil, nil, true, domainRefusals(key, r, repelled, refusals)
	}
	if counting == nil && len(own) == 0 && narrowed == nil {
		return cands, nil, false, ""
	}
	t.orderCandidates(pi, ps, reqs, key, cands, own, counting)
	return cands, narrowed, true, ""
}

// staticReason returns a refusal that formats to reason.
func staticReason(reason string) func() string { return func() string { return reason } }

// excludeFromHolds returns the requirements that, added to reqs (a node's for pi in domain d of
// key), keep the node out of the count of every spread group whose holds refuse pi there
// (holdsRefusal; g the first), so that it may take pi after all: an amd64 pod beside arm64
// pods spreading over one label goes to an amd64 node the arm64 pods' spread does not count.
// Each such group must honour node affinity and find the node undecided (eligibility.state);
// its terms are excluded by negated requirements (excludingTerms), the cheapest for pi's
// requests. nil when a group cannot be excluded so, or t decides no eligibility.
func (t *topology) excludeFromHolds(g *domainGroup, pi *podInfo, ps *provState, reqs Requirements, key, d string, onNode []*corev1.Pod, fixed bool) Requirements {
	if !t.deciding {
		return nil
	}
	price := func(r Requirements) float64 {
		return ps.minPrice(ps.filter(ps.types, r, r, pi.requests, Resources{}), r)
	}
	cur := reqs
	for range t.byKey[key] { // each pass excludes one more group
		if !g.eligible.decides() || g.eligible.state(cur) != undecided {
			return nil
		}
		next, ok := excludingTerms(cur, g.eligible.terms, price)
		if !ok {
			return nil
		}
		cur = next
		if g, _ = t.holdsRefusal(pi, key, d, onNode, fixed, func(e *eligibility) bool { return e.newNode(cur, ps.taints) }); g == nil {
			out := Requirements{}
			for k, r := range cur {
				if reqs[k] != r {
					out[k] = r
				}
			}
			return out
		}
	}
	return nil
}

// maxDomainRefusals is how many domains' refusals a reason lists before it counts the rest.
const maxDomainRefusals = 6

// domainRefusals words why no domain of key (the node's requirement r on it) takes a pod: the
// domains required anti-affinity closes ("required anti-affinity of pods in us-east-1a,
// us-east-1b"), then each other domain's refusal, "; "-separated, the first maxDomainRefusals
// then how many more; "no domain of <key> is possible (<r>)" when there is none to try.
func domainRefusals(key string, r *Requirement, repelled []string, refusals []func() string) string {
	if len(repelled) == 0 && len(refusals) == 0 {
		return fmt.Sprintf("no domain of %s is possible (%s)", key, r)
	}
	var parts []string
	switch {
	case len(repelled) == 1:
		parts = append(parts, "required anti-affinity of a pod in "+repelled[0])
	case len(repelled) > 1:
		parts = append(parts, "required anti-affinity of pods in "+strings.Join(repelled, ", "))
	}
	for i, why := range refusals {
		if i == maxDomainRefusals {
			parts = append(parts, fmt.Sprintf("and %d more", len(refusals)-i))
			break
		}
		parts = append(parts, why())
	}
	return strings.Join(parts, "; ")
}

// holdTo records the domains of g's key a pod with g's spread constraint and node requirement
// alternatives terms may go to (domainGroup.heldTo).
func (g *domainGroup) holdTo(terms []Requirements, universe sets.Set[string]) {
	if g.free {
		return
	}
	var values []string
	for _, tm := range terms {
		r, ok := tm[g.key]
		v := admitted(r, universe)
		if !ok || v == nil {
			g.free, g.heldTo = true, nil
			return
		}
		values = append(values, v...)
	}
	if len(terms) == 0 {
		g.free, g.heldTo = true, nil
		return
	}
	if g.heldTo == nil {
		g.heldTo = sets.New[string]()
	}
	g.heldTo.Insert(values...)
}

// leavesShort reports whether pi, with no constraint of its own on a key but counted there on
// every node by a group whose held pods need a floor in the other domains (floor), would join
// claim c in a domain while another domain is below the floor and counts fewer: it should seed
// a node there instead (freeToCheapest orders a new node's domains so), so that the domains fill
// evenly up to the floor. Off while t.floorsOff.
func (t *topology) leavesShort(pi *podInfo, c *claim) bool {
	if t.steerOff || len(t.floored) == 0 {
		return false
	}
	for _, g := range t.floored {
		if slices.ContainsFunc(pi.domain, func(dc domainConstraint) bool { return dc.group.key == g.key }) ||
			!g.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
			continue
		}
		d, ok := c.domain(g.key)
		if !ok || g.heldTo.Has(d) {
			continue
		}
		f, n := g.floor(), g.counts[d]
		for o := range t.domains(g) {
			if !g.heldTo.Has(o) && g.counts[o] < f && g.counts[o] < n {
				t.steered = true
				return true
			}
		}
	}
	return false
}

// spotFirst reports whether pi, spreading over capacity types, would join claim c on on-demand
// while spot counts no more of its spreads' pods and takes pi within their skew: on a new spot
// node it costs a fraction (new nodes take the cheaper of equally counted capacity types,
// orderCandidates, but a planned on-demand node with room came first). Only when pi's own
// requirements admit spot; off while t.steerOff.
func (t *topology) spotFirst(pi *podInfo, c *claim) bool {
	if t.steerOff {
		return false
	}
	d, ok := c.domain(v1alpha5.LabelCapacityType)
	if !ok || d != v1alpha5.CapacityTypeOnDemand {
		return false
	}
	spreads := false
	for i := range pi.domain {
		dc := &pi.domain[i]
		if dc.group.key != v1alpha5.LabelCapacityType {
			continue
		}
		if dc.kind != kindSpread || dc.group.counts[v1alpha5.CapacityTypeSpot] > dc.group.counts[d] ||
			!t.allowsDomain(dc, v1alpha5.CapacityTypeSpot, 0) {
			return false
		}
		spreads = true
	}
	if !spreads || !slices.ContainsFunc(pi.terms, func(term Requirements) bool {
		r, ok := term[v1alpha5.LabelCapacityType]
		return !ok || r.Has(v1alpha5.CapacityTypeSpot)
	}) {
		return false
	}
	t.steered = true
	return true
}

// countHeld counts a pod to place whose topology spread constraint (maxSkew) is of g.
func (g *domainGroup) countHeld(maxSkew int) {
	if g.heldPods == 0 || maxSkew < g.heldSkew {
		g.heldSkew = maxSkew
	}
	g.heldPods++
}

// floor is how many pods g must count in each eligible domain outside heldTo for the pods of
// its spread, held to heldTo, to fit there within their skew: the most any held domain gets when
// they share the held domains evenly, less maxSkew; 0 when they are not held.
func (g *domainGroup) floor() int {
	if g.free || g.heldTo.Len() == 0 {
		return 0
	}
	return (g.heldPods+g.heldTo.Len()-1)/g.heldTo.Len() - g.heldSkew
}

// allDomains returns the domains of key on the existing nodes and those the provisioners can
// launch in, whatever a pod requires (cached per key).
func (t *topology) allDomains(key string) sets.Set[string] {
	if d, ok := t.keyDomains[key]; ok {
		return d
	}
	d := sets.New[string]()
	for _, n := range t.nodes {
		if v, ok := n.node.Labels[key]; ok {
			d.Insert(v)
		}
	}
	for _, ps := range t.provs {
		if ps.typeErr == "" {
			d = d.Union(ps.creatable(ps.template, key))
		}
	}
	if t.keyDomains == nil {
		t.keyDomains = map[string]sets.Set[string]{}
	}
	t.keyDomains[key] = d
	return d
}

// admitted returns the values of r's key that r admits: its values for In, and for NotIn (or
// DoesNotExist) the domains of universe it admits (on-demand for capacity-type NotIn [spot]),
// nil when that leaves every domain of universe or r is nil.
func admitted(r *Requirement, universe sets.Set[string]) []string {
	if r == nil {
		return nil
	}
	if v := r.Values(); v != nil {
		return v
	}
	var out []string
	for _, d := range sets.List(universe) {
		if r.Has(d) {
			out = append(out, d)
		}
	}
	if len(out) == universe.Len() {
		return nil
	}
	return out
}

// freeToCheapest reports whether every group of key whose term selects pi is a topology spread
// group (pod affinity and anti-affinity groups have no eligibility), and returns the domains
// those groups' pods are held to (domainGroup.heldTo), which pi should keep out of, and the
// other domains below such a group's floor, which pi should fill first: two pods pinned to a
// zone whose spread counts every zone fit there only once each other zone counts one pod.
func (t *topology) freeToCheapest(pi *podInfo, key string) (free bool, avoid, short sets.Set[string]) {
	for _, g := range t.byKey[key] {
		if !g.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
			continue
		}
		if g.eligible == nil {
			return false, nil, nil
		}
		if g.heldTo == nil {
			continue
		}
		avoid = avoid.Union(g.heldTo)
		if f := g.floor(); f > 0 {
			for d := range t.domains(g) {
				if !g.heldTo.Has(d) && g.counts[d] < f {
					if short == nil {
						short = sets.New[string]()
					}
					short.Insert(d)
				}
			}
		}
	}
	return true, avoid, short
}

// orderCandidates sorts cands, the domains of key a node of ps with reqs may take for pi, by
// preference (see the comments inside); own are pi's constraints on key, counting the first
// group of key that counts pi (one of the two is set).
func (t *topology) orderCandidates(pi *podInfo, ps *provState, reqs Requirements, key string, cands []string, own []*domainConstraint, counting *domainGroup) {
	byCount, desc := counting, false
	if len(own) > 0 {
		byCount, desc = own[0].group, own[0].kind == kindAffinity
	}
	// For affinity, among domains of equal count the one where pods like pi cost least: the
	// first pod of a zonal self-affinity group chooses the zone of the whole group. Spread and
	// anti-affinity take the emptiest domain (the only ones they allow), the cheapest of equally
	// counted ones, so that two replicas kept apart take the two cheapest zones (a price order
	// before the count packed the Karpenter mix dearer; as a tie-break it plans the mix alike).
	// A pod that only topology spread groups count, with no constraint of its own on key, takes
	// the domain where pods like it cost least, then the emptiest: the spread pods that count it
	// are placed after it (compilePods) and go where it left room in their skew; spreading it
	// evenly instead puts pods in dearer zones that no constraint sends there. (A pod that a
	// pod affinity term counts keeps the emptiest first: the pods that follow it may be held
	// to other domains.) Such a pod keeps out of the domains the spread pods that count it are
	// held to by their node requirements where it can: in them, it would use up their skew.
	free, avoid, short := false, sets.Set[string](nil), sets.Set[string](nil)
	if len(own) == 0 {
		free, avoid, short = t.freeToCheapest(pi, key)
	}
	// Capacity types differ in price severalfold: among equally counted ones a pod spreading
	// over them takes the cheaper (spot before on-demand), not the first by name.
	spreadsCapacity := key == v1alpha5.LabelCapacityType && len(own) > 0 && own[0].kind == kindSpread
	apart := len(own) > 0 && (own[0].kind == kindAntiAffinity || own[0].kind == kindSpread)
	var perPod map[string]float64
	if (desc || free || spreadsCapacity || apart) && offeringKeys[key] && len(cands) > 1 {
		perPod = make(map[string]float64, len(cands))
		for _, d := range cands {
			perPod[d] = ps.perPodPrice(pi, reqs, key, d, t.like[pi.reqKey])
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if ai, aj := avoid.Has(cands[i]), avoid.Has(cands[j]); free && ai != aj {
			return aj
		}
		if si, sj := short.Has(cands[i]), short.Has(cands[j]); si != sj {
			return si
		} else if si {
			// Below the floor, the emptiest first: where the pods are too few to reach it
			// everywhere, even counts leave the held pods the most room.
			if ci, cj := byCount.counts[cands[i]], byCount.counts[cands[j]]; ci != cj {
				return ci < cj
			}
		}
		pri, prj := perPod[cands[i]], perPod[cands[j]]
		if free && pri != prj {
			return pri < prj
		}
		ci, cj := byCount.counts[cands[i]], byCount.counts[cands[j]]
		if ci != cj {
			if desc {
				return ci > cj
			}
			return ci < cj
		}
		return pri < prj
	})
}

// perPodPrice is the least a pod of pi's requests costs on a node of ps with requirements reqs
// and key fixed to domain d, USD/hour: over the types those allow, the cheapest offering's price
// divided by how many such pods the type's usable room holds, at most like (the pods of those
// requests in the batch; 0: no bound), so that a lone pod is priced on a node for one, not on
// a large type it would leave nearly empty. +Inf when no type holds one. Cached per requests
// and requirements (like is the same for all pods of equal requests).
func (ps *provState) perPodPrice(pi *podInfo, reqs Requirements, key, d string, like int) float64 {
	r := reqs.Copy()
	r[key] = &Requirement{Key: key, values: sets.New(d)}
	cacheKey := pi.reqKey + "|" + r.String()
	ps.mu.Lock()
	v, ok := ps.perPod[cacheKey]
	ps.mu.Unlock()
	if ok {
		return v
	}
	best := math.Inf(1)
	for _, pt := range ps.compatibleByPrice(r, extendedProbe(pi.requests)) {
		n := int64(math.MaxInt64)
		for k, q := range pi.requests {
			if q > 0 {
				n = min(n, pt.t.usable[k]/q)
			}
		}
		if like > 0 {
			n = min(n, int64(like))
		}
		if n > 0 && n < math.MaxInt64 {
			best = min(best, pt.price/float64(n))
		}
	}
	ps.mu.Lock()
	if ps.perPod == nil {
		ps.perPod = map[string]float64{}
	}
	ps.perPod[cacheKey] = best
	ps.mu.Unlock()
	return best
}

// placed records pi on a node whose labels (existing) or requirements (claim) are known:
// every group on a key whose domain is fixed counts it, and its anti-affinity terms close that
// domain to the pods they select.
func (t *topology) placed(pi *podInfo, domainOf func(key string) (string, bool), eligible func(*eligibility) bool) {
	for _, g := range t.list {
		d, ok := domainOf(g.key)
		if !ok || (g.eligible != nil && !eligible(g.eligible)) {
			continue
		}
		g.count(pi.pod, d, t.nsLabels)
	}
	for i := range pi.domain {
		dc := &pi.domain[i]
		d, ok := domainOf(dc.group.key)
		switch {
		case !ok:
		case dc.kind == kindSpread:
			dc.group.hold(d, dc.maxSkew, dc.minDomains)
			t.nHolds++
		case dc.kind == kindAntiAffinity && dc.symmetric:
			t.addAnti(dc.group.key, domainAnti{term: dc.group.term, domain: d, owner: pi.pod})
		}
	}
}

// hold records a pod planned in domain d whose topology spread constraint (maxSkew, minDomains)
// counts with g.
func (g *domainGroup) hold(d string, maxSkew, minDomains int) {
	if g.holds == nil {
		g.holds = map[string]spreadHold{}
	}
	h, ok := g.holds[d]
	if !ok || maxSkew < h.maxSkew {
		h.maxSkew = maxSkew
	}
	h.minDomains = max(h.minDomains, minDomains)
	g.holds[d] = h
}

// holdsAllow reports whether domain d of key may take pi (with the pods onNode, counted in d
// too when the node's domain is not fixed yet, onNodeCounted false) as far as the pods already
// planned there with a topology spread constraint go. kube-scheduler checks a pod's spread when
// it binds it, and may bind it after every other pod of the plan; its check then reads the
// final counts: count(d) - least count of the other eligible domains <= maxSkew (the pod's own
// match counted in count(d); kube-scheduler's count + self - global minimum comes to the same).
// So a pod a spread group counts joins a domain holding pods of that constraint only while
// their check still holds with it, as anti-affinity is checked both ways. Adding to one domain
// never hurts the pods of another: their least count can only grow. eligible tells whether the
// node counts for a group's eligibility.
func (t *topology) holdsAllow(pi *podInfo, key, d string, onNode []*corev1.Pod, onNodeCounted bool, eligible func(*eligibility) bool) string {
	_, reason := t.holdsRefusal(pi, key, d, onNode, onNodeCounted, eligible)
	return reason
}

// holdsRefusal is holdsAllow that also returns the group whose holds refuse (nil when none does).
func (t *topology) holdsRefusal(pi *podInfo, key, d string, onNode []*corev1.Pod, onNodeCounted bool, eligible func(*eligibility) bool) (*domainGroup, string) {
	if !t.holdsActive || t.nHolds == 0 {
		return nil, ""
	}
	for _, g := range t.byKey[key] {
		h, ok := g.holds[d]
		if !ok || (g.eligible != nil && !eligible(g.eligible)) {
			continue
		}
		inc := 0
		if g.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
			inc++
		}
		if !onNodeCounted {
			for _, p := range onNode {
				if g.term.matches(p, t.nsLabels[p.Namespace]) {
					inc++
				}
			}
		}
		if inc == 0 {
			continue
		}
		least := leastOther(t.domains(g), d, h.minDomains, func(o string) int { return g.counts[o] })
		if least >= 0 && g.counts[d]+inc-least > h.maxSkew {
			return g, fmt.Sprintf("topology spread (%s, maxSkew %d) of pods planned in %s: %d selected pods there, %d in another domain", key, h.maxSkew, d, g.counts[d]+inc, least)
		}
	}
	return nil, ""
}

// leastOther returns the least count (count) over doms other than skip, kube-scheduler's global
// minimum for a pod in skip: 0 while doms are fewer than minDomains, -1 when there is no other
// domain.
func leastOther(doms sets.Set[string], skip string, minDomains int, count func(string) int) int {
	if doms.Len() < minDomains {
		return 0
	}
	least := -1
	for o := range doms {
		if c := count(o); o != skip && (least < 0 || c < least) {
			least = c
		}
	}
	return least
}

// placedOnNode records pi on existing node n.
func (t *topology) placedOnNode(pi *podInfo, n *existing) {
	if len(t.list) == 0 && len(pi.domain) == 0 {
		return
	}
	t.placed(pi, func(key string) (string, bool) { v, ok := n.node.Labels[key]; return v, ok },
		func(e *eligibility) bool { return e.node(n.node.Labels, n.node.Taints) })
}

// placedOnClaim records pi on claim c; before are c's requirements before pi joined: pods on
// the claim are counted for keys pi's arrival fixed to one domain.
func (t *topology) placedOnClaim(pi *podInfo, c *claim, before Requirements) {
	if len(t.list) == 0 && len(pi.domain) == 0 {
		return
	}
	for key, groups := range t.byKey {
		if _, was := claimDomain(before, key); was {
			continue
		}
		d, now := claimDomain(c.reqs, key)
		if !now {
			continue
		}
		for _, g := range groups {
			if g.eligible != nil && !g.eligible.claim(c) {
				continue
			}
			for _, p := range c.pods {
				if p != pi.pod {
					g.count(p, d, t.nsLabels)
				}
			}
		}
	}
	t.placed(pi, func(key string) (string, bool) { return claimDomain(c.reqs, key) }, func(e *eligibility) bool { return e.claim(c) })
}
