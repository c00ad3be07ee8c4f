package scheduling

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// SpreadBreach is a pod of a plan whose topology spread constraint (whenUnsatisfiable
// DoNotSchedule) kube-scheduler's PodTopologySpread filter refuses on the plan's final state:
// the pod's domain holds more than MaxSkew selected pods above the least of the other eligible
// domains. kube-scheduler may bind the pod after every other pod of the plan, so such a pod may
// stay Pending on the node planned for it.
type SpreadBreach struct {
	Pod         *corev1.Pod
	TopologyKey string
	// Domain is the pod's domain (its node's value of TopologyKey); for kubernetes.io/hostname
	// a new node is named "new node N" (N: its index in Result.NewNodes, from 1).
	Domain string
	// Count is the number of selected pods in Domain, the pod included; Least the least count
	// over the other eligible domains, in LeastDomain (the first by name of those with it), or 0
	// with LeastDomain "" while the eligible domains are fewer than MinDomains.
	Count, Least, MaxSkew, MinDomains int
	LeastDomain                       string
}

// Reason words b: "topology spread (topology.kubernetes.io/zone, maxSkew 1): 5 selected pods
// in us-east-1b, 3 in us-east-1a", or "..., 2 eligible domains, fewer than minDomains 3".
func (b SpreadBreach) Reason() string {
	other := fmt.Sprintf("%d in %s", b.Least, b.LeastDomain)
	if b.LeastDomain == "" {
		other = fmt.Sprintf("fewer eligible domains than minDomains %d", b.MinDomains)
	}
	return fmt.Sprintf("topology spread (%s, maxSkew %d): %s in %s, %s", b.TopologyKey, b.MaxSkew, selectedPods(b.Count), b.Domain, other)
}

// selectedPods words n: "1 selected pod", "3 selected pods".
func selectedPods(n int) string {
	if n == 1 {
		return "1 selected pod"
	}
	return fmt.Sprintf("%d selected pods", n)
}

// checkNode is a node of a plan's final state as kube-scheduler reads it.
type checkNode struct {
	labels map[string]string
	taints []corev1.Taint
	pods   []*corev1.Pod
}

// CheckSpreads returns the pods of res (planned on new nodes or on nodes, the existing and
// in-flight nodes res was planned with) whose topology spread constraints with
// whenUnsatisfiable DoNotSchedule the plan's final state breaks, read as kube-scheduler's
// PodTopologySpread filter reads a cluster
// (https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/):
//   - a node is eligible when it carries the key, matches the pod's nodeSelector and required
//     node affinity (nodeAffinityPolicy Honor, the default) and has only taints the pod
//     tolerates (nodeTaintsPolicy Honor; the default Ignore counts every node);
//   - a new node has the labels of the instance type and offering it is planned to launch as
//     (NodeClaim.PlannedLabels) and the provisioner's taints;
//   - a legacy topology key (failure-domain.beta.kubernetes.io/zone) counts the domains of its
//     GA key (v1alpha5.LegacyLabels), which nodes carry with the same value, as the solver
//     counts them; a node with the legacy label only is read as having the GA one too;
//   - the selected pods are those of the pod's namespace that the label selector (with
//     matchLabelKeys) selects, bound to or planned on eligible nodes, not being deleted;
//   - the pod breaks the constraint when its domain's count exceeds the least count of the
//     other eligible domains by more than maxSkew: kube-scheduler may bind it last.
//
// It shares none of the solver's bookkeeping: it checks the solver's plan. Breaches come in
// the order of nodes, then res's new nodes, then their pods.
func CheckSpreads(nodes []ExistingNode, res *Result) []SpreadBreach {
	all := make([]checkNode, 0, len(nodes)+len(res.NewNodes))
	nodes = normalizeNodes(nodes)
	for _, n := range nodes {
		pods := append(append([]*corev1.Pod{}, n.Pods...), res.ExistingNodes[n.Name]...)
		all = append(all, checkNode{labels: n.Labels, taints: n.Taints, pods: pods})
	}
	for i, c := range res.NewNodes {
		l, _ := c.PlannedLabels()
		l[corev1.LabelHostname] = fmt.Sprintf("new node %d", i+1)
		all = append(all, checkNode{labels: l, taints: c.Provisioner.Spec.Taints, pods: c.Pods})
	}
	var out []SpreadBreach
	counts := map[string]map[string]int{} // per constraint (spreadEligibility's key), selected pods per domain
	for i := range all {
		pods := all[i].pods
		if i < len(nodes) {
			pods = res.ExistingNodes[nodes[i].Name] // those bound already are kube-scheduler's past
		}
		for _, p := range pods {
			out = append(out, checkPodSpreads(p, &all[i], all, counts)...)
		}
	}
	return out
}

// checkPodSpreads returns the breaches of p's spread constraints, p on node on of nodes; counts
// caches the selected pods per domain of each constraint, by countKey.
func checkPodSpreads(p *corev1.Pod, on *checkNode, nodes []checkNode, counts map[string]map[string]int) []SpreadBreach {
	var out []SpreadBreach
	for i := range p.Spec.TopologySpreadConstraints {
		c := &p.Spec.TopologySpreadConstraints[i]
		key := v1alpha5.NormalizeLabelKey(c.TopologyKey)
		domain, ok := on.labels[key]
		if c.WhenUnsatisfiable != corev1.DoNotSchedule || !ok {
			continue
		}
		term, err := compileSpreadTerm(p, i) // the selector, matchLabelKeys valued, in p's namespace
		if err != nil {
			continue // the solver reports the pod's invalid constraint
		}
		eligible, countKey := spreadEligibility(p, c, term.selector)
		byDomain, ok := counts[countKey]
		if !ok {
			byDomain = map[string]int{}
			for j := range nodes {
				n := &nodes[j]
				d, ok := n.labels[key]
				if !ok || !eligible(n) {
					continue
				}
				byDomain[d] += 0
				for _, q := range n.pods {
					if q.DeletionTimestamp == nil && term.matches(q, nil) {
						byDomain[d]++
					}
				}
			}
			counts[countKey] = byDomain
		}
		b := SpreadBreach{Pod: p, TopologyKey: c.TopologyKey, Domain: domain, Count: byDomain[domain], Least: -1, MaxSkew: int(c.MaxSkew)}
		if c.MinDomains != nil && len(byDomain) < int(*c.MinDomains) {
			b.Least, b.MinDomains = 0, int(*c.MinDomains)
		} else {
			for d, n := range byDomain {
				if d != domain && (b.Least < 0 || n < b.Least || (n == b.Least && d < b.LeastDomain)) {
					b.Least, b.LeastDomain = n, d
				}
			}
		}
		if b.Least >= 0 && b.Count-b.Least > b.MaxSkew {
			out = append(out, b)
		}
	}
	return out
}

// spreadEligibility returns whether a node counts for p's constraint c (selector sel): it
// matches p's node affinity (unless nodeAffinityPolicy Ignore), and p tolerates its taints
// (when nodeTaintsPolicy Honor); and a key naming the counts this gives: those of every pod
// with the same namespace, key, selector and eligibility.
func spreadEligibility(p *corev1.Pod, c *corev1.TopologySpreadConstraint, sel labels.Selector) (func(*checkNode) bool, string) {
	honourAffinity := c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor
	honourTaints := c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor
	terms, err := PodRequirementTerms(p)
	var key strings.Builder
	fmt.Fprintf(&key, "%s\x00%s\x00%s", p.Namespace, v1alpha5.NormalizeLabelKey(c.TopologyKey), sel)
	if honourAffinity {
		key.WriteString("\x00affinity")
		for _, t := range terms {
			fmt.Fprintf(&key, "\x00%s", t)
		}
		if err != nil {
			fmt.Fprintf(&key, "\x00%v", err)
		}
	}
	if honourTaints {
		fmt.Fprintf(&key, "\x00taints %v", p.Spec.Tolerations)
	}
	return func(n *checkNode) bool {
		if honourTaints && Tolerates(p.Spec.Tolerations, n.taints) != nil {
			return false
		}
		if !honourAffinity {
			return true
		}
		if err != nil {
			return false
		}
		for _, t := range terms {
			if t.MatchLabels(n.labels) == nil {
				return true
			}
		}
		return false
	}, key.String()
}
