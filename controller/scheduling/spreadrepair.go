package scheduling

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Spread repair. Placement checks a pod's topology spread when it places the pod, and checks
// the spreads of pods placed before it against it (topology.holdsAllow); but when spreads select
// each other's pods (the Karpenter mix: every pod carries my-label, every zone spread selects
// one of its values), a pod that its own spread sends to a domain may still raise another
// spread's count there past its skew, when no domain would do for both, and the last resort
// places it all the same. CheckSpreads then finds pods of the final plan that kube-scheduler may
// refuse if it binds them last.
//
// repairSpreads lowers that afterwards without changing a node or the bill: it swaps two pods
// of new nodes that kube-scheduler cannot tell apart but for their labels (the same requests,
// node selector, node affinity and tolerations; neither carrying pod affinity, anti-affinity or
// host ports, nor a claimed volume; neither selected by any pod's affinity or anti-affinity term),
// so each node keeps its requests, requirements and instance types. A swap is kept when it
// lowers the plan's spread excess: over every DoNotSchedule constraint of the pods CheckSpreads
// checks, the sum over those pods of how far their domain's count exceeds the least count of the
// other eligible domains plus maxSkew (0 when it does not). Each kept swap lowers that integer,
// so the repair ends; its work is bounded besides (repairSwapBudget).

// repairSwapBudget bounds the swaps tried per pod of the plan, so that a plan whose breaches no
// swap mends costs time in proportion to its pods.
const repairSwapBudget = 4

// repairMaxPartners bounds the partners tried for one pod selected in a domain over its skew.
const repairMaxPartners = 16

// repairClass is the carriers of a constraint with one maxSkew and minDomains.
type repairClass struct{ maxSkew, minDomains int }

// repairGroup is one constraint, as CheckSpreads groups them (spreadEligibility's key): the
// pods it selects per eligible domain, and its carriers (the checked pods with the constraint)
// per domain and class.
type repairGroup struct {
	topologyKey string
	sel         *podTerm
	eligible    func(*checkNode) bool
	// elig caches eligible per node index.
	elig []int8
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
	node int // index in repairState.nodes
	// newNode and pos locate the pod in res.NewNodes (newNode -1: on an existing node).
	newNode, pos int
	// selectedBy are the groups whose term selects the pod (on an eligible node); carries the
	// groups and classes of its own constraints (checked pods only).
	selectedBy []*repairGroup
	carries    []repairCarry
	movable    bool
	sig        string
}

type repairCarry struct {
	g     *repairGroup
	class repairClass
}

type repairState struct {
	nodes  []checkNode
	groups []*repairGroup
	byKey  map[string]*repairGroup
	pods   []*repairPod
	nsLabs map[string]map[string]string
	// touched and after are trySwap's room.
	touched []*repairGroup
	after   []repairAfter
}

// repairSpreads swaps pods of res's new nodes to lower its spread excess (see the top of the
// file); nodes are the existing and in-flight nodes res was planned with.
func repairSpreads(nodes []ExistingNode, res *Result, nsLabels map[string]map[string]string) {
	if len(res.NewNodes) < 2 {
		return
	}
	s := newRepairState(nodes, res, nsLabels)
	if s == nil {
		return
	}
	budget := repairSwapBudget * len(s.pods)
	for budget > 0 && s.improve(&budget) {
	}
	for _, p := range s.pods {
		if p.newNode >= 0 {
			res.NewNodes[p.newNode].Pods[p.pos] = p.pod
		}
	}
}

// newRepairState reads res's final state as CheckSpreads does.
func newRepairState(nodes []ExistingNode, res *Result, nsLabels map[string]map[string]string) *repairState {
	s := &repairState{byKey: map[string]*repairGroup{}, nsLabs: nsLabels}
	for _, n := range nodes {
		s.nodes = append(s.nodes, checkNode{labels: n.Labels, taints: n.Taints})
		i := len(s.nodes) - 1
		for _, p := range n.Pods {
			s.pods = append(s.pods, &repairPod{pod: p, node: i, newNode: -1})
		}
		for _, p := range res.ExistingNodes[n.Name] {
			s.pods = append(s.pods, &repairPod{pod: p, node: i, newNode: -2})
		}
	}
	for j, c := range res.NewNodes {
		l, _ := c.PlannedLabels()
		l[corev1.LabelHostname] = fmt.Sprintf("new node %d", j+1)
		s.nodes = append(s.nodes, checkNode{labels: l, taints: c.Provisioner.Spec.Taints})
		for k, p := range c.Pods {
			s.pods = append(s.pods, &repairPod{pod: p, node: len(s.nodes) - 1, newNode: j, pos: k})
		}
	}
	referenced := s.affinityTerms()
	for _, p := range s.pods {
		if p.pod.DeletionTimestamp != nil {
			continue
		}
		checked := p.newNode != -1
		for i := range p.pod.Spec.TopologySpreadConstraints {
			c := &p.pod.Spec.TopologySpreadConstraints[i]
			if c.WhenUnsatisfiable != corev1.DoNotSchedule {
				continue
			}
			term, err := compileSpreadTerm(p.pod, i)
			if err != nil {
				continue
			}
			eligible, key := spreadEligibility(p.pod, c, term.selector)
			g := s.byKey[key]
			if g == nil {
				g = &repairGroup{topologyKey: c.TopologyKey, sel: term, eligible: eligible, elig: make([]int8, len(s.nodes)),
					counts: map[string]int{}, hist: map[int]int{}, carriers: map[repairClass]map[string]int{}}
				s.byKey[key] = g
				s.groups = append(s.groups, g)
			}
			if !checked {
				continue
			}
			class := repairClass{maxSkew: int(c.MaxSkew)}
			if c.MinDomains != nil {
				class.minDomains = int(*c.MinDomains)
			}
			p.carries = append(p.carries, repairCarry{g, class})
		}
		if p.newNode >= 0 {
			p.movable, p.sig = movableSig(p.pod, referenced, nsLabels)
		}
	}
	for _, g := range s.groups {
		for i := range s.nodes {
			if d, ok := g.domain(s, i); ok {
				g.counts[d] += 0
			}
		}
	}
	for _, g := range s.groups {
		g.ndomains = len(g.counts)
		g.hist[0] = g.ndomains
	}
	for _, p := range s.pods {
		if p.pod.DeletionTimestamp != nil {
			continue
		}
		for _, g := range s.groups {
			if g.sel.matches(p.pod, nil) {
				p.selectedBy = append(p.selectedBy, g)
				if d, ok := g.domain(s, p.node); ok {
					g.shift(d, 1)
				}
			}
		}
		for _, c := range p.carries {
			if d, ok := s.nodes[p.node].labels[c.g.topologyKey]; ok {
				c.g.carry(c.class, d, 1)
			}
		}
	}
	for _, g := range s.groups {
		g.recompute()
	}
	return s
}

// affinityTerms returns the pod affinity and anti-affinity terms of every pod of the state,
// required and preferred: a pod one of them selects is not moved.
func (s *repairState) affinityTerms() []*podTerm {
	var out []*podTerm
	seen := map[string]bool{}
	add := func(owner *corev1.Pod, t *corev1.PodAffinityTerm) {
		k := owner.Namespace + "\x00" + t.String()
		if seen[k] {
			return
		}
		seen[k] = true
		if pt, err := compilePodTerm(owner, t, ""); err == nil {
			out = append(out, pt)
		}
	}
	for _, p := range s.pods {
		a := p.pod.Spec.Affinity
		if a == nil {
			continue
		}
		if pa := a.PodAffinity; pa != nil {
			for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
				add(p.pod, &pa.RequiredDuringSchedulingIgnoredDuringExecution[i])
			}
			for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
				add(p.pod, &pa.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
			}
		}
		if pa := a.PodAntiAffinity; pa != nil {
			for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
				add(p.pod, &pa.RequiredDuringSchedulingIgnoredDuringExecution[i])
			}
			for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
				add(p.pod, &pa.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
			}
		}
	}
	return out
}

// movableSig reports whether p may be swapped (see the top of the file) and, if so, the
// signature of what kube-scheduler's node filters read of it besides labels: requests, node
// selector, node affinity, tolerations.
func movableSig(p *corev1.Pod, referenced []*podTerm, nsLabels map[string]map[string]string) (bool, string) {
	if a := p.Spec.Affinity; a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil) {
		return false, ""
	}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			return false, ""
		}
	}
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, port := range c.Ports {
				if port.HostPort != 0 {
					return false, ""
				}
			}
		}
	}
	for _, t := range referenced {
		if t.matches(p, nsLabels[p.Namespace]) {
			return false, ""
		}
	}
	var b strings.Builder
	b.WriteString(PodRequests(p).key())
	fmt.Fprintf(&b, "\x00%v\x00", p.Spec.NodeSelector) // fmt prints maps in key order
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		b.WriteString(a.NodeAffinity.String())
	}
	for i := range p.Spec.Tolerations {
		b.WriteString("\x00")
		b.WriteString(p.Spec.Tolerations[i].String())
	}
	return true, b.String()
}

// domain returns node i's domain of g's key when it carries the key and counts for g.
func (g *repairGroup) domain(s *repairState, i int) (string, bool) {
	d, ok := s.nodes[i].labels[g.topologyKey]
	if !ok {
		return "", false
	}
	if g.elig[i] == 0 {
		g.elig[i] = 2
		if g.eligible(&s.nodes[i]) {
			g.elig[i] = 1
		}
	}
	return d, g.elig[i] == 1
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
	least, next := -1, -1
	for n, k := range g.hist {
		if k <= 0 {
			continue
		}
		switch {
		case least < 0 || n < least:
			least, next = n, least
		case next < 0 || n < next:
			next = n
		}
	}
	if least >= 0 && g.hist[least] >= 2 {
		return least, least
	}
	return least, next
}

// term is the spread excess of g's carriers in domain d, given leastTwo: the least count of the
// other domains is second for the one domain holding the least, least for every other.
func (g *repairGroup) term(d string, least, second int) int {
	total := 0
	count := g.counts[d]
	for _, class := range g.classes {
		n := g.carriers[class][d]
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
	for _, g := range s.groups {
		if g.total == 0 {
			continue
		}
		idx := s.indexBy(g)
		for g.total > 0 && *budget > 0 && s.improveGroup(g, idx, budget) {
			improved = true
		}
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
		if !p.movable {
			continue
		}
		d, ok := g.domain(s, p.node)
		if !ok {
			continue
		}
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
// by count): ok when a
// swap was made, done when the budget ran out.
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
			if selects(y.selectedBy, g) {
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
	lower := false
	for _, g := range touched {
		sw := s.swapOf(g, x, y)
		if !sw.changes() {
			after = append(after, repairAfter{g.total, g.least, g.second})
			continue
		}
		a := sw.after()
		if a.total > g.total {
			s.after = after
			return false
		}
		lower = lower || a.total < g.total
		after = append(after, a)
	}
	s.after = after
	if !lower {
		return false
	}
	s.move(x, y)
	for i, g := range touched {
		g.total, g.least, g.second = after[i].total, after[i].least, after[i].second
	}
	return true
}

// repairAfter is a group's excess and leastTwo after a swap.
type repairAfter struct{ total, least, second int }

// repairSwap is what swapping two pods changes of one group: the counts of the domains da and
// db of the nodes a and b (by dca and dcb) and the carriers there (per class, in carried).
type repairSwap struct {
	g                  *repairGroup
	da, db             string
	hasA, hasB         bool
	eligA, eligB       bool
	dca, dcb           int
	carried            [4]repairCarried
	ncarried           int
	sameDomain, noneOf bool
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
	sw.da, sw.hasA = s.nodes[a].labels[g.topologyKey]
	sw.db, sw.hasB = s.nodes[b].labels[g.topologyKey]
	if sw.hasA && sw.hasB && sw.da == sw.db {
		sw.sameDomain = true
		return sw
	}
	_, sw.eligA = g.domain(s, a)
	_, sw.eligB = g.domain(s, b)
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
	// The histogram changes at most in the counts of da and db, before and after.
	least, next := -1, -1
	seen := [4]int{-1, -1, -1, -1}
	consider := func(n int) {
		for _, v := range seen {
			if v == n {
				return
			}
		}
		for i, v := range seen {
			if v == -1 {
				seen[i] = n
				break
			}
		}
	}
	k := func(n int) int {
		c := g.hist[n]
		if sw.eligA && sw.dca != 0 {
			if before := g.counts[sw.da]; before == n {
				c--
			} else if before+sw.dca == n {
				c++
			}
		}
		if sw.eligB && sw.dcb != 0 {
			if before := g.counts[sw.db]; before == n {
				c--
			} else if before+sw.dcb == n {
				c++
			}
		}
		return c
	}
	take := func(n int) {
		if k(n) <= 0 {
			return
		}
		switch {
		case least < 0 || n < least:
			least, next = n, least
		case n != least && (next < 0 || n < next):
			next = n
		}
	}
	for n := range g.hist {
		take(n)
	}
	if sw.eligA {
		consider(g.counts[sw.da] + sw.dca)
	}
	if sw.eligB {
		consider(g.counts[sw.db] + sw.dcb)
	}
	for _, n := range seen {
		if _, in := g.hist[n]; n >= 0 && !in {
			take(n)
		}
	}
	second := next
	if least >= 0 && k(least) >= 2 {
		second = least
	}
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
	g := sw.g
	count := sw.count(d)
	total := 0
	for _, class := range g.classes {
		n := sw.carriers(class, d)
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

// move exchanges the nodes of x and y, and their places in res.NewNodes.
func (s *repairState) move(x, y *repairPod) {
	na, nb := x.node, y.node
	for _, m := range []struct {
		p        *repairPod
		src, dst int
	}{{x, na, nb}, {y, nb, na}} {
		for _, g := range m.p.selectedBy {
			if d, ok := g.domain(s, m.src); ok {
				g.shift(d, -1)
			}
			if d, ok := g.domain(s, m.dst); ok {
				g.shift(d, 1)
			}
		}
		for _, c := range m.p.carries {
			if d, ok := s.nodes[m.src].labels[c.g.topologyKey]; ok {
				c.g.carry(c.class, d, -1)
			}
			if d, ok := s.nodes[m.dst].labels[c.g.topologyKey]; ok {
				c.g.carry(c.class, d, 1)
			}
		}
	}
	x.node, y.node = nb, na
	x.newNode, y.newNode = y.newNode, x.newNode
	x.pos, y.pos = y.pos, x.pos
}
