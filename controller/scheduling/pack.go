package scheduling

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
)

// Packing a pool by the bill. Pods that carry no hostname-scoped constraint other than one
// required hostname anti-affinity term or one DoNotSchedule hostname spread of maxSkew 1 (no
// hostname pod affinity, no host ports), no volumes and no soft pod terms may share any node
// whose requirements they accept, in any combination their requests allow as long as no pod a
// carried term selects shares the carrier's node. After placement, the planned nodes holding
// only such pods are pooled by their requirements (a pool leaving a zone or capacity type open
// joins the largest pool that fixes it, see poolJoins), and each pool is packed again from
// scratch onto the instance types those requirements allow:
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
//  3. Whole-node fillings (pack_columns.go): for a pool of at most packColumnsMaxShapes shapes,
//     the configuration programme over fillings of one node each, solved by column generation
//     from the greedy's fillings, bought rounded down, solved again for the pods left and
//     rounded again a few times, the rest packed by the greedy; kept when it costs less than
//     step 2. A pool of more shapes (many hostname profiles, as the
//     Karpenter mix's) is solved so on its shapes merged by requests and by the one-per-node
//     term of most carriers (packColumnsMerged, at most packColumnsMergedMaxShapes); each node
//     bought takes pods its other hostname terms admit, a node that cannot get its whole
//     filling is left to a later round, fillings of fractional part at least
//     packColumnsRoundUp get one more node, and the pods left are packed again the same way;
//     a pool of at most packColumnsExactPods pods also searches fillings exactly when the
//     greedy fills find none (mergedKnapsacks).
//  4. The pool's new nodes replace its old ones when they cost less in total, and stay within
//     the provisioner's limits.
//
// Pods of one request shape and profile (same resources and amounts, same carried and selecting
// terms) are counted, not handled one by one, so a kind of node costs O(types × shapes) to choose
// however many pods the pool holds.
//
// A node chosen by worth per dollar is the cheapest cover's kind of node when it can be filled
// as well as the cover's fractions; the greedy falls short of the cover by the room left in the
// nodes (the last node of the pool, mainly), which the lower bound cannot see.

// poolTerm reports whether pi may join a pool (see the top of the file) and the hostname-scoped
// term it carries, nil for none: a single required hostname anti-affinity term, or a single
// DoNotSchedule hostname topology spread constraint with maxSkew 1, and no other
// hostname-scoped constraint. The packing keeps every pod a carried term selects off the
// carrier's node (poolProfiles), which both satisfy: anti-affinity forbids exactly that, and a
// spread of maxSkew 1 holds on a node without other selected pods whatever the other nodes hold
// (kube-scheduler's PodTopologySpread: the node's count, plus one for a pod that matches itself,
// stays within 1 of the smallest count, which is at least 0). Pods with preferences are pooled
// only without such a term.
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
		if len(pi.host.antiAffinity) != 1 || len(pi.symAnti) != 1 || pi.host.antiAffinity[0] != pi.symAnti[0] {
			return nil, false
		}
		return pi.symAnti[0], true
	case anti == 0:
		if len(pi.host.spread) != 1 || len(pi.symSpread) != 1 {
			return nil, false
		}
		hs := pi.host.spread[0]
		if hs.term != pi.symSpread[0].term || hs.maxSkew != 1 {
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
// sized. Claims of other kinds are left to split. memo (nil: none) keeps what each set of claims
// packed into, and answers for a set packed before (see poolMemo).
//
// Without limits the pools are planned (poolPlan.plan) on every CPU at once: a plan reads only its
// claims' pods and the provisioner's types. The plans are then turned into claims one pool after
// the other in the sequential order, so the result is the same as packing one pool at a time.
// With limits each pool is packed within what the previous ones left.
func (ps *provState) packPools(memo *poolMemo) {
	pools := map[string][]int{}
	var order []string
	for i, c := range ps.claims {
		if !c.pooled() {
			continue
		}
		// Pods that request an extended resource (a GPU) pool apart from those that do not:
		// packed together, the others would run on the accelerator types.
		k := c.reqs.String()
		if probe := extendedProbe(c.requests); len(probe) > 0 {
			k += "|" + probe.key()
		}
		if _, ok := pools[k]; !ok {
			order = append(order, k)
		}
		pools[k] = append(pools[k], i)
	}
	if len(order) == 0 {
		return
	}
	claimsOf := func(idx []int) []*claim {
		old := make([]*claim, len(idx))
		for j, i := range idx {
			old[j] = ps.claims[i]
		}
		return old
	}
	attempts := ps.poolAttempts(pools, order)
	if ps.limits == nil {
		var plans []*poolPlan
		for _, a := range attempts {
			if old := claimsOf(a.idx); !memo.has(old) {
				a.plan = ps.newPoolPlan(old) // profiles fill caches pods share: made here, one at a time
				plans = append(plans, a.plan)
			}
		}
		parallel(len(plans), func(i int) { plans[i].plan(ps) })
	}
	r := &poolRun{ps: ps, memo: memo, claimsOf: claimsOf, replaced: map[int]bool{}}
	for _, a := range attempts {
		if len(a.with) > 0 && ps.joinCostly(pools, a) {
			r.jointOrApart(a, pools)
			continue
		}
		if r.take(a.idx, r.packed(a.idx, a.plan)) || len(a.with) == 0 {
			continue
		}
		r.take(pools[a.key], r.packed(pools[a.key], nil))
		for _, l := range a.with {
			r.take(pools[l], r.packed(pools[l], nil))
		}
	}
	if len(r.replaced) == 0 {
		return
	}
	out := make([]*claim, 0, len(ps.claims)-len(r.replaced)+len(r.added))
	for i, c := range ps.claims {
		if !r.replaced[i] {
			out = append(out, c)
		}
	}
	ps.setClaims(append(out, r.added...))
}

// poolRun is one packPools pass: the claims (by index into ps.claims) its packings replace and
// the claims they add.
type poolRun struct {
	ps       *provState
	memo     *poolMemo
	claimsOf func(idx []int) []*claim
	replaced map[int]bool
	added    []*claim
}

// packed packs the claims idx (plan: made ahead, or nil) and moves the commitment; nil,
// changing nothing, when they pack for no less (claimPool).
func (r *poolRun) packed(idx []int, plan *poolPlan) []*claim {
	ps := r.ps
	old := r.claimsOf(idx)
	pieces, seen := r.memo.get(old)
	if !seen {
		if plan == nil {
			plan = ps.newPoolPlan(old)
			plan.plan(ps)
		}
		pieces = ps.claimPool(old, plan)
		r.memo.put(old, pieces)
	} else if pieces != nil {
		// As claimPool moves the commitment.
		for _, c := range old {
			for k, v := range c.committed {
				ps.committed[k] -= v
			}
		}
		for _, c := range pieces {
			ps.committed.AddInPlace(c.committed)
		}
	}
	return pieces
}

// take records that pieces replace the claims idx; false when pieces is nil (left as they are).
func (r *poolRun) take(idx []int, pieces []*claim) bool {
	if pieces == nil {
		return false
	}
	for _, i := range idx {
		r.replaced[i] = true
	}
	r.added = append(r.added, pieces...)
	return true
}

// price is what the claims idx cost after packing into pieces (nil: left as they are), USD/hour.
func (r *poolRun) price(idx []int, pieces []*claim) float64 {
	total := 0.0
	if pieces == nil {
		for _, i := range idx {
			total += r.ps.claims[i].price
		}
		return total
	}
	for _, c := range pieces {
		total += c.price
	}
	return total
}

// jointOrApart packs a's claims together (a's pool and those joining it) and each pool apart,
// and keeps the cheaper plan (the joint one on a tie): the joining pools' pods pay more on a's
// requirements (joinCostly), which filling the room of a's nodes may not make up for.
func (r *poolRun) jointOrApart(a *poolAttempt, pools map[string][]int) {
	ps := r.ps
	before := ps.committed.Copy()
	joint := r.packed(a.idx, a.plan)
	jointCost, jointCommitted := r.price(a.idx, joint), ps.committed
	ps.committed = before
	groups := [][]int{pools[a.key]}
	for _, l := range a.with {
		groups = append(groups, pools[l])
	}
	apart := make([][]*claim, len(groups))
	apartCost := 0.0
	for g, idx := range groups {
		apart[g] = r.packed(idx, nil)
		apartCost += r.price(idx, apart[g])
	}
	if jointCost <= apartCost*(1+1e-9) {
		ps.committed = jointCommitted
		r.take(a.idx, joint)
		return
	}
	for g, idx := range groups {
		r.take(idx, apart[g])
	}
}

// poolAttempt is the first packing tried for a pool that joins no other (see poolJoins): its
// claims (idx, into ps.claims) with those of the pools joining it (with), and its plan when made
// ahead (packPools).
type poolAttempt struct {
	key  string
	idx  []int
	with []string
	plan *poolPlan
}

// poolAttempts lists, in order, the first attempt of each pool that joins no other.
func (ps *provState) poolAttempts(pools map[string][]int, order []string) []*poolAttempt {
	joins := ps.poolJoins(pools, order)
	var attempts []*poolAttempt
	for _, k := range order {
		if _, joined := joins[k]; joined {
			continue // packed with the pool it joins
		}
		a := &poolAttempt{key: k, idx: pools[k]}
		for _, l := range order {
			if joins[l] == k {
				a.with = append(a.with, l)
			}
		}
		if len(a.with) > 0 {
			a.idx = slices.Clone(pools[k])
			for _, l := range a.with {
				a.idx = append(a.idx, pools[l]...)
			}
		}
		attempts = append(attempts, a)
	}
	return attempts
}

// parallel calls f(0) ... f(n-1), on up to GOMAXPROCS goroutines, and returns when all have
// returned; in the caller's goroutine when one suffices. f must be safe to call concurrently.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				f(int(i))
			}
		})
	}
	wg.Wait()
}

// poolMemo maps a set of claims packed together (by its first claim, then the whole list) to the
// claims packPool made of them, nil for none. packPool reads only the claims and the
// provisioner's types (limits aside, which a memo is not used with), so the answer holds for the
// same claims in a later packPools of the same provisioner.
type poolMemo map[*claim][]poolMemoEntry

type poolMemoEntry struct{ old, pieces []*claim }

// has reports whether the memo knows old (get's second result).
func (m *poolMemo) has(old []*claim) bool {
	_, seen := m.get(old)
	return seen
}

func (m *poolMemo) get(old []*claim) ([]*claim, bool) {
	if m == nil {
		return nil, false
	}
	for _, e := range (*m)[old[0]] {
		if slices.Equal(e.old, old) {
			return e.pieces, true
		}
	}
	return nil, false
}

func (m *poolMemo) put(old, pieces []*claim) {
	if m == nil {
		return
	}
	if *m == nil {
		*m = poolMemo{}
	}
	(*m)[old[0]] = append((*m)[old[0]], poolMemoEntry{old: old, pieces: pieces})
}

// packShape is the pods of one request shape left to pack.
type packShape struct {
	req   []int64 // requests per packing dimension
	worth float64 // Σ y(r)·req(r), USD/hour
	prof  packProfile
	pods  []*podInfo
}

// packType is an instance type a pool may use.
type packType struct {
	t      *typeInfo
	price  float64 // USD/hour
	usable []int64 // per packing dimension
	worth  float64 // Σ y(r)·usable(r): the most any filling of one node holds
}

// poolPlan is the packing of one set of claims (claims of equal requirements, every pod
// pooled): newPoolPlan takes what it reads from the claims, plan packs their pods into kinds of
// nodes, and claimPool makes the claims.
type poolPlan struct {
	reqs                  Requirements
	infos                 []*podInfo
	oldPrice              float64 // USD/hour of the old claims
	demand                Resources
	prof                  map[*podInfo]packProfile
	terms, largest, pods1 int // see poolProfiles (pods1: largestPods)
	// kinds is plan's result: nil when the pool cannot be packed, or not for less.
	kinds []packKind
}

// newPoolPlan is the plan of old's pods, their profiles made (poolProfiles fills the term
// selections that copies of one compiled pod share, so it is not run concurrently).
func (ps *provState) newPoolPlan(old []*claim) *poolPlan {
	pp := &poolPlan{reqs: old[0].reqs, demand: Resources{}}
	for _, c := range old {
		pp.oldPrice += c.price
		pp.demand.AddInPlace(c.requests)
		pp.infos = append(pp.infos, c.infos...)
	}
	pp.prof, pp.terms, pp.largest, pp.pods1 = ps.poolProfiles(pp.infos)
	return pp
}

// plan packs the pool's pods by the greedy of resource prices and by whole-node fillings (see
// the top of the file) and keeps the cheaper in pp.kinds. It reads only pp, the provisioner's
// types and compatibleByPrice's cache (locked), so plans of different pools may run at once.
func (pp *poolPlan) plan(ps *provState) {
	dims := make([]corev1.ResourceName, 0, len(pp.demand))
	for k, v := range pp.demand {
		if v > 0 {
			dims = append(dims, k)
		}
	}
	slices.Sort(dims)
	smallest := Resources{}
	for i, pi := range pp.infos {
		for _, k := range dims {
			if v := pi.requests[k]; i == 0 || v < smallest[k] {
				smallest[k] = v
			}
		}
	}
	var least Resources // the smallest requests of the self-selecting carriers of largest
	for _, pi := range pp.infos {
		if p := pp.prof[pi]; pp.largest >= 0 && p.carry == pp.largest && p.self() {
			if least == nil {
				least = pi.requests.Copy()
			}
			least.MinInPlace(pi.requests)
		}
	}
	types, unit, perNode := ps.packTypes(pp.reqs, pp.demand, dims, smallest, pp.pods1, least)
	if len(types) == 0 {
		return
	}
	// Each packer takes the pods it packs out of its shapes: each gets its own copy.
	shapes := packShapes(pp.infos, dims, unit, pp.prof, pp.largest, perNode)
	kinds := packGreedy(cloneShapes(shapes), types, pp.terms, pp.oldPrice)
	budget := pp.oldPrice
	if kinds != nil {
		budget = 0
		for _, k := range kinds {
			budget += float64(len(k.nodes)) * k.t.price
		}
	}
	if byColumns := packColumns(cloneShapes(shapes), types, pp.terms, kinds, budget); byColumns != nil {
		kinds = byColumns
	} else if merged := packColumnsMerged(shapes, types, pp.terms, pp.largest, kinds, budget); merged != nil {
		kinds = merged
	}
	pp.kinds = kinds
}

// claimPool makes the claims of pp's kinds of nodes in place of old and moves the commitment;
// nil, changing nothing, when pp has none, they cost no less than old or break the provisioner's
// limits.
func (ps *provState) claimPool(old []*claim, pp *poolPlan) []*claim {
	if pp.kinds == nil {
		return nil
	}
	oldCommitted := Resources{}
	for _, c := range old {
		oldCommitted.AddInPlace(c.committed)
	}
	var pieces []*claim
	total, committed := 0.0, Resources{}
	saved := ps.committed
	ps.committed = Resources{} // recompute adds each piece's commitment here; counted below
	for _, kind := range pp.kinds {
		cs := ps.newPoolClaims(pp.reqs, kind)
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
	if total >= pp.oldPrice*(1-1e-9) || !ps.withinLimitsAfter(oldCommitted, committed) {
		return nil
	}
	for k, v := range oldCommitted {
		ps.committed[k] -= v
	}
	ps.committed.AddInPlace(committed)
	return pieces
}

// poolJoins maps a pool (by key, see packPools) to the pool it joins: a pool whose requirements
// are looser than another's (e.g. zone left open beside a pool in us-east-1a) is packed together
// with the largest pool of tighter requirements, on that pool's requirements, so its pods fill
// the room the tighter pool's nodes leave. Its pods accept those nodes (their requirements are
// within the looser ones), and none is counted by a topology key the looser pool leaves open (a
// pod counted by a zone spread or (anti-)affinity has its node's zone fixed, topology.keys), so
// moving them changes no domain's count. A pool that is itself the target of no join, or that
// has no tighter pool, joins none. The joint packing replaces the pools' claims when it costs
// less than they do; otherwise each pool is packed on its own. When the joining pods' types
// cost much more on the tighter requirements (joinCostly: on-demand against spot),
// the pools are also packed apart, and the cheaper of the two plans is kept (the joint on a
// tie): filling the tighter nodes' room would not pay for the dearer offerings.
func (ps *provState) poolJoins(pools map[string][]int, order []string) map[string]string {
	joins := map[string]string{}
	reqsOf := func(k string) Requirements { return ps.claims[pools[k][0]].reqs }
	tighter := func(a, b string) bool { // a's requirements strictly within b's
		return contains(reqsOf(b), reqsOf(a)) && !contains(reqsOf(a), reqsOf(b))
	}
	for _, l := range order {
		best := ""
		for _, k := range order {
			if k == l || !tighter(k, l) || slices.ContainsFunc(order, func(m string) bool { return m != k && tighter(m, k) }) {
				continue
			}
			if best == "" || len(pools[k]) > len(pools[best]) {
				best = k
			}
		}
		if best == "" || !ps.movable(pools[l], reqsOf(l), reqsOf(best)) {
			continue
		}
		joins[l] = best
	}
	return joins
}

// joinApartRatio is how much dearer (as a ratio) the joining pods' offerings must be on the
// tighter pool's requirements for the pools to be packed apart as well (joinCostly), unless
// the packing holds at most joinApartClaims claims (then splitMargin dearer suffices). Spot
// against on-demand is 2-4x. Below it, for large pools, filling the tighter nodes' room has
// paid in every case seen: the benchmark mixes' zone pools (255 to 3,940 claims) join at 7-18%
// dearer and packing them apart came out cheaper once (by 1.5%, 5k mix beside 4,000 nodes),
// while it made the 5k mix's solve a third slower.
const (
	joinApartRatio  = 1.25
	joinApartClaims = 128
)

// joinCostly reports whether the pods of the pools joining a's (a.with) cost much more on a's
// requirements: the cheapest offering of their claims' types, summed over those claims, is at
// least joinApartRatio times dearer under a's requirements than under their own (on-demand
// against spot, or a much dearer zone), or at least splitMargin dearer when a holds at most
// joinApartClaims claims.
func (ps *provState) joinCostly(pools map[string][]int, a *poolAttempt) bool {
	to := ps.claims[pools[a.key][0]].reqs
	own, joined := 0.0, 0.0
	for _, l := range a.with {
		for _, i := range pools[l] {
			c := ps.claims[i]
			own += ps.minPrice(c.types, c.reqs)
			joined += ps.joinedPrice(c, to)
		}
	}
	if len(a.idx) <= joinApartClaims {
		return joined > own*(1+splitMargin)
	}
	return joined > own*joinApartRatio
}

// joinedPrice returns what c's pods would cost at least under to, the requirements of a pool
// they join, USD/hour: the cheapest offering under to of c's types, or, when to allows fewer
// instance types than c's requirements (a family, an architecture, a CPU count), at least c's
// price scaled by how much dearer the cheapest type that holds c's largest pod is under to
// (unitPrice; +Inf when no type under to holds it).
func (ps *provState) joinedPrice(c *claim, to Requirements) float64 {
	price := ps.minPrice(c.types, to)
	narrowed := false
	for k, r := range to {
		if (ps.isTypeKey[k] || offeringKeys[k]) && !within(requirementOf(c.reqs, k), r) {
			narrowed = true
			break
		}
	}
	if !narrowed {
		return price
	}
	unit := largestRequests(c.infos)
	probe := extendedProbe(unit)
	own := ps.unitPrice(c.reqs, unit, probe)
	if own <= 0 || math.IsInf(own, 1) {
		return price
	}
	return max(price, c.price*ps.unitPrice(to, unit, probe)/own)
}

// movable reports whether no pod of the claims idx is counted by a topology key on which the
// tighter requirements to differ from the looser from.
func (ps *provState) movable(idx []int, from, to Requirements) bool {
	var changed []string
	for k, r := range to {
		if f, ok := from[k]; !ok || !contains(Requirements{k: f}, Requirements{k: r}) || !contains(Requirements{k: r}, Requirements{k: f}) {
			changed = append(changed, k)
		}
	}
	for _, i := range idx {
		for _, pi := range ps.claims[i].infos {
			for _, key := range ps.topo.keys(pi) {
				if slices.Contains(changed, key) {
					return false
				}
			}
		}
	}
	return true
}

// packProfile is what the packing must know of a pod's hostname-scoped terms within its pool:
// the index of the term it carries (-1: none) and the indices of the carried terms that select
// it, ascending.
type packProfile struct {
	carry int
	sel   []int
}

// self reports whether the pod carries a term that selects it: one such pod per node.
func (p packProfile) self() bool { return p.carry >= 0 && slices.Contains(p.sel, p.carry) }

// key identifies the profile among a pool's shapes.
func (p packProfile) key() string {
	b := []byte(strconv.Itoa(p.carry))
	for _, t := range p.sel {
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(t), 10)
	}
	return string(b)
}

// poolProfiles returns each pod's profile within the pool infos, the number of distinct terms
// carried, and the term whose self-selecting carriers are the most (largest, -1 for none) with
// their number: they need that many nodes.
func (ps *provState) poolProfiles(infos []*podInfo) (prof map[*podInfo]packProfile, terms, largest, largestPods int) {
	index := map[*podTerm]int{}
	var list []*podTerm
	carry := make([]int, len(infos))
	for i, pi := range infos {
		carry[i] = -1
		t, _ := pi.poolTerm()
		if t == nil {
			continue
		}
		g, seen := index[t]
		if !seen {
			g = len(list)
			index[t] = g
			list = append(list, t)
		}
		carry[i] = g
	}
	prof = make(map[*podInfo]packProfile, len(infos))
	selfCount := make([]int, len(list))
	for i, pi := range infos {
		p := packProfile{carry: carry[i]}
		for g, t := range list {
			if pi.selectedBy(t, ps.topo.nsLabels[pi.pod.Namespace]) {
				p.sel = append(p.sel, g)
			}
		}
		if p.self() {
			selfCount[p.carry]++
		}
		prof[pi] = p
	}
	largest = -1
	for g, n := range selfCount {
		if n > 0 && (largest < 0 || n > selfCount[largest]) {
			largest, largestPods = g, n
		}
	}
	return prof, len(list), largest, largestPods
}

// packTypes returns the types reqs allow, with their prices and usable room per dimension, most
// worth per USD/hour first, and the unit prices of step 1 at the top of the file (USD/hour per
// milli-unit of each dimension).
//
// With a one-per-node term, its pods (largestPods of them) need that many nodes: the cover then
// has a row for the number of nodes too, counting the types that hold least (the smallest
// request of each resource among those pods), and perNode is what each node is worth by it
// (USD/hour).
func (ps *provState) packTypes(reqs Requirements, demand Resources, dims []corev1.ResourceName, smallest Resources, largestPods int, least Resources) ([]packType, []float64, float64) {
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
		if largestPods > 0 && least.Fits(t.t.usable) {
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
		if c := cmp.Compare(b.worth/b.price, a.worth/a.price); c != 0 {
			return c
		}
		return cmp.Compare(a.price, b.price)
	})
	// A type with the same usable room as one kept before fills alike at no lower price: the
	// greedy never prefers it, so it is not tried.
	seen := map[string]bool{}
	types = slices.DeleteFunc(types, func(t packType) bool {
		k := fmt.Sprint(t.usable)
		if seen[k] {
			return true
		}
		seen[k] = true
		return false
	})
	return types, unit, perNode
}

// packShapes groups infos by request shape and profile (prof), each worth its requests at the
// unit prices, plus perNode for the self-selecting carriers of the term largest (each needs a
// node of its own), dearest first. The order of the pods within a shape is kept.
func packShapes(infos []*podInfo, dims []corev1.ResourceName, unit []float64, prof map[*podInfo]packProfile, largest int, perNode float64) []*packShape {
	byKey := map[string]*packShape{}
	var shapes []*packShape
	for _, pi := range infos {
		p := prof[pi]
		k := pi.reqKey + "|" + p.key()
		s := byKey[k]
		if s == nil {
			req := make([]int64, len(dims))
			w := 0.0
			for d, name := range dims {
				req[d] = pi.requests[name]
				w += unit[d] * float64(req[d])
			}
			if largest >= 0 && p.carry == largest && p.self() {
				w += perNode
			}
			s = &packShape{req: req, worth: w, prof: p}
			byKey[k] = s
			shapes = append(shapes, s)
		}
		s.pods = append(s.pods, pi)
	}
	slices.SortStableFunc(shapes, func(a, b *packShape) int { return cmp.Compare(b.worth, a.worth) })
	return shapes
}

// cloneShapes copies shapes and their pod lists (the packers remove and reorder pods in
// place); requests and profiles are shared (read only).
func cloneShapes(shapes []*packShape) []*packShape {
	out := make([]*packShape, len(shapes))
	for i, s := range shapes {
		cp := *s
		cp.pods = slices.Clone(s.pods)
		out[i] = &cp
	}
	return out
}

// packKind is count nodes of one type filled alike: nodes[i] are the pods of the i-th.
type packKind struct {
	t     *packType
	nodes [][]*podInfo
}

// packGreedy is step 2 at the top of the file. It returns nil when some pod fits no type, or
// when the nodes would cost budget (USD/hour) or more.
func packGreedy(shapes []*packShape, types []packType, terms int, budget float64) []packKind {
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
		if !slices.ContainsFunc(orders, func(p []int) bool { return slices.Equal(p, o) }) {
			orders = append(orders, o) // an order met before fills alike: tried once
		}
	}
	take := make([]int, len(shapes))
	best := make([]int, len(shapes))
	st := newNodeTerms(terms)
	room := make([]int64, len(types[0].usable))
	var kinds []packKind
	cost := 0.0
	least := make([]int64, len(room))
	for left > 0 {
		for d := range least {
			least[d] = -1
			for _, s := range shapes {
				if len(s.pods) > 0 && (least[d] < 0 || s.req[d] < least[d]) {
					least[d] = s.req[d]
				}
			}
		}
		var bestType *packType
		bestEff := 0.0
		for i := range types {
			t := &types[i]
			if t.worth/t.price <= bestEff {
				break // no filling of this type or any after it beats the best
			}
			for _, order := range orders {
				w := fill(shapes, order, t.usable, room, least, take, st)
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
		for o := range orders {
			orders[o] = slices.DeleteFunc(orders[o], func(j int) bool { return len(shapes[j].pods) == 0 })
		}
	}
	return kinds
}

// nodeTerms counts, on the node being filled, the carriers of each term and the pods each term
// selects.
type nodeTerms struct{ car, sel []int }

func newNodeTerms(n int) *nodeTerms { return &nodeTerms{car: make([]int, n), sel: make([]int, n)} }

// admits returns how many pods of profile p (at most k) the node takes: none when p's term
// already has a pod it selects there (or, for a self-selecting carrier, a carrier), or when a
// term that selects p has a carrier there; one for a self-selecting carrier.
func (n *nodeTerms) admits(p packProfile, k int) int {
	for _, t := range p.sel {
		if t != p.carry && n.car[t] > 0 {
			return 0
		}
	}
	if p.carry >= 0 {
		if n.sel[p.carry] > 0 {
			return 0
		}
		if p.self() {
			if n.car[p.carry] > 0 {
				return 0
			}
			return min(k, 1)
		}
	}
	return k
}

func (n *nodeTerms) add(p packProfile, k int) {
	if p.carry >= 0 {
		n.car[p.carry] += k
	}
	for _, t := range p.sel {
		n.sel[t] += k
	}
}

// fill fills one node of the given usable room first-fit in order from the pods left in shapes,
// keeping each carried term's selected pods off its carriers' node (nodeTerms.admits): take[j]
// pods of shapes[j]. It returns the worth taken; room and st are scratch space.
//
// least[d] is the least request of dimension d among the pods left (0 when some request none):
// once the room of some dimension is below it, no pod left fits and the rest of order is skipped.
func fill(shapes []*packShape, order []int, usable, room, least []int64, take []int, st *nodeTerms) float64 {
	copy(room, usable)
	clear(st.car)
	clear(st.sel)
	clear(take)
	w := 0.0
	for _, j := range order {
		s := shapes[j]
		k := len(s.pods)
		if k == 0 {
			continue
		}
		for d, r := range s.req {
			if r > 0 {
				if room[d] < r {
					k = 0
					break
				}
				k = min(k, int(room[d]/r))
			}
		}
		// After the room: admits gives 0, min(k, 1) or k, so the order does not change k.
		if k > 0 && (s.prof.carry >= 0 || len(s.prof.sel) > 0) {
			k = st.admits(s.prof, k)
		}
		if k <= 0 {
			continue
		}
		take[j] = k
		st.add(s.prof, k)
		full := false
		for d, r := range s.req {
			room[d] -= int64(k) * r
			full = full || room[d] < least[d]
		}
		w += float64(k) * s.worth
		if full {
			break
		}
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
			// compatibleByPrice is filter's answer for reqs (cached), cheapest first.
			for _, pt := range ps.compatibleByPrice(reqs, extendedProbe(total)) {
				if pt.price > kind.t.price {
					break
				}
				if total.Fits(pt.t.usable) && !wastesAccelerators(total, pt.t) {
					types = append(types, pt.t)
				}
			}
			if len(types) == 0 {
				return nil
			}
		}
		c := &claim{prov: ps, reqs: reqs, types: types, requests: total, sized: true,
			pods: make([]*corev1.Pod, 0, len(pods)), infos: make([]*podInfo, 0, len(pods))}
		c.host.pods = make([]hostPod, 0, len(pods))
		for _, pi := range pods {
			c.pods, c.infos = append(c.pods, pi.pod), append(c.infos, pi)
			c.host.add(pi.pod, pi.symAnti, pi.symSpread, pi.ports)
		}
		c.recompute()
		out = append(out, c)
	}
	return out
}
