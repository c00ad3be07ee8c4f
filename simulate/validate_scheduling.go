package simulate

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The API server's checks (k8s.io/kubernetes pkg/apis/core/validation, v1.37:
// validateAffinity, validateNodeSelectorRequirement, validatePodAffinityTerm,
// validateTopologySpreadConstraints, ValidateMatchLabelKeysAndMismatchLabelKeys,
// ValidateTolerations, validateContainerPorts) of the
// scheduling fields the plan reads, with its wording: a pod the API server refuses is an input
// error at its line, not a pod the plan calls unschedulable.

// validateScheduling checks spec's affinity, topology spread constraints, tolerations and
// container ports at path; pods are the pods spec makes (their labels value matchLabelKeys and
// mismatchLabelKeys).
func validateScheduling(spec *corev1.PodSpec, pods specPods, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if a := spec.Affinity; a != nil {
		errs = append(errs, validateNodeAffinity(a.NodeAffinity, path.Child("affinity", "nodeAffinity"))...)
		if pa := a.PodAffinity; pa != nil {
			errs = append(errs, validatePodTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, pods,
				path.Child("affinity", "podAffinity"))...)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			errs = append(errs, validatePodTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, pods,
				path.Child("affinity", "podAntiAffinity"))...)
		}
	}
	errs = append(errs, validateSpread(spec.TopologySpreadConstraints, pods, path.Child("topologySpreadConstraints"))...)
	errs = append(errs, validateTolerations(spec.Tolerations, path.Child("tolerations"))...)
	for i := range spec.Containers {
		errs = append(errs, validatePorts(spec.Containers[i].Ports, path.Child("containers").Index(i).Child("ports"))...)
	}
	for i := range spec.InitContainers {
		errs = append(errs, validatePorts(spec.InitContainers[i].Ports, path.Child("initContainers").Index(i).Child("ports"))...)
	}
	return errs
}

func validateNodeAffinity(na *corev1.NodeAffinity, path *field.Path) field.ErrorList {
	if na == nil {
		return nil
	}
	var errs field.ErrorList
	if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
		p := path.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		if len(r.NodeSelectorTerms) == 0 {
			errs = append(errs, field.Required(p, "must have at least one node selector term"))
		}
		for i := range r.NodeSelectorTerms {
			errs = append(errs, validateNodeSelectorTerm(&r.NodeSelectorTerms[i], p.Index(i))...)
		}
	}
	for i := range na.PreferredDuringSchedulingIgnoredDuringExecution {
		t, p := &na.PreferredDuringSchedulingIgnoredDuringExecution[i], path.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
		errs = append(errs, validateWeight(t.Weight, p.Child("weight"))...)
		errs = append(errs, validateNodeSelectorTerm(&t.Preference, p.Child("preference"))...)
	}
	return errs
}

func validateNodeSelectorTerm(t *corev1.NodeSelectorTerm, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for j := range t.MatchExpressions {
		r, p := &t.MatchExpressions[j], path.Child("matchExpressions").Index(j)
		switch r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(r.Values) == 0 {
				errs = append(errs, field.Required(p.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				errs = append(errs, field.Forbidden(p.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			if len(r.Values) != 1 {
				errs = append(errs, field.Required(p.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator"))
		}
		errs = append(errs, qualifiedName(r.Key, p.Child("key"))...)
	}
	return errs
}

func validateWeight(w int32, path *field.Path) field.ErrorList {
	if w <= 0 || w > 100 {
		return field.ErrorList{field.Invalid(path, w, "must be in the range 1-100")}
	}
	return nil
}

// qualifiedName checks that key is a qualified name (validation.IsQualifiedName, as the API
// server's ValidateLabelName): one error per problem, so an empty part is "must be non-empty"
// alone, not also a regular expression it does not match (the API server gives both).
func qualifiedName(key string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	empty := map[string]bool{} // "name part ", "prefix part "
	for _, msg := range validation.IsQualifiedName(key) {
		part, _, _ := strings.Cut(msg, " part ")
		if empty[part] {
			continue
		}
		if strings.HasSuffix(msg, " part "+validation.EmptyError()) {
			empty[part] = true
		}
		errs = append(errs, field.Invalid(path, key, msg))
	}
	return errs
}

// validateLabels checks labels at path as the API server does (metav1 validation
// ValidateLabels, for metadata.labels, a pod's nodeSelector and a selector's matchLabels): each
// key a qualified name (qualifiedName), each value a label value (validation.IsValidLabelValue:
// at most 63 characters, alphanumerics, '-', '_' or '.', starting and ending alphanumeric, or
// empty). Each error is at its entry (path.<key>), not at the map as the API server puts it, so
// that it is at the entry's line. Keys are checked in sorted order.
func validateLabels(labels map[string]string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sets.List(sets.KeySet(labels)) {
		p := path.Child(k)
		if k == "" {
			p = path // an empty key has no path of its own
		}
		errs = append(errs, qualifiedName(k, p)...)
		for _, msg := range validation.IsValidLabelValue(labels[k]) {
			errs = append(errs, field.Invalid(p, labels[k], msg))
		}
	}
	return errs
}

func validateTopologyKey(key string, path *field.Path) field.ErrorList {
	if key == "" {
		return field.ErrorList{field.Required(path, "can not be empty")}
	}
	return qualifiedName(key, path)
}

// validateSelector checks the label selector s at path as the API server does
// (metav1 validation ValidateLabelSelector), with matchLabels' errors at their entries
// (validateLabels).
func validateSelector(s *metav1.LabelSelector, path *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	rest := *s
	rest.MatchLabels = nil
	errs := validateLabels(s.MatchLabels, path.Child("matchLabels"))
	return append(errs, metav1validation.ValidateLabelSelector(&rest, metav1validation.LabelSelectorValidationOptions{}, path)...)
}

func validatePodTerms(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, pods specPods, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range required {
		errs = append(errs, validatePodTerm(&required[i], pods, path.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i))...)
	}
	for i := range preferred {
		p := path.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
		errs = append(errs, validateWeight(preferred[i].Weight, p.Child("weight"))...)
		errs = append(errs, validatePodTerm(&preferred[i].PodAffinityTerm, pods, p.Child("podAffinityTerm"))...)
	}
	return errs
}

func validatePodTerm(t *corev1.PodAffinityTerm, pods specPods, path *field.Path) field.ErrorList {
	errs := validateSelector(t.LabelSelector, path.Child("labelSelector"))
	errs = append(errs, validateLabelKeys(t.MatchLabelKeys, t.MismatchLabelKeys, t.LabelSelector, pods, path)...)
	errs = append(errs, validateSelector(t.NamespaceSelector, path.Child("namespaceSelector"))...)
	for i, ns := range t.Namespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(path.Child("namespaces").Index(i), ns, msg))
		}
	}
	return append(errs, validateTopologyKey(t.TopologyKey, path.Child("topologyKey"))...)
}

func validateSpread(cs []corev1.TopologySpreadConstraint, pods specPods, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	policies := []string{string(corev1.NodeInclusionPolicyHonor), string(corev1.NodeInclusionPolicyIgnore)}
	for i := range cs {
		c, p := &cs[i], path.Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(p.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		errs = append(errs, validateTopologyKey(c.TopologyKey, p.Child("topologyKey"))...)
		switch c.WhenUnsatisfiable {
		case corev1.DoNotSchedule, corev1.ScheduleAnyway:
		default:
			errs = append(errs, field.NotSupported(p.Child("whenUnsatisfiable"), c.WhenUnsatisfiable,
				[]string{string(corev1.DoNotSchedule), string(corev1.ScheduleAnyway)}))
		}
		if c.MinDomains != nil {
			switch {
			case *c.MinDomains <= 0:
				errs = append(errs, field.Invalid(p.Child("minDomains"), *c.MinDomains, "must be greater than 0"))
			case c.WhenUnsatisfiable != corev1.DoNotSchedule:
				errs = append(errs, field.Invalid(p.Child("minDomains"), *c.MinDomains,
					fmt.Sprintf("can only use minDomains if whenUnsatisfiable=%s, not %s", corev1.DoNotSchedule, c.WhenUnsatisfiable)))
			}
		}
		if c.NodeAffinityPolicy != nil && *c.NodeAffinityPolicy != corev1.NodeInclusionPolicyHonor && *c.NodeAffinityPolicy != corev1.NodeInclusionPolicyIgnore {
			errs = append(errs, field.NotSupported(p.Child("nodeAffinityPolicy"), *c.NodeAffinityPolicy, policies))
		}
		if c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy != corev1.NodeInclusionPolicyHonor && *c.NodeTaintsPolicy != corev1.NodeInclusionPolicyIgnore {
			errs = append(errs, field.NotSupported(p.Child("nodeTaintsPolicy"), *c.NodeTaintsPolicy, policies))
		}
		errs = append(errs, validateLabelKeys(c.MatchLabelKeys, nil, c.LabelSelector, pods, p)...)
		errs = append(errs, validateSelector(c.LabelSelector, p.Child("labelSelector"))...)
		pair := c.TopologyKey + "/" + string(c.WhenUnsatisfiable)
		if seen.Has(pair) {
			errs = append(errs, field.Duplicate(p, fmt.Sprintf("{%s, %s}", c.TopologyKey, c.WhenUnsatisfiable)))
		}
		seen.Insert(pair)
	}
	return errs
}

func validateTolerations(ts []corev1.Toleration, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range ts {
		t, p := &ts[i], path.Index(i)
		if t.Key != "" {
			errs = append(errs, qualifiedName(t.Key, p.Child("key"))...)
		} else if t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(p.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(p.Child("value"), t.Value, msg))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(p.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator, []string{string(corev1.TolerationOpEqual), string(corev1.TolerationOpExists)}))
		}
		switch t.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, field.NotSupported(p.Child("effect"), t.Effect, []string{string(corev1.TaintEffectNoSchedule),
				string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute)}))
		}
	}
	return errs
}

func validatePorts(ports []corev1.ContainerPort, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range ports {
		pt, p := &ports[i], path.Index(i)
		for _, msg := range validation.IsValidPortNum(int(pt.ContainerPort)) {
			errs = append(errs, field.Invalid(p.Child("containerPort"), pt.ContainerPort, msg))
		}
		if pt.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(pt.HostPort)) {
				errs = append(errs, field.Invalid(p.Child("hostPort"), pt.HostPort, msg))
			}
		}
		switch pt.Protocol {
		case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			errs = append(errs, field.NotSupported(p.Child("protocol"), pt.Protocol, []string{string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}))
		}
	}
	return errs
}

// specPods describes the pods a spec makes, as matchLabelKeys and mismatchLabelKeys read them.
type specPods struct {
	// labels are the pods' labels (for a workload, its template's plus those its controller
	// adds), whose values the API server merges into the selectors.
	labels map[string]string
	// stored: the spec is a Pod's, which may have been read back from a cluster, its selectors
	// then holding the merged requirements already.
	stored bool
}

// validateLabelKeys checks the matchLabelKeys and mismatchLabelKeys (nil for a topology spread
// constraint) of the pod affinity term or spread constraint at path, whose labelSelector is sel,
// as the API server does since 1.34 (ValidateMatchLabelKeysAndMismatchLabelKeys, run on the pod
// after pod creation appended to sel's matchExpressions a requirement key In (value) per
// matchLabelKeys key the pod has a label of, and key NotIn (value) per mismatchLabelKeys key).
// Errors, each at the key's path (the API server's own path for the second lacks
// "matchLabelKeys"):
//   - matchLabelKeys or mismatchLabelKeys without a labelSelector (Forbidden);
//   - a key that is not a qualified name;
//   - a matchLabelKeys key the pod has a label of that sel holds already, in matchLabels or a
//     matchExpressions key, or a key of both matchLabelKeys and a matchExpressions key that sel
//     holds twice ("exists in both matchLabelKeys and labelSelector");
//   - a matchLabelKeys key the pod has a label of listed twice (Duplicate value; the API server
//     words it as the case above, as it finds the merged requirement twice);
//   - a key of both matchLabelKeys and mismatchLabelKeys.
//
// A Pod whose matchExpressions end with the requirements the merge would append is taken as
// read back from a cluster and checked as stored, without merging again.
func validateLabelKeys(match, mismatch []string, sel *metav1.LabelSelector, pods specPods, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, l := range []struct {
		name string
		keys []string
	}{{"matchLabelKeys", match}, {"mismatchLabelKeys", mismatch}} {
		switch {
		case len(l.keys) == 0:
		case sel == nil:
			errs = append(errs, field.Forbidden(path.Child(l.name), "must not be specified when labelSelector is not set"))
		default:
			for i, k := range l.keys {
				errs = append(errs, qualifiedName(k, path.Child(l.name).Index(i))...)
			}
		}
	}
	mp := path.Child("matchLabelKeys")
	if sel != nil && len(match) > 0 {
		first := map[string]int{} // a key's first index in match
		for i := len(match) - 1; i >= 0; i-- {
			first[match[i]] = i
		}
		inSelector := sets.KeySet(sel.MatchLabels)
		reported := sets.New[string]()
		both := func(k string) {
			if !reported.Has(k) {
				reported.Insert(k)
				errs = append(errs, field.Invalid(mp.Index(first[k]), k, "exists in both matchLabelKeys and labelSelector"))
			}
		}
		for _, r := range sel.MatchExpressions {
			if _, ok := first[r.Key]; ok && inSelector.Has(r.Key) {
				both(r.Key)
			}
			inSelector.Insert(r.Key)
		}
		if !pods.stored || !endsWith(sel.MatchExpressions, mergedRequirements(match, mismatch, pods.labels)) {
			listed := sets.New[string]()
			for i, k := range match {
				if _, ok := pods.labels[k]; !ok {
					continue // not merged
				}
				switch {
				case inSelector.Has(k):
					both(k)
				case listed.Has(k):
					errs = append(errs, field.Duplicate(mp.Index(i), k))
				}
				listed.Insert(k)
			}
		}
	}
	mismatched := sets.New(mismatch...)
	for i, k := range match {
		if mismatched.Has(k) {
			errs = append(errs, field.Invalid(mp.Index(i), k, "exists in both matchLabelKeys and mismatchLabelKeys"))
		}
	}
	return errs
}

// mergedRequirements returns the requirements the API server appends to a selector at pod
// creation: key In (value) per key of match, then key NotIn (value) per key of mismatch, for the
// keys labels has.
func mergedRequirements(match, mismatch []string, labels map[string]string) []metav1.LabelSelectorRequirement {
	var out []metav1.LabelSelectorRequirement
	for _, l := range []struct {
		keys []string
		op   metav1.LabelSelectorOperator
	}{{match, metav1.LabelSelectorOpIn}, {mismatch, metav1.LabelSelectorOpNotIn}} {
		for _, k := range l.keys {
			if v, ok := labels[k]; ok {
				out = append(out, metav1.LabelSelectorRequirement{Key: k, Operator: l.op, Values: []string{v}})
			}
		}
	}
	return out
}

// endsWith reports whether exprs end with the requirements tail, which is not empty.
func endsWith(exprs, tail []metav1.LabelSelectorRequirement) bool {
	if len(tail) == 0 || len(tail) > len(exprs) {
		return false
	}
	for i, r := range exprs[len(exprs)-len(tail):] {
		t := tail[i]
		if r.Key != t.Key || r.Operator != t.Operator || len(r.Values) != 1 || r.Values[0] != t.Values[0] {
			return false
		}
	}
	return true
}
