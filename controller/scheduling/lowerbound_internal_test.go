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
