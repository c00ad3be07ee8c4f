package scheduling

import (
	"math"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Letting pods go where their own requirements allow. First-fit places a pod on the first open
// claim that admits it, so a claim whose requirements one pod narrowed (a pod that selects
// on-demand, one whose zone constraint fixed a zone, one that needs an instance family, an
// architecture or a CPU count) or whose types one pod's extended resource (a GPU) narrowed also
// takes pods that accept more, and sizing (split) and pooling keep those on the claim's types
// and offerings: three unconstrained pods beside one on-demand pod all run on-demand, at several
// times the spot price, sixty beside one c6a pod on c6a nodes. So, before a claim is sized, its
// free pods (freeReqs: pods whose own requirements allow more than the claim's on some key, or
// that request none of an extended resource the claim's pods request, and which no topology
// term counts on those keys) are re-planned on requirements of their own, on the types these
// allow (repackOn), the others on the claim's; the pieces, each sized as split sizes a claim,
// replace the claim when they cost at least splitMargin less than the claim sized alone
// (resize, detach). A claim is tried when some group of free pods could save (freeSaving): more
// than splitMargin of the price of the claim's types on the group's zones and capacity types,
// or, when the claim allows fewer instance types than the group (or has an accelerator), more
// than unitMargin of the price of the cheapest type that holds the group's largest pod; a
// group free on instance-type keys only that saves neither stays. Claims of pooled pods are
// packed by pools, so for them the pools are packed twice, as they are and with the free pods
// let go, and the cheaper plan is kept (packAndSize); pods that request an extended resource
// pool apart from those that request none (packPools), and a looser pool joining a tighter one
// is also packed apart when its pods cost much more on the tighter requirements (joinedPrice).
//
// A pod keeps the claim's domain of every key it is counted on or constrained by
// (topology.keys), so no domain count changes, as kube-scheduler would see them; and a topology
// spread that counts it keeps counting it (its eligibility is judged on the claim's and the
// pod's own requirements alike). A claim is left as it is when one of its pods requires
// co-location on the host (as split leaves it), and is only split when one has persistent
// volumes (the PVs planned for its claims were chosen for the claim's requirements, which
// requirements of its own could leave).

// unitMargin is how much less (as a share) the cheapest type that holds a free group's largest
// pod must cost on the group's requirements than on the claim's for fewer instance types (or an
// accelerator) to count as a saving (freeSaving): below it, letting the pods go has cost more
// in the generated workloads than it saved (the pieces pack worse than the claim).
const unitMargin = 0.10

// detachPlan is a claim's pods partitioned for detach: stay need the claim's requirements,
// free[i] may go on reqs[i] (the template narrowed by their own term and the claim's domains of
// their topology keys).
type detachPlan struct {
	stay []*podInfo
	free [][]*podInfo
	reqs []Requirements
}

// detachable returns the plan for c, or nil when c has no free pod, holds a pod that requires
// co-location on the host or has persistent volumes, or no group of free pods saves enough on its requirements (freeSaving; the pieces
// could then only cost more). Groups free on instance-type keys only that do not save enough
// are moved to stay. It reads the topology, so it is called before resize's workers start.
func (ps *provState) detachable(c *claim) *detachPlan {
	if len(c.infos) == 0 || math.IsInf(c.price, 1) || !ps.narrowed(c) {
		return nil
	}
	var plan *detachPlan
	keys := map[string]int{}
	for i, pi := range c.infos {
		if len(pi.host.affinity) > 0 || pi.vol != nil {
			return nil
		}
		reqs, ok := ps.freeReqs(pi, c)
		if !ok {
			if plan != nil {
				plan.stay = append(plan.stay, pi)
			}
			continue
		}
		if plan == nil {
			plan = &detachPlan{stay: slices.Clone(c.infos[:i])}
		}
		k := reqs.String()
		g, seen := keys[k]
		if !seen {
			g = len(plan.reqs)
			keys[k] = g
			plan.reqs = append(plan.reqs, reqs)
			plan.free = append(plan.free, nil)
		}
		plan.free[g] = append(plan.free[g], pi)
	}
	if plan == nil {
		return nil
	}
	// A group free on instance-type keys only (the same zones and capacity types as c) stays
	// unless it saves enough by itself.
	pays := false
	kept := &detachPlan{stay: plan.stay}
	for g, reqs := range plan.reqs {
		saves := ps.freeSaving(c, plan, g) > splitMargin
		if !saves && !loosensOfferings(c.reqs, reqs) {
			kept.stay = append(kept.stay, plan.free[g]...)
			continue
		}
		pays = pays || saves
		kept.free = append(kept.free, plan.free[g])
		kept.reqs = append(kept.reqs, reqs)
	}
	if !pays {
		return nil
	}
	return kept
}

// loosensOfferings reports whether reqs allow more zones or capacity types than tight.
func loosensOfferings(tight, reqs Requirements) bool {
	for k := range offeringKeys {
		if !within(requirementOf(reqs, k), requirementOf(tight, k)) {
			return true
		}
	}
	return false
}

// narrowed reports whether c's types are fewer than the provisioner's for its requirements
// (narrows) or for an extended resource (a GPU) one of its pods requests.
func (ps *provState) narrowed(c *claim) bool {
	return narrows(ps.template, c.reqs) || requestsExtended(c.requests)
}

// requestsExtended reports whether requests ask for an extended resource (isExtendedResource).
func requestsExtended(requests Resources) bool {
	for k, v := range requests {
		if v > 0 && isExtendedResource(k) {
			return true
		}
	}
	return false
}

// lacksExtended reports whether pi requests none of some extended resource c's pods request: c's
// types then have it, pi needs no type that does.
func lacksExtended(pi *podInfo, c *claim) bool {
	for k, v := range c.requests {
		if v > 0 && isExtendedResource(k) && pi.requests[k] == 0 {
			return true
		}
	}
	return false
}

// narrows reports whether reqs allow less than template on some key: fewer zones or capacity
// types, or fewer instance types (a family, an architecture, a CPU count, a GPU).
func narrows(template, reqs Requirements) bool {
	for k, r := range reqs {
		if !within(requirementOf(template, k), r) {
			return true
		}
	}
	for k, r := range template {
		if _, ok := reqs[k]; !ok && !within(r, Absent(k)) {
			return true
		}
	}
	return false
}

// freeSaving returns the share of a node's price that the free pods of group g of plan could
// save on their own requirements, at least 0: the larger of what c's types cost less under
// them (fewer zones or capacity types) and what the cheapest type that holds the group's
// largest pod (unitPrice) costs less under them than under c's (fewer instance types).
func (ps *provState) freeSaving(c *claim, plan *detachPlan, g int) float64 {
	reqs := plan.reqs[g]
	saving := 0.0
	if c.price > 0 {
		saving = 1 - ps.minPrice(c.types, reqs)/c.price
	}
	unit := largestRequests(plan.free[g])
	if !ps.typesNarrower(reqs, c.reqs) && !requestsExtended(c.requests) {
		return max(saving, 0)
	}
	if on := ps.unitPrice(c.reqs, unit, extendedProbe(c.requests)); on > 0 && !math.IsInf(on, 1) {
		if s := 1 - ps.unitPrice(reqs, unit, extendedProbe(unit))/on; s > unitMargin {
			saving = max(saving, s)
		}
	}
	return max(saving, 0)
}

// largestRequests returns the largest request of each resource over pods (the smallest node
// that holds each of them holds this).
func largestRequests(pods []*podInfo) Resources {
	out := Resources{}
	for _, pi := range pods {
		out.MaxInPlace(pi.requests)
	}
	return out
}

// typesNarrower reports whether tight allows fewer instance types than loose on some key that
// instance types are labelled with (a family, an architecture, a CPU count).
func (ps *provState) typesNarrower(loose, tight Requirements) bool {
	for k, r := range tight {
		if ps.isTypeKey[k] && !within(requirementOf(loose, k), r) {
			return true
		}
	}
	return false
}

// unitPrice returns the cheapest allowed available offering under reqs of a provisioner's type
// compatible with reqs that has the extended resources of probe (and no other: see
// wastesAccelerators) and holds unit, USD/hour (+Inf when there is none).
func (ps *provState) unitPrice(reqs Requirements, unit, probe Resources) float64 {
	for _, pt := range ps.compatibleByPrice(reqs, probe) {
		if unit.Fits(pt.t.usable) {
			return pt.price
		}
	}
	return math.Inf(1)
}

// requirementOf returns reqs' requirement on key, Absent(key) when reqs has none (as for a node).
func requirementOf(reqs Requirements, key string) *Requirement {
	if r, ok := reqs[key]; ok {
		return r
	}
	return Absent(key)
}

// freeReqs returns the requirements pi would get on a claim of its own with c's domains of its
// topology keys, and true when they allow more than c's on a zone or capacity-type key (on an
// instance-type key too when c allows fewer instance types than the template), or pi requests
// none of an extended resource c's pods request (pi is free: see the top of the file). A pod
// with several node affinity terms (ORed) gets the requirements of the term, among those that
// leave it free, whose cheapest type that holds it costs least (unitPrice).
func (ps *provState) freeReqs(pi *podInfo, c *claim) (Requirements, bool) {
	if len(pi.terms) == 1 {
		return ps.freeReqsOn(pi, c, pi.terms[0])
	}
	var best Requirements
	bestPrice := math.Inf(1)
	probe := extendedProbe(pi.requests)
	for _, term := range pi.terms {
		own, ok := ps.freeReqsOn(pi, c, term)
		if !ok {
			continue
		}
		if price := ps.unitPrice(own, pi.requests, probe); best == nil || price < bestPrice {
			best, bestPrice = own, price
		}
	}
	return best, best != nil
}

// freeReqsOn is freeReqs for one of pi's node affinity terms.
func (ps *provState) freeReqsOn(pi *podInfo, c *claim, term Requirements) (Requirements, bool) {
	keys := ps.topo.keys(pi)
	// First key by key (no copy of the requirements): most pods on a narrowed claim narrowed
	// it, or keep its domain.
	looser := false
	types := ps.typesNarrower(ps.template, c.reqs)
	for k, cr := range c.reqs {
		if slices.Contains(keys, k) || (!types && !offeringKeys[k]) {
			continue
		}
		r := requirementOf(ps.template, k)
		if t, ok := term[k]; ok {
			r = r.Intersect(t)
		}
		if !within(r, cr) {
			looser = true
			break
		}
	}
	if !looser && !lacksExtended(pi, c) {
		return nil, false
	}
	own, err := ps.template.Constrain(term)
	if err != nil {
		return nil, false
	}
	for _, k := range keys {
		if r, ok := c.reqs[k]; ok {
			// c's domain, within what term allows (c may hold pi by another of its terms).
			if kept := requirementOf(own, k).Intersect(r); !kept.IsEmpty() {
				own[k] = kept
			} else {
				return nil, false
			}
		}
	}
	// A spread that counts pi on some key (a key it keeps) counts the nodes its eligibility
	// admits: it must admit the new node as it admitted c, and count it as c's nodes are
	// counted when node affinity decides it (keepEligibility).
	probe := extendedProbe(pi.requests)
	own, ok := ps.topo.keepEligibility(pi.pod, c.reqs, own, func(r Requirements) float64 { return ps.unitPrice(r, pi.requests, probe) })
	if !ok {
		return nil, false
	}
	mine := &claim{prov: ps, reqs: own}
	for _, g := range ps.topo.list {
		if g.eligible != nil && !g.eligible.decides() && g.term.matches(pi.pod, ps.topo.nsLabels[pi.pod.Namespace]) && g.eligible.claim(mine) != g.eligible.claim(c) {
			return nil, false
		}
	}
	return own, true
}

// detach sizes c, a claim that is not pooled, by plan (see the top of the file): it returns
// the pieces when they cost at least splitMargin less than c split alone, else c split alone
// (split). With deferCommit the commitment is left to resize, as split leaves it.
func (ps *provState) detach(c *claim, plan *detachPlan) []*claim {
	var saved Resources
	if !ps.deferCommit {
		saved = ps.committed.Copy()
	}
	base := ps.split(c, 0)
	baseTotal := 0.0
	for _, p := range base {
		baseTotal += p.price
	}
	var baseCommitted Resources
	if !ps.deferCommit {
		baseCommitted, ps.committed = ps.committed, saved
	}
	raw := ps.detachPieces(c, plan)
	if raw == nil {
		if !ps.deferCommit {
			ps.committed = baseCommitted
		}
		return base
	}
	var out []*claim
	total := 0.0
	for _, p := range raw {
		for _, s := range ps.split(p, 1) {
			total += s.price
			out = append(out, s)
		}
	}
	if total > baseTotal*(1-splitMargin) {
		if !ps.deferCommit {
			ps.committed = baseCommitted
		}
		return base
	}
	return out
}

// detachPieces re-plans c's pods by plan, first-fit-decreasing on unsized claims of the
// provisioner (the stay pods on c's requirements, each group of free pods on its own), and
// moves c's commitment to them (unless deferCommit); nil, changing nothing, when some pod fits
// no type or the pieces' worst case breaks the limits.
func (ps *provState) detachPieces(c *claim, plan *detachPlan) []*claim {
	var raw []*claim
	if len(plan.stay) > 0 {
		pieces := ps.repackOn(c.reqs, plan.stay)
		if pieces == nil {
			return nil
		}
		raw = append(raw, pieces...)
	}
	for g, pods := range plan.free {
		pieces := ps.repackOn(plan.reqs[g], pods)
		if pieces == nil {
			return nil
		}
		raw = append(raw, pieces...)
	}
	committed := Resources{}
	for _, p := range raw {
		p.prov = ps
		committed.AddInPlace(p.committed)
	}
	if !ps.withinLimitsAfter(c.committed, committed) {
		return nil
	}
	if !ps.deferCommit {
		for k, v := range c.committed {
			ps.committed[k] -= v
		}
		ps.committed.AddInPlace(committed)
	}
	return raw
}

// packAndSize packs the provisioner's pools anew (packPools) and splits the claims left unsized
// (resize). When pooled claims have free pods (detachable) that could save at least splitMargin
// of the claims' price (detachGain), it does so a second time from the same claims with those
// claims' pods re-planned by detachPieces first, so the free pods join the pools of their own
// requirements, and keeps the cheaper of the two plans (the first on a tie): pools are packed
// as a whole, so whether letting pods go pays is judged on the pools' plans, not claim by claim.
func (ps *provState) packAndSize() {
	type state struct {
		claims    []*claim
		sized     []bool
		committed Resources
	}
	save := func() state {
		s := state{claims: slices.Clone(ps.claims), sized: make([]bool, len(ps.claims)), committed: ps.committed.Copy()}
		for i, c := range ps.claims {
			s.sized[i] = c.sized
		}
		return s
	}
	restore := func(s state) {
		for i, c := range s.claims {
			c.sized = s.sized[i]
		}
		ps.committed = s.committed.Copy()
		ps.setClaims(s.claims)
	}
	plans := make([]*detachPlan, len(ps.claims))
	gain := 0.0
	for i, c := range ps.claims {
		if ps.narrowed(c) && c.pooled() {
			if plans[i] = ps.detachable(c); plans[i] != nil {
				gain += ps.detachGain(c, plans[i])
			}
		}
	}
	if gain < splitMargin*ps.cost() {
		ps.packPools(nil)
		ps.resize(false)
		return
	}
	// Without limits, the pools whose claims are the same both times are packed once.
	var memo *poolMemo
	if ps.limits == nil {
		memo = &poolMemo{}
	}
	before := save()
	ps.packPools(memo)
	ps.resize(false)
	first, firstCost := save(), ps.cost()
	restore(before)
	var out []*claim
	for i, c := range ps.claims {
		if plans[i] != nil {
			if raw := ps.detachPieces(c, plans[i]); raw != nil {
				out = append(out, raw...)
				continue
			}
		}
		out = append(out, c)
	}
	ps.setClaims(out)
	ps.packPools(memo)
	ps.resize(false)
	if ps.cost() >= firstCost*(1-1e-9) {
		restore(first)
	}
}

// detachGain estimates what letting plan's free pods go could save at most, USD/hour: for each
// group, its share of c (the larger of its share of c's requested cpu and memory) of what c's
// types cost less under the group's requirements.
func (ps *provState) detachGain(c *claim, plan *detachPlan) float64 {
	gain := 0.0
	for g, pods := range plan.free {
		share := 0.0
		for _, k := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if total := c.requests[k]; total > 0 {
				sum := int64(0)
				for _, pi := range pods {
					sum += pi.requests[k]
				}
				share = max(share, float64(sum)/float64(total))
			}
		}
		gain += share * c.price * ps.freeSaving(c, plan, g)
	}
	return gain
}

// cost is the summed price of the provisioner's claims, USD/hour.
func (ps *provState) cost() float64 {
	total := 0.0
	for _, c := range ps.claims {
		total += c.price
	}
	return total
}

// repackOn places pods first-fit-decreasing on new claims of requirements reqs, onto any type
// those allow (repack), or returns nil when some pod fits none.
func (ps *provState) repackOn(reqs Requirements, pods []*podInfo) []*claim {
	total := Resources{}
	for _, pi := range pods {
		total.AddInPlace(pi.requests)
	}
	priced := ps.compatibleByPrice(reqs, extendedProbe(total))
	types := make([]*typeInfo, len(priced))
	for i, pt := range priced {
		types[i] = pt.t
	}
	return ps.repack(&claim{reqs: reqs, infos: pods}, types)
}
