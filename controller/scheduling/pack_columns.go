package scheduling

import (
	"cmp"
	"math"
	"slices"
	"strconv"
)

// Packing a pool by whole-node fillings (price and round). The greedy of packGreedy values a
// pod by its requests at the resource prices of the fractional cover, which prices the cpu of a
// type whose memory no pod can use beside it as if it could be used. The configuration linear
// programme of bin packing (Gilmore and Gomory 1961, "A linear programming approach to the
// cutting-stock problem") counts whole fillings instead:
//
//	min Σ_f price(f)·x(f)  subject to  Σ_f take(f, s)·x(f) ≥ pods(s) for every shape s, x ≥ 0
//
// where a filling f is one node of one type holding take(f, s) pods of each shape s, within its
// usable room and the pool's hostname terms (nodeTerms). It is solved by column generation over
// a few fillings: the restricted programme's dual values each pod of shape s at π(s); every
// type is filled by fill in orders of π per unit of room, and a filling worth more than its
// price joins. The optimum's fillings are then bought rounded down (x(f) nodes of f, ⌊x(f)⌋),
// the programme is solved again for the pods left and rounded again, up to packColumnsResolves
// times (sequential rounding; a round whose amounts are all below one buys one node of the
// largest, see resolveRest), and the pods still left are packed by packGreedy. The result replaces the greedy's when it costs
// less. Only pools of at most packColumnsMaxShapes shapes are solved so (the programme has one
// row per shape), in at most packColumnsRounds rounds, so the time stays bounded by the shapes
// and types, not the pods.

// packColumnsMaxShapes bounds the shapes of a pool packed by columns.
const packColumnsMaxShapes = 48

// packColumnsRounds bounds the column generation rounds.
const packColumnsRounds = 30

// packSearchNodes bounds the exact search of one type's filling (cfgProblem.exactFilling).
const packSearchNodes = 2000

// packColumn is one filling: take[s] pods of shape s on one node of types[t].
type packColumn struct {
	t    int
	take []int
}

// columnPacker is the state of packColumns.
type columnPacker struct {
	shapes []*packShape
	types  []packType
	count  []int // pods of each shape
	cols   []packColumn
	seen   map[string]bool
	// scratch for fill
	take  []int
	room  []int64
	least []int64
	st    *nodeTerms
	// exact searches a type's filling when the pool has no hostname terms, else nil.
	exact *cfgProblem
	// rounds bounds the column generation rounds (packColumnsRounds unless set lower).
	rounds int
	// exactTop, when positive, limits the exact search of a round to the types whose greedy
	// fillings came closest to their price.
	exactTop int
	// lp is the restricted programme: a row per column so far (see master).
	lp coverLP
}

// newColumnPacker is the packer of shapes (their pods all still to place) on types, with terms
// hostname terms: the pod count per shape and, per dimension, the least request of any shape.
func newColumnPacker(shapes []*packShape, types []packType, terms int) *columnPacker {
	cp := &columnPacker{shapes: shapes, types: types, count: make([]int, len(shapes)), seen: map[string]bool{}, rounds: packColumnsRounds, lp: coverLP{retrace: true},
		take: make([]int, len(shapes)), room: make([]int64, len(types[0].usable)), least: make([]int64, len(types[0].usable)), st: newNodeTerms(terms)}
	for j, s := range shapes {
		cp.count[j] = len(s.pods)
	}
	for d := range cp.least {
		cp.least[d] = -1
		for _, s := range shapes {
			if cp.least[d] < 0 || s.req[d] < cp.least[d] {
				cp.least[d] = s.req[d]
			}
		}
	}
	return cp
}

// packColumns returns the pool's nodes by price and round (see the top of the file), given the
// greedy's nodes (greedy, a starting set of fillings; may be nil) over the same shapes; nil
// when the pool has too many shapes, the programme fails, or the nodes would cost budget
// (USD/hour) or more. shapes must hold every pod of the pool (none taken yet); their pods are
// taken by the nodes returned.
func packColumns(shapes []*packShape, types []packType, terms int, greedy []packKind, budget float64) []packKind {
	if len(shapes) == 0 || len(shapes) > packColumnsMaxShapes || len(types) == 0 {
		return nil
	}
	cp := newColumnPacker(shapes, types, terms)
	if terms == 0 {
		cp.exact = packKnapsacks(shapes, types, cp.count)
	}
	cp.addGreedy(greedy)
	if !cp.addSingles() {
		return nil
	}
	saved := make([]float64, len(shapes))
	for j, s := range shapes {
		saved[j] = s.worth
	}
	x := cp.generate()
	for j, s := range shapes {
		s.worth = saved[j]
	}
	if x == nil {
		return nil
	}
	kinds, cost := cp.roundDown(x)
	if cost >= budget {
		return nil
	}
	for range packColumnsResolves {
		more, c := resolveRest(shapes, types, terms, cp.cols)
		if more == nil {
			break
		}
		kinds, cost = append(kinds, more...), cost+c
		if cost >= budget {
			return nil
		}
	}
	// The pods left, by the greedy at the resource prices.
	return packRest(kinds, cost, shapes, types, terms, budget)
}

// packColumnsResolves bounds the times packColumns and packColumnsMerged solve the programme
// again for the pods their rounding left (sequential rounding of the cutting-stock programme).
const packColumnsResolves = 8

// packColumnsRestRounds bounds the column generation rounds of resolveRest and of the later
// rounds of packColumnsMerged: their programmes are seeded and hold fewer pods. 10 rounds cost
// the Karpenter mix 1k 0.3% more than 30 in resolveRest in a third of the time, and left the
// merged rounds' plans unchanged on every bench workload.
const packColumnsRestRounds = 10

// packColumnsRestRoundUp is the amount from which a later round that rounds every amount down to
// nothing buys one node of a filling.
const packColumnsRestRoundUp = 0.5

// packColumnsPartialWorth is the least share of its price a node of a later round of
// packColumnsMerged must hold, at the round's dual values, when its terms admit only part of its
// filling.
const packColumnsPartialWorth = 0.9

// resolveRest solves the configuration programme again for the pods still in shapes (the columns
// known so far, cut to the pods left, seed it), buys its fillings rounded down, or, when every
// filling's amount is below one, one node of the largest; it returns the nodes and their cost,
// nil when no pod is left or the programme fails.
func resolveRest(shapes []*packShape, types []packType, terms int, cols []packColumn) ([]packKind, float64) {
	var rest []*packShape
	index := make([]int, len(shapes))
	for j, s := range shapes {
		index[j] = -1
		if len(s.pods) > 0 {
			index[j] = len(rest)
			rest = append(rest, s)
		}
	}
	if len(rest) == 0 {
		return nil, 0
	}
	saved := make([]float64, len(rest))
	for j, s := range rest {
		saved[j] = s.worth
	}
	defer func() {
		for j, s := range rest {
			s.worth = saved[j]
		}
	}()
	cp := newColumnPacker(rest, types, terms)
	cp.rounds = packColumnsRestRounds
	if terms == 0 {
		cp.exact = packKnapsacks(rest, types, cp.count)
	}
	for _, col := range cols {
		clear(cp.take)
		for j, k := range col.take {
			if r := index[j]; r >= 0 && k > 0 {
				cp.take[r] = min(k, cp.count[r])
			}
		}
		cp.add(col.t, cp.take)
	}
	if !cp.addSingles() {
		return nil, 0
	}
	x := cp.generate()
	if x == nil {
		return nil, 0
	}
	kinds, cost := cp.roundDown(x)
	if len(kinds) > 0 {
		return kinds, cost
	}
	// Every amount is below one: one node of each filling of at least packColumnsRestRoundUp,
	// as far as the pods last, else one node of the largest.
	up := slices.Clone(x)
	for c := range up {
		if up[c] >= packColumnsRestRoundUp {
			up[c] = 1
		}
	}
	if kinds, cost = cp.roundDown(up); len(kinds) > 0 {
		return kinds, cost
	}
	best := slices.IndexFunc(x, func(v float64) bool { return v > 0 })
	for c, v := range x {
		if best >= 0 && v > x[best] {
			best = c
		}
	}
	if best < 0 {
		return nil, 0
	}
	col := cp.cols[best]
	var node []*podInfo
	for j, k := range col.take {
		k = min(k, len(rest[j].pods))
		node = append(node, rest[j].pods[:k]...)
		rest[j].pods = rest[j].pods[k:]
	}
	if len(node) == 0 {
		return nil, 0
	}
	return []packKind{{t: &cp.types[col.t], nodes: [][]*podInfo{node}}}, cp.types[col.t].price
}

// packRest appends to kinds (costing cost, USD/hour) the nodes packGreedy makes for the pods
// still in shapes, within what is left of budget; nil when the greedy fails or overspends.
func packRest(kinds []packKind, cost float64, shapes []*packShape, types []packType, terms int, budget float64) []packKind {
	var left []*packShape
	for _, s := range shapes {
		if len(s.pods) > 0 {
			left = append(left, s)
		}
	}
	if len(left) > 0 {
		rest := packGreedy(left, types, terms, budget-cost)
		if rest == nil {
			return nil
		}
		kinds = append(kinds, rest...)
	}
	return kinds
}

// add records the filling take[s] pods of shape s on a node of types[t] as a column, unless it
// is empty or known; it reports whether it was added.
func (cp *columnPacker) add(t int, take []int) bool {
	key := strconv.Itoa(t)
	empty := true
	for j, k := range take {
		if k > 0 {
			key += "," + strconv.Itoa(j) + ":" + strconv.Itoa(k)
			empty = false
		}
	}
	if empty || cp.seen[key] {
		return false
	}
	cp.seen[key] = true
	cp.cols = append(cp.cols, packColumn{t: t, take: slices.Clone(take)})
	return true
}

// addGreedy adds the fillings of the greedy's kinds of nodes.
func (cp *columnPacker) addGreedy(greedy []packKind) {
	shapeOf := map[*podInfo]int{}
	for j, s := range cp.shapes {
		for _, pi := range s.pods {
			shapeOf[pi] = j
		}
	}
	typeIndex := map[*packType]int{}
	for i := range cp.types {
		typeIndex[&cp.types[i]] = i
	}
	for _, kind := range greedy {
		t, ok := typeIndex[kind.t]
		if !ok || len(kind.nodes) == 0 {
			continue
		}
		clear(cp.take)
		for _, pi := range kind.nodes[0] {
			cp.take[shapeOf[pi]]++
		}
		cp.add(t, cp.take)
	}
}

// addSingles adds each shape alone on the type that holds it cheapest per pod, so that every
// shape is covered; false when a shape fits no type.
func (cp *columnPacker) addSingles() bool {
	for j := range cp.shapes {
		bestT, bestPer, bestTake := -1, math.Inf(1), 0
		for i := range cp.types {
			fill(cp.shapes, []int{j}, cp.types[i].usable, cp.room, cp.least, cp.take, cp.st)
			if k := cp.take[j]; k > 0 && cp.types[i].price/float64(k) < bestPer {
				bestT, bestPer, bestTake = i, cp.types[i].price/float64(k), k
			}
		}
		if bestT < 0 {
			return false
		}
		clear(cp.take)
		cp.take[j] = bestTake
		cp.add(bestT, cp.take)
	}
	return true
}

// generate runs the column generation and returns the last restricted programme's optimum x
// (x[c] nodes of column c), nil when the simplex did not end optimal. It sets each shape's
// worth to its dual value π (the caller restores them).
func (cp *columnPacker) generate() []float64 {
	for round := 0; ; round++ {
		y, x := cp.master()
		if x == nil || round == cp.rounds {
			return x
		}
		for j, s := range cp.shapes {
			s.worth = max(0, y[j]) / float64(cp.count[j])
		}
		if !cp.price() {
			return x
		}
	}
}

// master solves the restricted programme on the columns: its dual y (per shape, in units of
// the shape's pods) and primal x. The programme keeps the rows of the columns it has (columns
// are only appended, and the counts are fixed), and retraces its last solve (coverLP).
func (cp *columnPacker) master() ([]float64, []float64) {
	for c := len(cp.lp.rows); c < len(cp.cols); c++ {
		col := cp.cols[c]
		row := make([]float64, len(cp.shapes))
		for j, k := range col.take {
			row[j] = float64(k) / float64(cp.count[j])
		}
		cp.lp.rows = append(cp.lp.rows, row)
		cp.lp.prices = append(cp.lp.prices, cp.types[col.t].price)
	}
	return cp.lp.solve()
}

// price adds the fillings worth more than their price under the shapes' worth: every type
// filled by fill in orders of worth per unit of room (sum and largest share), then, when none
// is found and the pool has no hostname terms, searched exactly. It reports whether any was
// added.
func (cp *columnPacker) price() bool {
	added := false
	order := make([]int, len(cp.shapes))
	// perRoom[j] is shape j's worth per unit of the measure of its room on the type.
	perRoom := make([]float64, len(cp.shapes))
	// ratio[i] is the best greedy filling's worth per price on type i (for exactTop).
	ratio := make([]float64, len(cp.types))
	for i := range cp.types {
		u := cp.types[i].usable
		for _, measure := range []func([]int64) float64{sumShare(u), maxShare(u)} {
			for j, s := range cp.shapes {
				perRoom[j] = s.worth / measure(s.req)
			}
			orderByWorth(order, perRoom)
			w := fill(cp.shapes, order, u, cp.room, cp.least, cp.take, cp.st)
			ratio[i] = max(ratio[i], w/cp.types[i].price)
			if w > cp.types[i].price*(1+1e-9) && cp.add(i, cp.take) {
				added = true
			}
		}
	}
	if added || cp.exact == nil {
		return added
	}
	pi := make([]float64, len(cp.shapes))
	for j, s := range cp.shapes {
		pi[j] = s.worth
	}
	search := make([]int, len(cp.types))
	for i := range search {
		search[i] = i
	}
	if cp.exactTop > 0 && len(search) > cp.exactTop {
		// The types whose greedy fillings came closest to their price, ties by index.
		slices.SortStableFunc(search, func(a, b int) int { return cmp.Compare(ratio[b], ratio[a]) })
		search = search[:cp.exactTop]
	}
	for _, i := range search {
		f, v, _ := cp.exact.exactFilling(i, pi, packSearchNodes)
		if v <= cp.types[i].price*(1+1e-9) {
			continue
		}
		clear(cp.take)
		for j, k := range f.counts {
			cp.take[j] = k
		}
		if cp.add(i, cp.take) {
			added = true
		}
	}
	return added
}

// orderByWorth sets order to the shapes' indices by perRoom, largest first, ties to the smaller
// index. The shapes of no worth (perRoom 0, most of them once the duals are sparse) come last in
// index order, so only the others are sorted; the result is that of sorting them all.
func orderByWorth(order []int, perRoom []float64) {
	order = order[:0]
	for j, v := range perRoom {
		if v > 0 {
			order = append(order, j)
		} else if v != 0 { // NaN or negative: the full sort's order (cmp.Compare puts NaN last)
			order = order[:len(perRoom)]
			for k := range order {
				order[k] = k
			}
			sortByWorth(order, perRoom)
			return
		}
	}
	sortByWorth(order, perRoom)
	for j, v := range perRoom {
		if v == 0 {
			order = append(order, j)
		}
	}
}

// sortByWorth sorts order by perRoom, largest first, ties to the smaller index.
func sortByWorth(order []int, perRoom []float64) {
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(perRoom[b], perRoom[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
}

// roundDown buys ⌊x⌋ nodes of each column, largest x first, as far as the pods last; it returns
// the nodes and their cost (USD/hour).
func (cp *columnPacker) roundDown(x []float64) ([]packKind, float64) {
	idx := make([]int, len(cp.cols))
	for c := range idx {
		idx[c] = c
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(x[b], x[a]) })
	var kinds []packKind
	cost := 0.0
	for _, c := range idx {
		col := cp.cols[c]
		n := int(math.Floor(x[c] + 1e-9))
		for j, k := range col.take {
			if k > 0 {
				n = min(n, len(cp.shapes[j].pods)/k)
			}
		}
		if n <= 0 {
			continue
		}
		kind := packKind{t: &cp.types[col.t], nodes: make([][]*podInfo, n)}
		for m := range n {
			for j, k := range col.take {
				if k > 0 {
					kind.nodes[m] = append(kind.nodes[m], cp.shapes[j].pods[:k]...)
					cp.shapes[j].pods = cp.shapes[j].pods[k:]
				}
			}
		}
		cost += float64(n) * cp.types[col.t].price
		kinds = append(kinds, kind)
	}
	return kinds, cost
}

// sumShare measures a request by the sum over dimensions of its share of usable.
func sumShare(usable []int64) func([]int64) float64 {
	return func(req []int64) float64 {
		s := 0.0
		for d, r := range req {
			if usable[d] > 0 {
				s += float64(r) / float64(usable[d])
			}
		}
		return max(s, 1e-12)
	}
}

// maxShare measures a request by its largest share of usable over dimensions.
func maxShare(usable []int64) func([]int64) float64 {
	return func(req []int64) float64 {
		s := 0.0
		for d, r := range req {
			if usable[d] > 0 {
				s = max(s, float64(r)/float64(usable[d]))
			}
		}
		return max(s, 1e-12)
	}
}

// packKnapsacks states the pool's fillings as the lower bound's configuration problem: a class
// per shape (count pods), an item per type.
func packKnapsacks(shapes []*packShape, types []packType, count []int) *cfgProblem {
	p := &cfgProblem{classes: make([]cfgClass, len(shapes)), fits: make([][]int, len(types))}
	for j, s := range shapes {
		req := make([]float64, len(s.req))
		for d, r := range s.req {
			req[d] = float64(r)
		}
		p.classes[j] = cfgClass{req: req, n: count[j]}
	}
	for i, t := range types {
		u := make([]float64, len(t.usable))
		for d, v := range t.usable {
			u[d] = float64(v)
		}
		p.usable = append(p.usable, u)
		p.prices = append(p.prices, t.price)
		for j := range shapes {
			if fitsVec(p.classes[j].req, u) {
				p.fits[i] = append(p.fits[i], j)
			}
		}
	}
	return p
}

// packColumnsRoundUp is the fractional part from which packColumnsMerged buys one more node of
// a filling (when its pods last); 0.3 packed the Karpenter mix at 1k, 5k and 20k pods cheaper
// than rounding down alone, or than 0.5 or 0.7.
const packColumnsRoundUp = 0.3

// packColumnsMergedMaxShapes bounds the merged shapes of a pool packed by packColumnsMerged.
const packColumnsMergedMaxShapes = 64

// packColumnsMerged is packColumns for a pool of more than packColumnsMaxShapes shapes (pods of
// many hostname-scoped profiles): the programme's rows are the shapes merged by requests and by
// the part of their profile that concerns the term largest alone (its self-selecting carriers
// need a node each, so the fillings keep at most one), at most packColumnsMergedMaxShapes of
// them. The fillings bought (rounded down, largest x first) are filled with pods of each merged
// shape that the node's other terms admit (nodeTerms on the pods' full profiles); a node that
// cannot get its whole filling is not bought, and its column is left. Then one more node of each
// filling whose x has a fractional part of at least packColumnsRoundUp is bought, largest part
// first, as far as its pods last. The programme is then solved again for the pods left, up to
// packColumnsResolves times (mergedRound, seeded with the last round's fillings; a node of these
// rounds that its terms admit only in part is bought when its pods are worth at least
// packColumnsPartialWorth of its price; once at most packColumnsMaxShapes shapes are left, on
// their full profiles, resolveRest), and what is still left is packed by packGreedy. nil when it
// does not apply, fails, or would cost budget or more.
func packColumnsMerged(shapes []*packShape, types []packType, terms, largest int, greedy []packKind, budget float64) []packKind {
	if len(shapes) <= packColumnsMaxShapes || len(types) == 0 {
		return nil
	}
	exact := countPods(shapes) <= packColumnsExactPods
	kinds, cost, seed, ok := mergedRound(shapes, types, terms, largest, greedy, nil, true, exact)
	if !ok || cost >= budget {
		return nil
	}
	for range packColumnsResolves {
		if n := countNonEmpty(shapes); n <= packColumnsMaxShapes {
			// Few shapes left: solved on their full profiles.
			more, c := resolveRest(shapes, types, terms, nil)
			if more == nil {
				break
			}
			kinds, cost = append(kinds, more...), cost+c
			if cost >= budget {
				return nil
			}
			continue
		}
		more, c, cols, ok := mergedRound(shapes, types, terms, largest, nil, seed, false, exact)
		if !ok || len(more) == 0 {
			break
		}
		kinds, cost, seed = append(kinds, more...), cost+c, cols
		if cost >= budget {
			return nil
		}
	}
	return packRest(kinds, cost, shapes, types, terms, budget)
}

// mergedColumn is a filling of merged shapes named by their keys (mergedKey), so that it
// carries over from one round of packColumnsMerged to the next.
type mergedColumn struct {
	t    int
	take map[string]int
}

// mergedRound is one round of packColumnsMerged on the pods still in shapes: the programme over
// their merged shapes, seeded with the greedy's fillings and the columns of an earlier round
// (seed), solved by column generation; its fillings bought rounded down and, with roundUp,
// fractional parts of at least packColumnsRoundUp rounded up, or, when that buys nothing, one
// node of the filling of largest x. The pods bought are taken out of shapes. It returns the
// nodes, their cost (USD/hour), the round's columns, and false when the merge or the programme
// fails (nothing is taken then).
func mergedRound(shapes []*packShape, types []packType, terms, largest int, greedy []packKind, seed []mergedColumn, roundUp, exact bool) ([]packKind, float64, []mergedColumn, bool) {
	var rest []*packShape
	for _, s := range shapes {
		if len(s.pods) > 0 {
			rest = append(rest, s)
		}
	}
	if len(rest) == 0 {
		return nil, 0, nil, false
	}
	merged, real, mergedOf := mergeShapes(rest, largest)
	if merged == nil {
		return nil, 0, nil, false
	}
	cp, keys := seededMergedPacker(merged, types, terms, greedy, seed)
	if !roundUp {
		cp.rounds = packColumnsRestRounds // a later round: seeded, and its pods are fewer
	}
	if exact {
		cp.exact, cp.exactTop = mergedKnapsacks(merged, types, cp.count, largest), packColumnsExactTypes
	}
	if !cp.addSingles() {
		return nil, 0, nil, false
	}
	x := cp.generate()
	if x == nil {
		return nil, 0, nil, false
	}
	cols := make([]mergedColumn, len(cp.cols))
	for c, col := range cp.cols {
		cols[c] = mergedColumn{t: col.t, take: map[string]int{}}
		for j, n := range col.take {
			if n > 0 {
				cols[c].take[keys[j]] = n
			}
		}
	}
	// Buy the fillings, each node's pods chosen among its merged shapes' by the full profiles.
	idx := make([]int, len(cp.cols))
	for c := range idx {
		idx[c] = c
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(x[b], x[a]) })
	b := &mergedBuyer{cp: cp, merged: merged, real: real, mergedOf: mergedOf, st: newNodeTerms(terms), taken: map[*podInfo]bool{}, partial: !roundUp}
	for _, c := range idx {
		for range int(math.Floor(x[c] + 1e-9)) {
			if !b.buy(cp.cols[c].t, cp.cols[c].take) {
				break
			}
		}
	}
	if roundUp {
		// Round up the fillings of fractional part at least packColumnsRoundUp, largest first,
		// while their pods last.
		slices.SortStableFunc(idx, func(a, b int) int {
			return cmp.Compare(x[b]-math.Floor(x[b]+1e-9), x[a]-math.Floor(x[a]+1e-9))
		})
		for _, c := range idx {
			if x[c]-math.Floor(x[c]+1e-9) < packColumnsRoundUp {
				break
			}
			b.buy(cp.cols[c].t, cp.cols[c].take)
		}
	}
	if len(b.kinds) == 0 && len(idx) > 0 && x[idx[0]] > 0 {
		// Every amount is below one: one node of the largest, as far as its pods last.
		c := idx[0]
		for j, n := range cp.cols[c].take {
			cp.take[j] = min(n, len(merged[j].pods))
		}
		b.partial = false
		b.buy(cp.cols[c].t, cp.take)
	}
	for _, s := range rest {
		s.pods = slices.DeleteFunc(s.pods, func(pi *podInfo) bool { return b.taken[pi] })
	}
	return b.kinds, b.cost, cols, true
}

// seededMergedPacker is the column packer of merged shapes seeded with the greedy's fillings and
// the columns of an earlier round (cut to the pods left), and the merged shapes' keys.
func seededMergedPacker(merged []*packShape, types []packType, terms int, greedy []packKind, seed []mergedColumn) (*columnPacker, []string) {
	keys := make([]string, len(merged))
	index := make(map[string]int, len(merged))
	for j, m := range merged {
		keys[j] = mergedKey(m.prof, m.req)
		index[keys[j]] = j
	}
	cp := newColumnPacker(merged, types, terms)
	cp.addGreedy(greedy)
	for _, col := range seed {
		clear(cp.take)
		for k, n := range col.take {
			if j, ok := index[k]; ok {
				cp.take[j] = min(n, cp.count[j])
			}
		}
		cp.add(col.t, cp.take)
	}
	return cp, keys
}

// mergedBuyer buys nodes of merged fillings for mergedRound: the nodes bought (kinds), their
// cost (USD/hour) and the pods they took.
type mergedBuyer struct {
	cp       *columnPacker
	merged   []*packShape
	real     map[*podInfo]packProfile
	mergedOf map[*podInfo]int
	st       *nodeTerms
	skipped  []*podInfo
	taken    map[*podInfo]bool
	// partial buys a node whose terms admit only part of its filling when its pods are worth
	// at least packColumnsPartialWorth of its price at the round's dual values.
	partial bool
	kinds   []packKind
	cost    float64
}

// buy buys one node of types[t] holding take[j] pods of each merged shape j; false when the
// pods ran short (left to a later round or the greedy).
func (b *mergedBuyer) buy(t int, take []int) bool {
	node := fillMerged(take, b.merged, b.real, b.mergedOf, b.st, &b.skipped, false)
	price := b.cp.types[t].price
	if node == nil && b.partial {
		node = fillMerged(take, b.merged, b.real, b.mergedOf, b.st, &b.skipped, true)
		w := 0.0
		for _, pi := range node {
			w += b.merged[b.mergedOf[pi]].worth
		}
		if len(node) == 0 || w < packColumnsPartialWorth*price {
			for _, pi := range node {
				b.merged[b.mergedOf[pi]].pods = append(b.merged[b.mergedOf[pi]].pods, pi)
			}
			node = nil
		}
	}
	if node == nil {
		return false
	}
	for _, pi := range node {
		b.taken[pi] = true
	}
	if n := len(b.kinds); n > 0 && b.kinds[n-1].t == &b.cp.types[t] {
		b.kinds[n-1].nodes = append(b.kinds[n-1].nodes, node)
	} else {
		b.kinds = append(b.kinds, packKind{t: &b.cp.types[t], nodes: [][]*podInfo{node}})
	}
	b.cost += price
	return true
}

// mergedKey names a merged shape by its profile and requests.
func mergedKey(p packProfile, req []int64) string {
	k := p.key()
	for _, r := range req {
		k += "," + strconv.FormatInt(r, 10)
	}
	return k
}

// mergeShapes merges shapes by requests and by the part of their profile that concerns the
// term largest (see packColumnsMerged): the merged shapes, each pod's full profile and the
// index of its merged shape; nil when there are more than packColumnsMergedMaxShapes.
func mergeShapes(shapes []*packShape, largest int) ([]*packShape, map[*podInfo]packProfile, map[*podInfo]int) {
	real := map[*podInfo]packProfile{}
	mergedOf := map[*podInfo]int{}
	byKey := map[string]*packShape{}
	var merged []*packShape
	for _, s := range shapes {
		p := packProfile{carry: -1}
		if largest >= 0 && s.prof.carry == largest {
			p.carry = largest
		}
		if largest >= 0 && slices.Contains(s.prof.sel, largest) {
			p.sel = []int{largest}
		}
		k := p.key()
		for _, r := range s.req {
			k += "," + strconv.FormatInt(r, 10)
		}
		m := byKey[k]
		if m == nil {
			if len(merged) == packColumnsMergedMaxShapes {
				return nil, nil, nil
			}
			m = &packShape{req: s.req, worth: s.worth, prof: p}
			byKey[k] = m
			merged = append(merged, m)
		}
		j := slices.Index(merged, m)
		for _, pi := range s.pods {
			real[pi] = s.prof
			mergedOf[pi] = j
		}
		m.pods = append(m.pods, s.pods...)
	}
	return merged, real, mergedOf
}

// fillMerged takes, for one node, take[j] pods of each merged shape j that the node's terms
// admit by their full profiles (real); nil, with every pod put back, when some shape has too
// few. st and skipped are scratch space.
func fillMerged(take []int, merged []*packShape, real map[*podInfo]packProfile, mergedOf map[*podInfo]int, st *nodeTerms, skipped *[]*podInfo, partial bool) []*podInfo {
	clear(st.car)
	clear(st.sel)
	var node []*podInfo
	for j, k := range take {
		if k == 0 {
			continue
		}
		s := merged[j]
		got := 0
		*skipped = (*skipped)[:0]
		i := 0
		for ; i < len(s.pods) && got < k; i++ {
			pi := s.pods[i]
			if p := real[pi]; st.admits(p, 1) == 1 {
				st.add(p, 1)
				node = append(node, pi)
				got++
			} else {
				*skipped = append(*skipped, pi)
			}
		}
		// The pods skipped go back in front of the rest, in place (i-got slots).
		s.pods = s.pods[got:]
		copy(s.pods, *skipped)
		if got < k && !partial {
			for _, pi := range node {
				merged[mergedOf[pi]].pods = append(merged[mergedOf[pi]].pods, pi)
			}
			return nil
		}
	}
	return node
}

// countNonEmpty is the number of shapes with pods left.
func countNonEmpty(shapes []*packShape) int {
	n := 0
	for _, s := range shapes {
		if len(s.pods) > 0 {
			n++
		}
	}
	return n
}

// packColumnsExactPods is the most pods a pool packed by packColumnsMerged may hold for the
// column generation of its rounds to search fillings exactly (mergedKnapsacks, on the
// packColumnsExactTypes types whose greedy fillings came closest) when the greedy fills find
// none. The search costs the same per round whatever the pods, so it is spent on small pools,
// whose few nodes make each filling count: on the Karpenter mix at 1k pods (pools of 211-528
// pods) it lowered the cost from 1.178 to 1.160 times the lower bound, at 5k (pools of
// 840-3028) it changed nothing and cost a third more time.
const packColumnsExactPods = 600

// packColumnsExactTypes bounds the types a round of a merged packer searches exactly.
const packColumnsExactTypes = 16

// countPods is the number of pods in shapes.
func countPods(shapes []*packShape) int {
	n := 0
	for _, s := range shapes {
		n += len(s.pods)
	}
	return n
}

// mergedKnapsacks is packKnapsacks for merged shapes whose one-per-node term largest is carried
// by exactly the pods it selects (a required hostname anti-affinity among replicas): they form
// a group of which a filling holds at most one. nil when some shape carries the term without
// being selected by it or the other way round (no cap says that).
func mergedKnapsacks(shapes []*packShape, types []packType, count []int, largest int) *cfgProblem {
	p := packKnapsacks(shapes, types, count)
	if largest < 0 {
		return p
	}
	p.groupCap = []int{1}
	for j, s := range shapes {
		carries, selected := s.prof.carry == largest, slices.Contains(s.prof.sel, largest)
		if carries != selected {
			return nil
		}
		if carries {
			p.classes[j].groups = []int{0}
		}
	}
	return p
}
