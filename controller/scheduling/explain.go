package scheduling

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ExplainNode returns which of pod's constraints node breaks, as far as the solver models them
// (taints, nodeSelector and required node affinity against the node's actual labels, then the
// node affinity, zone labels and binding of its volumes' claims in vols, e.g. "volume zone
// conflict: ..."), or "" when it finds none. Used to explain a disagreement with
// kube-scheduler; "" then means the cause lies in a constraint that depends on the other pods
// (topology spread, pod affinity and anti-affinity, host ports, resources), which kube-scheduler's
// own report names better than the node can.
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
		err := t.MatchLabels(normalizeLabels(node.Labels))
		if err == nil {
			return explainVolumes(pod, node, vols)
		}
		reasons = append(reasons, err.Error())
	}
	return "node labels do not satisfy the pod's node selector or affinity: " + strings.Join(reasons, "; ")
}

// maxExistingReasons bounds the distinct reasons explainExisting lists.
const maxExistingReasons = 3

// explainExisting says why no existing or in-flight node takes pi, checking the nodes as
// placeExisting does: "existing nodes: 1 (n1): a host port it binds is taken on the node;
// 4 (n2, ...): too little cpu free". The label is "existing and in-flight nodes" when an
// in-flight node (launched, not yet registered) is among those refusing. The most common
// reasons come first, at most maxExistingReasons of them. "" when there are no existing nodes.
func explainExisting(nodes []*existing, pi *podInfo, topo *topology) string {
	if len(nodes) == 0 {
		return ""
	}
	counts := map[string]int{}
	first := map[string]string{}
	var order []string
	inFlight := false
	for _, n := range nodes {
		why := existingRefusal(n, pi, topo)
		if why == "" {
			continue
		}
		inFlight = inFlight || n.node.InFlight
		if counts[why] == 0 {
			first[why] = n.node.Name
			order = append(order, why)
		}
		counts[why]++
	}
	slices.SortStableFunc(order, func(a, b string) int { return counts[b] - counts[a] })
	parts := make([]string, 0, min(len(order), maxExistingReasons))
	for _, why := range order[:min(len(order), maxExistingReasons)] {
		name := first[why]
		if counts[why] > 1 {
			name += ", ..."
		}
		parts = append(parts, fmt.Sprintf("%d (%s): %s", counts[why], name, why))
	}
	if len(parts) == 0 {
		return ""
	}
	label := "existing nodes: "
	if inFlight {
		label = "existing and in-flight nodes: "
	}
	return label + strings.Join(parts, "; ")
}

// existingRefusal returns the first check of placeExisting that node n fails for pi, or "".
func existingRefusal(n *existing, pi *podInfo, topo *topology) string {
	if !pi.requests.Fits(n.available) {
		for _, k := range slices.Sorted(maps.Keys(pi.requests)) {
			if pi.requests[k] > n.available[k] {
				return fmt.Sprintf("too little %s free", k)
			}
		}
	}
	if err := Tolerates(pi.pod.Spec.Tolerations, n.node.Taints); err != nil {
		return err.Error()
	}
	if pi.hold.ExcludedNodes.Has(n.node.Name) {
		return "kube-scheduler did not bind it there when planned before"
	}
	if why := n.host.admits(pi, topo.nsLabels, pi.pinned); why != "" {
		return why
	}
	if why := topo.admitsNode(pi, n.node.Labels, n.node.Taints); why != "" {
		return why
	}
	if !pi.vol.admitsNode(n) {
		return "its volumes cannot be used there (zone, node affinity or attach limit)"
	}
	for _, t := range pi.terms {
		if t.MatchLabels(n.node.Labels) == nil && !pi.notNames.Has(n.node.Name) {
			return ""
		}
	}
	return "node labels (or name) do not satisfy the pod's node selector or affinity"
}
