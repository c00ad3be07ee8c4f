package scheduling

import (
	"math"
	"slices"
)

// coverSolve is coverDual that also returns the primal optimum x (x[o] ≥ 0 per row o, the
// cover's amount of that type) when the simplex ended optimal, nil otherwise: at the optimum
// the objective is a non-negative combination of the tight constraints' normals, and the
// coefficients of the types' normals are the primal solution (complementary slackness).
func coverSolve(rows [][]float64, prices []float64) ([]float64, []float64) {
	lp := coverLP{rows: rows, prices: prices}
	return lp.solve()
}

// coverLP is coverSolve's programme kept from one solve to the next while rows are appended to
// it, as the column packer's column generation does (a row per filling, see columnPacker).
//
// The simplex walks from y = 0 by Bland's rule, and a solve after rows were appended walks the
// same pivots as the one before until the ratio test first meets a new row before the
// constraint it met then: the tight set, hence the leaving constraint and the direction, are
// the same until then, and a new row, coming after every old one, enters only when it is met
// strictly first. So with retrace set, solve records its pivots (leaving and entering
// constraint, step and direction), and the next solve replays them, testing only the new rows,
// up to the first pivot they change, and walks on from there. It returns the same bits as
// coverSolve on the same rows.
type coverLP struct {
	// rows and prices are the programme (see coverBound); once solved, rows and prices are
	// only appended to.
	rows   [][]float64
	prices []float64
	// retrace records the pivots of each solve for the next.
	retrace bool
	// walked is the number of rows when pivots were walked.
	walked int
	pivots []coverPivot
	// masks are rowMasks of the first len(masks) rows, packed their entries; noMasks when
	// rowMasks is nil.
	masks   []uint64
	packed  packedRows
	noMasks bool
	// last is the last solve's simplex, whose room the next reuses.
	last *coverSimplex
}

// coverPivot is one pivot of the simplex: tight[leave] = enter after a step along dir.
type coverPivot struct {
	leave, enter int
	step         float64
	dir          []float64
}

// updateMasks extends masks to every row (or sets noMasks).
func (lp *coverLP) updateMasks(d int) {
	if lp.noMasks {
		return
	}
	if d > sparseLUMax {
		lp.noMasks, lp.masks = true, nil
		return
	}
	from := len(lp.masks)
	more := rowMasks(lp.rows[from:])
	if more == nil && from < len(lp.rows) {
		lp.noMasks, lp.masks, lp.packed = true, nil, packedRows{}
		return
	}
	lp.masks = append(lp.masks, more...)
	for o, m := range more {
		lp.packed.add(lp.rows[from+o], m)
	}
}

// solve is coverSolve on the programme's rows.
func (lp *coverLP) solve() ([]float64, []float64) {
	d := 0
	if len(lp.rows) > 0 {
		d = len(lp.rows[0])
	}
	if d == 0 {
		return nil, nil
	}
	lp.updateMasks(d)
	s := lp.simplex(d)
	iter := 0
	// Retrace the last solve's pivots while the new rows leave them unchanged.
	kept := 0
	if lp.retrace && lp.walked <= len(lp.rows) {
		for k := range lp.pivots {
			pv := &lp.pivots[k]
			if len(pv.dir) != d {
				break
			}
			enter, step := s.blockNew(lp.walked, pv.dir, pv.enter, pv.step)
			s.pivot(pv.leave, enter, step, pv.dir)
			iter++
			kept++
			if enter != pv.enter {
				pv.enter, pv.step = enter, step
				break
			}
		}
	}
	lp.pivots = lp.pivots[:kept]
	var x []float64
	for ; iter < 50*(len(lp.rows)+d); iter++ {
		// One LU factorisation of the tight normals serves both solves below.
		if !s.factor() {
			break
		}
		// lambda: the objective (all ones) as a combination of the tight normals.
		lambda := s.solveT(s.objective)
		leave := -1
		for i, l := range lambda {
			if l < -s.eps && (leave < 0 || s.tight[i] < s.tight[leave]) {
				leave = i
			}
		}
		if leave < 0 {
			// Optimal: the objective lies in the cone of the tight normals.
			x = make([]float64, len(lp.rows))
			for i, j := range s.tight {
				if j >= 0 {
					x[j] = max(0, lambda[i])
				}
			}
			break
		}
		clear(s.rhs)
		s.rhs[leave] = -1
		dir := s.solve(s.rhs)
		enter, step := s.entering(dir)
		if enter == math.MinInt {
			break // unbounded: some resource no type supplies (callers leave such pods out)
		}
		if lp.retrace {
			lp.record(leave, enter, step, dir)
		}
		s.pivot(leave, enter, step, dir)
	}
	lp.walked = len(lp.rows)
	return s.y, x
}

// record appends a pivot to lp.pivots, reusing the room of pivots dropped.
func (lp *coverLP) record(leave, enter int, step float64, dir []float64) {
	n := len(lp.pivots)
	if n < cap(lp.pivots) {
		lp.pivots = lp.pivots[:n+1]
	} else {
		lp.pivots = append(lp.pivots, coverPivot{})
	}
	pv := &lp.pivots[n]
	pv.leave, pv.enter, pv.step = leave, enter, step
	pv.dir = append(pv.dir[:0], dir...)
}

// coverSimplex is the state of coverLP.solve's simplex: the vertex y, named by the d
// constraints tight there (tight[i] < 0 names the constraint y[-tight[i]-1] = 0, tight[i] >= 0
// row tight[i]), and the factors of their normals.
type coverSimplex struct {
	rows    [][]float64
	prices  []float64
	eps     float64
	y       []float64
	tight   []int
	inTight []bool
	// slack[k] is the normal of the constraint y[k] ≥ 0 (as -y[k] ≤ 0).
	slack          [][]float64
	m              [][]float64
	objective, rhs []float64
	// masks are rowMasks(rows), nil when dense: lu then factorises, and supports are
	// rowSupports(rows); else slu factorises, pats its rows' patterns.
	masks    []uint64
	packed   *packedRows
	supports [][]int32
	lu       *luFactors
	slu      *sparseLU
	pats     []uint64
}

// simplex is the simplex at y = 0 on the programme: the last solve's, its room reused (the
// factors' rows are cleared by their patterns, see sparseLU), when it had as many columns and
// the same kind of factors.
func (lp *coverLP) simplex(d int) *coverSimplex {
	s := lp.last
	if s == nil || len(s.y) != d || (s.masks == nil) != (lp.masks == nil) {
		s = newCoverSimplex(lp.rows, lp.prices, lp.masks, d)
		s.packed = &lp.packed
		lp.last = s
		return s
	}
	s.rows, s.prices, s.masks = lp.rows, lp.prices, lp.masks
	s.y = make([]float64, d) // returned to the caller
	for k := range s.tight {
		s.tight[k] = -k - 1
	}
	s.inTight = slices.Grow(s.inTight[:0], len(lp.rows))[:len(lp.rows)]
	clear(s.inTight)
	if s.masks == nil {
		s.supports = rowSupports(s.rows)
	}
	return s
}

// newCoverSimplex is the simplex at y = 0 on rows (d columns; masks as coverSimplex's).
func newCoverSimplex(rows [][]float64, prices []float64, masks []uint64, d int) *coverSimplex {
	s := &coverSimplex{rows: rows, prices: prices, eps: 1e-12, y: make([]float64, d), tight: make([]int, d),
		inTight: make([]bool, len(rows)), slack: make([][]float64, d), m: make([][]float64, d), objective: ones(d),
		rhs: make([]float64, d), masks: masks}
	for k := range s.tight {
		s.tight[k] = -k - 1
	}
	slackBuf := make([]float64, d*d)
	for k := range s.slack {
		s.slack[k] = slackBuf[k*d : (k+1)*d]
		s.slack[k][k] = -1
	}
	if masks != nil {
		s.slu, s.pats = newSparseLU(d), make([]uint64, d)
	} else {
		s.lu, s.supports = newLU(d), rowSupports(rows)
	}
	return s
}

// factor factorises the tight normals; false when they are singular.
func (s *coverSimplex) factor() bool {
	for i, j := range s.tight {
		if j >= 0 {
			s.m[i] = s.rows[j]
		} else {
			s.m[i] = s.slack[-j-1]
		}
	}
	if s.slu == nil {
		return s.lu.factor(s.m)
	}
	for i, j := range s.tight {
		if j >= 0 {
			s.pats[i] = s.masks[j]
		} else {
			s.pats[i] = 1 << (-j - 1)
		}
	}
	return s.slu.factor(s.m, s.pats)
}

// solve returns v with m·v = b for the tight normals m (overwritten by the next solve).
func (s *coverSimplex) solve(b []float64) []float64 {
	if s.slu == nil {
		return s.lu.solve(b)
	}
	return s.slu.solve(b)
}

// solveT returns v with mᵀ·v = b (overwritten by the next solveT).
func (s *coverSimplex) solveT(b []float64) []float64 {
	if s.slu == nil {
		return s.lu.solveT(b)
	}
	return s.slu.solveT(b)
}

// entering is the ratio test (enteringConstraint) along dir.
func (s *coverSimplex) entering(dir []float64) (int, float64) {
	switch {
	case !allFinite(s.y) || !allFinite(dir):
		// dotOn would skip 0·Inf and 0·NaN terms
		return enteringConstraint(s.rows, nil, s.prices, s.inTight, s.y, dir, s.eps)
	case s.masks != nil:
		return enteringConstraintMasked(s.packed, s.masks, s.prices, s.inTight, s.y, dir, s.eps)
	default:
		return enteringConstraint(s.rows, s.supports, s.prices, s.inTight, s.y, dir, s.eps)
	}
}

// blockNew is the ratio test along dir over the rows from on, given that the constraints
// before them are first met at enter after step: a later row enters only when met strictly
// before, as in enteringConstraint.
func (s *coverSimplex) blockNew(from int, dir []float64, enter int, step float64) (int, float64) {
	finite := s.masks != nil && allFinite(s.y) && allFinite(dir)
	for o := from; o < len(s.rows); o++ {
		if s.inTight[o] {
			continue
		}
		row := s.rows[o]
		var ad, ay float64
		if finite {
			ad = s.packed.dot(o, dir)
		} else {
			ad = dot(row, dir)
		}
		if ad <= s.eps {
			continue
		}
		if finite {
			ay = s.packed.dot(o, s.y)
		} else {
			ay = dot(row, s.y)
		}
		if t := max(0, (s.prices[o]-ay)/ad); t < step {
			enter, step = o, t
		}
	}
	return enter, step
}

// pivot steps along dir and makes enter tight in place of tight[leave].
func (s *coverSimplex) pivot(leave, enter int, step float64, dir []float64) {
	for k := range s.y {
		s.y[k] += step * dir[k]
	}
	if s.tight[leave] >= 0 {
		s.inTight[s.tight[leave]] = false
	}
	if enter >= 0 {
		s.inTight[enter] = true
	}
	s.tight[leave] = enter
}
