package simulate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// zoneIn matches a zone requirement as the solver's reasons print it:
// "topology.kubernetes.io/zone In [us-west-2a us-west-2b]".
var zoneIn = regexp.MustCompile(regexp.QuoteMeta(corev1.LabelTopologyZone) + ` In \[([^\]]*)\]`)

// notInRegion words the zones of given that are not among zones (the catalogue's, in region):
// `zone "us-west-2a" is not in region us-east-1 (zones: us-east-1a, us-east-1b, us-east-1c)`,
// or `zones "a", "b" are not ...` for several; "" when every zone given is in the region, or
// the region's zones are not known.
func notInRegion(given []string, region string, zones []string) string {
	if len(zones) == 0 {
		return ""
	}
	var out []string
	for _, z := range given {
		if z != "" && !slices.Contains(zones, z) && !slices.Contains(out, z) {
			out = append(out, z)
		}
	}
	if len(out) == 0 {
		return ""
	}
	quoted := make([]string, len(out))
	for i, z := range out {
		quoted[i] = fmt.Sprintf("%q", z)
	}
	what := "zone " + quoted[0] + " is"
	if len(out) > 1 {
		what = "zones " + strings.Join(quoted, ", ") + " are"
	}
	return fmt.Sprintf("%s not in region %s (zones: %s)", what, region, strings.Join(zones, ", "))
}

// withZoneHint returns the solver's reason for an unschedulable pod with, when the zone
// requirements it prints name zones that are not in the region (a Provisioner's requirement,
// a pod's nodeSelector or node affinity), a note saying so: "...; zone "us-west-2a" is not in
// region us-east-1 (zones: ...)". Other reasons are returned as they are.
func withZoneHint(reason, region string, zones []string) string {
	var given []string
	for _, m := range zoneIn.FindAllStringSubmatch(reason, -1) {
		given = append(given, strings.Fields(m[1])...)
	}
	if hint := notInRegion(given, region, zones); hint != "" {
		return reason + "; " + hint
	}
	return reason
}

// zoneWarnings returns a warning ("file:line: Provisioner name: spec.requirements[1]: zone ...
// is not in region ...") for each Provisioner requirement (topology.kubernetes.io/zone In) and
// label (spec.labels) that names zones the catalogue's region does not have: the provisioner
// launches no node in them, which the plan otherwise shows only when a pod cannot be placed.
func zoneWarnings(w *Workload, region string, zones []string) []string {
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
			if r.Key != corev1.LabelTopologyZone || r.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			if hint := notInRegion(r.Values, region, zones); hint != "" {
				out = append(out, where(fmt.Sprintf("spec.requirements[%d]", i))+": "+hint)
			}
		}
		if z, ok := p.Spec.Labels[corev1.LabelTopologyZone]; ok {
			if hint := notInRegion([]string{z}, region, zones); hint != "" {
				out = append(out, where("spec.labels."+corev1.LabelTopologyZone)+": "+hint)
			}
		}
	}
	return out
}
