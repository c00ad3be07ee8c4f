package scheduling

import "testing"

// TestWithinIsSubset checks within against the sampled states: when within(a, b) holds, every
// state a admits b admits (soundness); and for pairs where a is a finite In set or b is Any, a
// state a admits that b refuses is the only way within may be false (completeness there).
func TestWithinIsSubset(t *testing.T) {
	for _, a := range reqs() {
		for _, b := range reqs() {
			subset := true
			for _, s := range states {
				if a.Matches(s.v, s.present) && !b.Matches(s.v, s.present) {
					subset = false
				}
			}
			got := within(a, b)
			if got && !subset {
				t.Errorf("within(%s, %s) = true, but a sampled state of the first is refused by the second", a, b)
			}
			if (b.IsAny() || (!a.complement && !a.allowAbsent)) && got != subset {
				t.Errorf("within(%s, %s) = %v, want %v", a, b, got, subset)
			}
		}
	}
}
