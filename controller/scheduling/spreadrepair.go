package scheduling

import (
	"cmp"
	"iter"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Spread repair. Placement checks a pod's topology spread when it places the pod, and checks
// the spreads of pods placed before it against it (topology.holdsAllow); but when spreads select
// each other's pods (the Karpenter mix: every pod carries my-label, every zone spread selects
// one of its values), a pod that its own spread sends to a domain may still raise another
// spread's count there past its skew, when no domain would do for both, and the last resort
// places it all the same. CheckSpreads then finds pods of the final plan that kube-scheduler may
// refuse if it binds them last.
//
// repairSpreads lowers that afterwards without changing a node or the bill: it swaps two
// planned pods (on new or existing nodes; bound pods stay) that kube-scheduler cannot tell
// apart but for their labels (the same requests and node requirement terms and tolerations;
// neither carrying pod affinity, anti-affinity or host ports, nor a claimed volume; neither
// selected by a pod affinity or anti-affinity term of the plan, bound pods' included), so each
// node keeps its requests, requirements and instance types. A swap is kept
// when it lowers the spread excess of a zone-level constraint it touches and raises none: the
// sum over a constraint's pods of how far their domain's count exceeds the least count of the
// other eligible domains plus maxSkew. Hostname spreads are checked on the two nodes the swap
// changes: no node ends above maxSkew selected pods of a spread there where it was not. Each kept
// swap lowers an integer sum, so the repair ends; its work is bounded besides (a swap budget).
//
// It reads the solver's compiled pods (podInfo: spread groups, request keys, host terms), so
// that a plan without breaches costs one pass over its pods.

// repairSwapBudget bounds the swaps tried, per pod of the plan: the repair's work grows
// linearly with the plan. There is no cap in all: the repair stops at the first pass that keeps
// no swap, so the budget runs out only while swaps keep mending breaches, and a cap of 4,000
// left 137 pods at risk in the Karpenter mix at 20k pods that 24,000 tries mend (at the same CPU
// time within noise; go run ./bench/cmd/table prints both).
const repairSwapBudget = 4

// repairMaxPartners bounds the partners tried for one pod selected in a domain over its skew.
const repairMaxPartners = 16

// repairClass is the carriers of a constraint with one maxSkew and minDomains.
type repairClass struct{ maxSkew, minDomains int }

// repairGroup is one zone-level spread group (domainGroup): the pods it selects per eligible
// domain, and its carriers (the pods of the plan with the constraint) per domain and class.
type repairGroup struct {
	topologyKey string
	sel         *podTerm
	// dom and elig are each node's domain of the key ("" without it) and whether the group
	// counts it.
	dom  []string
	elig []bool
	// counts are the selected pods per eligible domain (ndomains of them), hist the number of
	// domains per count.
	counts   map[string]int
	hist     map[int]int
	ndomains int
	carriers map[repairClass]map[string]int
	classes  []repairClass
	// carrierDomains are the domains that held carriers, in the order met.
	carrierDomains []string
	// total is the group's excess; least and second are leastTwo's then.
	total, least, second int
}

// repairPod is a pod of the plan's final state.
type repairPod struct {
	pod  *corev1.Pod
	info *podInfo // nil for a bound pod
	node int      // index in repairState.nodes
	// newNode and pos locate the pod in res.NewNodes; newNode -2: a pod planned on the
	// existing node of index node, at pos in res.ExistingNodes; -1: a pod bound there.
	newNode, pos int
	// selectedBy are the groups whose term selects the pod; carries the groups and classes of
	// its own constraints (planned pods only).
	selectedBy []*repairGroup
	carries    []repairCarry
	movable    bool
	sig        string
	// class numbers the pods of equal selectedBy and carries.
	class int
}

// repairKeyView is the nodes' view of one topology key: each node's domain ("" without the
// key), whether it is eligible, and the eligible domains.
type repairKeyView struct {
	dom     []string
	elig    []bool
	domains []string
}

type repairCarry struct {
	g     *repairGroup
	class repairClass
}

type repairState struct {
	groups []*repairGroup
	pods   []*repairPod
	// onNode are each node's pods.
	onNode [][]*repairPod
	nsLabs map[string]map[string]string
	// domainID numbers the nodes of equal domains and eligibility in every group.
	domainID []int
	// byKey are the nodes' domains and eligibility of each key, for groups counting every node.
	byKey map[string]repairKeyView
	// refused are the swaps (as the groups see them) refused since the last swap made.
	refused map[repairMemoKey]bool
	// touched and after are trySwap's room.
	touched []*repairGroup
	after   []repairAfter
}

// repairSpreads swaps planned pods of res to lower its spread excess (see the top of the
// file); nodes are the existing and in-flight nodes res was planned with, pods the compiled
// pods of the solve.
func repairSpreads(nodes []ExistingNode, res *Result, pods []*podInfo, topo *topology) {
	if len(res.NewNodes)+len(res.ExistingNodes) < 2 || !anyZoneSpread(pods) {
		return
	}
	s := newRepairState(nodes, res, pods, topo)
	if s == nil {
		return
	}
	budget := repairSwapBudget * len(s.pods)
	for budget > 0 && s.improve(&budget) {
	}
	for _, p := range s.pods {
		switch {
		case p.newNode >= 0:
			res.NewNodes[p.newNode].Pods[p.pos] = p.pod
		case p.newNode == -2:
			res.ExistingNodes[nodes[p.node].Name][p.pos] = p.pod
		}
	}
}

// anyZoneSpread reports whether a pod has a topology spread constraint on a key other than
// kubernetes.io/hostname.
func anyZoneSpread(pods []*podInfo) bool {
	for _, pi := range pods {
		for i := range pi.domain {
			if pi.domain[i].kind == kindSpread {
				return true
			}
		}
	}
	return false
}

// newRepairState reads res's final state; nil when no zone-level constraint is over its skew.
func newRepairState(nodes []ExistingNode, res *Result, pods []*podInfo, topo *topology) *repairState {
	s := &repairState{nsLabs: topo.nsLabels}
	s.readPods(nodes, res, pods)
	s.readGroups(nodes, res)
	if len(s.groups) == 0 {
		return nil
	}
	s.count()
	over := false
	for _, g := range s.groups {
		g.recompute()
		over = over || g.total > 0
	}
	if !over {
		return nil
	}
	s.numberClasses()
	s.markMovable(affinityTermsOf(s.pods, topo))
	return s
}

// readPods lists the pods of the plan per node: the existing nodes' bound and planned pods, then
// the new nodes'; planned pods with their compiled info (pods).
func (s *repairState) readPods(nodes []ExistingNode, res *Result, pods []*podInfo) {
	info := make(map[*corev1.Pod]*podInfo, len(pods))
	for _, pi := range pods {
		info[pi.pod] = pi
	}
	// One allocation for the pods and one for the nodes' lists of them.
	total := 0
	for _, n := range nodes {
		total += len(n.Pods) + len(res.ExistingNodes[n.Name])
	}
	for _, c := range res.NewNodes {
		total += len(c.Pods)
	}
	all := make([]repairPod, 0, total)
	refs := make([]*repairPod, total)
	s.pods = make([]*repairPod, 0, total)
	s.onNode = make([][]*repairPod, len(nodes)+len(res.NewNodes))
	start := 0
	list := func(node int, ps []*corev1.Pod, newNode int) {
		for k, p := range ps {
			all = append(all, repairPod{pod: p, node: node, newNode: newNode, pos: k})
			rp := &all[len(all)-1]
			if newNode != -1 { // a bound pod is kube-scheduler's past
				rp.info = info[p]
			}
			s.pods = append(s.pods, rp)
			s.onNode[node] = append(s.onNode[node], rp)
		}
	}
	for i, n := range nodes {
		k := len(n.Pods) + len(res.ExistingNodes[n.Name])
		s.onNode[i], start = refs[start:start:start+k], start+k
		list(i, n.Pods, -1)
		list(i, res.ExistingNodes[n.Name], -2)
	}
	for j, c := range res.NewNodes {
		node := len(nodes) + j
		s.onNode[node], start = refs[start:start:start+len(c.Pods)], start+len(c.Pods)
		list(node, c.Pods, j)
	}
}

// readGroups makes the groups of the zone-level spread constraints of the planned pods, and
// their carriers.
func (s *repairState) readGroups(nodes []ExistingNode, res *Result) {
	byGroup := map[*domainGroup]*repairGroup{}
	for _, p := range s.pods {
		if p.info == nil || p.pod.DeletionTimestamp != nil {
			continue
		}
		for i := range p.info.domain {
			dc := &p.info.domain[i]
			if dc.kind != kindSpread {
				continue
			}
			g := byGroup[dc.group]
			if g == nil {
				g = s.newGroup(dc.group, nodes, res)
				byGroup[dc.group] = g
			}
			p.carries = append(p.carries, repairCarry{g, repairClass{maxSkew: dc.maxSkew, minDomains: dc.minDomains}})
		}
	}
}

// count sets the groups' counts and carriers from the pods. Pods selected by the same groups
// share one selectedBy list (up to 64 groups; past that each pod has its own).
func (s *repairState) count() {
	lists := map[uint64][]*repairGroup{}
	for _, p := range s.pods {
		if p.pod.DeletionTimestamp != nil {
			continue
		}
		p.selectedBy = s.selecting(p, lists)
		for _, g := range p.selectedBy {
			if g.elig[p.node] {
				g.shift(g.dom[p.node], 1)
			}
		}
		for _, c := range p.carries {
			if d := c.g.dom[p.node]; d != "" {
				c.g.carry(c.class, d, 1)
			}
		}
	}
}

// markMovable sets which planned pods may be swapped, and their signatures (movableSig),
// once per compiled pod.
func (s *repairState) markMovable(referenced []*podTerm) {
	type movability struct {
		movable bool
		sig     string
	}
	memo := map[*termSelection]movability{}
	for _, p := range s.pods {
		if p.newNode == -1 || p.info == nil || p.pod.DeletionTimestamp != nil {
			continue
		}
		if m, ok := memo[p.info.selected]; ok && p.info.selected != nil {
			p.movable, p.sig = m.movable, m.sig
			continue
		}
		p.movable, p.sig = movableSig(p, referenced, s.nsLabs)
		if p.info.selected != nil {
			memo[p.info.selected] = movability{p.movable, p.sig}
		}
	}
}

// selecting returns the groups whose term selects p (read only: pods share it through lists,
// keyed by the groups' bit set).
func (s *repairState) selecting(p *repairPod, lists map[uint64][]*repairGroup) []*repairGroup {
	if len(s.groups) > 64 {
		var out []*repairGroup
		for _, g := range s.groups {
			if s.selects(g.sel, p) {
				out = append(out, g)
			}
		}
		return out
	}
	var set uint64
	for i, g := range s.groups {
		if s.selects(g.sel, p) {
			set |= 1 << i
		}
	}
	out, ok := lists[set]
	if !ok {
		for i, g := range s.groups {
			if set&(1<<i) != 0 {
				out = append(out, g)
			}
		}
		lists[set] = out
	}
	return out
}

// selects reports whether t selects p: from the selection cache of p's compiled pod, which the
// solve has mostly filled, for a planned pod.
func (s *repairState) selects(t *podTerm, p *repairPod) bool {
	if p.info != nil {
		return p.info.selectedBy(t, s.nsLabs[p.pod.Namespace])
	}
	return t.matches(p.pod, s.nsLabs[p.pod.Namespace])
}

// numberClasses sets each pod's class and each node's domainID (see trySwap).
func (s *repairState) numberClasses() {
	index := make(map[*repairGroup]int, len(s.groups))
	for i, g := range s.groups {
		index[g] = i
	}
	ids := map[string]int{}
	var b []byte
	id := func() int {
		n, ok := ids[string(b)]
		if !ok {
			n = len(ids)
			ids[string(b)] = n
		}
		return n
	}
	for _, p := range s.pods {
		b = b[:0]
		for _, g := range p.selectedBy {
			b = strconv.AppendInt(b, int64(index[g]), 10)
			b = append(b, ',')
		}
		b = append(b, '|')
		for _, c := range p.carries {
			b = strconv.AppendInt(b, int64(index[c.g]), 10)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(c.class.maxSkew), 10)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(c.class.minDomains), 10)
			b = append(b, ',')
		}
		p.class = id()
	}
	clear(ids)
	s.domainID = make([]int, len(s.onNode))
	for n := range s.onNode {
		b = b[:0]
		for _, g := range s.groups {
			b = append(b, g.dom[n]...)
			if g.elig[n] {
				b = append(b, '+')
			}
			b = append(b, 0)
		}
		s.domainID[n] = id()
	}
	s.refused = map[repairMemoKey]bool{}
}

// newGroup returns the repair's view of dg over the nodes of the plan: each node's domain and
// whether dg counts it (a new node's domain is the one its requirements fix, else its planned
// offering's). Groups counting every node share their key's view (s.byKey).
func (s *repairState) newGroup(dg *domainGroup, nodes []ExistingNode, res *Result) *repairGroup {
	n := len(nodes) + len(res.NewNodes)
	g := &repairGroup{topologyKey: dg.key, sel: dg.term,
		counts: map[string]int{}, hist: map[int]int{}, carriers: map[repairClass]map[string]int{}}
	every := dg.eligible == nil || dg.eligible.everyNode()
	v, ok := s.byKey[dg.key]
	if !ok || !every {
		v = repairKeyView{dom: make([]string, n), elig: make([]bool, n)}
		v.nodeDomains(dg, nodes, res, every)
		if every {
			if s.byKey == nil {
				s.byKey = map[string]repairKeyView{}
			}
			s.byKey[dg.key] = v
		}
	}
	g.dom, g.elig = v.dom, v.elig
	for _, d := range v.domains {
		g.counts[d] = 0
	}
	g.ndomains = len(g.counts)
	g.hist[0] = g.ndomains
	s.groups = append(s.groups, g)
	return g
}

// nodeDomains sets each node's domain and eligibility (see newGroup), and the eligible domains.
func (v *repairKeyView) nodeDomains(dg *domainGroup, nodes []ExistingNode, res *Result, every bool) {
	for i, nd := range nodes {
		d, ok := nd.Labels[dg.key]
		if !ok {
			continue
		}
		v.dom[i] = d
		v.elig[i] = every || dg.eligible.node(nd.Labels, nd.Taints)
	}
	for j, c := range res.NewNodes {
		i := len(nodes) + j
		d, ok := c.Requirements[dg.key].Single()
		var labels map[string]string
		if !ok || !every {
			labels, _ = c.PlannedLabels()
			d, ok = labels[dg.key]
		}
		if !ok {
			continue
		}
		v.dom[i] = d
		v.elig[i] = every || dg.eligible.node(labels, c.Provisioner.Spec.Taints)
	}
	seen := map[string]bool{}
	for i, d := range v.dom {
		if v.elig[i] && !seen[d] {
			seen[d] = true
			v.domains = append(v.domains, d)
		}
	}
}

// affinityTermsOf returns the pod affinity and anti-affinity terms of the plan, required and
// preferred, one per namespace and selector: a pod one of them selects is not moved. Compiled
// terms come from the planned pods' podInfo and the topology (bound pods' anti-affinity); a
// pod with preferred pod terms, and a bound pod with affinity, has its terms compiled here.
func affinityTermsOf(pods []*repairPod, topo *topology) []*podTerm {
	var out []*podTerm
	seen := map[string]bool{}
	seenPtr := map[*podTerm]bool{}
	keep := func(t *podTerm, ns string) {
		if seenPtr[t] {
			return
		}
		seenPtr[t] = true
		k := ns + "\x00" + t.selector.String()
		if t.allNamespaces || t.nsSelector != nil || len(t.namespaces) != 1 {
			k = "\x01" + k + "\x00" + strings.Join(sets.List(t.namespaces), ",")
			if t.nsSelector != nil {
				k += "\x00" + t.nsSelector.String()
			}
			if t.allNamespaces {
				k += "\x00all"
			}
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	compile := func(p *corev1.Pod, terms []corev1.PodAffinityTerm) {
		for i := range terms {
			if t, err := compilePodTerm(p, &terms[i], ""); err == nil {
				keep(t, p.Namespace)
			}
		}
	}
	for _, p := range pods {
		if pi := p.info; pi != nil {
			for _, t := range pi.host.affinity {
				keep(t, p.pod.Namespace)
			}
			for _, t := range pi.host.antiAffinity {
				keep(t, p.pod.Namespace)
			}
			for _, t := range pi.symAnti {
				keep(t, p.pod.Namespace)
			}
			for i := range pi.domain {
				if dc := &pi.domain[i]; dc.kind != kindSpread {
					keep(dc.group.term, p.pod.Namespace)
				}
			}
		}
		a := p.pod.Spec.Affinity
		if a == nil || (p.info != nil && !softPodTerms(p.pod)) {
			continue
		}
		if pa := a.PodAffinity; pa != nil {
			compile(p.pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
				compile(p.pod, []corev1.PodAffinityTerm{pa.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm})
			}
		}
		if pa := a.PodAntiAffinity; pa != nil {
			compile(p.pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
				compile(p.pod, []corev1.PodAffinityTerm{pa.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm})
			}
		}
	}
	for _, list := range topo.anti {
		for _, a := range list {
			keep(a.term, a.owner.Namespace)
		}
	}
	return out
}

// movableSig reports whether p may be swapped (see the top of the file) and, if so, the
// signature of what kube-scheduler's node filters read of it besides labels: requests, node
// requirement terms and tolerations. A pod with preferences (preferred node affinity,
// ScheduleAnyway spreads) stays: the solver met them where it could, and a swap does not
// check them.
func movableSig(p *repairPod, referenced []*podTerm, nsLabels map[string]map[string]string) (bool, string) {
	pi := p.info
	if pi.err != nil || pi.vol != nil || len(pi.ports) > 0 || len(pi.host.affinity) > 0 || len(pi.host.antiAffinity) > 0 ||
		len(pi.symAnti) > 0 || len(pi.host.spread) != len(pi.symSpread) || softPodTerms(p.pod) || len(pi.prefs) > 0 {
		return false, ""
	}
	for i := range pi.domain {
		if pi.domain[i].kind != kindSpread {
			return false, ""
		}
	}
	for _, t := range referenced {
		if p.info.selectedBy(t, nsLabels[p.pod.Namespace]) {
			return false, ""
		}
	}
	var b strings.Builder
	b.WriteString(pi.reqKey)
	for _, t := range pi.terms {
		b.WriteString("\x00")
		if len(t) > 0 {
			b.WriteString(t.String())
		}
	}
	for i := range p.pod.Spec.Tolerations {
		b.WriteString("\x01")
		b.WriteString(p.pod.Spec.Tolerations[i].String())
	}
	return true, b.String()
}

// hostSpreadsHold reports whether the hostname spreads of the pods on node n, and of the pod
// arriving there, still hold after arriving replaces leaving on n: a spread of a pod staying on
// n is not left with more selected pods there than its maxSkew where it had no more before, and
// the arriving pod's spreads find at most maxSkew there (kube-scheduler's least count over the
// nodes is at least 0, so that is enough for a spread to hold).
func (s *repairState) hostSpreadsHold(n int, leaving, arriving *repairPod) bool {
	count := func(hs hostSpread) (before, after int) {
		for _, q := range s.onNode[n] {
			if s.selects(hs.term, q) {
				before++
				if q != leaving {
					after++
				}
			}
		}
		if s.selects(hs.term, arriving) {
			after++
		}
		return before, after
	}
	for _, q := range s.onNode[n] {
		if q == leaving || q.info == nil {
			continue
		}
		for _, hs := range q.info.symSpread {
			if before, after := count(hs); after > hs.maxSkew && after > before {
				return false
			}
		}
	}
	if arriving.info != nil {
		for _, hs := range arriving.info.symSpread {
			if _, after := count(hs); after > hs.maxSkew {
				return false
			}
		}
	}
	return true
}

// carry adds n carriers of class in domain d.
func (g *repairGroup) carry(class repairClass, d string, n int) {
	m := g.carriers[class]
	if m == nil {
		m = map[string]int{}
		g.carriers[class] = m
		g.classes = append(g.classes, class)
	}
	if !slices.Contains(g.carrierDomains, d) {
		g.carrierDomains = append(g.carrierDomains, d)
	}
	m[d] += n
}

// shift adds dc to domain d's count.
func (g *repairGroup) shift(d string, dc int) {
	n := g.counts[d]
	if g.hist[n]--; g.hist[n] == 0 {
		delete(g.hist, n)
	}
	g.counts[d] = n + dc
	g.hist[n+dc]++
}

// leastTwo returns the least count over g's domains and the least count over the domains
// other than one holding the least (the least again when two domains hold it); -1 for none.
func (g *repairGroup) leastTwo() (int, int) {
	return leastTwoOf(func(yield func(int) bool) {
		for n := range g.hist {
			if !yield(n) {
				return
			}
		}
	}, func(n int) int { return g.hist[n] })
}

// leastTwoOf returns the least count among candidates that hist(count) domains hold, and the
// second least (the least again when two domains hold it); -1 for none.
func leastTwoOf(candidates iter.Seq[int], hist func(int) int) (int, int) {
	least, next := -1, -1
	for n := range candidates {
		if hist(n) <= 0 {
			continue
		}
		switch {
		case least < 0 || n < least:
			least, next = n, least
		case n != least && (next < 0 || n < next):
			next = n
		}
	}
	if least >= 0 && hist(least) >= 2 {
		return least, least
	}
	return least, next
}

// term is the spread excess of g's carriers in domain d, given leastTwo: the least count of the
// other domains is second for the one domain holding the least, least for every other.
func (g *repairGroup) term(d string, least, second int) int {
	return g.excess(g.counts[d], least, second, func(class repairClass) int { return g.carriers[class][d] })
}

// excess is the excess of a domain of g counting count selected pods, with carriers(class)
// carriers of each class there, given the least and second least counts of g's domains.
func (g *repairGroup) excess(count, least, second int, carriers func(repairClass) int) int {
	total := 0
	for _, class := range g.classes {
		n := carriers(class)
		if n <= 0 {
			continue
		}
		other := least
		switch {
		case g.ndomains < class.minDomains:
			other = 0
		case count == least:
			other = second
		}
		if other < 0 {
			continue
		}
		if e := count - other - class.maxSkew; e > 0 {
			total += n * e
		}
	}
	return total
}

// recompute sets g's excess (see the top of the file) from its counts and carriers.
func (g *repairGroup) recompute() {
	g.least, g.second = g.leastTwo()
	g.total = 0
	for _, d := range g.carrierDomains {
		g.total += g.term(d, g.least, g.second)
	}
}

// improve swaps, constraint by constraint in the order met, pods that its over-full domains
// count for pods of the same signature in its emptier domains, while that lowers the excess; it
// reports whether any swap was made. budget bounds the swaps tried.
func (s *repairState) improve(budget *int) bool {
	improved := false
	var over []*repairGroup
	for _, g := range s.groups {
		if g.total > 0 {
			over = append(over, g)
		}
	}
	// Each constraint over its skew gets its share of the budget, so that one whose breaches
	// no swap mends does not use it all.
	for i, g := range over {
		share := *budget / (len(over) - i)
		left := share
		idx := s.indexBy(g)
		for g.total > 0 && left > 0 && s.improveGroup(g, idx, &left) {
			improved = true
		}
		*budget -= share - max(left, 0)
	}
	return improved
}

// repairDomain indexes the movable pods of one domain by signature.
type repairDomain struct {
	sigs  []string
	bySig map[string][]*repairPod
}

// indexBy returns the movable pods per domain of g's key (eligible nodes only).
func (s *repairState) indexBy(g *repairGroup) map[string]*repairDomain {
	idx := map[string]*repairDomain{}
	for _, p := range s.pods {
		if !p.movable || !g.elig[p.node] {
			continue
		}
		d := g.dom[p.node]
		rd := idx[d]
		if rd == nil {
			rd = &repairDomain{bySig: map[string][]*repairPod{}}
			idx[d] = rd
		}
		if _, ok := rd.bySig[p.sig]; !ok {
			rd.sigs = append(rd.sigs, p.sig)
		}
		rd.bySig[p.sig] = append(rd.bySig[p.sig], p)
	}
	return idx
}

// improveGroup makes one swap that lowers g's excess and raises no group's: a pod g selects in
// a carried domain over its skew, fullest first, for one of the same signature that g does not
// select in a domain counting at least two fewer, emptiest first.
func (s *repairState) improveGroup(g *repairGroup, idx map[string]*repairDomain, budget *int) bool {
	var over []string
	for _, d := range g.carrierDomains {
		if g.term(d, g.least, g.second) > 0 {
			over = append(over, d)
		}
	}
	under := make([]string, 0, len(g.counts))
	for d := range g.counts {
		under = append(under, d)
	}
	byCount := func(sign int) func(a, b string) int {
		return func(a, b string) int {
			if c := cmp.Compare(g.counts[a], g.counts[b]); c != 0 {
				return sign * c
			}
			return strings.Compare(a, b)
		}
	}
	slices.SortFunc(over, byCount(-1))
	slices.SortFunc(under, byCount(1))
	for _, dx := range over {
		rx := idx[dx]
		if rx == nil {
			continue
		}
		for _, sig := range rx.sigs {
			for _, x := range rx.bySig[sig] {
				if !selects(x.selectedBy, g) {
					continue
				}
				if ok, done := s.swapFor(g, idx, under, x, dx, sig, budget); ok || done {
					return ok
				}
			}
		}
	}
	return false
}

// swapFor tries partners for x (in domain dx, signature sig) in g's emptier domains (under,
// by count): ok when a swap was made, done when the budget ran out.
func (s *repairState) swapFor(g *repairGroup, idx map[string]*repairDomain, under []string, x *repairPod, dx, sig string, budget *int) (ok, done bool) {
	tried := 0
	for _, dy := range under {
		if g.counts[dy]+1 >= g.counts[dx] {
			return false, false
		}
		ry := idx[dy]
		if ry == nil {
			continue
		}
		for _, y := range ry.bySig[sig] {
			if selects(y.selectedBy, g) || s.refused[repairMemoKey{x.class, y.class, s.domainID[x.node], s.domainID[y.node]}] {
				continue
			}
			if *budget--; *budget < 0 {
				return false, true
			}
			if s.trySwap(x, y) {
				replace(idx[dx].bySig[sig], x, y)
				replace(ry.bySig[sig], y, x)
				return true, false
			}
			if tried++; tried == repairMaxPartners {
				return false, false
			}
		}
	}
	return false, false
}

// replace puts n in o's place in ps.
func replace(ps []*repairPod, o, n *repairPod) {
	if i := slices.Index(ps, o); i >= 0 {
		ps[i] = n
	}
}

func selects(groups []*repairGroup, g *repairGroup) bool {
	return slices.Contains(groups, g)
}

// trySwap exchanges the nodes of x and y when that lowers the excess of a group the swap
// touches and raises none, and reports whether it did. The excess after the swap is worked out
// before anything is changed (repairSwap).
func (s *repairState) trySwap(x, y *repairPod) bool {
	key := repairMemoKey{x.class, y.class, s.domainID[x.node], s.domainID[y.node]}
	touched := s.touched[:0]
	for _, p := range []*repairPod{x, y} {
		for _, g := range p.selectedBy {
			if !slices.Contains(touched, g) {
				touched = append(touched, g)
			}
		}
		for _, c := range p.carries {
			if !slices.Contains(touched, c.g) {
				touched = append(touched, c.g)
			}
		}
	}
	s.touched = touched
	after := s.after[:0]
	lower, higher := false, false
	for _, g := range touched {
		sw := s.swapOf(g, x, y)
		if !sw.changes() {
			after = append(after, repairAfter{g.total, g.least, g.second})
			continue
		}
		a := sw.after()
		if a.total > g.total {
			higher = true
			break
		}
		lower = lower || a.total < g.total
		after = append(after, a)
	}
	s.after = after
	if higher || !lower {
		// The groups read only the pods' classes and their nodes' domains: every swap of the
		// same classes between the same domains is refused alike until a swap is made.
		s.refused[key] = true
		return false
	}
	if !s.hostSpreadsHold(x.node, x, y) || !s.hostSpreadsHold(y.node, y, x) {
		return false
	}
	s.move(x, y)
	for i, g := range touched {
		g.total, g.least, g.second = after[i].total, after[i].least, after[i].second
	}
	clear(s.refused)
	return true
}

// repairMemoKey names a swap as the groups see it: the classes of the two pods and the
// domainIDs of their nodes.
type repairMemoKey struct{ xc, yc, nx, ny int }

// repairAfter is a group's excess and leastTwo after a swap.
type repairAfter struct{ total, least, second int }

// repairSwap is what swapping two pods changes of one group: the counts of the domains da and
// db of the nodes a and b (by dca and dcb) and the carriers there (per class, in carried).
type repairSwap struct {
	g            *repairGroup
	da, db       string
	hasA, hasB   bool
	eligA, eligB bool
	dca, dcb     int
	carried      [4]repairCarried
	ncarried     int
	sameDomain   bool
}

type repairCarried struct {
	class repairClass
	d     string
	n     int
}

// swapOf returns what swapping x (on node a) and y (on node b) changes of g.
func (s *repairState) swapOf(g *repairGroup, x, y *repairPod) repairSwap {
	sw := repairSwap{g: g}
	a, b := x.node, y.node
	sw.da, sw.db = g.dom[a], g.dom[b]
	sw.hasA, sw.hasB = sw.da != "", sw.db != ""
	if sw.hasA && sw.hasB && sw.da == sw.db {
		sw.sameDomain = true
		return sw
	}
	sw.eligA, sw.eligB = g.elig[a], g.elig[b]
	for _, m := range []struct {
		p   *repairPod
		toA int // +1: the pod goes to a; -1: it leaves a
	}{{x, -1}, {y, 1}} {
		if selects(m.p.selectedBy, g) {
			sw.dca += m.toA
			sw.dcb -= m.toA
		}
		for _, c := range m.p.carries {
			if c.g != g {
				continue
			}
			if sw.hasA {
				sw.addCarried(c.class, sw.da, m.toA)
			}
			if sw.hasB {
				sw.addCarried(c.class, sw.db, -m.toA)
			}
		}
	}
	if !sw.eligA {
		sw.dca = 0
	}
	if !sw.eligB {
		sw.dcb = 0
	}
	return sw
}

func (sw *repairSwap) addCarried(class repairClass, d string, n int) {
	for i := range sw.ncarried {
		if c := &sw.carried[i]; c.class == class && c.d == d {
			c.n += n
			return
		}
	}
	sw.carried[sw.ncarried] = repairCarried{class, d, n}
	sw.ncarried++
}

// changes reports whether the swap changes any count or carrier of the group.
func (sw *repairSwap) changes() bool {
	if sw.sameDomain {
		return false
	}
	if sw.dca != 0 || sw.dcb != 0 {
		return true
	}
	for i := range sw.ncarried {
		if sw.carried[i].n != 0 {
			return true
		}
	}
	return false
}

// count is domain d's count after the swap.
func (sw *repairSwap) count(d string) int {
	n := sw.g.counts[d]
	if sw.hasA && d == sw.da {
		n += sw.dca
	}
	if sw.hasB && d == sw.db {
		n += sw.dcb
	}
	return n
}

// carriers is the group's carriers of class in d after the swap.
func (sw *repairSwap) carriers(class repairClass, d string) int {
	n := sw.g.carriers[class][d]
	for i := range sw.ncarried {
		if c := &sw.carried[i]; c.class == class && c.d == d {
			n += c.n
		}
	}
	return n
}

// after returns the group's excess and leastTwo after the swap.
func (sw *repairSwap) after() repairAfter {
	g := sw.g
	least, second := sw.leastTwoAfter()
	a := repairAfter{least: least, second: second}
	if least == g.least && second == g.second {
		// Only da's and db's terms change.
		a.total = g.total - sw.localTerms(false) + sw.localTerms(true)
		return a
	}
	for _, d := range g.carrierDomains {
		a.total += sw.termAfter(d, least, second)
	}
	for i := range sw.ncarried {
		if d := sw.carried[i].d; !slices.Contains(g.carrierDomains, d) && !sw.seenBefore(i, d) {
			a.total += sw.termAfter(d, least, second)
		}
	}
	return a
}

// histAfter is the number of the group's domains that count n after the swap: the histogram
// changes at most in the counts of da and db, before and after.
func (sw *repairSwap) histAfter(n int) int {
	g := sw.g
	c := g.hist[n]
	for _, ch := range [2]struct {
		elig bool
		d    string
		dc   int
	}{{sw.eligA, sw.da, sw.dca}, {sw.eligB, sw.db, sw.dcb}} {
		if !ch.elig || ch.dc == 0 {
			continue
		}
		if before := g.counts[ch.d]; before == n {
			c--
		} else if before+ch.dc == n {
			c++
		}
	}
	return c
}

// leastTwoAfter is repairGroup.leastTwo after the swap.
func (sw *repairSwap) leastTwoAfter() (int, int) {
	g := sw.g
	return leastTwoOf(func(yield func(int) bool) {
		for n := range g.hist {
			if !yield(n) {
				return
			}
		}
		// A count no domain had before.
		if sw.eligA {
			if n := g.counts[sw.da] + sw.dca; g.hist[n] == 0 && !yield(n) {
				return
			}
		}
		if sw.eligB {
			if n := g.counts[sw.db] + sw.dcb; g.hist[n] == 0 {
				yield(n)
			}
		}
	}, sw.histAfter)
}

// seenBefore reports whether carried entries before i name domain d.
func (sw *repairSwap) seenBefore(i int, d string) bool {
	for j := range i {
		if sw.carried[j].d == d {
			return true
		}
	}
	return false
}

// localTerms is the excess of da and db before the swap (or after, with after set).
func (sw *repairSwap) localTerms(after bool) int {
	t := 0
	for i, d := range []string{sw.da, sw.db} {
		if (i == 0 && !sw.hasA) || (i == 1 && (!sw.hasB || (sw.hasA && sw.db == sw.da))) {
			continue
		}
		if after {
			t += sw.termAfter(d, sw.g.least, sw.g.second)
		} else {
			t += sw.g.term(d, sw.g.least, sw.g.second)
		}
	}
	return t
}

// termAfter is repairGroup.term after the swap.
func (sw *repairSwap) termAfter(d string, least, second int) int {
	return sw.g.excess(sw.count(d), least, second, func(class repairClass) int { return sw.carriers(class, d) })
}

// move exchanges the nodes of x and y, and their places in res.NewNodes.
func (s *repairState) move(x, y *repairPod) {
	na, nb := x.node, y.node
	for _, m := range []struct {
		p        *repairPod
		src, dst int
	}{{x, na, nb}, {y, nb, na}} {
		for _, g := range m.p.selectedBy {
			if g.elig[m.src] {
				g.shift(g.dom[m.src], -1)
			}
			if g.elig[m.dst] {
				g.shift(g.dom[m.dst], 1)
			}
		}
		for _, c := range m.p.carries {
			if d := c.g.dom[m.src]; d != "" {
				c.g.carry(c.class, d, -1)
			}
			if d := c.g.dom[m.dst]; d != "" {
				c.g.carry(c.class, d, 1)
			}
		}
	}
	replace(s.onNode[na], x, y)
	replace(s.onNode[nb], y, x)
	x.node, y.node = nb, na
	x.newNode, y.newNode = y.newNode, x.newNode
	x.pos, y.pos = y.pos, x.pos
}
