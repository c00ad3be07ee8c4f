package scheduling

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// mergedKnapsacks caps the pods of the one-per-node term at one per filling when exactly the
// pods it selects carry it, and declines (nil) otherwise: a cap cannot say "not beside its
// carrier" for pods that are selected but carry nothing.
func TestMergedKnapsacksCapsSelfCarriers(t *testing.T) {
	types := []packType{{price: 1, usable: []int64{4000, 8 << 30}}}
	shape := func(carry int, sel ...int) *packShape {
		return &packShape{req: []int64{500, 1 << 30}, prof: packProfile{carry: carry, sel: sel}, pods: make([]*podInfo, 4)}
	}
	self, plain := shape(0, 0), shape(-1)
	p := mergedKnapsacks([]*packShape{self, plain}, types, []int{4, 4}, 0)
	if p == nil || len(p.groupCap) != 1 || p.groupCap[0] != 1 || len(p.classes[0].groups) != 1 || len(p.classes[1].groups) != 0 {
		t.Fatalf("want the self-carriers in one group of cap 1, got %+v", p)
	}
	f, _, _ := p.exactFilling(0, []float64{1, 0.1}, packSearchNodes)
	if f.counts[0] != 1 || f.counts[1] != 4 {
		t.Fatalf("want one carrier and the four others on the node, got %v", f.counts)
	}
	if p := mergedKnapsacks([]*packShape{self, shape(-1, 0)}, types, []int{4, 4}, 0); p != nil {
		t.Fatalf("selected pods that carry nothing: want nil, got %+v", p)
	}
}

// TestOrderByWorthIsTheFullSort: ordering the shapes of worth first and the rest by index gives
// what sorting every shape by worth per room (ties and zeros by index) gives, also with NaN and
// negative values, which take the full sort.
func TestOrderByWorthIsTheFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 2000 {
		n := 1 + rng.IntN(60)
		perRoom := make([]float64, n)
		for j := range perRoom {
			switch r := rng.IntN(10); {
			case r < 4:
				perRoom[j] = 0
			case r < 6:
				perRoom[j] = float64(rng.IntN(3)) // ties
			case r == 6 && trial%5 == 0:
				perRoom[j] = math.NaN()
			case r == 7 && trial%7 == 0:
				perRoom[j] = -rng.Float64()
			default:
				perRoom[j] = rng.Float64()
			}
		}
		want := make([]int, n)
		for j := range want {
			want[j] = j
		}
		sortByWorth(want, perRoom)
		got := make([]int, n)
		orderByWorth(got, perRoom)
		if !slices.Equal(got, want) {
			t.Fatalf("perRoom %v: order %v, want %v", perRoom, got, want)
		}
	}
}
