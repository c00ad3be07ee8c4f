package v1alpha5

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// RequirementsConflict reports a provisioner whose labels and requirements leave some label key
// no value a node could carry, so that it could never launch a node (the controller refuses
// every pod for it: "requirements and labels conflict"). The requirements on one key are ANDed
// with each other and with the provisioner's label of that key (a label is the requirement
// `In [value]`), as for a node selector term: In and NotIn are sets of values, Exists and
// DoesNotExist ask for the key's presence or absence, Gt and Lt for an integer value beyond
// theirs (Kubernetes' NodeSelectorRequirement). It returns the index of the first requirement
// after which its key admits no value and why, or -1 and "" when every key admits one.
// Requirements whose Gt/Lt value is not an integer are left to the other checks.
func RequirementsConflict(labels map[string]string, reqs []NodeSelectorRequirement) (int, string) {
	keys := map[string]*keyDomain{}
	for i, r := range reqs {
		d := keys[r.Key]
		if d == nil {
			d = &keyDomain{notIn: sets.New[string]()}
			if v, ok := labels[r.Key]; ok {
				d.restrict(sets.New(v))
				d.label = fmt.Sprintf(" and the label %s=%s", r.Key, v)
			}
			keys[r.Key] = d
		}
		if !d.add(r) {
			continue
		}
		if why := d.empty(); why != "" {
			return i, fmt.Sprintf("no value of %s satisfies this requirement together with the requirements on that key before it%s (%s): the provisioner could never launch a node",
				r.Key, d.label, why)
		}
	}
	return -1, ""
}

// keyDomain is what the requirements read so far allow one key.
//
// +kubebuilder:object:generate=false
type keyDomain struct {
	in      sets.Set[string] // nil: any value
	notIn   sets.Set[string]
	present bool // some value is required (In, Exists, Gt, Lt, a label)
	absent  bool // DoesNotExist
	gt, lt  *int64
	label   string // how the label of the key is named in messages ("" when none)
}

func (d *keyDomain) restrict(values sets.Set[string]) {
	d.present = true
	if d.in == nil {
		d.in = values.Clone()
		return
	}
	d.in = d.in.Intersection(values)
}

// add applies r; false when it cannot be judged (a Gt/Lt value that is not one integer).
func (d *keyDomain) add(r NodeSelectorRequirement) bool {
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		d.restrict(sets.New(r.Values...))
	case corev1.NodeSelectorOpNotIn:
		d.notIn.Insert(r.Values...)
	case corev1.NodeSelectorOpExists:
		d.present = true
	case corev1.NodeSelectorOpDoesNotExist:
		d.absent = true
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 {
			return false
		}
		n, err := strconv.ParseInt(r.Values[0], 10, 64)
		if err != nil {
			return false
		}
		d.present = true
		if r.Operator == corev1.NodeSelectorOpGt && (d.gt == nil || n > *d.gt) {
			d.gt = &n
		}
		if r.Operator == corev1.NodeSelectorOpLt && (d.lt == nil || n < *d.lt) {
			d.lt = &n
		}
	default:
		return false
	}
	return true
}

// empty returns why no value satisfies the domain, "" when some does.
func (d *keyDomain) empty() string {
	if d.absent && d.present {
		return "DoesNotExist excludes every value"
	}
	if d.in != nil {
		for _, v := range sets.List(d.in) {
			if !d.notIn.Has(v) && d.inRange(v) {
				return ""
			}
		}
		if d.in.Len() == 0 {
			return "the In values have none in common"
		}
		return fmt.Sprintf("%v are all excluded", sets.List(d.in))
	}
	if d.gt != nil && d.lt != nil {
		lo, hi := *d.gt+1, *d.lt-1 // the integers allowed
		if lo > hi {
			return fmt.Sprintf("no integer is greater than %d and less than %d", *d.gt, *d.lt)
		}
		if hi-lo < int64(d.notIn.Len()) {
			for n := lo; n <= hi; n++ {
				if !d.notIn.Has(strconv.FormatInt(n, 10)) {
					return ""
				}
			}
			return fmt.Sprintf("NotIn excludes every integer from %d to %d", lo, hi)
		}
	}
	return ""
}

// inRange reports whether v satisfies the Gt and Lt bounds (any v when there are none).
func (d *keyDomain) inRange(v string) bool {
	if d.gt == nil && d.lt == nil {
		return true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return err == nil && (d.gt == nil || n > *d.gt) && (d.lt == nil || n < *d.lt)
}
