package scheduling

import (
	"math"
	"math/bits"
)

// sparseLUMax is the largest order sparseLU factorises: its nonzero patterns are bit masks of
// one word.
const sparseLUMax = 64

// sparseLU is luFactors for a sparse matrix of order at most sparseLUMax: the same partial
// pivoting, the same operations in the same order, on the nonzero entries only. Every product
// it leaves out is a zero entry times a finite number, a zero that changes no sum but for the
// sign of a zero result, and coverSolve's pivots and ratio tests compare numbers (where -0 is
// 0) and never divide by a zero; so coverSolve walks the same vertices and returns the same
// bits as with luFactors. When a multiplier or a solution is not finite (0·Inf is NaN, not 0)
// the work is done again densely by dense.
//
// Entry (i, j) of the factors is a[i][j], as in luFactors; pat[i] has bit j set for every
// nonzero entry of row i (and maybe for some zeros: a sum that cancelled), colPat[j] bit i for
// every row i whose pat has bit j. The rows' slices travel with their patterns when rows are
// swapped, and the entries of pat are the only ones a row holds that may be nonzero, so the
// next factor clears only those.
type sparseLU struct {
	n      int
	a      [][]float64
	pat    []uint64
	colPat []uint64
	perm   []int
	x, xT  []float64
	z      []float64
	dense  *luFactors
	// isDense: the last factor was dense's (a multiplier was not finite).
	isDense bool
	// m is the rows last factorised, for denseAgain.
	m [][]float64
}

// newSparseLU returns room for the factors of an n×n matrix, n ≤ sparseLUMax.
func newSparseLU(n int) *sparseLU {
	f := &sparseLU{n: n, a: make([][]float64, n), pat: make([]uint64, n), colPat: make([]uint64, n), perm: make([]int, n),
		x: make([]float64, n), xT: make([]float64, n), z: make([]float64, n), m: make([][]float64, n)}
	buf := make([]float64, n*n)
	for i := range f.a {
		f.a[i] = buf[i*n : (i+1)*n]
	}
	return f
}

// above is the mask of the indices above i.
func above(i int) uint64 {
	if i >= 63 {
		return 0
	}
	return ^uint64(0) << (i + 1)
}

// below is the mask of the indices below i.
func below(i int) uint64 {
	return uint64(1)<<i - 1
}

// factor factorises the matrix whose row i is m[i], its nonzero entries at the bits of pats[i]
// (every nonzero entry of m[i] must have its bit; m must be finite); false when it is singular,
// as luFactors.factor.
func (f *sparseLU) factor(m [][]float64, pats []uint64) bool {
	n := f.n
	a := f.a
	copy(f.m, m)
	for i := range n {
		row := a[i]
		for p := f.pat[i]; p != 0; p &= p - 1 {
			row[bits.TrailingZeros64(p)] = 0
		}
		f.pat[i] = pats[i]
		for p := pats[i]; p != 0; p &= p - 1 {
			j := bits.TrailingZeros64(p)
			row[j] = m[i][j]
		}
		f.perm[i] = i
	}
	clear(f.colPat)
	for i := range n {
		for p := f.pat[i]; p != 0; p &= p - 1 {
			f.colPat[bits.TrailingZeros64(p)] |= 1 << i
		}
	}
	f.isDense = false
	for col := range n {
		pivot := col
		best := math.Abs(a[col][col])
		for p := f.colPat[col] & above(col); p != 0; p &= p - 1 {
			r := bits.TrailingZeros64(p)
			if v := math.Abs(a[r][col]); v > best {
				pivot, best = r, v
			}
		}
		if math.Abs(a[pivot][col]) < 1e-300 {
			return false
		}
		if pivot != col {
			a[col], a[pivot] = a[pivot], a[col]
			f.perm[col], f.perm[pivot] = f.perm[pivot], f.perm[col]
			diff := f.pat[col] ^ f.pat[pivot]
			f.pat[col], f.pat[pivot] = f.pat[pivot], f.pat[col]
			swap := uint64(1)<<col | uint64(1)<<pivot
			for p := diff; p != 0; p &= p - 1 {
				f.colPat[bits.TrailingZeros64(p)] ^= swap
			}
		}
		top := a[col]
		upper := f.pat[col] & above(col)
		inv := 1 / top[col]
		for p := f.colPat[col] & above(col); p != 0; p &= p - 1 {
			r := bits.TrailingZeros64(p)
			row := a[r]
			if row[col] == 0 {
				continue
			}
			l := row[col] * inv
			if !(math.Abs(l) <= math.MaxFloat64) { // infinite or NaN
				return f.factorDense(m)
			}
			row[col] = l
			for q := upper; q != 0; q &= q - 1 {
				c := bits.TrailingZeros64(q)
				row[c] -= l * top[c]
			}
			if fill := upper &^ f.pat[r]; fill != 0 {
				f.pat[r] |= fill
				for q := fill; q != 0; q &= q - 1 {
					f.colPat[bits.TrailingZeros64(q)] |= 1 << r
				}
			}
		}
	}
	return true
}

// factorDense factorises m with luFactors, which solve and solveT then use.
func (f *sparseLU) factorDense(m [][]float64) bool {
	if f.dense == nil {
		f.dense = newLU(f.n)
	}
	f.isDense = true
	// The rows of a are garbage now: every entry may be nonzero.
	for i := range f.pat {
		f.pat[i] = ^uint64(0) >> (64 - f.n)
	}
	return f.dense.factor(m)
}

// solve is luFactors.solve.
func (f *sparseLU) solve(b []float64) []float64 {
	if f.isDense {
		return f.dense.solve(b)
	}
	x := f.x
	for i := range f.n {
		v := b[f.perm[i]]
		row := f.a[i]
		for p := f.pat[i] & below(i); p != 0; p &= p - 1 {
			j := bits.TrailingZeros64(p)
			v -= row[j] * x[j]
		}
		x[i] = v
	}
	for i := f.n - 1; i >= 0; i-- {
		v := x[i]
		row := f.a[i]
		for p := f.pat[i] & above(i); p != 0; p &= p - 1 {
			j := bits.TrailingZeros64(p)
			v -= row[j] * x[j]
		}
		x[i] = v / row[i]
	}
	if !allFinite(x) {
		return f.denseAgain().solve(b)
	}
	return x
}

// solveT is luFactors.solveT.
func (f *sparseLU) solveT(b []float64) []float64 {
	if f.isDense {
		return f.dense.solveT(b)
	}
	z := f.z
	copy(z, b)
	for i := range f.n {
		v := z[i]
		for p := f.colPat[i] & below(i); p != 0; p &= p - 1 {
			j := bits.TrailingZeros64(p)
			v -= f.a[j][i] * z[j]
		}
		z[i] = v / f.a[i][i]
	}
	for i := f.n - 1; i >= 0; i-- {
		v := z[i]
		for p := f.colPat[i] & above(i); p != 0; p &= p - 1 {
			j := bits.TrailingZeros64(p)
			v -= f.a[j][i] * z[j]
		}
		z[i] = v
	}
	if !allFinite(z) {
		return f.denseAgain().solveT(b)
	}
	x := f.xT
	for i, p := range f.perm {
		x[p] = z[i]
	}
	return x
}

// denseAgain is the dense factors of the matrix last factorised (f.m; a solution was not
// finite).
func (f *sparseLU) denseAgain() *luFactors {
	f.factorDense(f.m)
	return f.dense
}

// rowMasks returns, per row, the mask of its nonzero entries; nil when the rows have more than
// sparseLUMax columns or an entry that is not finite.
func rowMasks(rows [][]float64) []uint64 {
	if len(rows) > 0 && len(rows[0]) > sparseLUMax {
		return nil
	}
	masks := make([]uint64, len(rows))
	for o, row := range rows {
		for k, v := range row {
			if v != 0 {
				if math.IsInf(v, 0) || math.IsNaN(v) {
					return nil
				}
				masks[o] |= 1 << k
			}
		}
	}
	return masks
}

// packedRows holds the nonzero entries of rows contiguously, columns ascending: row o's are
// vals[off[o]:off[o+1]], at columns cols[off[o]:off[o+1]]. A product with a row then reads a
// few neighbouring words instead of a whole row.
type packedRows struct {
	off  []int32
	vals []float64
	cols []uint8
}

// add appends row, its nonzero entries at the bits of mask (at most sparseLUMax columns).
func (p *packedRows) add(row []float64, mask uint64) {
	if len(p.off) == 0 {
		p.off = append(p.off, 0)
	}
	for q := mask; q != 0; q &= q - 1 {
		k := bits.TrailingZeros64(q)
		p.vals = append(p.vals, row[k])
		p.cols = append(p.cols, uint8(k))
	}
	p.off = append(p.off, int32(len(p.vals)))
}

// dot is dot(rows[o], b) over the row's nonzero entries, ascending: bit-identical to dot but
// for the sign of a zero result when b is finite (see dotOn).
func (p *packedRows) dot(o int, b []float64) float64 {
	lo, hi := p.off[o], p.off[o+1]
	cols := p.cols[lo:hi]
	s := 0.0
	for i, v := range p.vals[lo:hi] {
		s += v * b[cols[i]]
	}
	return s
}

// enteringConstraintMasked is enteringConstraint for finite rows, y and dir, with the rows'
// nonzero entries given as masks (rowMasks) and packed: a product leaves out the terms where
// either factor is zero, which changes no sum but for the sign of a zero result (see dotOn),
// and a row that shares no nonzero column with dir is not moving towards its bound.
func enteringConstraintMasked(packed *packedRows, masks []uint64, prices []float64, inTight []bool, y, dir []float64, eps float64) (int, float64) {
	enter, step := math.MinInt, math.Inf(1)
	var dirMask uint64
	for k := range y {
		if dir[k] != 0 {
			dirMask |= 1 << k
		}
		if dir[k] < -eps {
			if t := max(0, y[k]/-dir[k]); t < step || (t == step && -k-1 < enter) {
				enter, step = -k-1, t
			}
		}
	}
	for o, mask := range masks {
		if mask&dirMask == 0 || inTight[o] {
			continue
		}
		ad := packed.dot(o, dir)
		if ad <= eps {
			continue
		}
		ay := packed.dot(o, y)
		if t := max(0, (prices[o]-ay)/ad); t < step {
			enter, step = o, t
		}
	}
	return enter, step
}
