// Package scheduling is the provisioning solver: a requirements algebra over node label keys
// and a first-fit-decreasing bin packer that places pending pods on existing, in-flight and new
// nodes. It does no I/O, keeps no state between calls and is deterministic for a given input.
package scheduling

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Requirement is the set of states one node label key may be in: either absent, or present
// with a value from a (possibly complemented) set of strings, optionally bounded by integer
// bounds (Gt/Lt). It is immutable once built; operations return new values.
//
// The six node selector operators map to it as follows (Kubernetes semantics, see
// https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#operators):
//
//	In [v...]     present, value in {v...}
//	NotIn [v...]  absent, or present with value not in {v...}
//	Exists        present, any value
//	DoesNotExist  absent
//	Gt n          present, integer value > n
//	Lt n          present, integer value < n
type Requirement struct {
	Key string
	// allowAbsent: the label may be missing from the node.
	allowAbsent bool
	// complement: values lists the excluded values instead of the allowed ones.
	complement bool
	values     sets.Set[string]
	// gt and lt bound present values exclusively when set; a bounded requirement only admits
	// integer values.
	gt, lt *int64
}

// Any returns the requirement that admits every state of key (absent or any value).
func Any(key string) *Requirement {
	return &Requirement{Key: key, allowAbsent: true, complement: true, values: sets.New[string]()}
}

// Absent returns the requirement that admits only a missing label (DoesNotExist).
func Absent(key string) *Requirement {
	return &Requirement{Key: key, allowAbsent: true, values: sets.New[string]()}
}

// NewRequirement builds a requirement from a node selector operator and values.
// Errors: unknown operator; In/NotIn without values; Exists/DoesNotExist with values;
// Gt/Lt without exactly one integer value.
func NewRequirement(key string, op corev1.NodeSelectorOperator, values ...string) (*Requirement, error) {
	switch op {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(values) == 0 {
			return nil, fmt.Errorf("operator %s needs at least one value", op)
		}
		return &Requirement{Key: key, allowAbsent: op == corev1.NodeSelectorOpNotIn,
			complement: op == corev1.NodeSelectorOpNotIn, values: sets.New(values...)}, nil
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(values) != 0 {
			return nil, fmt.Errorf("operator %s takes no values", op)
		}
		if op == corev1.NodeSelectorOpExists {
			return &Requirement{Key: key, complement: true, values: sets.New[string]()}, nil
		}
		return Absent(key), nil
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(values) != 1 {
			return nil, fmt.Errorf("operator %s needs exactly one integer value, got %d values", op, len(values))
		}
		n, err := strconv.ParseInt(values[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("operator %s needs an integer value, got %q", op, values[0])
		}
		r := &Requirement{Key: key, complement: true, values: sets.New[string]()}
		if op == corev1.NodeSelectorOpGt {
			r.gt = &n
		} else {
			r.lt = &n
		}
		return r, nil
	default:
		return nil, fmt.Errorf("unknown operator %q (want In, NotIn, Exists, DoesNotExist, Gt or Lt)", op)
	}
}

// MustRequirement is NewRequirement for constant arguments in tests and fixtures; it panics on
// error and must not be used on user input.
func MustRequirement(key string, op corev1.NodeSelectorOperator, values ...string) *Requirement {
	r, err := NewRequirement(key, op, values...)
	if err != nil {
		panic(err)
	}
	return r
}

// Intersect returns the states admitted by both r and o (keys are assumed equal). Requirements
// are immutable, so when the answer is r or o itself (one admits every state, or one is
// `In [v]` without bounds and the other admits v with none), that one is returned.
func (r *Requirement) Intersect(o *Requirement) *Requirement {
	switch {
	case o.IsAny():
		return r
	case r.IsAny():
		return o
	case r.gt == nil && r.lt == nil && o.gt == nil && o.lt == nil:
		if v, ok := o.Single(); ok && r.Has(v) {
			return o
		}
		if v, ok := r.Single(); ok && o.Has(v) {
			return r
		}
	}
	out := &Requirement{Key: r.Key, allowAbsent: r.allowAbsent && o.allowAbsent}
	switch {
	case r.complement && o.complement:
		out.complement = true
		out.values = r.values.Union(o.values)
	case r.complement:
		out.values = o.values.Difference(r.values)
	case o.complement:
		out.values = r.values.Difference(o.values)
	default:
		out.values = r.values.Intersection(o.values)
	}
	out.gt = maxPtr(r.gt, o.gt)
	out.lt = minPtr(r.lt, o.lt)
	if !out.complement && (out.gt != nil || out.lt != nil) {
		kept := sets.New[string]()
		for v := range out.values {
			if out.withinBounds(v) {
				kept.Insert(v)
			}
		}
		out.values = kept
	}
	return out
}

func maxPtr(a, b *int64) *int64 {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case *a > *b:
		return a
	default:
		return b
	}
}

func minPtr(a, b *int64) *int64 {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case *a < *b:
		return a
	default:
		return b
	}
}

func (r *Requirement) withinBounds(v string) bool {
	if r.gt == nil && r.lt == nil {
		return true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false
	}
	return (r.gt == nil || n > *r.gt) && (r.lt == nil || n < *r.lt)
}

// hasPresentValue reports whether some present value is admitted.
func (r *Requirement) hasPresentValue() bool {
	if !r.complement {
		return r.values.Len() > 0
	}
	if r.gt == nil || r.lt == nil {
		return true // an unbounded side always leaves an integer not in the finite excluded set
	}
	if *r.lt <= *r.gt {
		return false
	}
	span := uint64(*r.lt) - uint64(*r.gt) - 1 // no overflow: lt > gt
	if span == 0 {
		return false
	}
	if span > uint64(r.values.Len()) {
		return true
	}
	excluded := uint64(0)
	for v := range r.values {
		if r.withinBounds(v) {
			excluded++
		}
	}
	return excluded < span
}

// IsEmpty reports whether no label state satisfies r (the requirement is unsatisfiable).
func (r *Requirement) IsEmpty() bool { return !r.allowAbsent && !r.hasPresentValue() }

// AllowsAbsent reports whether a node without the label satisfies r.
func (r *Requirement) AllowsAbsent() bool { return r.allowAbsent }

// Has reports whether a node whose label has value v satisfies r.
func (r *Requirement) Has(v string) bool {
	if r.complement == r.values.Has(v) {
		return false
	}
	return r.withinBounds(v)
}

// Matches reports whether a label in state (value, present) satisfies r.
func (r *Requirement) Matches(value string, present bool) bool {
	if !present {
		return r.allowAbsent
	}
	return r.Has(value)
}

// Values returns the admitted values, sorted, when the set is finite (In-like), else nil.
func (r *Requirement) Values() []string {
	if r.complement {
		return nil
	}
	return sets.List(r.values)
}

// Single returns the only admitted value when r is In with exactly one value.
func (r *Requirement) Single() (string, bool) {
	if r.complement || r.allowAbsent || r.values.Len() != 1 {
		return "", false
	}
	for v := range r.values {
		return v, true
	}
	return "", false
}

// IsAny reports whether r admits every state.
func (r *Requirement) IsAny() bool {
	return r.allowAbsent && r.complement && r.values.Len() == 0 && r.gt == nil && r.lt == nil
}

// String renders r as the operators it stands for, e.g. `karpenter.sh/capacity-type In [spot]`.
func (r *Requirement) String() string { return string(r.appendTo(nil)) }

// appendTo appends r.String() to b: each node selector requirement of NodeSelectorRequirements
// as `key Op [v1 v2]` (or `key Op` without values), joined by " and "; `key (any)` when there is
// none. It writes them directly, without building the node selector requirements.
func (r *Requirement) appendTo(b []byte) []byte {
	n := 0 // requirements written
	switch {
	case !r.complement && !r.allowAbsent:
		b, _ = r.appendOp(b, n, corev1.NodeSelectorOpIn)
		return appendValues(b, r.values)
	case !r.complement && r.allowAbsent:
		b, _ = r.appendOp(b, n, corev1.NodeSelectorOpDoesNotExist)
		return b
	case r.values.Len() > 0:
		b, n = r.appendOp(b, n, corev1.NodeSelectorOpNotIn)
		b = appendValues(b, r.values)
		if !r.allowAbsent {
			b, n = r.appendOp(b, n, corev1.NodeSelectorOpExists)
		}
	case !r.allowAbsent && r.gt == nil && r.lt == nil:
		b, n = r.appendOp(b, n, corev1.NodeSelectorOpExists)
	}
	if r.gt != nil {
		b, n = r.appendOp(b, n, corev1.NodeSelectorOpGt)
		b = append(strconv.AppendInt(append(b, " ["...), *r.gt, 10), ']')
	}
	if r.lt != nil {
		b, n = r.appendOp(b, n, corev1.NodeSelectorOpLt)
		b = append(strconv.AppendInt(append(b, " ["...), *r.lt, 10), ']')
	}
	if n == 0 {
		return append(append(b, r.Key...), " (any)"...)
	}
	return b
}

// appendOp appends `key Op` to b, after " and " when n (the requirements written) is not 0, and
// returns b and n+1.
func (r *Requirement) appendOp(b []byte, n int, op corev1.NodeSelectorOperator) ([]byte, int) {
	if n > 0 {
		b = append(b, " and "...)
	}
	return append(append(append(b, r.Key...), ' '), op...), n + 1
}

// appendValues appends ` [v1 v2]`, values sorted, or nothing when there is none.
func appendValues(b []byte, values sets.Set[string]) []byte {
	if values.Len() == 0 {
		return b
	}
	var buf [8]string
	sorted := buf[:0]
	for v := range values {
		sorted = append(sorted, v)
	}
	slices.Sort(sorted)
	b = append(b, " ["...)
	for j, v := range sorted {
		if j > 0 {
			b = append(b, ' ')
		}
		b = append(b, v...)
	}
	return append(b, ']')
}

// NodeSelectorRequirements renders r as ANDed node selector requirements (empty for Any).
// Callers should check IsEmpty first: an unsatisfiable requirement renders as `key In []`.
func (r *Requirement) NodeSelectorRequirements() []corev1.NodeSelectorRequirement {
	var out []corev1.NodeSelectorRequirement
	switch {
	case !r.complement && !r.allowAbsent:
		out = append(out, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOpIn, Values: sets.List(r.values)})
		return out // In already implies the bounds (values were filtered)
	case !r.complement && r.allowAbsent:
		out = append(out, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOpDoesNotExist})
		return out // present values in addition to absent cannot be expressed in one term; absent is the safe subset
	case r.allowAbsent && r.values.Len() > 0:
		out = append(out, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOpNotIn, Values: sets.List(r.values)})
	case !r.allowAbsent && r.values.Len() > 0:
		out = append(out, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOpNotIn, Values: sets.List(r.values)},
			corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOpExists})
	case !r.allowAbsent && r.gt == nil && r.lt == nil:
		out = append(out, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOpExists})
	}
	if r.gt != nil {
		out = append(out, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOpGt, Values: []string{strconv.FormatInt(*r.gt, 10)}})
	}
	if r.lt != nil {
		out = append(out, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOpLt, Values: []string{strconv.FormatInt(*r.lt, 10)}})
	}
	return out
}

// Requirements are ANDed requirements by label key. A key without an entry is unconstrained
// when the Requirements describe what a pod asks for; NodeTemplate gives the node-side view.
type Requirements map[string]*Requirement

// NewRequirements ANDs the given requirements (same-key entries intersect).
func NewRequirements(reqs ...*Requirement) Requirements {
	out := Requirements{}
	out.Add(reqs...)
	return out
}

// FromNodeSelector converts ANDed node selector requirements; errors name the field path,
// e.g. `spec.affinity.nodeAffinity...matchExpressions[2].operator: unknown operator "Foo"`.
// A legacy key (beta.kubernetes.io/os, failure-domain.beta.kubernetes.io/zone: see
// v1alpha5.LegacyLabels) is read as its GA key, which every node carries with the same value.
func FromNodeSelector(path *field.Path, nsrs []corev1.NodeSelectorRequirement) (Requirements, error) {
	out := Requirements{}
	for i, nsr := range nsrs {
		r, err := NewRequirement(v1alpha5.NormalizeLabelKey(nsr.Key), nsr.Operator, nsr.Values...)
		if err != nil {
			return nil, field.Invalid(path.Index(i), nsr.Operator, err.Error())
		}
		out.Add(r)
	}
	return out, nil
}

// FromLabels returns `key In [value]` for every label, a legacy key read as its GA key (as
// FromNodeSelector does; a legacy and a GA label of different values leave it empty).
func FromLabels(labels map[string]string) Requirements {
	out := Requirements{}
	for k, v := range labels {
		if ga, legacy := v1alpha5.LegacyLabels[k]; legacy {
			out.Add(&Requirement{Key: ga, values: sets.New(v)})
			continue
		}
		out.Add(&Requirement{Key: k, values: sets.New(v)})
	}
	return out
}

// normalizeLabels returns labels with the GA key of each legacy key it has without that GA key
// (v1alpha5.LegacyLabels), so that requirements, which name GA keys only, match a node that
// carries only the legacy label; labels itself when there is none (nodes carry both).
func normalizeLabels(labels map[string]string) map[string]string {
	var out map[string]string
	for legacy, ga := range v1alpha5.LegacyLabels {
		v, ok := labels[legacy]
		if !ok {
			continue
		}
		if _, has := labels[ga]; has {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(labels)+len(v1alpha5.LegacyLabels))
			for k, v := range labels {
				out[k] = v
			}
		}
		out[ga] = v
	}
	if out == nil {
		return labels
	}
	return out
}

// normalizeNodes returns nodes with normalizeLabels applied to each node's labels: nodes itself
// when no node needs it, else a copy (the caller's nodes are not modified).
func normalizeNodes(nodes []ExistingNode) []ExistingNode {
	var out []ExistingNode
	for i := range nodes {
		l := normalizeLabels(nodes[i].Labels)
		if out == nil {
			if len(l) == len(nodes[i].Labels) {
				continue
			}
			out = slices.Clone(nodes)
		}
		out[i].Labels = l
	}
	if out == nil {
		return nodes
	}
	return out
}

// Add intersects each requirement into rs in place.
func (rs Requirements) Add(reqs ...*Requirement) {
	for _, r := range reqs {
		if cur, ok := rs[r.Key]; ok {
			rs[r.Key] = cur.Intersect(r)
		} else {
			rs[r.Key] = r
		}
	}
}

// Copy returns a shallow copy (requirements are immutable).
func (rs Requirements) Copy() Requirements {
	out := make(Requirements, len(rs))
	for k, v := range rs {
		out[k] = v
	}
	return out
}

// Keys returns the keys, sorted.
func (rs Requirements) Keys() []string {
	keys := make([]string, 0, len(rs))
	for k := range rs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Constrain treats rs as a node template (a missing key means the node will not carry the
// label) and returns it narrowed by a pod's requirements (a missing key means "any").
// It returns an error naming the first conflicting key (sorted order) when a pod requirement
// leaves no admissible state, e.g.
// `karpenter.sh/capacity-type In [spot] vs pod requires karpenter.sh/capacity-type In [on-demand]`.
func (rs Requirements) Constrain(pod Requirements) (Requirements, error) {
	out := rs.Copy()
	for _, k := range pod.Keys() {
		p := pod[k]
		cur, ok := rs[k]
		if !ok {
			cur = Absent(k)
		}
		next := cur.Intersect(p)
		if next.IsEmpty() {
			if !ok {
				return nil, fmt.Errorf("label %s is not defined by the provisioner, pod requires %s", k, p)
			}
			return nil, fmt.Errorf("%s vs pod requires %s", cur, p)
		}
		out[k] = next
	}
	return out, nil
}

// constrainShared is Constrain for callers that never modify the result (claims replace their
// requirements, never change them): when pod narrows no requirement of rs, it returns rs itself,
// and it copies rs only once something changes. Errors are Constrain's.
func (rs Requirements) constrainShared(pod Requirements) (Requirements, error) {
	var out Requirements
	for k, p := range pod {
		cur, ok := rs[k]
		if !ok {
			cur = Absent(k)
		}
		next := cur.Intersect(p)
		if next.IsEmpty() {
			return rs.Constrain(pod) // the error names the first conflicting key in key order
		}
		if ok && next == cur {
			continue
		}
		if out == nil {
			out = rs.Copy()
		}
		out[k] = next
	}
	if out == nil {
		return rs, nil
	}
	return out, nil
}

// Compatible reports whether Constrain(pod) would succeed, without building the result.
func (rs Requirements) Compatible(pod Requirements) bool {
	for k, p := range pod {
		cur, ok := rs[k]
		if !ok {
			cur = Absent(k)
		}
		if cur.Intersect(p).IsEmpty() {
			return false
		}
	}
	return true
}

// MatchLabels reports whether a node with labels satisfies every requirement in rs (a missing
// label is absent); the error names the first failing requirement in key order.
func (rs Requirements) MatchLabels(labels map[string]string) error {
	for _, k := range rs.Keys() {
		v, ok := labels[k]
		if !rs[k].Matches(v, ok) {
			if ok {
				return fmt.Errorf("label %s=%s does not satisfy %s", k, v, rs[k])
			}
			return fmt.Errorf("label %s is missing, requirement %s", k, rs[k])
		}
	}
	return nil
}

// NodeSelectorRequirements renders rs as one ANDed node selector term, keys sorted,
// skipping unconstrained keys.
func (rs Requirements) NodeSelectorRequirements() []corev1.NodeSelectorRequirement {
	var out []corev1.NodeSelectorRequirement
	for _, k := range rs.Keys() {
		out = append(out, rs[k].NodeSelectorRequirements()...)
	}
	return out
}

// SingleValueLabels returns key=value for every key constrained to exactly one value.
func (rs Requirements) SingleValueLabels() map[string]string {
	out := map[string]string{}
	for k, r := range rs {
		if v, ok := r.Single(); ok {
			out[k] = v
		}
	}
	return out
}

// String renders rs in key order, without the keys that admit every state, joined by ", ".
func (rs Requirements) String() string {
	keys := make([]string, 0, 8)
	for k, r := range rs {
		if !r.IsAny() {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = rs[k].appendTo(b)
	}
	return string(b)
}
