package scheduling

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The configuration bound (bound 5 of LowerBound) prices whole nodes rather than resources.
//
// Pods are grouped into classes (same signature, same requests, same hostname groups of
// bound 3). A filling is an instance type with a number of pods of each class that fits its
// usable room and holds at most s pods of each hostname group; its price is the type's item
// price. Any plan is a set of fillings covering every class, so the linear programme
//
//	min Σ_f price(f)·x(f)  subject to  Σ_f count(f, c)·x(f) ≥ n(c) for every class c, x ≥ 0
//
// (the configuration LP of bin packing, Gilmore and Gomory 1961) is at most any plan's cost.
// Unlike the fractional cover it cannot buy the cpu of a type whose memory no pod fits beside
// it, nor split a pod across nodes.
//
// It has a column per filling, too many to list, so it is solved by column generation on a
// few of them: the restricted programme's dual gives a value π(c) ≥ 0 per pod of each class;
// for every item a filling of most value is searched (a knapsack), and fillings worth more
// than their price join the programme. The result does not rely on that search being exact:
// by weak duality (Farley 1990) Σ_c π(c)·n(c) / ρ is a lower bound whenever every filling's
// value is at most ρ times its price, and ρ is taken from an upper bound on each item's
// knapsack (certify): the least of the fractional knapsack of surrogate constraints, the grid
// table (gridBound: a dynamic programme over every resource with requests rounded down to
// cells), the optimum when the exact search completes, else a Lagrangian bound solved by
// dynamic programming. When the greedy search finds no filling worth its price, the items
// whose surrogate bound exceeds their price are searched (most promising first) by the grid
// table's filling (gridFilling, checked in full units) and exactly, until configPriceColumns
// fillings are found.
//
// A component of more than configMaxClasses classes is relaxed: every hostname group but the
// one of most pods is dropped (fewer caps admit more fillings, so the programme's optimum can
// only fall), which merges the classes that differed by those groups alone.
//
// Work is bounded by the classes (at most configMaxClasses), the items, configMaxRounds,
// configSearchNodes and the grid's states, not by the number of pods; it is deterministic.

// configMaxClasses bounds the classes the configuration bound handles; a component with more,
// even relaxed, gets no configuration bound (0), so its cost stays bounded.
const configMaxClasses = 64

// configPriceColumns bounds the fillings a round adds by the grid table and exact search.
const configPriceColumns = 8

// configMaxRounds bounds the column generation rounds.
const configMaxRounds = 60

// cfgClass is a class of identical pods of a component.
type cfgClass struct {
	sig    int
	req    []float64 // requests per dimension (milli-units)
	groups []int     // hostname groups (bound 3) the pods belong to
	n      int       // pods in the class
}

// cfgFilling is a column of the configuration LP: counts of each class on one item.
type cfgFilling struct {
	item   int // index into the component's items
	counts map[int]int
}

// cfgProblem is the configuration LP of one component.
type cfgProblem struct {
	dims     []corev1.ResourceName
	classes  []cfgClass
	usable   [][]float64 // per component item, per dimension
	prices   []float64   // per component item (USD/hour)
	fits     [][]int     // per component item, the classes allowed on it and fitting alone
	groupCap []int       // per hostname group, pods of it one node holds at most
}

// configurationBound returns bound 5 for the component, or 0 when it does not apply: existing
// nodes may hold pods (their free room is not modelled here), the component has more than
// configMaxClasses classes, or the programme is degenerate.
func (b *boundInput) configurationBound(c *lbComponent) float64 {
	if len(b.in.Nodes) > 0 || len(c.pods) == 0 {
		return 0
	}
	p := b.configProblem(c)
	if p == nil {
		return 0
	}
	return p.solve()
}

// configProblem builds the classes, the items' rooms and which classes each item may hold; nil
// when there are more than configMaxClasses classes even after keeping only the hostname group
// of most pods.
func (b *boundInput) configProblem(c *lbComponent) *cfgProblem {
	dimSet := map[corev1.ResourceName]bool{}
	for _, p := range c.pods {
		for k, v := range p.requests {
			if v > 0 {
				dimSet[k] = true
			}
		}
	}
	dims := make([]corev1.ResourceName, 0, len(dimSet))
	for k := range dimSet {
		dims = append(dims, k)
	}
	slices.Sort(dims)
	groupIDs := map[string]int{}
	var groupCap []int
	groupPods := map[int]int{}
	podGroups := make([][]int, len(c.pods))
	for pi, p := range c.pods {
		var groups []int
		own := b.in.NamespaceLabels[p.pod.Namespace]
		addGroup := func(key string, s int) {
			id, ok := groupIDs[key]
			if !ok {
				id = len(groupCap)
				groupIDs[key] = id
				groupCap = append(groupCap, s)
			}
			groups = append(groups, id)
		}
		for _, t := range p.host.antiAffinity {
			if t.matches(p.pod, own) {
				addGroup("anti "+termKey(t), 1)
			}
		}
		for _, s := range p.host.spread {
			if s.self == 1 {
				addGroup(fmt.Sprintf("spread %d %s", s.maxSkew, termKey(s.term)), s.maxSkew)
			}
		}
		slices.Sort(groups)
		groups = slices.Compact(groups)
		for _, g := range groups {
			groupPods[g]++
		}
		podGroups[pi] = groups
	}
	classes := b.configClasses(c, dims, podGroups)
	if classes == nil {
		// Relax: keep only the group of most pods (dropping a group's cap only admits more
		// fillings, so the programme's optimum can only fall).
		keep := -1
		for g, n := range groupPods {
			if keep < 0 || n > groupPods[keep] || (n == groupPods[keep] && g < keep) {
				keep = g
			}
		}
		relaxed := make([][]int, len(podGroups))
		for i, gs := range podGroups {
			if slices.Contains(gs, keep) {
				relaxed[i] = []int{keep}
			}
		}
		classes = b.configClasses(c, dims, relaxed)
		if classes == nil {
			return nil
		}
	}
	prob := &cfgProblem{dims: dims, classes: classes, groupCap: groupCap}
	pos := make(map[int]int, len(c.items))
	for i, item := range c.items {
		pos[item] = i
		u := make([]float64, len(dims))
		for d, k := range dims {
			u[d] = float64(b.items[item].usable[k])
		}
		prob.usable = append(prob.usable, u)
		prob.prices = append(prob.prices, b.items[item].price)
	}
	prob.fits = make([][]int, len(c.items))
	for ci, cl := range classes {
		for _, cand := range b.sigs[cl.sig] {
			i, ok := pos[cand.item]
			if !ok || !fitsVec(cl.req, prob.usable[i]) {
				continue
			}
			prob.fits[i] = append(prob.fits[i], ci)
		}
	}
	return prob
}

// configClasses groups the component's pods into classes by signature, hostname groups
// (groups[i] for c.pods[i]) and requests; nil when there are more than configMaxClasses.
func (b *boundInput) configClasses(c *lbComponent, dims []corev1.ResourceName, groups [][]int) []cfgClass {
	classIDs := map[string]int{}
	var classes []cfgClass
	for i, p := range c.pods {
		req := make([]float64, len(dims))
		var key strings.Builder
		fmt.Fprintf(&key, "%d|%v|", p.sig, groups[i])
		for d, k := range dims {
			req[d] = float64(p.requests[k])
			fmt.Fprintf(&key, "%d,", p.requests[k])
		}
		id, ok := classIDs[key.String()]
		if !ok {
			if len(classes) == configMaxClasses {
				return nil
			}
			id = len(classes)
			classIDs[key.String()] = id
			classes = append(classes, cfgClass{sig: p.sig, req: req, groups: groups[i]})
		}
		classes[id].n++
	}
	return classes
}

func fitsVec(req, room []float64) bool {
	for d := range req {
		if req[d] > room[d] {
			return false
		}
	}
	return true
}

// solve runs the column generation and returns the certified bound (USD/hour).
func (p *cfgProblem) solve() float64 {
	var cols []cfgFilling
	seen := map[string]bool{}
	add := func(f cfgFilling) bool {
		k := f.key()
		if seen[k] || len(f.counts) == 0 {
			return false
		}
		seen[k] = true
		cols = append(cols, f)
		return true
	}
	// Start from the cheapest per pod single-class filling of every class, so every class is
	// covered.
	for ci := range p.classes {
		best, bestItem, bestCount := math.Inf(1), -1, 0
		for i := range p.usable {
			if !slices.Contains(p.fits[i], ci) {
				continue
			}
			k := p.maxCount(ci, i)
			if k > 0 && p.prices[i]/float64(k) < best {
				best, bestItem, bestCount = p.prices[i]/float64(k), i, k
			}
		}
		if bestItem < 0 {
			return 0
		}
		add(cfgFilling{item: bestItem, counts: map[int]int{ci: bestCount}})
	}
	var pi []float64
	for range configMaxRounds {
		next := p.master(cols)
		if next == nil {
			break
		}
		pi = next
		added := false
		for i := range p.usable {
			if f, v := p.greedyFilling(i, pi); v > p.prices[i]*(1+1e-7) && add(f) {
				added = true
			}
		}
		if !added {
			// No greedy filling is worth its price: search the items that may hold more than
			// their price (most promising first, by the surrogate bound) by the grid table and
			// exactly, until configPriceColumns fillings are found.
			type cand struct {
				i     int
				ratio float64
			}
			var cands []cand
			for i := range p.usable {
				if vb := p.valueBound(i, pi); vb > p.prices[i]*(1+1e-7) {
					cands = append(cands, cand{i, vb / p.prices[i]})
				}
			}
			sort.SliceStable(cands, func(a, b int) bool { return cands[a].ratio > cands[b].ratio })
			found := 0
			for _, c := range cands {
				if found == configPriceColumns {
					break
				}
				i := c.i
				if f, v, ok := p.gridFilling(i, pi, configGridPriceStates); ok && v > p.prices[i]*(1+1e-7) && add(f) {
					found++
					continue
				}
				if f, v, _ := p.exactFilling(i, pi, configSearchNodes); v > p.prices[i]*(1+1e-7) && add(f) {
					found++
				}
			}
			added = found > 0
		}
		if !added {
			break
		}
	}
	if pi == nil {
		return 0
	}
	return p.certify(pi)
}

// certify returns Farley's bound for the dual values pi: π/ρ is feasible for the full dual
// when no filling of any item is worth more than ρ times its price, so Σ_c π(c)·n(c)/ρ is at
// most the programme's optimum. ρ is taken from an upper bound on each item's most valuable
// filling: the surrogate bound, else the exact search when it completes, else the Lagrangian
// bound. 0 when an item of price 0 could hold any value.
func (p *cfgProblem) certify(pi []float64) float64 {
	rho := 1.0
	for i := range p.usable {
		ub := p.valueBound(i, pi)
		if ub <= p.prices[i] {
			continue
		}
		if ub = min(ub, p.gridBound(i, pi, configGridStates)); ub <= p.prices[i] {
			continue
		}
		if ub = min(ub, p.gridBound(i, pi, configGridFineStates)); ub <= p.prices[i] {
			continue
		}
		if _, v, complete := p.exactFilling(i, pi, configSearchNodes); complete {
			ub = min(ub, v)
		} else {
			ub = min(ub, p.lagrangeBound(i, pi))
		}
		if ub <= p.prices[i] {
			continue
		}
		if p.prices[i] <= 0 {
			return 0
		}
		rho = max(rho, ub/p.prices[i])
	}
	total := 0.0
	for ci, cl := range p.classes {
		total += pi[ci] * float64(cl.n)
	}
	return total / rho * (1 - 1e-9)
}

// master solves the restricted configuration LP on cols and returns the dual value of a pod
// of each class (feasible for cols' dual constraints), or nil when it failed.
func (p *cfgProblem) master(cols []cfgFilling) []float64 {
	rows := make([][]float64, len(cols))
	prices := make([]float64, len(cols))
	for j, f := range cols {
		row := make([]float64, len(p.classes))
		for ci, k := range f.counts {
			row[ci] = float64(k) / float64(p.classes[ci].n)
		}
		rows[j], prices[j] = row, p.prices[f.item]
	}
	y := coverDual(rows, prices)
	if y == nil {
		return nil
	}
	certify(rows, prices, y) // clamps and checks; y is rescaled below
	scale := 1.0
	for j, row := range rows {
		if v := dot(row, y); v > prices[j] {
			scale = min(scale, prices[j]/v)
		}
	}
	pi := make([]float64, len(p.classes))
	for ci := range pi {
		pi[ci] = max(0, y[ci]) * scale / float64(p.classes[ci].n)
	}
	return pi
}

// maxCount is the number of pods of class ci that item i holds alone.
func (p *cfgProblem) maxCount(ci, i int) int {
	cl := p.classes[ci]
	k := cl.n
	for d, r := range cl.req {
		if r > 0 {
			k = min(k, int(p.usable[i][d]/r))
		}
	}
	for _, g := range cl.groups {
		k = min(k, p.groupCap[g])
	}
	return max(k, 0)
}

// greedyFilling is a filling of item i of high value under pi: classes by value per unit of
// normalised size, most first, as many of each as fit. It tries two size measures and keeps
// the better.
func (p *cfgProblem) greedyFilling(i int, pi []float64) (cfgFilling, float64) {
	u := p.usable[i]
	var best cfgFilling
	bestV := -1.0
	for _, measure := range []func(req []float64) float64{
		func(req []float64) float64 { // sum of shares
			s := 0.0
			for d, r := range req {
				if u[d] > 0 {
					s += r / u[d]
				}
			}
			return s
		},
		func(req []float64) float64 { // largest share
			s := 0.0
			for d, r := range req {
				if u[d] > 0 {
					s = max(s, r/u[d])
				}
			}
			return s
		},
	} {
		order := make([]int, 0, len(p.fits[i]))
		for _, ci := range p.fits[i] {
			if pi[ci] > 0 {
				order = append(order, ci)
			}
		}
		dens := make(map[int]float64, len(order))
		for _, ci := range order {
			dens[ci] = pi[ci] / max(measure(p.classes[ci].req), 1e-12)
		}
		sort.SliceStable(order, func(a, b int) bool { return dens[order[a]] > dens[order[b]] })
		room := slices.Clone(u)
		used := make([]int, len(p.groupCap))
		counts := map[int]int{}
		v := 0.0
		for _, ci := range order {
			cl := p.classes[ci]
			k := cl.n
			for d, r := range cl.req {
				if r > 0 {
					k = min(k, int(room[d]/r))
				}
			}
			for _, g := range cl.groups {
				k = min(k, p.groupCap[g]-used[g])
			}
			if k <= 0 {
				continue
			}
			counts[ci] = k
			v += float64(k) * pi[ci]
			for d, r := range cl.req {
				room[d] -= float64(k) * r
			}
			for _, g := range cl.groups {
				used[g] += k
			}
		}
		if v > bestV {
			best, bestV = cfgFilling{item: i, counts: counts}, v
		}
	}
	return best, bestV
}

// valueBound is an upper bound on the value under pi of any filling of item i: the least, over
// a few surrogate constraints (Σ_d w_d·req_d ≤ Σ_d w_d·usable_d with w ≥ 0), of the fractional
// knapsack of the classes it may hold, each count capped by n(c) and by its groups' s.
func (p *cfgProblem) valueBound(i int, pi []float64) float64 {
	u := p.usable[i]
	nd := len(u)
	best := math.Inf(1)
	try := func(w []float64) {
		capacity := 0.0
		for d := range u {
			capacity += w[d] * u[d]
		}
		type it struct {
			size, value, count float64
			grouped            bool
		}
		var items []it
		free := 0.0
		for _, ci := range p.fits[i] {
			if pi[ci] <= 0 {
				continue
			}
			cl := p.classes[ci]
			k := float64(cl.n)
			for _, g := range cl.groups {
				k = min(k, float64(p.groupCap[g]))
			}
			size := 0.0
			for d, r := range cl.req {
				size += w[d] * r
			}
			if size <= 0 {
				free += k * pi[ci]
				continue
			}
			items = append(items, it{size, pi[ci], k, len(cl.groups) > 0})
		}
		sort.Slice(items, func(a, b int) bool { return items[a].value/items[a].size > items[b].value/items[b].size })
		v := free
		left := capacity
		for _, x := range items {
			if left <= 0 {
				break
			}
			take := min(x.count, left/x.size)
			v += take * x.value
			left -= take * x.size
		}
		best = min(best, v)
		// Pods of a hostname group: at most s of them, each worth at most the group's best;
		// the other classes fill the whole surrogate room at most.
		if len(p.groupCap) > 0 {
			gv := make([]float64, len(p.groupCap))
			v, left := 0.0, capacity
			for _, x := range items {
				if x.grouped {
					continue
				}
				if left <= 0 {
					break
				}
				take := min(x.count, left/x.size)
				v += take * x.value
				left -= take * x.size
			}
			for _, ci := range p.fits[i] {
				for _, g := range p.classes[ci].groups {
					gv[g] = max(gv[g], pi[ci])
				}
			}
			for g, x := range gv {
				v += float64(p.groupCap[g]) * x
			}
			best = min(best, v+free)
		}
	}
	// Each dimension alone, and mixes of every pair normalised by the item's room.
	for d := range nd {
		w := make([]float64, nd)
		w[d] = 1
		try(w)
	}
	for a := range nd {
		for b2 := a + 1; b2 < nd; b2++ {
			if u[a] <= 0 || u[b2] <= 0 {
				continue
			}
			for _, alpha := range []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9} {
				w := make([]float64, nd)
				w[a], w[b2] = alpha/u[a], (1-alpha)/u[b2]
				try(w)
			}
		}
	}
	return best
}

func (f cfgFilling) key() string {
	ks := make([]int, 0, len(f.counts))
	for k := range f.counts {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d:", f.item)
	for _, k := range ks {
		fmt.Fprintf(&sb, "%d=%d,", k, f.counts[k])
	}
	return sb.String()
}
