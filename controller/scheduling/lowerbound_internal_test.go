package scheduling

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteForce2D is the optimum of the two-resource cover LP by enumeration: an optimal basic
// solution uses one type (covering both resources) or two (both constraints tight).
func bruteForce2D(rows [][]float64, prices []float64) float64 {
	best := math.Inf(1)
	for i, a := range rows {
		if a[0] > 0 && a[1] > 0 {
			best = min(best, prices[i]*max(1/a[0], 1/a[1]))
		}
		for j := i + 1; j < len(rows); j++ {
			b := rows[j]
			det := a[0]*b[1] - a[1]*b[0]
			if det == 0 {
				continue
			}
			xi, xj := (b[1]-b[0])/det, (a[0]-a[1])/det
			if xi >= 0 && xj >= 0 {
				best = min(best, prices[i]*xi+prices[j]*xj)
			}
		}
	}
	return best
}

func TestCoverBoundMatchesPairEnumeration(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 1))
		n := 1 + rng.IntN(40)
		rows := make([][]float64, n)
		prices := make([]float64, n)
		for i := range rows {
			rows[i] = []float64{rng.Float64() * 0.3, rng.Float64() * 0.3}
			if rng.IntN(5) == 0 {
				rows[i][rng.IntN(2)] = 0 // a type that supplies one resource only
			}
			prices[i] = 0.01 + rng.Float64()
		}
		want := bruteForce2D(rows, prices)
		got := coverBound(rows, prices)
		if math.IsInf(want, 1) {
			continue // one resource is supplied by no type
		}
		if got > want*(1+1e-9) || got < want*(1-1e-7) {
			t.Fatalf("seed %d: simplex %.12f, enumeration %.12f", seed, got, want)
		}
	}
}

func TestCoverBoundThreeResources(t *testing.T) {
	// Demands normalised to 1: a GPU type (supplies 1/3 of the GPUs, 1/10 of the cpu) at 1 and
	// a plain type (1/10 of the cpu, no GPU) at 0.1. Three GPU nodes cover 3/10 of the cpu;
	// the rest takes 7 plain nodes: 3 + 0.7.
	rows := [][]float64{{1.0 / 10, 1.0 / 3}, {1.0 / 10, 0}}
	if got := coverBound(rows, []float64{1, 0.1}); math.Abs(got-3.7) > 1e-6 {
		t.Fatalf("bound %.9f, want 3.7", got)
	}
	if got := chunk(t, []float64{5, 1, 4, 2, 3}, 2); got != 5+3+1 {
		t.Fatalf("chunkCost = %v, want 9", got)
	}
}

func chunk(t *testing.T, prices []float64, perNode int) float64 {
	t.Helper()
	c, n := chunkCost(prices, perNode)
	if want := (len(prices) + perNode - 1) / perNode; n != want {
		t.Fatalf("chunkCost nodes = %d, want %d", n, want)
	}
	return c
}

// gridProblem is one item of room 1000×1000 and the given classes (cpu, memory, pods, groups).
func gridProblem(groupCap []int, classes ...cfgClass) *cfgProblem {
	p := &cfgProblem{classes: classes, groupCap: groupCap, usable: [][]float64{{1000, 1000}}, prices: []float64{1}, fits: [][]int{nil}}
	for ci := range classes {
		p.fits[0] = append(p.fits[0], ci)
	}
	return p
}

func TestGridBoundHandComputed(t *testing.T) {
	// A (600, 100) worth 3, B (300, 500) worth 2, C (100, 400) worth 1, five of each, on 1000×1000:
	// A+B+C fills both resources exactly (worth 6); A+B leaves 100 cpu (5), A+C+C 5, B+B 4. The
	// fractional knapsack of the surrogate sum would count more.
	p := gridProblem(nil,
		cfgClass{req: []float64{600, 100}, n: 5},
		cfgClass{req: []float64{300, 500}, n: 5},
		cfgClass{req: []float64{100, 400}, n: 5})
	pi := []float64{3, 2, 1}
	if got := p.gridBound(0, pi, configGridStates); math.Abs(got-6) > 1e-9 {
		t.Fatalf("gridBound = %v, want 6", got)
	}
	f, v, ok := p.gridFilling(0, pi, configGridStates)
	if !ok || math.Abs(v-6) > 1e-9 || f.counts[0] != 1 || f.counts[1] != 1 || f.counts[2] != 1 {
		t.Fatalf("gridFilling = %v %v %v, want one of each worth 6", f.counts, v, ok)
	}
	if sur := p.valueBound(0, pi); sur <= 6 {
		t.Fatalf("surrogate bound %v: expected looser than 6 for this case", sur)
	}
}

func TestGridBoundGroupLayers(t *testing.T) {
	// One group of cap 1 holds A1 (100, 100) worth 5 and A2 (200, 100) worth 6; G (300, 300)
	// worth 2, ten of them. Without the cap three of each A fit (worth 33); with it, A1 + 3 G
	// fills 1000×1000 (worth 11), A2 + 2 G is worth 10.
	p := gridProblem([]int{1},
		cfgClass{req: []float64{100, 100}, n: 3, groups: []int{0}},
		cfgClass{req: []float64{200, 100}, n: 3, groups: []int{0}},
		cfgClass{req: []float64{300, 300}, n: 10})
	pi := []float64{5, 6, 2}
	if got := p.gridBound(0, pi, configGridStates); math.Abs(got-11) > 1e-9 {
		t.Fatalf("gridBound = %v, want 11", got)
	}
	f, v, ok := p.gridFilling(0, pi, configGridStates)
	if !ok || math.Abs(v-11) > 1e-9 || f.counts[0] != 1 || f.counts[2] != 3 {
		t.Fatalf("gridFilling = %v %v %v, want A1 and three G worth 11", f.counts, v, ok)
	}
}

func TestGridBoundNeverBelowExact(t *testing.T) {
	// Coarse cells (few states) round requests down: the bound may grow, never fall below the
	// best filling found by a complete exact search.
	for seed := range uint64(150) {
		rng := rand.New(rand.NewPCG(seed, 3))
		nc := 1 + rng.IntN(8)
		var groupCap []int
		if rng.IntN(2) == 0 {
			groupCap = []int{1 + rng.IntN(3)}
		}
		classes := make([]cfgClass, nc)
		pi := make([]float64, nc)
		for ci := range classes {
			classes[ci] = cfgClass{req: []float64{float64(10 + rng.IntN(600)), float64(10 + rng.IntN(600))}, n: 1 + rng.IntN(6)}
			if groupCap != nil && rng.IntN(2) == 0 {
				classes[ci].groups = []int{0}
			}
			pi[ci] = rng.Float64()
		}
		p := gridProblem(groupCap, classes...)
		_, exact, complete := p.exactFilling(0, pi, 1<<20)
		if !complete {
			continue
		}
		for _, states := range []int{16, 256, configGridStates} {
			if got := p.gridBound(0, pi, states); got < exact*(1-1e-9) {
				t.Fatalf("seed %d, %d states: gridBound %v below the optimum %v", seed, states, got, exact)
			}
		}
		if f, v, ok := p.gridFilling(0, pi, configGridStates); ok && v > exact*(1+1e-9) {
			t.Fatalf("seed %d: gridFilling %v worth %v above the optimum %v", seed, f.counts, v, exact)
		}
	}
}
