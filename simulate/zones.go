package simulate

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// zoneIn matches a zone requirement as the solver's reasons print it:
// "topology.kubernetes.io/zone In [us-west-2a us-west-2b]".
var zoneIn = regexp.MustCompile(regexp.QuoteMeta(corev1.LabelTopologyZone) + ` In \[([^\]]*)\]`)

// regionIn matches a region requirement as the solver's reasons print it:
// "topology.kubernetes.io/region In [eu-west-1]".
var regionIn = regexp.MustCompile(regexp.QuoteMeta(corev1.LabelTopologyRegion) + ` In \[([^\]]*)\]`)

// typeIn matches an instance type requirement as the solver's reasons print it:
// "node.kubernetes.io/instance-type In [m5.xlargee]".
var typeIn = regexp.MustCompile(regexp.QuoteMeta(corev1.LabelInstanceTypeStable) + ` In \[([^\]]*)\]`)

// zoneKeys, regionKeys and typeKeys are the node labels that name a node's zone, region and
// instance type (the beta labels are still set by kubelets, and read by kube-scheduler).
var (
	zoneKeys   = []string{corev1.LabelTopologyZone, corev1.LabelFailureDomainBetaZone}
	regionKeys = []string{corev1.LabelTopologyRegion, corev1.LabelFailureDomainBetaRegion}
	typeKeys   = []string{corev1.LabelInstanceTypeStable, corev1.LabelInstanceType}
)

// notInCatalogue words the instance types of given that the catalogue does not offer (types,
// sorted; for each, the nearest name offered, by edit distance, when one is within 2 edits):
// `instance type "m5.xlargee" is not offered in the catalogue's zones (did you mean
// "m5.xlarge"?)`, or `instance types "a", "b" are not ... (did you mean "c" or "d"?)`; "" when
// every type given is offered, or types are not known.
func notInCatalogue(given, types []string) string {
	if len(types) == 0 {
		return ""
	}
	var out, nears []string
	for _, v := range given {
		if _, found := slices.BinarySearch(types, v); found || v == "" || slices.Contains(out, fmt.Sprintf("%q", v)) {
			continue
		}
		out = append(out, fmt.Sprintf("%q", v))
		near, best := "", 3
		for _, t := range types {
			if d := levenshtein.Distance(v, t, nil); d < best {
				near, best = t, d
			}
		}
		if near != "" {
			nears = append(nears, fmt.Sprintf("%q", near))
		}
	}
	if len(out) == 0 {
		return ""
	}
	what := "instance type " + out[0] + " is not"
	if len(out) > 1 {
		what = "instance types " + strings.Join(out, ", ") + " are not"
	}
	hint := what + " offered in the catalogue's zones"
	if len(nears) > 0 {
		hint += " (did you mean " + strings.Join(nears, " or ") + "?)"
	}
	return hint
}

// notInRegion words the zones of given that are not among zones (those the catalogue offers
// types in, in region): `zone "us-west-2a" is not a zone the catalogue offers in us-east-1
// (zones: us-east-1a, us-east-1b, us-east-1c)`, or `zones "a", "b" are not zones ...` for
// several; "" when every zone given is among them, or they are not known. (A zone of the region
// that offers no type, such as the sandbox's us-east-1d, is named too.)
func notInRegion(given []string, region string, zones []string) string {
	if len(zones) == 0 {
		return ""
	}
	out := outside(given, zones)
	if len(out) == 0 {
		return ""
	}
	what := "zone " + out[0] + " is not a zone"
	if len(out) > 1 {
		what = "zones " + strings.Join(out, ", ") + " are not zones"
	}
	return fmt.Sprintf("%s the catalogue offers in %s (zones: %s)", what, region, strings.Join(zones, ", "))
}

// notTheRegion words the regions of given that are not region, the catalogue's:
// `region "eu-west-1" is not the catalogue's region us-east-1`, or `regions "a", "b" are not
// ...`; "" when every region given is region, or region is not known.
func notTheRegion(given []string, region string) string {
	if region == "" {
		return ""
	}
	out := outside(given, []string{region})
	if len(out) == 0 {
		return ""
	}
	what := "region " + out[0] + " is"
	if len(out) > 1 {
		what = "regions " + strings.Join(out, ", ") + " are"
	}
	return fmt.Sprintf("%s not the catalogue's region %s", what, region)
}

// outside returns the values of given that are not in known, each once, quoted.
func outside(given, known []string) []string {
	var out []string
	for _, v := range given {
		if q := fmt.Sprintf("%q", v); v != "" && !slices.Contains(known, v) && !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}

// labelHint words why a node label (key=value, a zone, region or instance type label) names a
// place the catalogue's region does not have, or a type it does not offer (types, sorted); ""
// for other labels and for values the catalogue has.
func labelHint(key, value, region string, zones, types []string) string {
	switch {
	case slices.Contains(zoneKeys, key):
		return notInRegion([]string{value}, region, zones)
	case slices.Contains(regionKeys, key):
		return notTheRegion([]string{value}, region)
	case slices.Contains(typeKeys, key):
		return notInCatalogue([]string{value}, types)
	}
	return ""
}

// requirementHint words why a node selector requirement on a zone or region label admits only
// places the catalogue's region does not have: In with values outside the region (each named),
// or NotIn the catalogue's region; or why one on an instance type label names types the
// catalogue does not offer (In); "" otherwise.
func requirementHint(key string, op corev1.NodeSelectorOperator, values []string, region string, zones, types []string) string {
	switch {
	case op == corev1.NodeSelectorOpIn && slices.Contains(typeKeys, key):
		return notInCatalogue(values, types)
	case op == corev1.NodeSelectorOpIn && slices.Contains(zoneKeys, key):
		return notInRegion(values, region, zones)
	case op == corev1.NodeSelectorOpIn && slices.Contains(regionKeys, key):
		return notTheRegion(values, region)
	case op == corev1.NodeSelectorOpNotIn && slices.Contains(regionKeys, key) && region != "" && slices.Contains(values, region):
		return fmt.Sprintf("excludes the catalogue's region %s", region)
	}
	return ""
}

// withZoneHint returns the solver's reason for an unschedulable pod with, when the zone or
// region requirements it prints name zones that are not in the region or other regions (a
// Provisioner's requirement, a pod's nodeSelector or node affinity), a note saying so: "...;
// zone "us-west-2a" is not a zone the catalogue offers in us-east-1 (zones: ...)", "...; region "eu-west-1" is not
// the catalogue's region us-east-1"; likewise for instance types the catalogue does not offer
// (types, sorted). Other reasons are returned as they are.
func withZoneHint(reason, region string, zones, types []string) string {
	var givenZones, givenRegions, givenTypes []string
	for _, m := range zoneIn.FindAllStringSubmatch(reason, -1) {
		givenZones = append(givenZones, strings.Fields(m[1])...)
	}
	for _, m := range regionIn.FindAllStringSubmatch(reason, -1) {
		givenRegions = append(givenRegions, strings.Fields(m[1])...)
	}
	for _, m := range typeIn.FindAllStringSubmatch(reason, -1) {
		givenTypes = append(givenTypes, strings.Fields(m[1])...)
	}
	out := reason
	for _, hint := range []string{notInRegion(givenZones, region, zones), notTheRegion(givenRegions, region), notInCatalogue(givenTypes, types)} {
		if hint != "" {
			out += "; " + hint
		}
	}
	return out
}

// unschedulableReason returns the reason shown for pod, which the solver gave as reason: when
// the pod's own node requirements admit no node (its nodeSelector and every required node
// affinity term give a label key no common value: see selfConflict), that, since no provisioner
// or node can help; the solver's reason otherwise. Either with withZoneHint's note.
func unschedulableReason(pod *corev1.Pod, reason, region string, zones, types []string) string {
	if c := selfConflict(pod); c != "" {
		reason = c
	}
	return withZoneHint(reason, region, zones, types)
}

// selfConflict returns, when each of pod's required node affinity terms merged with its
// nodeSelector (scheduling.PodRequirementTerms) admits no value of some label key, a reason
// naming the key and the requirements on it: "the pod's nodeSelector and required node affinity
// admit no value of topology.kubernetes.io/zone: nodeSelector topology.kubernetes.io/zone In
// [us-west-2a], nodeSelectorTerms[0] topology.kubernetes.io/zone In [eu-west-1a]". "" when some
// term admits a node (or the terms are not usable: the solver's reason says why).
func selfConflict(pod *corev1.Pod) string {
	terms, err := scheduling.PodRequirementTerms(pod)
	if err != nil || len(terms) == 0 {
		return ""
	}
	var keys []string
	for _, t := range terms {
		key := ""
		for _, k := range t.Keys() {
			if t[k].IsEmpty() {
				key = k
				break
			}
		}
		if key == "" {
			return ""
		}
		if !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		// The terms name a legacy key (beta.kubernetes.io/os) by its GA key: both are named.
		for _, sk := range sortedLabels(pod.Spec.NodeSelector) {
			if v1alpha5.NormalizeLabelKey(sk) == k {
				parts = append(parts, fmt.Sprintf("nodeSelector %s In [%s]", sk, pod.Spec.NodeSelector[sk]))
			}
		}
		if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
			for i, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
				for _, e := range t.MatchExpressions {
					if v1alpha5.NormalizeLabelKey(e.Key) != k {
						continue
					}
					r := fmt.Sprintf("nodeSelectorTerms[%d] %s %s", i, e.Key, e.Operator)
					if len(e.Values) > 0 {
						r += " [" + strings.Join(e.Values, " ") + "]"
					}
					parts = append(parts, r)
				}
			}
		}
	}
	what := "value of " + strings.Join(keys, ", ")
	if len(keys) > 1 {
		what = "values of " + strings.Join(keys, ", ") + " (one term each)"
	}
	return fmt.Sprintf("the pod's nodeSelector and required node affinity admit no %s: %s", what, strings.Join(parts, ", "))
}

// zoneWarnings returns a warning, each "file:line: <Kind> <name>: <field path>: <hint>", for
// every place the input names a zone or region that the catalogue's region does not have, or an
// instance type (node.kubernetes.io/instance-type In [...], or the label) it does not offer:
//   - a Provisioner's requirement (topology.kubernetes.io/zone In [...], .../region In [...] or
//     .../region NotIn [<the region>]) or label (spec.labels): the provisioner launches no node
//     there, which the plan otherwise shows only when a pod cannot be placed;
//   - a Node's zone or region label (--nodes): the dump is of another region than the catalogue;
//   - a pod's (or workload template's) nodeSelector or required node affinity: the pod can go on
//     no new node (no warning when a Node of the input carries the zone or region: the pod may
//     go there). Once per object and field, not per replica.
//
// podZoneWarnings also warns of a required node affinity term kube-scheduler cannot parse (Gt
// "seven", which the API server accepts) beside terms it can: the term is skipped.
//
// The zone hint is `zone "us-west-2a" is not a zone the catalogue offers in us-east-1 (zones: us-east-1a, ...)`, the
// region hint `region "eu-west-1" is not the catalogue's region us-east-1`.
func zoneWarnings(w *Workload, region string, zones, types []string) []string {
	var out []string
	for _, p := range w.Provisioners {
		o := w.provisionerObjects[p.Name]
		where := func(path string) string {
			if o == nil {
				return fmt.Sprintf("Provisioner %s: %s", p.Name, path)
			}
			return fmt.Sprintf("%s:%d: Provisioner %s: %s", o.Source, o.LineOf(path), p.Name, path)
		}
		for i, r := range p.Spec.Requirements {
			if hint := requirementHint(r.Key, r.Operator, r.Values, region, zones, types); hint != "" {
				out = append(out, where(fmt.Sprintf("spec.requirements[%d]", i))+": "+hint)
			}
		}
		for _, k := range sortedLabels(p.Spec.Labels) {
			if hint := labelHint(k, p.Spec.Labels[k], region, zones, types); hint != "" {
				out = append(out, where("spec.labels."+k)+": "+hint)
			}
		}
	}
	for _, n := range w.nodeSources {
		for _, k := range sortedLabels(n.labels) {
			if hint := labelHint(k, n.labels[k], region, zones, types); hint != "" {
				path := "metadata.labels." + k
				out = append(out, fmt.Sprintf("%s:%d: Node %s: %s: %s", n.o.Source, n.o.LineOf(path), n.name, path, hint))
			}
		}
	}
	return append(out, podZoneWarnings(w, region, zones, types)...)
}

// podZoneWarnings are zoneWarnings' warnings for the pods to place, in input order. A zone or
// region that a Node of the input carries is no cause for a warning: the pod may go there.
func podZoneWarnings(w *Workload, region string, zones, types []string) []string {
	var out []string
	onNodes := func(key string, values ...string) bool {
		return slices.ContainsFunc(w.nodeSources, func(n nodeSource) bool {
			v, ok := n.labels[key]
			if !ok { // a node with the GA label only carries what a legacy key selects
				v, ok = n.labels[v1alpha5.NormalizeLabelKey(key)]
			}
			return ok && slices.Contains(values, v)
		})
	}
	done := map[specSource]bool{}
	for _, p := range w.Pods {
		src, ok := w.specSources[&p.Spec]
		if !ok || done[src] {
			continue
		}
		done[src] = true
		o := src.o
		name := namespaceOr(o.Namespace) + "/" + o.Name
		warn := func(path, hint string) {
			// Only fields of the object itself: a RuntimeClass's nodeSelector is merged into
			// the pod's, but is not in the object.
			if _, given := valueAt(o.Content, path); given {
				out = append(out, fmt.Sprintf("%s:%d: %s %s: %s: %s", o.Source, o.LineOf(path), o.Kind, name, path, hint))
			}
		}
		spec := field.NewPath(src.path) // "spec" or "spec.template.spec"
		for _, k := range sortedLabels(p.Spec.NodeSelector) {
			if hint := labelHint(k, p.Spec.NodeSelector[k], region, zones, types); hint != "" && !onNodes(k, p.Spec.NodeSelector[k]) {
				warn(spec.Child("nodeSelector").String()+"."+k, hint)
			}
		}
		a := p.Spec.Affinity
		if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
			continue
		}
		terms := spec.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		_, termsErr := scheduling.PodRequirementTerms(p)
		for i, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			exprs := terms.Index(i).Child("matchExpressions")
			for j, e := range t.MatchExpressions {
				if hint := requirementHint(e.Key, e.Operator, e.Values, region, zones, types); hint != "" && (e.Operator != corev1.NodeSelectorOpIn || !onNodes(e.Key, e.Values...)) {
					warn(exprs.Index(j).String(), hint)
				}
			}
			// A term kube-scheduler cannot parse is skipped while another term is left
			// (scheduling.PodRequirementTerms); with none left the pod is unschedulable, and
			// says why, instead.
			if _, err := scheduling.FromNodeSelector(exprs, t.MatchExpressions); err != nil && termsErr == nil {
				var fe *field.Error
				if errors.As(err, &fe) {
					warn(fe.Field, fmt.Sprintf("%s: the term is skipped, as kube-scheduler skips a term it cannot parse; the pod is planned on its other terms", fe.ErrorBody()))
				}
			}
		}
	}
	return out
}

// nodeSource is a Node read, and where.
type nodeSource struct {
	o      *Object
	name   string
	labels map[string]string
}

// sortedLabels returns the keys of m, sorted.
func sortedLabels(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
