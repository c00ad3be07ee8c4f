package scheduling

import (
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// PodRequirementTerms returns the alternatives (ORed) of ANDed node requirements a pod puts on
// its node: the nodeSelector ANDed with each required node affinity term, in the pod's order.
// A pod without required node affinity has one alternative (its nodeSelector). An empty term
// (no matchExpressions, no matchFields) matches no node, as in Kubernetes
// (k8s.io/component-helpers/scheduling/corev1/nodeaffinity), and is skipped. A term with a
// matchFields `metadata.name In` pins a pod to named nodes, none of which can be a new node:
// it is skipped. A term whose matchFields are all `metadata.name NotIn` keeps only named nodes
// out: its matchExpressions alone decide for a new node (see PodTermExclusions for the names).
// A term with an invalid operator or value (Gt "seven") is skipped too, as kube-scheduler's
// LazyErrorNodeSelector does; its error (field path included) is returned when no term is left,
// and a pod whose terms are all skipped otherwise gets an error too.
func PodRequirementTerms(pod *corev1.Pod) ([]Requirements, error) {
	terms, _, err := podTerms(pod)
	return terms, err
}

// PodTermExclusions returns, for each alternative PodRequirementTerms returns, the names of the
// nodes it keeps out (matchFields `metadata.name NotIn`; nil when none).
func PodTermExclusions(pod *corev1.Pod) []sets.Set[string] {
	_, names, _ := podTerms(pod)
	return names
}

func podTerms(pod *corev1.Pod) ([]Requirements, []sets.Set[string], error) {
	base := FromLabels(pod.Spec.NodeSelector)
	aff := pod.Spec.Affinity
	if aff == nil || aff.NodeAffinity == nil || aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return []Requirements{base}, []sets.Set[string]{nil}, nil
	}
	path := field.NewPath("spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	var out []Requirements
	var names []sets.Set[string]
	var parseErr error
	for i, term := range aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(term.MatchFields) == 0 && len(term.MatchExpressions) == 0 {
			continue
		}
		excluded, usable := notInNames(term.MatchFields)
		if !usable {
			continue
		}
		reqs, err := FromNodeSelector(path.Index(i).Child("matchExpressions"), term.MatchExpressions)
		if err != nil {
			// kube-scheduler (LazyErrorNodeSelector) skips a term it cannot parse, such as Gt
			// "seven", which the API server accepts, and matches on the others; the error
			// stands only when no term is left.
			if parseErr == nil {
				parseErr = err
			}
			continue
		}
		merged := base.Copy()
		for _, k := range reqs.Keys() {
			merged.Add(reqs[k])
		}
		out = append(out, merged)
		names = append(names, excluded)
	}
	if len(out) == 0 {
		if parseErr != nil {
			return nil, nil, parseErr
		}
		return nil, nil, fmt.Errorf("%s: no term usable for a new node (empty, or matchFields metadata.name In only)", path)
	}
	return out, names, nil
}

// notInNames returns the node names a term's matchFields keep out, and false when a field
// requirement other than `metadata.name NotIn` (the API server allows only metadata.name, with
// In or NotIn) makes the term unusable for a new node.
func notInNames(fields []corev1.NodeSelectorRequirement) (sets.Set[string], bool) {
	var out sets.Set[string]
	for _, f := range fields {
		if f.Key != metav1.ObjectNameField || f.Operator != corev1.NodeSelectorOpNotIn {
			return nil, false
		}
		if out == nil {
			out = sets.New[string]()
		}
		out.Insert(f.Values...)
	}
	return out, true
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
