package scheduling

import (
	"cmp"
	"math"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Deciding which planned nodes a topology spread counts. With nodeAffinityPolicy Honor (the
// default), kube-scheduler counts a spread's selected pods only on nodes that match the
// spreading pod's node affinity (one of its nodeSelectorTerms, ANDed with its nodeSelector),
// read from the labels the node registers with. A planned node's labels are those of the one
// instance type and offering it launches as, and a claim usually allows several: one that
// allows spot and on-demand launches on spot; one that allows amd64 and arm64 types launches
// as whichever is cheapest. Counting such a claim as eligible because its requirements are
// compatible with a term (eligibility.newNode) is a guess that the launch may prove wrong:
// pods counted there are then not counted by kube-scheduler, the domain's count falls, and a
// spreading pod the solver placed by the guessed counts is refused (kube-scheduler's
// PodTopologySpread filter: count + self - global minimum > maxSkew).
//
// So when a pod such a spread counts is placed on a claim fixed to a domain of the spread's key
// (so that it is counted), and the claim's requirements neither imply one of the terms nor
// exclude them all, the claim is decided first (decideEligibility): narrowed either by one of
// the terms (every node it may launch as is eligible) or by a requirement of each term negated
// (none is), the first unless the second is more than a third cheaper (includeMargin). From then
// on every node the claim may launch as is counted as the solver counted it. A counted pod moves
// to another planned node only if that node is counted alike (absorb: sameEligibility; detach:
// keepEligibility), or, once every pod is placed, the other way while the spread's planned pods
// keep within their skew (flip). A spread whose terms admit every node (no node affinity, or
// nodeAffinityPolicy Ignore) never needs a decision and costs nothing.

// decides reports whether node affinity decides e: nodeAffinityPolicy Honor and no term that
// admits every node (an empty term: the pod has no node affinity or selector).
func (e *eligibility) decides() bool {
	if e == nil || !e.honourAffinity || len(e.terms) == 0 {
		return false
	}
	return !slices.ContainsFunc(e.terms, func(t Requirements) bool { return len(t) == 0 })
}

// everyNode reports whether e counts every node, whatever its labels and taints: node affinity
// does not decide it (decides) and taints are not honoured; nil counts every node.
func (e *eligibility) everyNode() bool {
	return e == nil || (!e.decides() && !e.honourTaints)
}

// Eligibility states of planned-node requirements (eligibility.state).
const (
	excluded  = -1 // no node the requirements admit matches a term
	undecided = 0  // some nodes do, some may not
	included  = 1  // every node the requirements admit matches a term
)

// state returns whether nodes with requirements reqs (a claim's) are counted by e's spread as far
// as node affinity goes: included when reqs imply one of e's terms, excluded when they are
// compatible with none, undecided otherwise. Without Honor every node is included.
func (e *eligibility) state(reqs Requirements) int {
	if !e.honourAffinity {
		return included
	}
	compatible := false
	for _, t := range e.terms {
		if implies(reqs, t) {
			return included
		}
		compatible = compatible || reqs.Compatible(t)
	}
	if compatible {
		return undecided
	}
	return excluded
}

// implies reports whether every node reqs admit (a missing key: the node will not carry the
// label) satisfies term.
func implies(reqs, term Requirements) bool {
	for k, r := range term {
		if !within(requirementOf(reqs, k), r) {
			return false
		}
	}
	return true
}

// negation returns a requirement that admits no label state r admits, and every such state
// when r has no bounds; false when r has both bounds or bounds beside listed values (Gt and Lt
// on one key), which one requirement cannot negate.
func (r *Requirement) negation() (*Requirement, bool) {
	if r.gt == nil && r.lt == nil {
		return &Requirement{Key: r.Key, allowAbsent: !r.allowAbsent, complement: !r.complement, values: r.values.Clone()}, true
	}
	if (r.gt != nil && r.lt != nil) || !r.complement || r.values.Len() > 0 {
		return nil, false
	}
	out := &Requirement{Key: r.Key, allowAbsent: !r.allowAbsent, complement: true, values: r.values.Clone()}
	if r.gt != nil {
		if *r.gt == math.MaxInt64 {
			return nil, false
		}
		n := *r.gt + 1 // Gt n: absent, or an integer below n+1
		out.lt = &n
	} else {
		if *r.lt == math.MinInt64 {
			return nil, false
		}
		n := *r.lt - 1 // Lt n: absent, or an integer above n-1
		out.gt = &n
	}
	return out, true
}

// eligibilityOption is one way to decide a claim: its requirements narrowed, the types left and
// their cheapest offering (USD/hour).
type eligibilityOption struct {
	reqs  Requirements
	types []*typeInfo
	price float64
}

// eligibilityOptions returns the ways to decide c for e, each leaving c's pods an instance type:
// c narrowed by each of e's terms, and c narrowed by one negated requirement of each term (per
// term, the one that leaves the cheapest offering).
func (ps *provState) eligibilityOptions(c *claim, e *eligibility) []eligibilityOption {
	var out []eligibilityOption
	narrow := func(reqs Requirements, from []*typeInfo, by Requirements) (eligibilityOption, bool) {
		r, err := reqs.Constrain(by)
		if err != nil {
			return eligibilityOption{}, false
		}
		types := ps.filter(from, r, by, c.requests, Resources{})
		if len(types) == 0 {
			return eligibilityOption{}, false
		}
		return eligibilityOption{reqs: r, types: types, price: ps.minPrice(types, r)}, true
	}
	for _, t := range e.terms {
		if o, ok := narrow(c.reqs, c.types, t); ok {
			out = append(out, o)
		}
	}
	last := eligibilityOption{reqs: c.reqs, types: c.types}
	for _, t := range e.terms {
		if !last.reqs.Compatible(t) {
			continue // excluded by a negation chosen for another term
		}
		best := eligibilityOption{price: math.Inf(1)}
		for _, k := range t.Keys() {
			n, ok := t[k].negation()
			if !ok {
				continue
			}
			if o, ok := narrow(last.reqs, last.types, Requirements{k: n}); ok && (best.reqs == nil || o.price < best.price) {
				best = o
			}
		}
		if best.reqs == nil {
			return out
		}
		last = best
	}
	return append(out, last)
}

// includeMargin is how much dearer (as a share) narrowing a claim so that a spread counts it may
// be than narrowing it so that the spread does not, and still be chosen (decideEligibility):
// counted, the claim's pods count for the spread as for the spreads of other pods that select
// them without node affinity, whose counts then agree; uncounted, the two views of one domain
// part, and pods with both constraints may find no zone that satisfies both (two Deployments
// spreading over one label, one of them amd64 only).
const includeMargin = 0.5

// decideEligibility narrows c, undecided for e (eligibility.state), to the cheapest of
// eligibilityOptions (those under which e counts c at a discount of includeMargin) that keeps
// the provisioner within its limits, and reports whether it did; c is left as it was when none
// does.
func (ps *provState) decideEligibility(c *claim, e *eligibility) bool {
	opts := ps.eligibilityOptions(c, e)
	weighed := func(o eligibilityOption) float64 {
		if e.state(o.reqs) == included {
			return o.price / (1 + includeMargin)
		}
		return o.price
	}
	slices.SortStableFunc(opts, func(a, b eligibilityOption) int { return cmp.Compare(weighed(a), weighed(b)) })
	for _, o := range opts {
		st := c.save()
		c.reqs, c.types = o.reqs, o.types
		c.recompute()
		if ps.limits == nil || !ps.overLimits() {
			return true
		}
		c.restore(st)
	}
	return false
}

// settleEligibility decides c (decideEligibility) for every spread group that honours node
// affinity, finds c undecided, and counts pi on c in a domain c's requirements fix, or counts
// another pod of c whose domain pi's arrival fixed (before: c's requirements before pi). It is
// called before the topology counts pi (topology.placedOnClaim), so that the counts are those
// of the nodes c may launch as.
func (ps *provState) settleEligibility(pi *podInfo, c *claim, before Requirements) {
	t := ps.topo
	if !t.deciding {
		return
	}
	for _, g := range t.list {
		if !g.eligible.decides() {
			continue
		}
		if _, fixed := claimDomain(c.reqs, g.key); !fixed || g.eligible.state(c.reqs) != undecided {
			continue
		}
		counts := g.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace])
		if _, was := claimDomain(before, g.key); !counts && !was {
			counts = slices.ContainsFunc(c.pods, func(p *corev1.Pod) bool { return g.term.matches(p, t.nsLabels[p.Namespace]) })
		}
		if counts {
			ps.decideEligibility(c, g.eligible)
		}
	}
}

// sameEligibility reports whether a pod moved from planned nodes of requirements from to nodes of
// requirements to is counted alike by every spread group that honours node affinity and
// selects it: both included or both excluded (undecided alike only when from is).
func (t *topology) sameEligibility(p *corev1.Pod, from, to Requirements) bool {
	if !t.deciding {
		return true
	}
	for _, g := range t.list {
		if g.eligible.decides() && g.term.matches(p, t.nsLabels[p.Namespace]) && g.eligible.state(from) != g.eligible.state(to) {
			return false
		}
	}
	return true
}

// keepEligibility returns the requirements a pod p may move to from planned nodes of requirements
// from (detach), given the requirements reqs of its own: for every spread group that honours
// node affinity and selects p, and counts it in a domain from fixes, reqs as they are when the
// group counts their nodes as it counts from's; else, once every pod is placed (allPlaced),
// reqs narrowed so that it counts them the other way when the group's planned pods keep within
// their skew so (mayFlip; the move is recorded); else narrowed so that it counts them alike (by the term from
// implies, or by negated requirements that exclude every term). False when none of these leaves
// a node.
func (t *topology) keepEligibility(p *corev1.Pod, from, reqs Requirements, price func(Requirements) float64) (Requirements, bool) {
	if !t.deciding {
		return reqs, true
	}
	for _, g := range t.list {
		if !g.eligible.decides() || !g.term.matches(p, t.nsLabels[p.Namespace]) {
			continue
		}
		want := g.eligible.state(from)
		got := g.eligible.state(reqs)
		if got == want {
			continue
		}
		d, counted := claimDomain(from, g.key)
		if want == undecided || !counted {
			if want == undecided && got != undecided {
				return nil, false
			}
			continue
		}
		// The other way first: what p leaves for is looser than from, which the group counts
		// one way; its own requirements are often the other (spot beside an on-demand spread).
		if t.allPlaced { // else later placements read the counts: keep them
			if flipped, ok := t.flip(g, d, want, reqs, price); ok {
				reqs = flipped
				continue
			}
		}
		next, ok := narrowTo(g.eligible, want, from, reqs, price)
		if !ok {
			return nil, false
		}
		reqs = next
	}
	return reqs, true
}

// flip returns reqs narrowed to the state opposite to want (included or excluded) for g, when g's
// planned spread pods stay within their skew with a selected pod of domain d counted that way
// (mayFlip), and records the move; false otherwise.
func (t *topology) flip(g *domainGroup, d string, want int, reqs Requirements, price func(Requirements) float64) (Requirements, bool) {
	other := included
	if want == included {
		other = excluded
	}
	next, ok := narrowTo(g.eligible, other, nil, reqs, price)
	if !ok || !t.mayFlip(g, d, other == included) {
		return nil, false
	}
	if other == included {
		if g.entered == nil {
			g.entered = map[string]int{}
		}
		g.entered[d]++
	} else {
		if g.left == nil {
			g.left = map[string]int{}
		}
		g.left[d]++
	}
	return next, true
}

// narrowTo returns reqs narrowed so that e's state of them is want: included by a term from
// implies (from nil: any term; the one price, USD/hour, finds cheapest), excluded by negated
// requirements of every term (excludingTerms); false when that leaves nothing price can buy
// (+Inf).
func narrowTo(e *eligibility, want int, from, reqs Requirements, price func(Requirements) float64) (Requirements, bool) {
	var next Requirements
	switch want {
	case included:
		best := math.Inf(1)
		for _, term := range e.terms {
			if from != nil && !implies(from, term) {
				continue
			}
			if r, err := reqs.Constrain(term); err == nil {
				if p := price(r); p < best {
					next, best = r, p
				}
			}
		}
	case excluded:
		next, _ = excludingTerms(reqs, e.terms, price)
	}
	if next == nil || e.state(next) != want {
		return nil, false
	}
	return next, true
}

// mayFlip reports whether the pods planned with g's topology spread constraint keep within their
// skew (topology.holdsAllow's check, on final counts) when one more selected pod of domain d
// enters g's count (enter) or leaves it, counting every move recorded before both ways at
// worst: counts plus entered for a domain's own count, minus left for the least of the others.
func (t *topology) mayFlip(g *domainGroup, d string, enter bool) bool {
	if len(g.holds) == 0 {
		return true
	}
	doms := t.domains(g)
	high := func(x string) int {
		if enter && x == d {
			return g.counts[x] + g.entered[x] + 1
		}
		return g.counts[x] + g.entered[x]
	}
	low := func(x string) int {
		if !enter && x == d {
			return g.counts[x] - g.left[x] - 1
		}
		return g.counts[x] - g.left[x]
	}
	for x, h := range g.holds {
		if least := leastOther(doms, x, h.minDomains, low); least >= 0 && high(x)-least > h.maxSkew {
			return false
		}
	}
	return true
}

// excludingTerms returns reqs narrowed by negated requirements of terms so that no node they
// admit matches a term: greedily, of the negations that leave reqs satisfiable and exclude a
// term still matched, the one price (USD/hour) finds cheapest, then the one that excludes the
// most such terms (first in term and key order on ties), until none is matched; false when
// some term has no such negation or price finds none buyable (+Inf).
func excludingTerms(reqs Requirements, terms []Requirements, price func(Requirements) float64) (Requirements, bool) {
	for {
		var left []Requirements
		for _, t := range terms {
			if reqs.Compatible(t) {
				left = append(left, t)
			}
		}
		if len(left) == 0 {
			return reqs, true
		}
		var best Requirements
		bestN, bestPrice := 0, math.Inf(1)
		for _, t := range left {
			for _, k := range t.Keys() {
				n, ok := t[k].negation()
				if !ok {
					continue
				}
				next, err := reqs.Constrain(Requirements{k: n})
				if err != nil {
					continue
				}
				excludes := 0
				for _, u := range left {
					if !next.Compatible(u) {
						excludes++
					}
				}
				p := price(next)
				if math.IsInf(p, 1) {
					continue
				}
				if p < bestPrice || (p == bestPrice && excludes > bestN) {
					best, bestN, bestPrice = next, excludes, p
				}
			}
		}
		if best == nil {
			return nil, false
		}
		reqs = best
	}
}
