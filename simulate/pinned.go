package simulate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// pinnedPod is a pending pod that required node affinity on metadata.name binds to named
// nodes (the DaemonSet controller pins each of its pods to its node that way; users pin pods
// likewise), with the names it allows.
type pinnedPod struct {
	pod   *corev1.Pod
	nodes []string // sorted
}

// pinnedNodes returns the node names p's required node affinity allows when every one of its
// terms restricts metadata.name with matchFields operator In (nil otherwise: some term lets the
// pod onto a node of any name, a new one included). Within a term, several metadata.name
// requirements intersect and NotIn removes names; the terms' names are unioned, as the terms
// are ORed (k8s.io/component-helpers/scheduling/corev1/nodeaffinity).
func pinnedNodes(p *corev1.Pod) []string {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	all := sets.New[string]()
	for _, t := range terms {
		var in, out sets.Set[string]
		for _, f := range t.MatchFields {
			if f.Key != metadataName {
				continue
			}
			switch f.Operator {
			case corev1.NodeSelectorOpIn:
				if in == nil {
					in = sets.New(f.Values...)
				} else {
					in = in.Intersection(sets.New(f.Values...))
				}
			case corev1.NodeSelectorOpNotIn:
				if out == nil {
					out = sets.New[string]()
				}
				out.Insert(f.Values...)
			}
		}
		if in == nil {
			return nil
		}
		all = all.Union(in.Difference(out))
	}
	if len(terms) == 0 {
		return nil
	}
	return sets.List(all)
}

// metadataName is the only field node selector matchFields may use.
const metadataName = "metadata.name"

// unpinned returns a copy of p without the matchFields of its required node affinity, for the
// solver, which matches node terms by labels only: the terms' matchExpressions are kept when
// every term has some, else the required node affinity is dropped (the node is fixed by the
// pod's hold instead).
func unpinned(p *corev1.Pod) *corev1.Pod {
	c := p.DeepCopy()
	req := c.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	for i := range req.NodeSelectorTerms {
		req.NodeSelectorTerms[i].MatchFields = nil
		if len(req.NodeSelectorTerms[i].MatchExpressions) == 0 {
			c.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = nil
			break
		}
	}
	return c
}

// placePinned hands the pinned pods to the solver or reports them: a pod pinned to nodes of
// the input is planned on those nodes only (a hold excluding every other node, and no new
// node: kube-scheduler binds it to its node or nowhere), first, before other pods take the
// room; a pod pinned to no node of the input is reported as unplaceable with the nodes named.
func (r *reader) placePinned() {
	for _, pp := range r.pinned {
		var here []string
		for _, n := range pp.nodes {
			if r.nodeNames[n] {
				here = append(here, n)
			}
		}
		noun := "node"
		if len(pp.nodes) > 1 {
			noun = "nodes"
		}
		what := fmt.Sprintf("pinned by spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution (matchFields %s) to %s %s", metadataName, noun, strings.Join(pp.nodes, ", "))
		if len(here) == 0 {
			reason := what + ", not in --nodes: no new node can take it (give that node with --nodes)"
			if len(pp.nodes) == 0 {
				reason = "pinned by spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution (matchFields " + metadataName + ") to no node name: no node can take it"
			}
			r.w.Unplaced = append(r.w.Unplaced, scheduling.PodError{Pod: pp.pod, Reason: reason})
			continue
		}
		excluded := sets.New[string]()
		for n := range r.nodeNames {
			excluded.Insert(n)
		}
		excluded.Delete(here...)
		hold := scheduling.Hold{ExcludedNodes: excluded, NoNewNode: true, Reason: what}
		if len(here) == 1 {
			hold.PlannedNode = here[0]
		}
		if r.w.Holds == nil {
			r.w.Holds = map[string]scheduling.Hold{}
		}
		r.w.Holds[podKey(pp.pod)] = hold
		c := unpinned(pp.pod)
		r.specSources[&c.Spec] = r.specSources[&pp.pod.Spec]
		r.w.Pods = append(r.w.Pods, c)
	}
	sort.SliceStable(r.w.Unplaced, func(i, j int) bool { return podKey(r.w.Unplaced[i].Pod) < podKey(r.w.Unplaced[j].Pod) })
}
