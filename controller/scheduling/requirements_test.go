package scheduling

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	in    = corev1.NodeSelectorOpIn
	notIn = corev1.NodeSelectorOpNotIn
	ex    = corev1.NodeSelectorOpExists
	dne   = corev1.NodeSelectorOpDoesNotExist
	gt    = corev1.NodeSelectorOpGt
	lt    = corev1.NodeSelectorOpLt
)

func TestNewRequirementErrors(t *testing.T) {
	for _, tc := range []struct {
		op     corev1.NodeSelectorOperator
		values []string
		want   string
	}{
		{"Foo", nil, `unknown operator "Foo"`},
		{in, nil, "needs at least one value"},
		{notIn, nil, "needs at least one value"},
		{ex, []string{"a"}, "takes no values"},
		{dne, []string{"a"}, "takes no values"},
		{gt, nil, "exactly one integer"},
		{lt, []string{"x"}, `integer value, got "x"`},
		{gt, []string{"1", "2"}, "exactly one integer"},
	} {
		_, err := NewRequirement("k", tc.op, tc.values...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: got %v, want error containing %q", tc.op, tc.values, err, tc.want)
		}
	}
}

func TestFromNodeSelectorFieldPath(t *testing.T) {
	_, err := FromNodeSelector(field.NewPath("spec", "requirements"), []corev1.NodeSelectorRequirement{
		{Key: "a", Operator: in, Values: []string{"x"}}, {Key: "b", Operator: "Bogus"}})
	if err == nil || !strings.Contains(err.Error(), "spec.requirements[1]") {
		t.Fatalf("got %v, want error naming spec.requirements[1]", err)
	}
}

// state is a label state: absent, or present with a value.
type state struct {
	v       string
	present bool
}

var states = []state{{"", false}, {"a", true}, {"b", true}, {"c", true}, {"1", true}, {"5", true}, {"10", true}, {"-3", true}}

func reqs() []*Requirement {
	return []*Requirement{
		MustRequirement("k", in, "a"), MustRequirement("k", in, "a", "b"), MustRequirement("k", in, "1", "5", "c"),
		MustRequirement("k", notIn, "a"), MustRequirement("k", notIn, "b", "c"),
		MustRequirement("k", ex), MustRequirement("k", dne),
		MustRequirement("k", gt, "1"), MustRequirement("k", gt, "5"), MustRequirement("k", lt, "5"), MustRequirement("k", lt, "2"),
		MustRequirement("k", gt, "4"), MustRequirement("k", lt, "-10"),
		Any("k"), Absent("k"),
	}
}

// kubeMatch is Kubernetes' definition of each operator, written independently.
func kubeMatch(op corev1.NodeSelectorOperator, values []string, s state) bool {
	has := func() bool {
		for _, v := range values {
			if v == s.v {
				return true
			}
		}
		return false
	}
	switch op {
	case in:
		return s.present && has()
	case notIn:
		return !s.present || !has()
	case ex:
		return s.present
	case dne:
		return !s.present
	case gt, lt:
		if !s.present {
			return false
		}
		a, err1 := strconv.ParseInt(s.v, 10, 64)
		b, _ := strconv.ParseInt(values[0], 10, 64)
		if err1 != nil {
			return false
		}
		if op == gt {
			return a > b
		}
		return a < b
	}
	return false
}

func TestRequirementMatchesKubernetesSemantics(t *testing.T) {
	for _, op := range []corev1.NodeSelectorOperator{in, notIn, ex, dne, gt, lt} {
		for _, values := range [][]string{{"a"}, {"a", "5"}, {"5"}, nil} {
			r, err := NewRequirement("k", op, values...)
			if err != nil {
				continue
			}
			for _, s := range states {
				if got, want := r.Matches(s.v, s.present), kubeMatch(op, values, s); got != want {
					t.Errorf("%s Matches(%+v) = %v, want %v", r, s, got, want)
				}
			}
		}
	}
}

// TestIntersectIsConjunction checks, for every pair, that the intersection admits exactly the
// states both admit, that IsEmpty agrees with the sampled states where the domain is finite,
// and that rendering to node selector requirements keeps the meaning.
func TestIntersectIsConjunction(t *testing.T) {
	for _, a := range reqs() {
		for _, b := range reqs() {
			x := a.Intersect(b)
			anyAdmitted := false
			for _, s := range states {
				want := a.Matches(s.v, s.present) && b.Matches(s.v, s.present)
				if got := x.Matches(s.v, s.present); got != want {
					t.Errorf("(%s) ∩ (%s) = %s: Matches(%+v) = %v, want %v", a, b, x, s, got, want)
				}
				anyAdmitted = anyAdmitted || want
			}
			if anyAdmitted && x.IsEmpty() {
				t.Errorf("(%s) ∩ (%s) = %s reported empty but admits a sampled state", a, b, x)
			}
			if !x.IsEmpty() {
				rendered := x.NodeSelectorRequirements()
				for _, s := range states {
					all := true
					for _, nsr := range rendered {
						all = all && kubeMatch(nsr.Operator, nsr.Values, s)
					}
					if all && !x.Matches(s.v, s.present) {
						t.Errorf("%s rendered as %v admits %+v which it does not", x, rendered, s)
					}
				}
			}
		}
	}
}

func TestIsEmpty(t *testing.T) {
	for _, tc := range []struct {
		r     *Requirement
		empty bool
	}{
		{MustRequirement("k", ex).Intersect(MustRequirement("k", dne)), true},
		{MustRequirement("k", in, "a").Intersect(MustRequirement("k", in, "b")), true},
		{MustRequirement("k", in, "a").Intersect(MustRequirement("k", notIn, "a")), true},
		{MustRequirement("k", notIn, "a").Intersect(MustRequirement("k", dne)), false},
		{MustRequirement("k", gt, "3").Intersect(MustRequirement("k", lt, "4")), true},
		{MustRequirement("k", gt, "3").Intersect(MustRequirement("k", lt, "5")), false},
		{MustRequirement("k", gt, "3").Intersect(MustRequirement("k", lt, "5")).Intersect(MustRequirement("k", notIn, "4")), true},
		{MustRequirement("k", gt, "3").Intersect(MustRequirement("k", in, "a", "4")), false},
		{MustRequirement("k", gt, "3").Intersect(MustRequirement("k", in, "a", "3")), true},
		{MustRequirement("k", gt, "9223372036854775806").Intersect(MustRequirement("k", lt, "-9223372036854775808")), true},
		{MustRequirement("k", gt, "-9223372036854775808").Intersect(MustRequirement("k", lt, "9223372036854775807")), false},
	} {
		if got := tc.r.IsEmpty(); got != tc.empty {
			t.Errorf("%s IsEmpty = %v, want %v", tc.r, got, tc.empty)
		}
	}
}

func TestConstrain(t *testing.T) {
	template := NewRequirements(Any("topology.kubernetes.io/zone"), MustRequirement("karpenter.sh/capacity-type", in, "spot"),
		MustRequirement("team", in, "a"))
	// Pod narrows a defined key.
	got, err := template.Constrain(NewRequirements(MustRequirement("topology.kubernetes.io/zone", in, "us-east-1a")))
	if err != nil || strings.Join(got["topology.kubernetes.io/zone"].Values(), ",") != "us-east-1a" {
		t.Fatalf("zone narrowing: %v %v", got, err)
	}
	if template["topology.kubernetes.io/zone"].IsAny() == false {
		t.Fatal("Constrain modified the template")
	}
	// Conflict names both sides.
	_, err = template.Constrain(NewRequirements(MustRequirement("karpenter.sh/capacity-type", in, "on-demand")))
	if err == nil || !strings.Contains(err.Error(), "karpenter.sh/capacity-type In [spot] vs pod requires karpenter.sh/capacity-type In [on-demand]") {
		t.Fatalf("got %v", err)
	}
	// Undefined custom label: In fails, NotIn and DoesNotExist are fine.
	if _, err := template.Constrain(NewRequirements(MustRequirement("gpu", in, "true"))); err == nil || !strings.Contains(err.Error(), "not defined by the provisioner") {
		t.Fatalf("got %v", err)
	}
	if _, err := template.Constrain(NewRequirements(MustRequirement("gpu", notIn, "true"))); err != nil {
		t.Fatal(err)
	}
	if _, err := template.Constrain(NewRequirements(MustRequirement("team", dne))); err == nil {
		t.Fatal("team DoesNotExist vs team In [a] must conflict")
	}
}

func TestMatchLabelsAndSingleValue(t *testing.T) {
	rs := NewRequirements(MustRequirement("a", in, "1"), MustRequirement("b", notIn, "x"), MustRequirement("c", gt, "3"))
	if err := rs.MatchLabels(map[string]string{"a": "1", "c": "4"}); err != nil {
		t.Fatal(err)
	}
	if err := rs.MatchLabels(map[string]string{"a": "1", "b": "x", "c": "4"}); err == nil {
		t.Fatal("b=x must fail")
	}
	if err := rs.MatchLabels(map[string]string{"a": "1"}); err == nil || !strings.Contains(err.Error(), "label c is missing") {
		t.Fatalf("got %v", err)
	}
	if got := rs.SingleValueLabels(); len(got) != 1 || got["a"] != "1" {
		t.Fatalf("SingleValueLabels = %v", got)
	}
}

func FuzzIntersect(f *testing.F) {
	f.Add(uint8(0), "a", uint8(1), "5", "a", true)
	f.Add(uint8(4), "3", uint8(5), "9", "5", true)
	ops := []corev1.NodeSelectorOperator{in, notIn, ex, dne, gt, lt}
	f.Fuzz(func(t *testing.T, opA uint8, va string, opB uint8, vb string, probe string, present bool) {
		mk := func(op corev1.NodeSelectorOperator, v string) *Requirement {
			var vals []string
			if op != ex && op != dne {
				vals = []string{v}
			}
			r, err := NewRequirement("k", op, vals...)
			if err != nil {
				return nil
			}
			return r
		}
		a, b := mk(ops[int(opA)%len(ops)], va), mk(ops[int(opB)%len(ops)], vb)
		if a == nil || b == nil {
			return
		}
		x := a.Intersect(b)
		want := a.Matches(probe, present) && b.Matches(probe, present)
		if x.Matches(probe, present) != want {
			t.Fatalf("(%s) ∩ (%s) disagrees on %q/%v", a, b, probe, present)
		}
		if want && x.IsEmpty() {
			t.Fatalf("(%s) ∩ (%s) empty but admits %q/%v", a, b, probe, present)
		}
		_ = x.String()
	})
}

// TestStringRendersTheNodeSelectorRequirements checks that String, which writes its text
// directly, says what NodeSelectorRequirements renders (key Op [values], joined by " and ";
// `key (any)` for none), for every sample requirement and every intersection of two (so bounded,
// complemented, emptied and absent-allowing ones are all covered), and for several keys.
func TestStringRendersTheNodeSelectorRequirements(t *testing.T) {
	render := func(r *Requirement) string {
		nsrs := r.NodeSelectorRequirements()
		if len(nsrs) == 0 {
			return r.Key + " (any)"
		}
		var parts []string
		for _, nsr := range nsrs {
			s := nsr.Key + " " + string(nsr.Operator)
			if len(nsr.Values) > 0 {
				s += " [" + strings.Join(nsr.Values, " ") + "]"
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " and ")
	}
	var all []*Requirement
	for _, a := range reqs() {
		all = append(all, a)
		for _, b := range reqs() {
			all = append(all, a.Intersect(b))
		}
	}
	all = append(all, MustRequirement("k", in, "c", "a", "b", "10", "9", "x", "y", "z", "w", "v"))
	for _, r := range all {
		if got, want := r.String(), render(r); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	rs := NewRequirements(MustRequirement("b", in, "2", "1"), Any("c"), MustRequirement("a", gt, "3"))
	if got, want := rs.String(), "a Gt [3], b In [1 2]"; got != want {
		t.Errorf("Requirements.String() = %q, want %q", got, want)
	}
}

// TestConstrainSharedIsConstrain checks constrainShared against Constrain on every pair of a
// template and a pod's requirements drawn from the samples: the same requirements (by what they
// admit and how they render), the same errors, the template left as it was, and the template
// itself returned when the pod narrows nothing.
func TestConstrainSharedIsConstrain(t *testing.T) {
	var templates, pods []Requirements
	for _, a := range reqs() {
		templates = append(templates, NewRequirements(a, MustRequirement("zone", in, "a", "b")))
		pods = append(pods, NewRequirements(a), NewRequirements(a, MustRequirement("zone", in, "b")), NewRequirements(a, MustRequirement("zone", in, "c")))
	}
	templates = append(templates, Requirements{})
	for _, tmpl := range templates {
		before := tmpl.String()
		for _, pod := range pods {
			want, wantErr := tmpl.Constrain(pod)
			got, gotErr := tmpl.constrainShared(pod)
			if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
				t.Errorf("%v constrained by %v: error %v, want %v", tmpl, pod, gotErr, wantErr)
				continue
			}
			if wantErr != nil {
				continue
			}
			if len(got) != len(want) || got.String() != want.String() {
				t.Errorf("%v constrained by %v = %v, want %v", tmpl, pod, got, want)
			}
			for k, r := range want {
				for _, s := range states {
					if got[k] == nil || got[k].Matches(s.v, s.present) != r.Matches(s.v, s.present) {
						t.Errorf("%v constrained by %v: key %s admits %+v differently", tmpl, pod, k, s)
					}
				}
			}
			narrows := false
			for k, r := range got {
				narrows = narrows || tmpl[k] != r
			}
			if !narrows && len(got) == len(tmpl) {
				if fmt.Sprintf("%p", got) != fmt.Sprintf("%p", tmpl) {
					t.Errorf("%v constrained by %v narrows nothing but is a copy", tmpl, pod)
				}
			}
			if tmpl.String() != before {
				t.Fatalf("constrainShared modified the template %s to %s", before, tmpl)
			}
		}
	}
}
