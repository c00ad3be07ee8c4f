package scheduling

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Emptying planned nodes into the others' room. After packing and sizing, some planned nodes
// are left half used while others have room to spare. absorb takes the least used planned nodes
// one at a time and moves each of their pods to another planned node that admits it (every
// hostname and domain constraint, as when placing), as long as what the receiving nodes cost
// more stays below the emptied node's price; when every pod of a node finds a place that way,
// the node is not launched. So the plan's price only falls.
//
// A node is left as it is when one of its pods requires co-location on the host (hostname pod
// affinity), is selected by such a term, has persistent volumes, or has zone or other domain
// constraints of its own; a pod that domain groups count moves only between nodes fixed to the
// same domain of each such key, and counted alike by the spreads that honour node affinity
// (sameEligibility), so every count stays as it was.

// absorbBelow is the utilisation (the larger of requested cpu and memory over the cheapest
// type's usable) under which a planned node is tried for emptying.
const absorbBelow = 0.75

// claimState is what claim.tryAdd may change, for undoing it.
type claimState struct {
	reqs                                      Requirements
	types                                     []*typeInfo
	requests, maxUsable, minUsable, committed Resources
	price                                     float64
	pods                                      int
}

func (c *claim) save() claimState {
	return claimState{reqs: c.reqs, types: c.types, requests: c.requests.Copy(), maxUsable: c.maxUsable, minUsable: c.minUsable,
		committed: c.committed, price: c.price, pods: len(c.pods)}
}

// restore undoes tryAdd calls made since s was saved (recompute replaces, never modifies, the
// maps it sets, so the saved ones are intact).
func (c *claim) restore(s claimState) {
	for k, v := range c.committed {
		c.prov.committed[k] -= v
	}
	for k, v := range s.committed {
		c.prov.committed[k] += v
	}
	c.reqs, c.types, c.requests, c.maxUsable, c.minUsable, c.committed, c.price = s.reqs, s.types, s.requests, s.maxUsable, s.minUsable, s.committed, s.price
	c.pods, c.infos = c.pods[:s.pods], c.infos[:s.pods]
	c.setRoom()
}

// utilisation is the larger of the claim's requested cpu and memory over the usable room of its
// cheapest type's (the smallest type's, minUsable), 0..1.
func (c *claim) utilisation() float64 {
	u := 0.0
	for _, k := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if m := c.minUsable[k]; m > 0 {
			u = max(u, float64(c.requests[k])/float64(m))
		}
	}
	return u
}

// movable reports whether pi may leave its planned node for another (see the top of the file).
func (t *topology) movable(pi *podInfo, hostAffinity []*podTerm) bool {
	if len(pi.domain) > 0 || len(pi.host.affinity) > 0 || pi.vol != nil {
		return false
	}
	for _, a := range hostAffinity {
		if a.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
			return false
		}
	}
	return true
}

// sameDomains reports whether moving pi from claim from to claim to leaves every domain count as
// it is: both claims are counted alike by the spreads that honour node affinity and select pi
// (sameEligibility), and for each key domain groups count, pi is selected by none of its groups,
// or both claims are fixed to the same domain of it.
func (t *topology) sameDomains(pi *podInfo, from, to *claim) bool {
	if !t.sameEligibility(pi.pod, from.reqs, to.reqs) {
		return false
	}
	for key, groups := range t.byKey {
		counted := false
		for _, g := range groups {
			if g.term.matches(pi.pod, t.nsLabels[pi.pod.Namespace]) {
				counted = true
				break
			}
		}
		if !counted {
			continue
		}
		a, okA := claimDomain(from.reqs, key)
		b, okB := claimDomain(to.reqs, key)
		if okA != okB || a != b {
			return false
		}
	}
	return true
}

// absorb empties the provisioner's least used planned nodes into the others' room (see the top
// of the file). hostAffinity are the hostname pod affinity terms of the batch's pods.
func (ps *provState) absorb(hostAffinity []*podTerm) {
	if len(ps.claims) < 2 {
		return
	}
	type donor struct {
		c    *claim
		util float64
	}
	var donors []donor
	for _, c := range ps.claims {
		if u := c.utilisation(); u < absorbBelow {
			donors = append(donors, donor{c, u})
		}
	}
	slices.SortStableFunc(donors, func(a, b donor) int { return cmp.Compare(a.util, b.util) })
	removed := map[*claim]bool{}
	for _, d := range donors {
		if ps.empty(d.c, removed, hostAffinity) {
			removed[d.c] = true
		}
	}
	if len(removed) == 0 {
		return
	}
	kept := make([]*claim, 0, len(ps.claims)-len(removed))
	for _, c := range ps.claims {
		if removed[c] {
			for k, v := range c.committed {
				ps.committed[k] -= v
			}
			continue
		}
		kept = append(kept, c)
	}
	ps.setClaims(kept)
}

// empty moves every pod of d to other claims (not removed), raising their prices by less than
// d's in total, and reports true; or it changes nothing and reports false.
func (ps *provState) empty(d *claim, removed map[*claim]bool, hostAffinity []*podTerm) bool {
	for _, pi := range d.infos {
		if !ps.topo.movable(pi, hostAffinity) {
			return false
		}
	}
	type move struct {
		to *claim
		st claimState
	}
	var moves []move
	undo := func() {
		for i := len(moves) - 1; i >= 0; i-- {
			moves[i].to.host.removeLast()
			moves[i].to.restore(moves[i].st)
		}
	}
	nsLabels := ps.topo.nsLabels
	// spent is what the receiving nodes cost more so far, USD/hour: it must stay below d's price.
	spent := 0.0
	for _, pi := range d.infos {
		moved := ps.withRoom(pi, 0, nil, func(_ int, r *claim) bool {
			if r == d || removed[r] || r.host.admits(pi, nsLabels, nil) != "" || !ps.topo.sameDomains(pi, d, r) {
				return false
			}
			st := r.save()
			if !r.tryAdd(pi) {
				return false
			}
			extra := r.price - st.price
			if (extra > 0 && spent+extra >= d.price) || (ps.limits != nil && ps.overLimits()) {
				r.restore(st)
				return false
			}
			spent += max(extra, 0)
			r.host.add(pi.pod, pi.symAnti, pi.symSpread, pi.ports)
			moves = append(moves, move{r, st})
			return true
		})
		if !moved {
			undo()
			return false
		}
	}
	return true
}

// hostAffinityTerms returns the distinct hostname pod affinity terms of pods.
func (t *topology) hostAffinityTerms(pods []*podInfo) []*podTerm {
	seen := map[*podTerm]bool{}
	var out []*podTerm
	for _, pi := range pods {
		for _, a := range pi.host.affinity {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}
