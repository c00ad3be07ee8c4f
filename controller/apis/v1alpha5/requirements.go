package v1alpha5

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// ClosedLabelValues are the well-known label keys whose values on a launched node come from a
// fixed set, and that set; every node the controller launches carries each of these labels:
//   - karpenter.sh/capacity-type: spot or on-demand, the offering the node was launched from
//     (cloudprovider/aws instance.go sets it; the CRD refuses other values);
//   - kubernetes.io/arch: amd64 or arm64 (cloudprovider/aws instancetypes.go architecture():
//     instance types of any other architecture are never offered);
//   - kubernetes.io/os: linux (instanceTypeLabels; every AMI family the controller supports,
//     AL2, Bottlerocket and Ubuntu, is Linux).
//
// Instance types, zones, regions and the karpenter.k8s.aws/* labels are open sets (they depend on
// the account, region and EC2's catalogue) and are not listed.
var ClosedLabelValues = map[string][]string{
	LabelCapacityType: {CapacityTypeOnDemand, CapacityTypeSpot},
	LabelArch:         {"amd64", "arm64"},
	LabelOS:           {"linux"},
}

// alwaysPresentLabels are the keys every launched node carries, beyond ClosedLabelValues':
// karpenter.sh/provisioner-name (the scheduler sets it to the provisioner's name),
// node.kubernetes.io/instance-type and topology.kubernetes.io/zone (every instance type has a
// name and every offering a zone; cloudprovider/aws instanceTypeLabels and the offerings).
var alwaysPresentLabels = []string{LabelProvisionerName, LabelInstanceType, LabelZone}

// RequirementsConflict reports a provisioner whose labels and requirements leave some label key
// no value a node could carry, so that it could never launch a node (the controller refuses
// every pod for it: "requirements and labels conflict"). The requirements on one key are ANDed
// with each other and with the provisioner's label of that key (a label is the requirement
// `In [value]`), as for a node selector term: In and NotIn are sets of values, Exists and
// DoesNotExist ask for the key's presence or absence, Gt and Lt for a 64-bit integer value
// beyond theirs (Kubernetes' NodeSelectorRequirement; a value that is not one parses as no
// integer). Besides, what is certain of every launched node is taken into account: the keys
// of ClosedLabelValues take only their listed values, and those keys, karpenter.sh/provisioner-name,
// node.kubernetes.io/instance-type and topology.kubernetes.io/zone are on every node, so
// DoesNotExist on them admits nothing. Gt 9223372036854775807 and Lt -9223372036854775808 admit
// no value either. Lt 0 and other bounds that only label syntax (a value starts with an
// alphanumeric) would exclude are accepted.
//
// It returns the index of the first requirement after which its key admits no value and why
// (naming the key and the reason, e.g. "3 is not greater than 5"), or -1 and "" when every key
// admits one. Requirements whose Gt/Lt values are not one 64-bit integer are left to
// ValidGtLtValues.
func RequirementsConflict(labels map[string]string, reqs []NodeSelectorRequirement) (int, string) {
	keys := map[string]*keyDomain{}
	for i, r := range reqs {
		d := keys[r.Key]
		if d == nil {
			d = newKeyDomain(r.Key)
			if v, ok := labels[r.Key]; ok {
				d.restrict(sets.New(v))
				d.label, d.labelValue = fmt.Sprintf(" and the label %s=%s", r.Key, v), &v
			}
			keys[r.Key] = d
		}
		if !d.add(r) {
			continue
		}
		if why := d.empty(); why != "" {
			return i, fmt.Sprintf("no node could satisfy the requirements on %s up to this one%s: %s; the provisioner could never launch a node",
				r.Key, d.label, why)
		}
	}
	return -1, ""
}

// keyDomain is what the requirements read so far allow one key.
//
// +kubebuilder:object:generate=false
type keyDomain struct {
	key     string
	closed  []string         // the only values a node has (ClosedLabelValues), nil: open
	always  bool             // every launched node carries the key
	in      sets.Set[string] // nil: any value
	notIn   sets.Set[string]
	present bool // some value is required (In, Exists, Gt, Lt, a label)
	absent  bool // DoesNotExist
	gt, lt  *int64
	label   string // how the label of the key is named in messages ("" when none)
	// labelValue is the provisioner's label of the key, nil when none.
	labelValue *string
}

func newKeyDomain(key string) *keyDomain {
	closed := ClosedLabelValues[key]
	always := closed != nil
	always = always || slices.Contains(alwaysPresentLabels, key)
	return &keyDomain{key: key, closed: closed, always: always, notIn: sets.New[string]()}
}

func (d *keyDomain) restrict(values sets.Set[string]) {
	d.present = true
	if d.in == nil {
		d.in = values.Clone()
		return
	}
	d.in = d.in.Intersection(values)
}

// add applies r; false when it cannot be judged (a Gt/Lt value that is not one 64-bit integer).
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
	if d.absent && d.always {
		return fmt.Sprintf("DoesNotExist asks for nodes without the label, but every node the controller launches has %s", d.key)
	}
	if d.absent && d.present {
		return "DoesNotExist asks for nodes without the label, but the other requirements ask for a value"
	}
	if d.gt != nil && *d.gt == math.MaxInt64 {
		return fmt.Sprintf("no 64-bit integer is greater than %d", *d.gt)
	}
	if d.lt != nil && *d.lt == math.MinInt64 {
		return fmt.Sprintf("no 64-bit integer is less than %d", *d.lt)
	}
	candidates := d.in
	if candidates == nil && d.closed != nil {
		candidates = sets.New(d.closed...)
	}
	if candidates != nil {
		if candidates.Len() == 0 {
			if d.labelValue != nil {
				return fmt.Sprintf("%s is not among the In values", *d.labelValue)
			}
			return "the In values have none in common"
		}
		var reasons []string
		for _, v := range sets.List(candidates) {
			why := d.excludes(v)
			if why == "" {
				return ""
			}
			reasons = append(reasons, why)
		}
		if d.in == nil {
			return fmt.Sprintf("a node's %s is %s, and %s", d.key, orList(d.closed), strings.Join(reasons, "; "))
		}
		return strings.Join(reasons, "; ")
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

// excludes returns why value v is not allowed, or "" when it is.
func (d *keyDomain) excludes(v string) string {
	if d.closed != nil && !slices.Contains(d.closed, v) {
		return fmt.Sprintf("%s is not a value of %s (a node's is %s)", v, d.key, orList(d.closed))
	}
	if d.notIn.Has(v) {
		return fmt.Sprintf("%s is excluded by NotIn", v)
	}
	if d.gt == nil && d.lt == nil {
		return ""
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		return fmt.Sprintf("%s is not an integer, as Gt and Lt need", v)
	case d.gt != nil && n <= *d.gt:
		return fmt.Sprintf("%s is not greater than %d", v, *d.gt)
	case d.lt != nil && n >= *d.lt:
		return fmt.Sprintf("%s is not less than %d", v, *d.lt)
	}
	return ""
}

// orList writes values as "a", "a or b", "a, b or c".
func orList(values []string) string {
	if len(values) <= 1 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}
