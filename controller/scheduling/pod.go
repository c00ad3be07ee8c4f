package scheduling

import (
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// PodRequirementTerms returns the alternatives (ORed) of ANDed node requirements a pod puts on
// its node: the nodeSelector ANDed with each required node affinity term, in the pod's order.
// A pod without required node affinity has one alternative (its nodeSelector). An empty term
// (no matchExpressions, no matchFields) matches no node, as in Kubernetes
// (k8s.io/component-helpers/scheduling/corev1/nodeaffinity), and is skipped. Terms that use
// matchFields (metadata.name) are skipped too: they pin a pod to a named node that cannot be a
// new node. Errors (field path included) are returned for invalid operators or values; a pod whose
// terms are all skipped gets an error too.
func PodRequirementTerms(pod *corev1.Pod) ([]Requirements, error) {
	base := FromLabels(pod.Spec.NodeSelector)
	aff := pod.Spec.Affinity
	if aff == nil || aff.NodeAffinity == nil || aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return []Requirements{base}, nil
	}
	path := field.NewPath("spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	var out []Requirements
	for i, term := range aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(term.MatchFields) > 0 || len(term.MatchExpressions) == 0 {
			continue
		}
		reqs, err := FromNodeSelector(path.Index(i).Child("matchExpressions"), term.MatchExpressions)
		if err != nil {
			return nil, err
		}
		merged := base.Copy()
		for _, k := range reqs.Keys() {
			merged.Add(reqs[k])
		}
		out = append(out, merged)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no term usable for a new node (empty, or matchFields only)", path)
	}
	return out, nil
}

// schedulingTaint selects the taints that keep pods off a node (NoSchedule, NoExecute).
func schedulingTaint(t *corev1.Taint) bool {
	return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
}

// Tolerates returns nil when the tolerations tolerate every NoSchedule/NoExecute taint, else
// an error naming the first taint that is not tolerated. PreferNoSchedule taints are ignored.
func Tolerates(tolerations []corev1.Toleration, taints []corev1.Taint) error {
	if t, found := corev1helpers.FindMatchingUntoleratedTaint(logr.Discard(), taints, tolerations, schedulingTaint, true); found {
		return fmt.Errorf("does not tolerate taint %s", t.ToString())
	}
	return nil
}
