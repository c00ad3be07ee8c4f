package scheduling

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// Preferences: kube-scheduler only scores preferred node affinity, preferred pod (anti-)affinity
// and ScheduleAnyway topology spread, but a plan that ignores them places pods where the
// scheduler will not prefer them. The solver therefore first treats every preference of a pod as
// a requirement and, only when the pod cannot be placed that way, drops preferences one at a
// time, retrying after each, in this documented order:
//
//  1. preferred pod anti-affinity terms, lowest weight first;
//  2. preferred pod affinity terms, lowest weight first;
//  3. ScheduleAnyway topology spread constraints, last first;
//  4. preferred node affinity terms, lowest weight first.
//
// Within one weight, terms listed later go first. PreferNoSchedule taints never keep a pod off a
// node in the solver (Tolerates ignores them), so there is nothing to relax for them. A pod is
// reported unplaceable only once all its preferences are gone.
//
// Before that, a preferred node affinity term that no node can meet is dropped (see reachable):
// kept, it would make every attempt fail until the drops reached it, so every preference
// earlier in the order would go with it, however easily met.

type prefKind int

const (
	prefAntiAffinity prefKind = iota
	prefAffinity
	prefSpread
	prefNodeAffinity
)

// preference is one of a pod's preferences: index into its list of that kind.
type preference struct {
	kind   prefKind
	weight int32
	index  int
}

// podPreferences returns p's preferences in the order they are dropped.
func podPreferences(p *corev1.Pod) []preference {
	var out []preference
	add := func(ps []preference) {
		sort.SliceStable(ps, func(i, j int) bool {
			if ps[i].weight != ps[j].weight {
				return ps[i].weight < ps[j].weight
			}
			return ps[i].index > ps[j].index
		})
		out = append(out, ps...)
	}
	if a := p.Spec.Affinity; a != nil {
		if a.PodAntiAffinity != nil {
			add(weightedPodTerms(prefAntiAffinity, a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution))
		}
		if a.PodAffinity != nil {
			add(weightedPodTerms(prefAffinity, a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution))
		}
	}
	var spread []preference
	for i, c := range p.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable == corev1.ScheduleAnyway {
			spread = append(spread, preference{kind: prefSpread, index: i})
		}
	}
	add(spread)
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		var ps []preference
		for i, t := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			ps = append(ps, preference{kind: prefNodeAffinity, weight: t.Weight, index: i})
		}
		add(ps)
	}
	return out
}

// reachable returns prefs without the preferred node affinity terms of p that no node can meet:
// no existing or in-flight node's labels satisfy the term together with one of p's required node
// terms, and no provisioner whose taints p tolerates has an instance type with an available
// offering compatible with them (a zone no subnet or offering is in, an instance family no
// provisioner allows). kube-scheduler scores every node 0 on such a term, so it decides nothing
// there; the lighter terms and the other preferences decide, and the solver keeps them. A term
// that does not parse is kept (compiling it reports the error). Only node labels are looked at,
// so a term is never dropped that some node could meet.
func reachable(p *corev1.Pod, prefs []preference, nodes []*existing, provs []*provState) []preference {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return prefs
	}
	base, err := PodRequirementTerms(p)
	if err != nil {
		return prefs // the pod's error is reported when it is compiled
	}
	probe := extendedProbe(PodRequests(p))
	out := make([]preference, 0, len(prefs))
	for _, pr := range prefs {
		if pr.kind == prefNodeAffinity {
			term := a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[pr.index].Preference
			if reqs, err := FromNodeSelector(nil, term.MatchExpressions); err == nil && !meetable(p, base, reqs, probe, nodes, provs) {
				continue
			}
		}
		out = append(out, pr)
	}
	return out
}

// meetable reports whether some node in nodes, or some new node of provs, satisfies reqs
// together with one of base (a pod's required node terms). probe holds the pod's extended
// resources (see extendedProbe), so that accelerator types count for pods that need them.
func meetable(p *corev1.Pod, base []Requirements, reqs Requirements, probe Resources, nodes []*existing, provs []*provState) bool {
	for _, b := range base {
		merged := b.Copy()
		for _, k := range reqs.Keys() {
			merged.Add(reqs[k])
		}
		for _, n := range nodes {
			if merged.MatchLabels(n.node.Labels) == nil {
				return true
			}
		}
		for _, ps := range provs {
			if ps.typeErr != "" || Tolerates(p.Spec.Tolerations, ps.taints) != nil {
				continue
			}
			if r, err := ps.template.Constrain(merged); err == nil && len(ps.filter(ps.types, r, merged, probe, nil)) > 0 {
				return true
			}
		}
	}
	return false
}

// promotesNodeAffinity reports whether prefs include a preferred node affinity term, which
// strictPod adds to the pod's required node terms.
func promotesNodeAffinity(prefs []preference) bool {
	for _, pr := range prefs {
		if pr.kind == prefNodeAffinity {
			return true
		}
	}
	return false
}

func weightedPodTerms(kind prefKind, terms []corev1.WeightedPodAffinityTerm) []preference {
	out := make([]preference, len(terms))
	for i, t := range terms {
		out[i] = preference{kind: kind, weight: t.Weight, index: i}
	}
	return out
}

// strictPod returns a copy of p in which the preferences in keep are requirements and the
// other preferences are gone; p itself is not modified. ObjectMeta is shared.
func strictPod(p *corev1.Pod, keep []preference) *corev1.Pod {
	out := &corev1.Pod{ObjectMeta: p.ObjectMeta, Spec: *p.Spec.DeepCopy()}
	kept := map[prefKind]map[int]bool{}
	for _, pr := range keep {
		if kept[pr.kind] == nil {
			kept[pr.kind] = map[int]bool{}
		}
		kept[pr.kind][pr.index] = true
	}
	spec := &out.Spec
	var spread []corev1.TopologySpreadConstraint
	for i, c := range spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable == corev1.ScheduleAnyway {
			if !kept[prefSpread][i] {
				continue
			}
			c.WhenUnsatisfiable = corev1.DoNotSchedule
		}
		spread = append(spread, c)
	}
	spec.TopologySpreadConstraints = spread
	a := spec.Affinity
	if a == nil {
		return out
	}
	if a.PodAntiAffinity != nil {
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			keptPodTerms(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution, kept[prefAntiAffinity])...)
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = nil
	}
	if a.PodAffinity != nil {
		a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			keptPodTerms(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution, kept[prefAffinity])...)
		a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = nil
	}
	if na := a.NodeAffinity; na != nil && len(na.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		var extra []corev1.NodeSelectorRequirement
		for i, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			if kept[prefNodeAffinity][i] {
				extra = append(extra, t.Preference.MatchExpressions...)
			}
		}
		na.PreferredDuringSchedulingIgnoredDuringExecution = nil
		if len(extra) > 0 {
			if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
				na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{}}}
				terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
				terms[0].MatchExpressions = extra
			} else {
				// An empty required term matches no node: it stays empty, so that the kept
				// preferences do not make it match.
				terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
				for i := range terms {
					if len(terms[i].MatchExpressions) > 0 || len(terms[i].MatchFields) > 0 {
						terms[i].MatchExpressions = append(terms[i].MatchExpressions, extra...)
					}
				}
			}
		}
	}
	return out
}

func keptPodTerms(terms []corev1.WeightedPodAffinityTerm, kept map[int]bool) []corev1.PodAffinityTerm {
	var out []corev1.PodAffinityTerm
	for i, t := range terms {
		if kept[i] {
			out = append(out, t.PodAffinityTerm)
		}
	}
	return out
}
