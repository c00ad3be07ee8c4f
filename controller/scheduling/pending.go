package scheduling

import "slices"

// pendingSpreads are the pods with a topology spread constraint on a domain key that fit
// nowhere in their round because their own spreads allowed no domain, waiting for the counts
// they read to grow. kube-scheduler puts a pod its PodTopologySpread filter refused back in its
// queue when a pod the filter's selectors count is added, so such a pod binds once the pods
// planned after it have evened out the domains (two pods pinned to a zone whose spread counts
// every zone, beside free pods of the same spread: the second pinned pod fits once the free
// ones reach the other zones, and must be placed before the last of them fills its zone).
//
// A pod that its own spreads leave a domain, but the holds of pods planned before it refuse
// (spreads that count each other), takes the last resort at once instead (placeRelaxing), as
// it did before pods waited: letting it wait too cut the Karpenter mix's pods at risk (525 to
// 253 of 20,000) but slowed the 5k mix by about a tenth and made it 0.5% dearer.
type pendingSpreads struct {
	entries []pendingSpread
	// watched are the groups some entry watches, each once, and version the sum of their
	// totals at the last retry: retry does nothing until a watched group counts another pod.
	watched []*domainGroup
	version int
	// pods and errs are, after the round (settle), the pods still pending and why each fits
	// nowhere, in the order they were added.
	pods []*podInfo
	errs []PodError
}

// pendingSpread is one pending pod, the groups whose least counts decide where it may go (its
// own spread groups and the groups on their keys that count it) and the sum of those least
// counts when it was last tried.
type pendingSpread struct {
	pi    *podInfo
	err   PodError
	watch []*domainGroup
	least int
	// holding are the groups of watch that count pi on every node (their eligibility does not
	// depend on the node): their holds refuse pi in a domain whatever node it takes (blocked).
	holding []*domainGroup
}

// hasSpread reports whether pi has a topology spread constraint on a domain key.
func (pi *podInfo) hasSpread() bool {
	return slices.ContainsFunc(pi.domain, func(dc domainConstraint) bool { return dc.kind == kindSpread })
}

// add makes pi pending with the error e of its last try.
func (q *pendingSpreads) add(pi *podInfo, e PodError, t *topology) {
	var watch []*domainGroup
	for i := range pi.domain {
		dc := &pi.domain[i]
		if dc.kind != kindSpread {
			continue
		}
		if !slices.Contains(watch, dc.group) {
			watch = append(watch, dc.group)
		}
		for _, g := range t.byKey[dc.group.key] {
			if !slices.Contains(watch, g) && g.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
				watch = append(watch, g)
			}
		}
	}
	for _, g := range watch {
		if !slices.Contains(q.watched, g) {
			q.watched = append(q.watched, g)
			q.version += g.total
		}
	}
	var holding []*domainGroup
	for _, g := range watch {
		if g.eligible.everyNode() && g.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
			holding = append(holding, g)
		}
	}
	q.entries = append(q.entries, pendingSpread{pi: pi, err: e, watch: watch, least: t.leastSum(watch), holding: holding})
}

// leastSum is the sum of the least counts over the eligible domains of groups.
func (t *topology) leastSum(groups []*domainGroup) int {
	sum := 0
	for _, g := range groups {
		sum += t.least(g)
	}
	return sum
}

// least is the least count over g's eligible domains (0 without any), kept until g counts
// another pod (its total grows).
func (t *topology) least(g *domainGroup) int {
	if g.leastOf == g.total+1 {
		return g.leastCount
	}
	least := -1
	for d := range t.domains(g) {
		if c := g.counts[d]; least < 0 || c < least {
			least = c
		}
	}
	g.leastCount, g.leastOf = max(least, 0), g.total+1
	return g.leastCount
}

// retry tries again (place, which reports whether it placed the pod) each pending pod some of
// whose watched least counts grew since its last try, in the order they were added, and goes
// on while a pass places one.
func (q *pendingSpreads) retry(t *topology, place func(*podInfo) bool) {
	for len(q.entries) > 0 {
		version := 0
		for _, g := range q.watched {
			version += g.total
		}
		if version == q.version {
			return
		}
		q.version = version
		placedAny := false
		kept := q.entries[:0]
		for _, e := range q.entries {
			if least := t.leastSum(e.watch); least != e.least {
				e.least = least
				if !t.blocked(&e) && place(e.pi) {
					placedAny = true
					continue
				}
			}
			kept = append(kept, e)
		}
		clear(q.entries[len(kept):])
		q.entries = kept
		if !placedAny {
			return
		}
	}
}

// settle moves the pods still pending to pods and errs.
func (q *pendingSpreads) settle() {
	for _, e := range q.entries {
		q.pods, q.errs = append(q.pods, e.pi), append(q.errs, e.err)
	}
	q.entries = nil
}

// blocked reports whether, on some key of the pending pod's topology spread constraints, no
// domain is left that its own spreads allow and the holds of the pods planned before it
// (holdsRefusal) do not refuse, whatever node it would take: a try would fail then. Only the
// holds of groups that count it on every node (e.holding) are read: a node the others do not
// count may exist; with none (a pod not pending yet), only its own spreads are. The counts only
// grow while pods are placed, so such a pod waits for a least count to grow again.
func (t *topology) blocked(e *pendingSpread) bool {
	pi := e.pi
	open := func(key, d string) bool {
		for j := range pi.domain {
			if o := &pi.domain[j]; o.kind == kindSpread && o.group.key == key && !t.allowsDomain(o, d, 0) {
				return false
			}
		}
		if !t.holdsActive {
			return true
		}
		for _, g := range e.holding {
			h, ok := g.holds[d]
			if !ok || g.key != key {
				continue
			}
			least := leastOther(t.domains(g), d, h.minDomains, func(o string) int { return g.counts[o] })
			if least >= 0 && g.counts[d]+1-least > h.maxSkew {
				return false
			}
		}
		return true
	}
	for i := range pi.domain {
		dc := &pi.domain[i]
		if dc.kind != kindSpread {
			continue
		}
		blocked := true
		for d := range t.domains(dc.group) {
			if open(dc.group.key, d) {
				blocked = false
				break
			}
		}
		if blocked {
			return true
		}
	}
	return false
}
