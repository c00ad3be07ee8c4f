package scheduling

import (
	"math"
	"slices"
	"sort"
)

// The knapsacks of whole-node fillings (lowerbound_config.go, pack_columns.go): which pods of
// the classes of a cfgProblem, each worth pi, fill one node of an item best.

// configSearchNodes bounds the branch-and-bound search of one item's knapsack for the bound.
const configSearchNodes = 5000

// knapsack is the branch-and-bound search of one item: the classes in order of value per unit
// of the surrogate size Σ_d req_d/usable_d, the count of each from the most that fits down to
// none.
type knapsack struct {
	p      *cfgProblem
	pi     []float64
	usable []float64
	order  []int     // classes searched, best value per size first
	sizes  []float64 // their surrogate sizes
	byDim  [][]int   // per resource, positions in order by value per unit of it (free first)
	room   []float64
	used   []int // per hostname group, pods taken
	counts []int // per position, pods taken
	best   []int
	bestV  float64
	nodes  int
	limit  int
	done   bool // false once the search gave up at limit
}

// exactFilling searches the filling of item i of most value under pi by branch and bound,
// cutting a branch when its value plus a fractional knapsack of the classes left (each resource
// alone, and the surrogate sum of shares: each a relaxation) cannot beat the best; at most
// limit nodes. It returns the best filling found, its value, and whether the search was
// complete (then the value is the optimum).
func (p *cfgProblem) exactFilling(i int, pi []float64, limit int) (cfgFilling, float64, bool) {
	ks := newKnapsack(p, i, pi, limit)
	ks.search(0, 0)
	f := cfgFilling{item: i, counts: map[int]int{}}
	for k, c := range ks.best {
		if c > 0 {
			f.counts[ks.order[k]] = c
		}
	}
	return f, ks.bestV, ks.done
}

func newKnapsack(p *cfgProblem, i int, pi []float64, limit int) *knapsack {
	u := p.usable[i]
	ks := &knapsack{p: p, pi: pi, usable: u, limit: limit, done: true, room: slices.Clone(u), used: make([]int, len(p.groupCap))}
	for _, ci := range p.fits[i] {
		if pi[ci] > 0 {
			ks.order = append(ks.order, ci)
		}
	}
	share := sumShareF(u)
	sort.SliceStable(ks.order, func(a, b int) bool {
		return pi[ks.order[a]]/share(p.classes[ks.order[a]].req) > pi[ks.order[b]]/share(p.classes[ks.order[b]].req)
	})
	ks.sizes = make([]float64, len(ks.order))
	for k, ci := range ks.order {
		ks.sizes[k] = share(p.classes[ci].req)
	}
	ks.byDim = make([][]int, len(u))
	for d := range u {
		pos := make([]int, len(ks.order))
		for j := range pos {
			pos[j] = j
		}
		dens := func(j int) float64 {
			if r := p.classes[ks.order[j]].req[d]; r > 0 {
				return pi[ks.order[j]] / r
			}
			return math.Inf(1)
		}
		sort.SliceStable(pos, func(a, b int) bool { return dens(pos[a]) > dens(pos[b]) })
		ks.byDim[d] = pos
	}
	ks.counts = make([]int, len(ks.order))
	ks.best = make([]int, len(ks.order))
	return ks
}

// capLeft is how many more pods of the class at position j the groups and its count allow.
func (ks *knapsack) capLeft(j int) int {
	cl := ks.p.classes[ks.order[j]]
	c := cl.n
	for _, g := range cl.groups {
		c = min(c, ks.p.groupCap[g]-ks.used[g])
	}
	return c
}

// bound is an upper bound on the value of completing the filling from position k with value v
// so far: the least of the fractional knapsacks over the surrogate room and over each resource.
func (ks *knapsack) bound(k int, v float64) float64 {
	left := 0.0
	for d := range ks.room {
		if ks.usable[d] > 0 {
			left += ks.room[d] / ks.usable[d]
		}
	}
	best := v
	for j := k; j < len(ks.order) && left > 0; j++ {
		if take := min(float64(ks.capLeft(j)), left/ks.sizes[j]); take > 0 {
			best += take * ks.pi[ks.order[j]]
			left -= take * ks.sizes[j]
		}
	}
	for d := range ks.room {
		best = min(best, ks.dimBound(d, k, v))
	}
	return best
}

// dimBound is the fractional knapsack of the classes from position k over resource d's room.
func (ks *knapsack) dimBound(d, k int, v float64) float64 {
	left := ks.room[d]
	for _, j := range ks.byDim[d] {
		if j < k {
			continue
		}
		c := float64(ks.capLeft(j))
		if c <= 0 {
			continue
		}
		r := ks.p.classes[ks.order[j]].req[d]
		if r <= 0 {
			v += c * ks.pi[ks.order[j]]
			continue
		}
		if left <= 0 {
			break
		}
		take := min(c, left/r)
		v += take * ks.pi[ks.order[j]]
		left -= take * r
	}
	return v
}

// most is how many pods of the class at position k fit the room left.
func (ks *knapsack) most(k int) int {
	cl := ks.p.classes[ks.order[k]]
	n := ks.capLeft(k)
	for d, r := range cl.req {
		if r > 0 {
			n = min(n, int(ks.room[d]/r))
		}
	}
	return max(n, 0)
}

// take adds c pods of the class at position k to the filling (c < 0 removes them).
func (ks *knapsack) take(k, c int) {
	cl := ks.p.classes[ks.order[k]]
	for d, r := range cl.req {
		ks.room[d] -= float64(c) * r
	}
	for _, g := range cl.groups {
		ks.used[g] += c
	}
	ks.counts[k] += c
}

func (ks *knapsack) search(k int, v float64) {
	ks.nodes++
	if v > ks.bestV {
		ks.bestV = v
		copy(ks.best, ks.counts)
	}
	if k == len(ks.order) {
		return
	}
	if ks.nodes > ks.limit {
		ks.done = false
		return
	}
	if ks.bound(k, v) <= ks.bestV*(1+1e-12) {
		return
	}
	ci := ks.order[k]
	for c := ks.most(k); c >= 0 && ks.done; c-- {
		ks.take(k, c)
		ks.search(k+1, v+float64(c)*ks.pi[ci])
		ks.take(k, -c)
	}
}

// sumShareF measures a request by the sum over resources of its share of usable.
func sumShareF(usable []float64) func([]float64) float64 {
	return func(req []float64) float64 {
		s := 0.0
		for d, r := range req {
			if usable[d] > 0 {
				s += r / usable[d]
			}
		}
		return max(s, 1e-12)
	}
}

// configCells bounds the cells of lagrangeBound's table.
const configCells = 512

// lagrangeBound is an upper bound on the value under pi of any filling of item i, for when the
// exact search gives up. One resource (the one the classes press hardest: their summed requests
// over the room) is kept exact, in cells of the greatest common divisor of the requests (at
// least room/configCells, requests rounded down to cells: smaller pods can only hold more); the
// others are moved into the objective with prices μ ≥ 0 (Lagrangian relaxation): for every μ,
//
//	max value ≤ Σ_e μ_e·usable_e + max { Σ_c (π(c) − Σ_e μ_e·req(c, e))·a(c) : Σ_c req(c, d)·a(c) ≤ usable_d }
//
// with each count a(c) capped by n(c) and by its groups' s; the inner knapsack is solved
// exactly by dynamic programming over the cells. μ is searched one resource at a time (golden
// section: the bound is convex in μ); the least value met is returned.
func (p *cfgProblem) lagrangeBound(i int, pi []float64) float64 {
	lg := newLagrange(p, i, pi)
	if lg == nil {
		return math.Inf(1)
	}
	mu := make([]float64, len(lg.usable))
	best := lg.value(mu)
	for d := range lg.usable {
		if d == lg.keep || lg.usable[d] <= 0 {
			continue
		}
		hi := 0.0
		for _, ci := range lg.classes {
			if r := p.classes[ci].req[d]; r > 0 {
				hi = max(hi, pi[ci]/r)
			}
		}
		if hi == 0 {
			continue
		}
		prev := mu[d]
		x, v := goldenMin(func(x float64) float64 { mu[d] = x; return lg.value(mu) }, hi, 16)
		if v < best {
			best, mu[d] = v, x
		} else {
			mu[d] = prev
		}
	}
	return best
}

// lagrange is lagrangeBound's inner knapsack over one kept resource.
type lagrange struct {
	p       *cfgProblem
	pi      []float64
	usable  []float64
	classes []int // classes of positive value the item may hold
	caps    []int // their counts' caps
	size    []int // their requests of the kept resource, in cells
	keep    int
	cells   int
	table   []float64
}

func newLagrange(p *cfgProblem, i int, pi []float64) *lagrange {
	lg := &lagrange{p: p, pi: pi, usable: p.usable[i], keep: -1}
	for _, ci := range p.fits[i] {
		if pi[ci] <= 0 {
			continue
		}
		k := p.classes[ci].n
		for _, g := range p.classes[ci].groups {
			k = min(k, p.groupCap[g])
		}
		lg.classes, lg.caps = append(lg.classes, ci), append(lg.caps, k)
	}
	if len(lg.classes) == 0 {
		return nil
	}
	unit, pressure := 0.0, 0.0
	for d, room := range lg.usable {
		if room <= 0 {
			continue
		}
		g, press := int64(0), 0.0
		for k, ci := range lg.classes {
			r := p.classes[ci].req[d]
			g = gcd(g, int64(r))
			press += r / room * float64(lg.caps[k])
		}
		if g > 0 && (lg.keep < 0 || press > pressure) {
			lg.keep, pressure = d, press
			unit = max(float64(g), room/configCells)
			lg.cells = int(room / unit)
		}
	}
	if lg.keep < 0 {
		return nil
	}
	for _, ci := range lg.classes {
		lg.size = append(lg.size, int(p.classes[ci].req[lg.keep]/unit))
	}
	lg.table = make([]float64, lg.cells+1)
	return lg
}

// value is the bound for the prices mu (mu[keep] is ignored).
func (lg *lagrange) value(mu []float64) float64 {
	clear(lg.table)
	free := 0.0
	for d, room := range lg.usable {
		if d != lg.keep {
			free += mu[d] * room
		}
	}
	for k, ci := range lg.classes {
		v := lg.pi[ci]
		for d, r := range lg.p.classes[ci].req {
			if d != lg.keep {
				v -= mu[d] * r
			}
		}
		if v <= 0 {
			continue
		}
		if lg.size[k] == 0 {
			free += float64(lg.caps[k]) * v
			continue
		}
		// Bounded knapsack by binary splitting of the count.
		n := lg.caps[k]
		for part := 1; n > 0; part *= 2 {
			q := min(part, n)
			n -= q
			w, val := q*lg.size[k], float64(q)*v
			for c := lg.cells; c >= w; c-- {
				if t := lg.table[c-w] + val; t > lg.table[c] {
					lg.table[c] = t
				}
			}
		}
	}
	return lg.table[lg.cells] + free
}

// goldenMin returns the point of [0, hi] where f, convex, is least as found by golden-section
// search in steps, and f there.
func goldenMin(f func(float64) float64, hi float64, steps int) (float64, float64) {
	const phi = 0.6180339887498949
	lo, up := 0.0, hi
	a, b := up-phi*(up-lo), lo+phi*(up-lo)
	fa, fb := f(a), f(b)
	for range steps {
		if fa <= fb {
			up, b, fb = b, a, fa
			a = up - phi*(up-lo)
			fa = f(a)
		} else {
			lo, a, fa = a, b, fb
			b = lo + phi*(up-lo)
			fb = f(b)
		}
	}
	if fb < fa {
		return b, fb
	}
	return a, fa
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// configGridStates bounds the states of gridBound's table: a first try, and a finer one for
// the items the first leaves above their price.
const (
	configGridPriceStates = 1 << 15
	configGridStates      = 1 << 17
	configGridFineStates  = 1 << 20
)

// gridBound is an upper bound on the value under pi of any filling of item i by dynamic
// programming over every resource at once (up to three; +Inf with more). Resource d is cut in
// cells of u_d: the greatest common divisor of the requests, doubled (on the resource of most
// cells) while the table has more than maxStates states; a request counts ⌊req/u_d⌋ cells and
// the room ⌊usable/u_d⌋. Any filling that fits keeps fitting, as
// Σ ⌊req/u⌋ ≤ ⌊Σ req/u⌋ ≤ ⌊usable/u⌋, so the table's best value is at least the best filling's.
// A resource no filling can exhaust is left out: at most m = min over d' of ⌊usable_d'/least_d'⌋
// pods fit (least_d' the smallest request of d'), and when m times the largest request of d
// fits usable_d, d binds no filling. Counts are capped by n(c) and by their groups' s; the pods
// of the group most classes belong to (when its s ≤ configGridLayers) are added in s layers of
// one pod each (layer k: best value with at most k of them), so at most s of them are taken;
// other groups only cap each class's count (a relaxation).
func (p *cfgProblem) gridBound(i int, pi []float64, maxStates int) float64 {
	v, _ := p.grid(i, pi, maxStates, false)
	return v
}

// gridFilling is the filling of gridBound's table of most value (counts per class), when it
// fits item i's room in full units and keeps the group caps; ok false otherwise.
func (p *cfgProblem) gridFilling(i int, pi []float64, maxStates int) (cfgFilling, float64, bool) {
	_, counts := p.grid(i, pi, maxStates, true)
	f := cfgFilling{item: i, counts: map[int]int{}}
	room := slices.Clone(p.usable[i])
	used := make([]int, len(p.groupCap))
	v := 0.0
	for ci, k := range counts {
		if k <= 0 {
			continue
		}
		cl := p.classes[ci]
		if k > cl.n {
			return f, 0, false
		}
		for d, r := range cl.req {
			room[d] -= float64(k) * r
		}
		for _, g := range cl.groups {
			used[g] += k
		}
		f.counts[ci] = k
		v += float64(k) * pi[ci]
	}
	for d := range room {
		if room[d] < 0 {
			return f, 0, false
		}
	}
	for g, k := range used {
		if k > p.groupCap[g] {
			return f, 0, false
		}
	}
	return f, v, true
}

// grid is gridBound's table: the bound and, when trace is set, the counts per class of the
// table's best filling (in cells; gridFilling checks them in full units). +Inf when more than
// three resources constrain the item (the table is not built).
func (p *cfgProblem) grid(i int, pi []float64, maxStates int, trace bool) (float64, map[int]int) {
	u := p.usable[i]
	var classes []int
	for _, ci := range p.fits[i] {
		if pi[ci] > 0 {
			classes = append(classes, ci)
		}
	}
	if len(classes) == 0 {
		return 0, nil
	}
	unit, cells, active := p.gridCells(u, classes, maxStates)
	if len(active) > 3 {
		return math.Inf(1), nil
	}
	// Up to three active resources in slots 0..2 (an unused slot has one cell, 0).
	var g gridTable
	states := 1
	for k := len(active) - 1; k >= 0; k-- {
		d := active[k]
		g.cells[k], g.stride[k] = cells[d], states
		states *= cells[d] + 1
	}
	size := func(ci int) ([3]int, int) {
		var w [3]int
		flat := 0
		for k, d := range active {
			w[k] = int(p.classes[ci].req[d] / unit[d])
			flat += w[k] * g.stride[k]
		}
		return w, flat
	}
	layer := p.layeredGroup(classes)
	table := make([]float64, states)
	free := 0.0
	var layered []int
	var parts []gridPart
	counts := map[int]int{}
	for _, ci := range classes {
		cl := p.classes[ci]
		if layer >= 0 && slices.Contains(cl.groups, layer) {
			layered = append(layered, ci)
			continue
		}
		n := cl.n
		for _, gr := range cl.groups {
			n = min(n, p.groupCap[gr])
		}
		w, flat := size(ci)
		if flat == 0 {
			free += float64(n) * pi[ci]
			counts[ci] = n
			continue
		}
		for pw := 1; n > 0; pw *= 2 {
			q := min(pw, n)
			n -= q
			var took []bool
			if trace {
				took = make([]bool, states)
			}
			g.sweep(table, table, [3]int{q * w[0], q * w[1], q * w[2]}, float64(q)*pi[ci], took)
			if trace {
				parts = append(parts, gridPart{ci, q, q * flat, took})
			}
		}
	}
	var layers [][]bool // per layer and layered class, whether it was taken at each state
	if layer >= 0 {
		next := make([]float64, states)
		freeBest := 0.0 // the best layered pod of no cells: one per layer
		for range p.groupCap[layer] {
			copy(next, table)
			for _, ci := range layered {
				w, flat := size(ci)
				if flat == 0 {
					freeBest = max(freeBest, pi[ci])
					continue
				}
				var took []bool
				if trace {
					took = make([]bool, states)
				}
				g.sweep(next, table, w, pi[ci], took)
				layers = append(layers, took)
			}
			table, next = next, table
		}
		if freeBest > 0 {
			free += float64(p.groupCap[layer]) * freeBest
			trace = false // not traced: such pods would take the layers' slots
		}
	}
	if !trace {
		return table[states-1] + free, nil
	}
	return table[states-1] + free, traceGrid(states-1, layered, layers, parts, size, counts)
}

// gridCells returns grid's cell size and count per resource of room u for classes, and the
// resources that constrain a filling (more than three: the table is not built).
func (p *cfgProblem) gridCells(u []float64, classes []int, maxStates int) ([]float64, []int, []int) {
	nd := len(u)
	unit := make([]float64, nd)
	cells := make([]int, nd)
	for d := range nd {
		g := int64(0)
		for _, ci := range classes {
			g = gcd(g, int64(p.classes[ci].req[d]))
		}
		if g > 0 && u[d] > 0 {
			unit[d] = float64(g)
			cells[d] = int(u[d] / unit[d])
		}
	}
	// A resource no filling can exhaust is no constraint: the pods that fit by another resource
	// d' number at most ⌊usable_d'/least_d'⌋, each requesting at most the largest request of d.
	most := math.MaxInt
	for d := range nd {
		least := math.Inf(1)
		for _, ci := range classes {
			least = min(least, p.classes[ci].req[d])
		}
		if least > 0 && u[d] > 0 {
			most = min(most, int(u[d]/least))
		}
	}
	var active []int
	for d := range nd {
		largest := 0.0
		for _, ci := range classes {
			largest = max(largest, p.classes[ci].req[d])
		}
		if unit[d] > 0 && (most == math.MaxInt || float64(most)*largest > u[d]) {
			active = append(active, d)
		}
	}
	if len(active) > 3 {
		return unit, cells, active
	}
	for {
		states, big := 1, -1
		for _, d := range active {
			states *= cells[d] + 1
			if big < 0 || cells[d] > cells[big] {
				big = d
			}
		}
		if states <= maxStates || big < 0 {
			break
		}
		unit[big] *= 2
		cells[big] = int(u[big] / unit[big])
	}
	return unit, cells, active
}

// layeredGroup is the group grid adds in layers: the one most of classes belong to, of a cap
// at most configGridLayers; -1 for none.
func (p *cfgProblem) layeredGroup(classes []int) int {
	layer := -1
	count := make([]int, len(p.groupCap))
	for _, ci := range classes {
		for _, gr := range p.classes[ci].groups {
			count[gr]++
			if p.groupCap[gr] <= configGridLayers && (layer < 0 || count[gr] > count[layer]) {
				layer = gr
			}
		}
	}
	return layer
}

// gridPart is q pods of class ci (flat: their cells' offset in the table) added to grid's
// table; took marks the states where they improved it.
type gridPart struct {
	ci, q, flat int
	took        []bool
}

// traceGrid walks grid's table back from state s: the layers (per layer, per sized layered
// class in order, the states where it was kept) from the top, then the parts from the last; it
// adds the pods taken to counts and returns them.
func traceGrid(s int, layered []int, layers [][]bool, parts []gridPart, size func(int) ([3]int, int), counts map[int]int) map[int]int {
	var sized []int
	for _, ci := range layered {
		if _, flat := size(ci); flat > 0 {
			sized = append(sized, ci)
		}
	}
	for l := len(layers) - 1; l >= 0; l-- {
		// layers[l] belongs to layer l/len(sized), class sized[l%len(sized)]; the last class
		// of a layer that improved a state is the one it kept there.
		if layers[l][s] {
			ci := sized[l%len(sized)]
			counts[ci]++
			_, flat := size(ci)
			s -= flat
			l -= l % len(sized) // on to the layer below
		}
	}
	for k := len(parts) - 1; k >= 0; k-- {
		if parts[k].took[s] {
			counts[parts[k].ci] += parts[k].q
			s -= parts[k].flat
		}
	}
	return counts
}

// gridTable is the shape of grid's table: up to three resources, row-major.
type gridTable struct {
	cells, stride [3]int
}

// sweep sets dst[s] = max(dst[s], src[s−w] + val) for every state s ≥ w, visiting states from
// the last (so with dst = src each pod is taken at most once), and marks took[s] where it
// improved (took may be nil).
func (g *gridTable) sweep(dst, src []float64, w [3]int, val float64, took []bool) {
	off := w[0]*g.stride[0] + w[1]*g.stride[1] + w[2]*g.stride[2]
	for x := g.cells[0]; x >= w[0]; x-- {
		for y := g.cells[1]; y >= w[1]; y-- {
			base := x*g.stride[0] + y*g.stride[1]
			for z := g.cells[2]; z >= w[2]; z-- {
				s := base + z*g.stride[2]
				if t := src[s-off] + val; t > dst[s] {
					dst[s] = t
					if took != nil {
						took[s] = true
					}
				}
			}
		}
	}
}

// configGridLayers bounds the cap of the group gridBound adds in layers.
const configGridLayers = 4
