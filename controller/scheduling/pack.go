package scheduling

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Packing a pool by the bill. Pods that carry no hostname-scoped constraint (no pod affinity or
// anti-affinity on the host, no hostname spread, no host ports) and no volumes may share any node
// whose requirements they accept, in any combination their requests allow. After placement, the
// planned nodes holding only such pods are pooled by their requirements, and each pool is packed
// again from scratch onto the instance types those requirements allow:
//
//  1. Resource prices. The cheapest fractional cover of the pool's summed requests (the lower
//     bound's linear programme, see coverBound, on this pool alone) has a dual: a price y(r)
//     per unit of each resource such that no type's usable room is worth more than its price.
//     A pod is worth Σ y(r)·request(r); the pool's worth is the cover's cost.
//  2. Nodes, one kind at a time. For every type, a node of it is filled first-fit-decreasing
//     (pods by worth, dearest first) from the pods left; the type whose node holds the most worth
//     per USD/hour is taken, as many times over as the pods left allow the same filling. A type
//     whose whole room is worth less per USD than the best node found so far is not filled
//     (room worth bounds what any filling holds), so few types are tried per kind of node.
//  3. The pool's new nodes replace its old ones when they cost less in total, and stay within
//     the provisioner's limits.
//
// Pods of one request shape (same resources, same amounts) are counted, not handled one by one,
// so a kind of node costs O(types × shapes) to choose however many pods the pool holds.
//
// A node chosen by worth per dollar is the cheapest cover's kind of node when it can be filled
// as well as the cover's fractions; the greedy falls short of the cover by the room left in the
// nodes (the last node of the pool, mainly), which the lower bound cannot see.

// poolTerm reports whether pi may join a pool (see the top of the file) and, for a pod that
// allows one of its kind per node, the term that defines its kind; nil for a pod without any.
// Such a pod carries no other hostname-scoped constraint and either a single required hostname
// anti-affinity term that selects the pod itself, or a single DoNotSchedule hostname topology
// spread constraint with maxSkew 1 whose selector matches the pod itself: a new node holds one
// pod of the spread whatever the other nodes hold (its count stays within 1 of any node's, as
// kube-scheduler's PodTopologySpread checks). Pods with preferences are pooled only without
// such a term.
func (pi *podInfo) poolTerm() (*podTerm, bool) {
	if len(pi.host.affinity) > 0 || len(pi.ports) > 0 || pi.vol != nil || len(pi.prefs) > 0 || softPodTerms(pi.pod) {
		return nil, false
	}
	anti := len(pi.host.antiAffinity) + len(pi.symAnti)
	spread := len(pi.host.spread) + len(pi.symSpread)
	switch {
	case anti == 0 && spread == 0:
		return nil, true
	case spread == 0:
		if !pi.repels || len(pi.host.antiAffinity) != 1 || len(pi.symAnti) != 1 || pi.host.antiAffinity[0] != pi.symAnti[0] {
			return nil, false
		}
		return pi.symAnti[0], true
	case anti == 0:
		if len(pi.host.spread) != 1 || len(pi.symSpread) != 1 {
			return nil, false
		}
		hs := pi.host.spread[0]
		if hs.term != pi.symSpread[0].term || hs.maxSkew != 1 || hs.self != 1 {
			return nil, false
		}
		return hs.term, true
	}
	return nil, false
}

// softPodTerms reports whether p has preferred pod affinity or anti-affinity terms or
// ScheduleAnyway topology spread constraints: kube-scheduler scores nodes by them, so where
// such pods land depends on which other pods share their nodes, which a pool changes.
func softPodTerms(p *corev1.Pod) bool {
	if a := p.Spec.Affinity; a != nil {
		if a.PodAffinity != nil && len(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
			return true
		}
		if a.PodAntiAffinity != nil && len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
			return true
		}
	}
	for _, c := range p.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable == corev1.ScheduleAnyway {
			return true
		}
	}
	return false
}

// pooled reports whether every pod of c may join a pool: each pod may (poolTerm), and the
// domain its zone or capacity-type constraints chose is fixed by c's requirements (so moving
// the pod to another node of these requirements keeps its domain).
func (c *claim) pooled() bool {
	for _, pi := range c.infos {
		if _, ok := pi.poolTerm(); !ok {
			return false
		}
		for _, dc := range pi.domain {
			if r, ok := c.reqs[dc.group.key]; !ok {
				return false
			} else if _, single := r.Single(); !single {
				return false
			}
		}
	}
	return true
}

// packPools repacks the provisioner's claims not sized yet that hold only pooled pods (see the
// top of the file), pool by pool (claims of equal requirements), and marks the new claims
// sized. Claims of other kinds are left to split.
func (ps *provState) packPools() {
	pools := map[string][]int{}
	var order []string
	for i, c := range ps.claims {
		if !c.pooled() {
			continue
		}
		k := c.reqs.String()
		if _, ok := pools[k]; !ok {
			order = append(order, k)
		}
		pools[k] = append(pools[k], i)
	}
	if len(order) == 0 {
		return
	}
	replaced := map[int]bool{}
	var added []*claim
	for _, k := range order {
		idx := ps.closedPool(pools[k])
		if len(idx) == 0 {
			continue
		}
		old := make([]*claim, len(idx))
		for j, i := range idx {
			old[j] = ps.claims[i]
		}
		pieces := ps.packPool(old)
		if pieces == nil {
			continue
		}
		for _, i := range idx {
			replaced[i] = true
		}
		added = append(added, pieces...)
	}
	if len(replaced) == 0 {
		return
	}
	out := make([]*claim, 0, len(ps.claims)-len(replaced)+len(added))
	for i, c := range ps.claims {
		if !replaced[i] {
			out = append(out, c)
		}
	}
	ps.setClaims(append(out, added...))
}

// packShape is the pods of one request shape left to pack.
type packShape struct {
	req   []int64 // requests per packing dimension
	worth float64 // Σ y(r)·req(r), USD/hour
	group int     // index of the pods' one-per-node term, or -1
	pods  []*podInfo
}

// packType is an instance type a pool may use.
type packType struct {
	t      *typeInfo
	price  float64 // USD/hour
	usable []int64 // per packing dimension
	worth  float64 // Σ y(r)·usable(r): the most any filling of one node holds
}

// packPool packs the pods of old (claims of equal requirements, every pod pooled) onto new
// claims; nil when that costs no less than old or breaks the provisioner's limits.
func (ps *provState) packPool(old []*claim) []*claim {
	reqs := old[0].reqs
	oldPrice, oldCommitted := 0.0, Resources{}
	demand := Resources{}
	var infos []*podInfo
	for _, c := range old {
		oldPrice += c.price
		oldCommitted.AddInPlace(c.committed)
		demand.AddInPlace(c.requests)
		infos = append(infos, c.infos...)
	}
	groups, largest, ok := ps.poolGroups(infos)
	if !ok {
		return nil
	}
	dims := make([]corev1.ResourceName, 0, len(demand))
	for k, v := range demand {
		if v > 0 {
			dims = append(dims, k)
		}
	}
	slices.Sort(dims)
	smallest := Resources{}
	for i, pi := range infos {
		for _, k := range dims {
			if v := pi.requests[k]; i == 0 || v < smallest[k] {
				smallest[k] = v
			}
		}
	}
	types, unit, perNode := ps.packTypes(reqs, demand, dims, smallest, largest)
	if len(types) == 0 {
		return nil
	}
	kinds := packGreedy(packShapes(infos, dims, unit, groups, largest, perNode), types, groupCount(groups), oldPrice)
	if kinds == nil {
		return nil
	}
	var pieces []*claim
	total, committed := 0.0, Resources{}
	saved := ps.committed
	ps.committed = Resources{} // recompute adds each piece's commitment here; counted below
	for _, kind := range kinds {
		cs := ps.newPoolClaims(reqs, kind)
		if cs == nil {
			ps.committed = saved
			return nil
		}
		for _, c := range cs {
			total += c.price
			committed.AddInPlace(c.committed)
		}
		pieces = append(pieces, cs...)
	}
	ps.committed = saved
	if total >= oldPrice*(1-1e-9) || !ps.withinLimitsAfter(oldCommitted, committed) {
		return nil
	}
	for k, v := range oldCommitted {
		ps.committed[k] -= v
	}
	ps.committed.AddInPlace(committed)
	return pieces
}

// closedPool returns the claims of idx (indices into ps.claims) that may be packed together:
// without the claims whose pods carry a one-per-node term (poolTerm) that selects a pod of the
// pool not carrying it (such a pod could not share a node with the term's pods, which the
// packing does not model; e.g. a hostname spread whose selector also counts generic pods),
// dropped until no such term is left. The claims dropped keep their nodes.
func (ps *provState) closedPool(idx []int) []int {
	for len(idx) > 0 {
		var infos []*podInfo
		for _, i := range idx {
			infos = append(infos, ps.claims[i].infos...)
		}
		bad := ps.openTerms(infos)
		if len(bad) == 0 {
			return idx
		}
		idx = slices.DeleteFunc(slices.Clone(idx), func(i int) bool {
			return slices.ContainsFunc(ps.claims[i].infos, func(pi *podInfo) bool {
				t, _ := pi.poolTerm()
				return t != nil && bad[t]
			})
		})
	}
	return nil
}

// openTerms returns the one-per-node terms of the pods of infos that select a pod of infos
// not carrying them.
func (ps *provState) openTerms(infos []*podInfo) map[*podTerm]bool {
	own := map[*podInfo]*podTerm{}
	var terms []*podTerm
	seen := map[*podTerm]bool{}
	for _, pi := range infos {
		if t, _ := pi.poolTerm(); t != nil {
			own[pi] = t
			if !seen[t] {
				seen[t] = true
				terms = append(terms, t)
			}
		}
	}
	bad := map[*podTerm]bool{}
	for _, pi := range infos {
		for _, t := range terms {
			if !bad[t] && own[pi] != t && pi.selectedBy(t, ps.topo.nsLabels[pi.pod.Namespace]) {
				bad[t] = true
			}
		}
	}
	return bad
}

// poolGroups returns the one-per-node term of each pod of infos that has one (poolTerm) by
// index, and the index of the term with the most pods (-1 without terms). ok is false when a
// term selects a pod of the pool that does not carry it (see closedPool).
func (ps *provState) poolGroups(infos []*podInfo) (groups map[*podInfo]int, largest int, ok bool) {
	if len(ps.openTerms(infos)) > 0 {
		return nil, 0, false
	}
	index := map[*podTerm]int{}
	var sizes []int
	groups = map[*podInfo]int{}
	for _, pi := range infos {
		t, _ := pi.poolTerm()
		if t == nil {
			continue
		}
		g, seen := index[t]
		if !seen {
			g = len(sizes)
			index[t] = g
			sizes = append(sizes, 0)
		}
		groups[pi] = g
		sizes[g]++
	}
	largest = -1
	for g, n := range sizes {
		if largest < 0 || n > sizes[largest] {
			largest = g
		}
	}
	return groups, largest, true
}

// packTypes returns the types reqs allow, with their prices and usable room per dimension, most
// worth per USD/hour first, and the unit prices of step 1 at the top of the file (USD/hour per
// milli-unit of each dimension).
//
// With a one-per-node term, its pods (largestPods of them) need that many nodes: the cover then
// has a row for the number of nodes too, and perNode is what each node is worth by it (USD/hour).
func (ps *provState) packTypes(reqs Requirements, demand Resources, dims []corev1.ResourceName, smallest Resources, largestPods int) ([]packType, []float64, float64) {
	var types []packType
	for _, pt := range ps.compatibleByPrice(reqs, extendedProbe(demand)) {
		if !smallest.Fits(pt.t.usable) {
			continue // holds no pod of the pool: its room is worth nothing to it
		}
		u := make([]int64, len(dims))
		for d, k := range dims {
			u[d] = pt.t.usable[k]
		}
		types = append(types, packType{t: pt.t, price: pt.price, usable: u})
	}
	if len(types) == 0 {
		return nil, nil, 0
	}
	// The cover, in units of the pool's demand: y(r) is then the price of all of the pool's r.
	cols := len(dims)
	if largestPods > 0 {
		cols++ // the nodes row: each type counts 1/largestPods
	}
	rows := make([][]float64, len(types))
	prices := make([]float64, len(types))
	for i, t := range types {
		rows[i] = make([]float64, cols)
		for d, k := range dims {
			rows[i][d] = float64(t.usable[d]) / float64(demand[k])
		}
		if largestPods > 0 {
			rows[i][len(dims)] = 1 / float64(largestPods)
		}
		prices[i] = t.price
	}
	y := coverDual(rows, prices)
	perNode := 0.0
	if largestPods > 0 && y != nil && y[len(dims)] > 0 {
		perNode = y[len(dims)] / float64(largestPods)
	}
	unit := make([]float64, len(dims))
	priced := false
	for d, k := range dims {
		if y != nil && y[d] > 0 {
			unit[d] = y[d] / float64(demand[k])
			priced = true
		}
	}
	if !priced {
		// No usable dual (degenerate cover): every dimension's whole demand is worth the same.
		for d, k := range dims {
			unit[d] = 1 / float64(demand[k])
		}
	}
	for i := range types {
		types[i].worth = perNode
		for d := range dims {
			types[i].worth += unit[d] * float64(types[i].usable[d])
		}
	}
	slices.SortStableFunc(types, func(a, b packType) int {
		return cmp.Compare(b.worth/b.price, a.worth/a.price)
	})
	return types, unit, perNode
}

// packShapes groups infos by request shape and one-per-node group (groups), each worth its
// requests at the unit prices, plus perNode for the pods of the largest group (each needs a
// node of its own), dearest first. The order of the pods within a shape is kept.
func packShapes(infos []*podInfo, dims []corev1.ResourceName, unit []float64, groups map[*podInfo]int, largest int, perNode float64) []*packShape {
	byKey := map[string]*packShape{}
	var shapes []*packShape
	for _, pi := range infos {
		g, in := groups[pi]
		if !in {
			g = -1
		}
		k := pi.requests.key() + "|" + strconv.Itoa(g)
		s := byKey[k]
		if s == nil {
			req := make([]int64, len(dims))
			w := 0.0
			for d, name := range dims {
				req[d] = pi.requests[name]
				w += unit[d] * float64(req[d])
			}
			if g >= 0 && g == largest {
				w += perNode
			}
			s = &packShape{req: req, worth: w, group: g}
			byKey[k] = s
			shapes = append(shapes, s)
		}
		s.pods = append(s.pods, pi)
	}
	slices.SortStableFunc(shapes, func(a, b *packShape) int { return cmp.Compare(b.worth, a.worth) })
	return shapes
}

// packKind is count nodes of one type filled alike: nodes[i] are the pods of the i-th.
type packKind struct {
	t     *packType
	nodes [][]*podInfo
}

// packGreedy is step 2 at the top of the file. It returns nil when some pod fits no type, or
// when the nodes would cost budget (USD/hour) or more.
func packGreedy(shapes []*packShape, types []packType, groups int, budget float64) []packKind {
	left := 0
	for _, s := range shapes {
		left += len(s.pods)
	}
	// Fill orders: by worth, and by each dimension's request (dearest first within it); each
	// node takes the order that packs it best.
	orders := [][]int{make([]int, len(shapes))}
	for j := range shapes {
		orders[0][j] = j
	}
	for d := range shapes[0].req {
		o := slices.Clone(orders[0])
		slices.SortStableFunc(o, func(a, b int) int { return cmp.Compare(shapes[b].req[d], shapes[a].req[d]) })
		orders = append(orders, o)
	}
	take := make([]int, len(shapes))
	best := make([]int, len(shapes))
	inGroup := make([]bool, groups)
	room := make([]int64, len(types[0].usable))
	var kinds []packKind
	cost := 0.0
	for left > 0 {
		var bestType *packType
		bestEff := 0.0
		for i := range types {
			t := &types[i]
			if t.worth/t.price <= bestEff {
				break // no filling of this type or any after it beats the best
			}
			for _, order := range orders {
				w := fill(shapes, order, t.usable, room, take, inGroup)
				if eff := w / t.price; w > 0 && eff > bestEff {
					bestType, bestEff = t, eff
					copy(best, take)
				}
			}
		}
		if bestType == nil {
			return nil // the pods left fit no type
		}
		// As many nodes filled alike as the pods left allow.
		repeat := math.MaxInt
		for j, k := range best {
			if k > 0 {
				repeat = min(repeat, len(shapes[j].pods)/k)
			}
		}
		cost += float64(repeat) * bestType.price
		if cost >= budget {
			return nil
		}
		kind := packKind{t: bestType, nodes: make([][]*podInfo, repeat)}
		for n := range repeat {
			for j, k := range best {
				if k > 0 {
					kind.nodes[n] = append(kind.nodes[n], shapes[j].pods[:k]...)
					shapes[j].pods = shapes[j].pods[k:]
					left -= k
				}
			}
		}
		kinds = append(kinds, kind)
	}
	return kinds
}

// fill fills one node of the given usable room first-fit in order from the pods left in shapes,
// at most one pod per one-per-node group: take[j] pods of shapes[j]. It returns the worth taken;
// room and inGroup are scratch space.
func fill(shapes []*packShape, order []int, usable, room []int64, take []int, inGroup []bool) float64 {
	copy(room, usable)
	clear(inGroup)
	w := 0.0
	for _, j := range order {
		s := shapes[j]
		take[j] = 0
		k := len(s.pods)
		if s.group >= 0 {
			if inGroup[s.group] {
				continue
			}
			k = min(k, 1)
		}
		for d, r := range s.req {
			if r > 0 && k > 0 {
				k = min(k, int(room[d]/r))
			}
		}
		if k <= 0 {
			continue
		}
		take[j] = k
		if s.group >= 0 {
			inGroup[s.group] = true
		}
		for d, r := range s.req {
			room[d] -= int64(k) * r
		}
		w += float64(k) * s.worth
	}
	return w
}

// newPoolClaims returns the claims of kind's nodes under reqs, sized; nil when no type holds
// one (not expected: the kind's type does).
func (ps *provState) newPoolClaims(reqs Requirements, kind packKind) []*claim {
	var types []*typeInfo
	out := make([]*claim, 0, len(kind.nodes))
	for _, pods := range kind.nodes {
		total := Resources{}
		for _, pi := range pods {
			total.AddInPlace(pi.requests)
		}
		if types == nil {
			// Nodes of a kind hold equal requests: they share the types.
			// Only the types no dearer than the kind's (the greedy sized the node): room in
			// dearer ones would invite pods that make it cost more.
			for _, t := range ps.filter(ps.types, reqs, reqs, total, nil) {
				if p, ok := ps.price(t, reqs); ok && p <= kind.t.price {
					types = append(types, t)
				}
			}
			if len(types) == 0 {
				return nil
			}
		}
		c := &claim{prov: ps, reqs: reqs, types: types, requests: total, sized: true}
		for _, pi := range pods {
			c.pods, c.infos = append(c.pods, pi.pod), append(c.infos, pi)
			c.host.add(pi.pod, pi.symAnti, pi.symSpread, pi.ports)
		}
		c.recompute()
		out = append(out, c)
	}
	return out
}

// groupCount returns how many one-per-node groups groups (pod to group index) names.
func groupCount(groups map[*podInfo]int) int {
	n := 0
	for _, g := range groups {
		n = max(n, g+1)
	}
	return n
}
