package scheduling

import (
	"math"
	"math/rand/v2"
	"testing"
)

// sameFloats reports whether a and b hold the same numbers (a zero of either sign equals a
// zero; NaN equals NaN).
func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// randomTight is a matrix like coverSolve's tight normals: some rows y[k] ≥ 0 (-1 at k), the
// others fillings (a few entries k/count in (0, 1]).
func randomTight(r *rand.Rand, d int) ([][]float64, []uint64) {
	m := make([][]float64, d)
	pats := make([]uint64, d)
	for i := range m {
		m[i] = make([]float64, d)
		if r.IntN(3) == 0 {
			k := r.IntN(d)
			m[i][k] = -1
		} else {
			for range 1 + r.IntN(4) {
				count := 1 + r.IntN(50)
				m[i][r.IntN(d)] = float64(1+r.IntN(count)) / float64(count)
			}
		}
		for k, v := range m[i] {
			if v != 0 {
				pats[i] |= 1 << k
			}
		}
	}
	return m, pats
}

func TestSparseLUMatchesDense(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 3000 {
		d := 1 + r.IntN(sparseLUMax)
		m, pats := randomTight(r, d)
		if trial%7 == 0 {
			// A tiny pivot: the solutions overflow (see scale), and sparseLU solves densely
			// again.
			k := r.IntN(d)
			clear(m[k])
			m[k][k] = 1e-299
			pats[k] = 1 << k
		}
		scale := 1.0
		if trial%7 == 0 {
			scale = 1e10 // 1e-299 as a pivot: solutions beyond the largest float64
		}
		dense, sparse := newLU(d), newSparseLU(d)
		// Factorise twice with different matrices: the second factor clears the first's rows.
		for range 2 {
			okD, okS := dense.factor(m), sparse.factor(m, pats)
			if okD != okS {
				t.Fatalf("trial %d: dense factor %t, sparse %t", trial, okD, okS)
			}
			if okD {
				b := make([]float64, d)
				for i := range b {
					if r.IntN(2) == 0 {
						b[i] = (r.Float64()*2 - 1) * scale
					}
				}
				if xd, xs := dense.solve(b), sparse.solve(b); !sameFloats(xd, xs) {
					t.Fatalf("trial %d: solve\ndense  %v\nsparse %v", trial, xd, xs)
				}
				if xd, xs := dense.solveT(b), sparse.solveT(b); !sameFloats(xd, xs) {
					t.Fatalf("trial %d: solveT\ndense  %v\nsparse %v", trial, xd, xs)
				}
			}
			m, pats = randomTight(r, d)
		}
	}
}

// TestCoverLPRetrace solves programmes as the column generation does, rows appended between
// solves, and checks each solve against coverSolve on the same rows, and both against the
// dense simplex (more columns than sparseLUMax).
func TestCoverLPRetrace(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 300 {
		d := 1 + r.IntN(sparseLUMax)
		lp := coverLP{retrace: true}
		for i := range d {
			// Every column covered by a single.
			row := make([]float64, d)
			row[i] = float64(1+r.IntN(8)) / 8
			lp.rows = append(lp.rows, row)
			lp.prices = append(lp.prices, 0.1+r.Float64())
		}
		for round := range 6 {
			y, x := lp.solve()
			wantY, wantX := coverSolve(lp.rows, lp.prices)
			if !sameFloats(y, wantY) || !sameFloats(x, wantX) {
				t.Fatalf("trial %d round %d: retraced y %v x %v\nfresh y %v x %v", trial, round, y, x, wantY, wantX)
			}
			denseY, denseX := denseCoverSolve(lp.rows, lp.prices)
			if !sameFloats(y, denseY) || !sameFloats(x, denseX) {
				t.Fatalf("trial %d round %d: sparse y %v x %v\ndense y %v x %v", trial, round, y, x, denseY, denseX)
			}
			for range 1 + r.IntN(2*d) {
				row := make([]float64, d)
				for range 1 + r.IntN(5) {
					row[r.IntN(d)] = float64(1+r.IntN(8)) / 8
				}
				lp.rows = append(lp.rows, row)
				lp.prices = append(lp.prices, 0.1+2*r.Float64())
			}
		}
	}
}

// denseCoverSolve is coverSolve with luFactors and enteringConstraint only.
func denseCoverSolve(rows [][]float64, prices []float64) ([]float64, []float64) {
	lp := coverLP{rows: rows, prices: prices, noMasks: true}
	return lp.solve()
}

// BenchmarkCoverLP solves random programmes of 48 columns as the column generation does:
// 10 solves, 2 to 97 rows appended before each.
func BenchmarkCoverLP(b *testing.B) {
	const d = 48
	r := rand.New(rand.NewPCG(5, 6))
	var batches [][][]float64
	var prices [][]float64
	for range 10 {
		var rows [][]float64
		var ps []float64
		for range 2 + r.IntN(96) {
			row := make([]float64, d)
			for range 1 + r.IntN(6) {
				row[r.IntN(d)] = float64(1+r.IntN(8)) / 8
			}
			rows = append(rows, row)
			ps = append(ps, 0.1+2*r.Float64())
		}
		batches, prices = append(batches, rows), append(prices, ps)
	}
	for b.Loop() {
		lp := coverLP{retrace: true}
		for i := range d {
			row := make([]float64, d)
			row[i] = 1
			lp.rows = append(lp.rows, row)
			lp.prices = append(lp.prices, 1)
		}
		for i := range batches {
			lp.rows = append(lp.rows, batches[i]...)
			lp.prices = append(lp.prices, prices[i]...)
			lp.solve()
		}
	}
}
