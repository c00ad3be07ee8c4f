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
			}
			terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			for i := range terms {
				terms[i].MatchExpressions = append(terms[i].MatchExpressions, extra...)
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
