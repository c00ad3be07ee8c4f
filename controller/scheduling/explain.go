package scheduling

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ExplainNode returns which of pod's constraints node breaks, as far as the solver models them
// (taints, nodeSelector and required node affinity against the node's actual labels, then the
// node affinity, zone labels and binding of its volumes' claims in vols, e.g. "volume zone
// conflict: ..."), or "" when it finds none. Used to explain a disagreement with
// kube-scheduler; "" then means the cause lies in a constraint the solver does not model.
func ExplainNode(pod *corev1.Pod, node *corev1.Node, vols Volumes) string {
	if err := Tolerates(pod.Spec.Tolerations, node.Spec.Taints); err != nil {
		return err.Error()
	}
	terms, err := PodRequirementTerms(pod)
	if err != nil {
		return "invalid node affinity: " + err.Error()
	}
	var reasons []string
	for _, t := range terms {
		err := t.MatchLabels(node.Labels)
		if err == nil {
			return explainVolumes(pod, node, vols)
		}
		reasons = append(reasons, err.Error())
	}
	return "node labels do not satisfy the pod's node selector or affinity: " + strings.Join(reasons, "; ")
}
