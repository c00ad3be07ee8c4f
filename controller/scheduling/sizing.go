package scheduling

import (
	"cmp"
	"math"
	"slices"
)

// Sizing by the bill. First-fit-decreasing grows each new node toward the largest type that
// still takes the next pod, which is right when price is proportional to size and wrong when it
// is not: one 8-GPU instance can cost several times eight 1-GPU instances, and spot prices per
// vCPU differ between sizes. So, once every pod is placed, each new node is re-planned with only
// the instance types cheaper than its own cheapest option (same requirements, so the same zone
// and capacity type constraints): when the pieces cost at least splitMargin less in total, they
// replace it, and each piece is tried the same way, at most maxSplitDepth times.
//
// A node is not split when one of its pods requires co-location on the host (required
// hostname pod affinity). Pods with persistent volumes are split like the others: a piece's
// requirements are within the node's, so the zone their volumes confine them to and the PVs
// planned for their claims still hold; each piece keeps within the attach limits of its types,
// and pods sharing a claim stay on one piece. Hostname anti-affinity, host ports and hostname
// spread only get easier on more nodes, and zone or capacity-type constraints are kept by the
// requirements.
// With limits, a split is taken only when the pieces' worst-case capacity keeps the
// provisioner within them.

const (
	// splitMargin is the least saving, as a share of the node's price, for which a node is split
	// (fewer nodes are worth a little: fewer daemonset copies, less to drain and patch).
	splitMargin = 0.02
	// maxSplitDepth bounds how many times a piece of a node is split again.
	maxSplitDepth = 6
)

// resize splits the provisioner's claims not sized yet where smaller nodes cost less, first
// letting the free pods of claims that are not pooled go where their own requirements allow when
// that costs less (detach.go), and marks the result sized; with skipPooled, claims of pooled
// pods only are left unsized for packPools. Without limits the claims are split on every CPU
// at once: each split reads only the claim and the provisioner's types, and the commitment is
// summed afterwards. With limits they are split one after the other, each within what the
// previous ones left.
func (ps *provState) resize(skipPooled bool) {
	var todo []int
	plans := make([]*detachPlan, len(ps.claims))
	for i, c := range ps.claims {
		if c.sized || (skipPooled && c.pooled()) {
			continue
		}
		if ps.narrowed(c) && !c.pooled() {
			plans[i] = ps.detachable(c)
		}
		todo = append(todo, i)
	}
	size := func(i int) []*claim {
		if plans[i] != nil {
			return ps.detach(ps.claims[i], plans[i])
		}
		return ps.split(ps.claims[i], 0)
	}
	results := make([][]*claim, len(ps.claims))
	if ps.limits == nil && len(todo) > 1 {
		ps.repackTopology() // created before the workers share it
		ps.deferCommit = true
		parallel(len(todo), func(i int) { results[todo[i]] = size(todo[i]) })
		ps.deferCommit = false
	} else {
		for _, i := range todo {
			results[i] = size(i)
		}
	}
	var out []*claim
	for i, c := range ps.claims {
		if c.sized || results[i] == nil { // sized before, or left to packPools
			out = append(out, c)
			continue
		}
		for _, piece := range results[i] {
			piece.sized = true
			out = append(out, piece)
		}
		if vs := ps.topo.vs; vs != nil && (len(results[i]) != 1 || results[i][0] != c) {
			vs.splitInto(results[i])
		}
	}
	if len(todo) > 0 && ps.limits == nil {
		ps.committed = Resources{}
		for _, c := range out {
			ps.committed.AddInPlace(c.committed)
		}
	}
	ps.setClaims(out)
}

// split returns c, or pieces that hold its pods for less, each split further.
func (ps *provState) split(c *claim, depth int) []*claim {
	if depth >= maxSplitDepth || len(c.infos) < 2 || math.IsInf(c.price, 1) {
		return []*claim{c}
	}
	for _, pi := range c.infos {
		// Co-located by requirement.
		if len(pi.host.affinity) > 0 {
			return []*claim{c}
		}
	}
	limit := c.price * (1 - splitMargin)
	var cheaper []pricedType // cheapest first
	// probe asks for the extended resources the pods use, so accelerator types stay in.
	probe := Resources{}
	for k, v := range c.requests {
		if v > 0 && isExtendedResource(k) {
			probe[k] = 1
		}
	}
	for _, pt := range ps.compatibleByPrice(c.reqs, probe) {
		if pt.price >= limit {
			break
		}
		cheaper = append(cheaper, pt)
	}
	if len(cheaper) == 0 {
		return []*claim{c}
	}
	// Repack onto the types no dearer than the best uniform choice (nodes grow to about its
	// size, not back to the largest type under the limit), estimated with and without whole
	// pods per node; the cheaper repacking wins.
	// No cap below the cheapest type that holds the claim's largest pod (every resource at its
	// largest request), so every pod still fits some type.
	largest := Resources{}
	for _, pi := range c.infos {
		largest.MaxInPlace(pi.requests)
	}
	floor := math.Inf(1)
	for _, pt := range cheaper {
		if largest.Fits(pt.t.usable) {
			floor = pt.price
			break
		}
	}
	var pieces []*claim
	total, committed := limit, Resources{}
	tried := map[float64]bool{}
	for _, whole := range []bool{true, false} {
		best, bestPrice := uniformCost(c.requests, len(c.infos), whole, cheaper)
		bestPrice = max(bestPrice, floor)
		if best >= limit || tried[bestPrice] {
			continue
		}
		tried[bestPrice] = true
		var upTo []*typeInfo
		for _, pt := range cheaper {
			if pt.price > bestPrice {
				break
			}
			upTo = append(upTo, pt.t)
		}
		cand := ps.repack(c, upTo)
		sum, com := 0.0, Resources{}
		for _, p := range cand {
			sum += p.price
			com.AddInPlace(p.committed)
		}
		if cand != nil && sum < total && ps.withinLimitsAfter(c.committed, com) {
			pieces, total, committed = cand, sum, com
		}
	}
	if pieces == nil {
		return []*claim{c}
	}
	if !ps.deferCommit {
		for k, v := range c.committed {
			ps.committed[k] -= v
		}
		ps.committed.AddInPlace(committed)
	}
	var out []*claim
	for _, p := range pieces {
		p.prov = ps
		out = append(out, ps.split(p, depth+1)...)
	}
	return out
}

// pricedType is an instance type with its cheapest offering under some requirements, USD/hour.
type pricedType struct {
	t     *typeInfo
	price float64
}

// compatibleByPrice returns the provisioner's types compatible with reqs that have an allowed
// available offering and the extended resources of probe, cheapest first. Claims with equal
// requirements share the answer (cached by reqs and probe rendered).
func (ps *provState) compatibleByPrice(reqs Requirements, probe Resources) []pricedType {
	key := reqs.String() + "|" + probe.key()
	ps.mu.Lock()
	v, ok := ps.byPrice[key]
	ps.mu.Unlock()
	if ok {
		return v
	}
	var out []pricedType
	pricer := ps.pricer(reqs)
	for _, t := range ps.filter(ps.types, reqs, reqs, probe, Resources{}) {
		if p, ok := pricer.price(t); ok {
			out = append(out, pricedType{t, p})
		}
	}
	slices.SortStableFunc(out, func(a, b pricedType) int { return cmp.Compare(a.price, b.price) })
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.byPrice == nil {
		ps.byPrice = map[string][]pricedType{}
	}
	ps.byPrice[key] = out
	return out
}

// withinLimitsAfter reports whether replacing the commitment removed by added keeps the
// provisioner within its limits.
func (ps *provState) withinLimitsAfter(removed, added Resources) bool {
	for k, limit := range ps.limits {
		if ps.usage[k]+ps.committed[k]-removed[k]+added[k] > limit {
			return false
		}
	}
	return true
}

// repackTopology returns the topology repackings share: no nodes, groups or anti-affinity
// entries (a repacked pod's domains are fixed by the requirements it inherits, so nothing is
// ever recorded in it).
func (ps *provState) repackTopology() *topology {
	if ps.emptyTopo == nil {
		ps.emptyTopo = newTopology(nil, ps.topo.nsLabels)
	}
	return ps.emptyTopo
}

// repack places c's pods first-fit-decreasing on new nodes of the given types under c's
// requirements, or returns nil when some pod fits none of them.
func (ps *provState) repack(c *claim, types []*typeInfo) []*claim {
	sub := &provState{in: ps.in, name: ps.name, template: c.reqs, priceBase: ps.priceBase, taints: ps.taints, typeKeys: ps.typeKeys, isTypeKey: ps.isTypeKey,
		types: types, committed: Resources{}, topo: ps.repackTopology(), pieceVolumes: map[*claim]*attached{}}
	// Pods sharing a claim stay on one node: claimed maps each claim to the node its first pod
	// took.
	var claimed map[string]*claim
	// One copy of each pod's info at a time: the claims take the original in its place at once,
	// and nothing else keeps it (the topology is empty, and the volumes of a piece are recorded
	// in sub.pieceVolumes, by value).
	var scratch podInfo
	for _, orig := range c.infos {
		// The requirements fix the domains the pod's zone and capacity-type constraints chose.
		scratch = *orig
		pi := &scratch
		pi.domain, pi.pinned, pi.selected = nil, nil, nil
		var with *claim // the node of a pod sharing a claim with pi
		if pi.vol != nil {
			for _, k := range pi.vol.claims {
				if sc := claimed[k]; sc != nil {
					with = sc
					break
				}
			}
		}
		var dest *claim
		for _, sc := range sub.claims {
			if with != nil && sc != with {
				continue
			}
			if pi.cpu <= sc.roomCPU && pi.memory <= sc.roomMemory && sc.host.admits(pi, sub.topo.nsLabels, nil) == "" &&
				pi.vol.admitsPiece(sc, sub.pieceVolumes[sc]) && sc.tryAdd(pi) {
				sc.host.add(pi.pod, pi.symAnti, pi.symSpread, pi.ports)
				sub.placedVolumes(pi, sc)
				dest = sc
				break
			}
		}
		if dest == nil {
			if with != nil {
				return nil // the node of its claim has no room for it
			}
			if _, ok := sub.open(pi); !ok {
				return nil
			}
			dest = sub.claims[len(sub.claims)-1]
		}
		dest.infos[len(dest.infos)-1] = orig
		if pi.vol != nil {
			if claimed == nil {
				claimed = map[string]*claim{}
			}
			for _, k := range pi.vol.claims {
				claimed[k] = dest
			}
		}
	}
	return sub.claims
}

// uniformCost estimates the cheapest way to hold n pods with summed requests on nodes of one of
// the given types: for each type, the nodes needed both by the summed amounts and by how many
// pods of the average size fit on one node (when whole; exact for identical pods), times its price; it
// returns the least of these (USD/hour) and that type's price. It gates and aims repacking: a
// node is repacked only when some uniform set of cheaper nodes plausibly costs less, onto types
// no dearer than the best (repacking decides for real).
func uniformCost(requests Resources, n int, whole bool, types []pricedType) (cost, typePrice float64) {
	best, bestPrice := math.Inf(1), math.Inf(1)
	for _, pt := range types {
		t, p := pt.t, pt.price
		nodes, perNode := 1.0, math.Inf(1)
		for k, v := range requests {
			if v <= 0 {
				continue
			}
			u := t.usable[k]
			if u <= 0 {
				nodes = math.Inf(1)
				break
			}
			nodes = max(nodes, math.Ceil(float64(v)/float64(u)))
			perNode = min(perNode, math.Floor(float64(u)*float64(n)/float64(v)))
		}
		if whole {
			if perNode < 1 {
				continue
			}
			nodes = max(nodes, math.Ceil(float64(n)/perNode))
		}
		if nodes*p < best {
			best, bestPrice = nodes*p, p
		}
	}
	return best, bestPrice
}
