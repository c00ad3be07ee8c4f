package scheduling

import (
	"math"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The negation of a requirement admits exactly the label states it does not (bounds: the
// integers on the other side, and a missing label).
func TestRequirementNegation(t *testing.T) {
	states := []struct {
		value   string
		present bool
	}{{"", false}, {"3", true}, {"4", true}, {"8", true}, {"a", true}, {"b", true}}
	for _, tc := range []struct {
		op     corev1.NodeSelectorOperator
		values []string
		// integersOnly: the negation of a bound admits only integers besides a missing label
		integersOnly bool
	}{
		{op: corev1.NodeSelectorOpIn, values: []string{"a", "3"}},
		{op: corev1.NodeSelectorOpNotIn, values: []string{"a"}},
		{op: corev1.NodeSelectorOpExists},
		{op: corev1.NodeSelectorOpDoesNotExist},
		{op: corev1.NodeSelectorOpGt, values: []string{"3"}, integersOnly: true},
		{op: corev1.NodeSelectorOpLt, values: []string{"4"}, integersOnly: true},
	} {
		r := MustRequirement("k", tc.op, tc.values...)
		n, ok := r.negation()
		if !ok {
			t.Fatalf("%s: no negation", r)
		}
		for _, s := range states {
			want := !r.Matches(s.value, s.present)
			if tc.integersOnly && s.present && (s.value == "a" || s.value == "b") {
				want = false
			}
			if got := n.Matches(s.value, s.present); got != want {
				t.Errorf("%s negated as %s: state %q present=%v admitted %v, want %v", r, n, s.value, s.present, got, want)
			}
		}
	}
	both := MustRequirement("k", corev1.NodeSelectorOpGt, "3").Intersect(MustRequirement("k", corev1.NodeSelectorOpLt, "8"))
	if _, ok := both.negation(); ok {
		t.Fatalf("%s has no single negation", both)
	}
}

// excludingTerms negates, of each term still matched, the requirement that leaves the cheapest
// node (here capacity type, shared by both terms, rather than the CPU count the pod needs).
func TestExcludingTermsCheapest(t *testing.T) {
	reqs := NewRequirements(MustRequirement("karpenter.sh/capacity-type", corev1.NodeSelectorOpIn, "spot", "on-demand"),
		Any("karpenter.k8s.aws/instance-cpu"), MustRequirement("topology.kubernetes.io/zone", corev1.NodeSelectorOpIn, "z1"))
	terms := []Requirements{
		NewRequirements(MustRequirement("karpenter.sh/capacity-type", corev1.NodeSelectorOpIn, "on-demand"),
			MustRequirement("karpenter.k8s.aws/instance-cpu", corev1.NodeSelectorOpGt, "3")),
		NewRequirements(MustRequirement("karpenter.sh/capacity-type", corev1.NodeSelectorOpIn, "on-demand"),
			MustRequirement("topology.kubernetes.io/zone", corev1.NodeSelectorOpNotIn, "z2")),
	}
	// A pod of 8 CPUs: nodes of fewer than 4 CPUs cannot hold it.
	price := func(r Requirements) float64 {
		if !r["karpenter.k8s.aws/instance-cpu"].Has("8") {
			return math.Inf(1)
		}
		if r["karpenter.sh/capacity-type"].Has("on-demand") {
			return 1
		}
		return 0.3
	}
	got, ok := excludingTerms(reqs, terms, price)
	if !ok {
		t.Fatal("no exclusion")
	}
	for _, term := range terms {
		if got.Compatible(term) {
			t.Fatalf("%s still matches %s", got, term)
		}
	}
	if v, _ := got["karpenter.sh/capacity-type"].Single(); v != "spot" || !got["karpenter.k8s.aws/instance-cpu"].Has("8") {
		t.Fatalf("excluded as %s, want capacity type spot with any CPU count", got)
	}
	e := &eligibility{terms: terms, honourAffinity: true}
	if s := e.state(got); s != excluded {
		t.Fatalf("state %d, want excluded", s)
	}
	if s := e.state(reqs); s != undecided {
		t.Fatalf("state of the open requirements %d, want undecided", s)
	}
	if s := e.state(terms[0]); s != included {
		t.Fatalf("state of a term %d, want included", s)
	}
}
