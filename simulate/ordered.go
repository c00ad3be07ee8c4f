package simulate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// solveInWaves runs the solver on in the way a cluster sees its pods arrive. The pods of a
// StatefulSet with podManagementPolicy OrderedReady (the default; ordered names its
// "namespace/name"s) are never pending together: the StatefulSet controller creates ordinal
// i+1 only once ordinal i is Running and Ready (Kubernetes docs, StatefulSets, "OrderedReady
// Pod Management"), so the controller plans them one batch at a time, each batch seeing the
// nodes launched for the batches before.
//
// Wave 0 is every other pod and the first missing ordinal of each such StatefulSet; wave k is
// their (k+1)-th missing ordinals. Each wave is planned by solveBindingFirst, in which the
// nodes earlier waves planned are in-flight nodes (the planned offering's instance type, zone
// and capacity type; its allocatable less the pods planned on it) and count towards
// provisioner limits. Pods a later wave places on such a node are reported on it, as one plan.
// A pod whose predecessor cannot be placed is never created: it is unschedulable, waiting for
// it. waves is how many waves were planned (1 when no StatefulSet is ordered or none has more
// than one pod to place).
func solveInWaves(in scheduling.Input, ordered map[string]bool) (res *scheduling.Result, waves int) {
	byWave := podWaves(in.Pods, ordered)
	if len(byWave) <= 1 {
		return solveBindingFirst(in), 1
	}
	res = &scheduling.Result{ExistingNodes: map[string][]*corev1.Pod{}}
	nodes := append([]scheduling.ExistingNode{}, in.Nodes...)
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		index[n.Name] = i
	}
	provisioners := append([]scheduling.ProvisionerInput{}, in.Provisioners...)
	usage := map[string]scheduling.Resources{}
	for _, p := range provisioners {
		usage[p.Provisioner.Name] = scheduling.FromList(p.Usage)
	}
	planned := map[string]*scheduling.NodeClaim{} // in-flight node name -> its claim
	failed := map[string]string{}                 // StatefulSet -> its pod that cannot be placed
	for _, wave := range byWave {
		step := in
		step.Pods = nil
		for _, p := range wave {
			if ss := orderedSet(p, ordered); ss != "" && failed[ss] != "" {
				res.Errors = append(res.Errors, scheduling.PodError{Pod: p, Reason: fmt.Sprintf("not created until %s runs "+
					"(StatefulSet podManagementPolicy OrderedReady), and that pod cannot be placed", failed[ss])})
				continue
			}
			step.Pods = append(step.Pods, p)
		}
		if len(step.Pods) == 0 {
			continue
		}
		for i := range provisioners {
			provisioners[i].Usage = usage[provisioners[i].Provisioner.Name].List()
		}
		step.Nodes, step.Provisioners = nodes, provisioners
		r := solveBindingFirst(step)
		for i := range r.Errors {
			e := &r.Errors[i]
			ss := orderedSet(e.Pod, ordered)
			if ss == "" {
				continue
			}
			if failed[ss] == "" {
				failed[ss] = e.Pod.Name
			}
			if ordinal(e.Pod) > 0 && scheduling.FollowsOwnPods(e.Pod, in.NamespaceLabels[e.Pod.Namespace]) && strings.Contains(e.Reason, "required pod affinity") {
				e.Reason += orderedCoLocationHint
			}
		}
		res.Errors = append(res.Errors, r.Errors...)
		for _, name := range sortedKeys(r.ExistingNodes) {
			pods := r.ExistingNodes[name]
			if c := planned[name]; c != nil {
				c.Pods = append(c.Pods, pods...)
				c.Requests = c.Requests.Add(requestsOf(pods))
			} else {
				res.ExistingNodes[name] = append(res.ExistingNodes[name], pods...)
			}
			n := &nodes[index[name]]
			n.Available = scheduling.FromList(n.Available).Sub(requestsOf(pods)).List()
			n.Pods = append(append([]*corev1.Pod{}, n.Pods...), pods...)
		}
		for _, c := range r.NewNodes {
			res.NewNodes = append(res.NewNodes, c)
			it, _, ok := c.PlannedOffering()
			labels, _ := c.PlannedLabels()
			if !ok {
				continue
			}
			// Named by what the NEW NODES table shows, so that a reason naming it is read there.
			name := fmt.Sprintf("new node %d: %s %s %s", len(res.NewNodes), it.Name, labels[corev1.LabelTopologyZone], labels[v1alpha5.LabelCapacityType])
			labels[corev1.LabelHostname] = name
			index[name] = len(nodes)
			nodes = append(nodes, scheduling.ExistingNode{Name: name, Labels: labels, Taints: c.Provisioner.Spec.Taints,
				Available: scheduling.FromList(it.Allocatable()).Sub(c.Requests).List(), InFlight: true, Pods: append([]*corev1.Pod{}, c.Pods...)})
			planned[name] = c
			usage[c.Provisioner.Name] = usage[c.Provisioner.Name].Add(scheduling.FromList(it.Capacity))
		}
		waves++
	}
	return res, waves
}

// solveBindingFirst runs the solver on in as a cluster meets new pods: kube-scheduler binds
// first the pods that fit the nodes there are, judging topology spread by the domains of those
// nodes only; the autoscaler sees the others pending and plans nodes for them, with the first
// pods counted where they were bound. So a spread over zones binds pods to nodes in two zones
// without a node launched for a third zone no node is in, where the solver alone (which counts
// every zone a provisioner can launch in as a domain, as Karpenter does) would plan one. The
// result is one plan: both solves' pods on nodes, the second's new nodes and errors.
func solveBindingFirst(in scheduling.Input) *scheduling.Result {
	if len(in.Nodes) == 0 || len(in.Pods) == 0 {
		return scheduling.Solve(in)
	}
	first := in
	first.Provisioners = nil
	bound := scheduling.Solve(first)
	if len(bound.Errors) == 0 {
		return bound
	}
	pending := make([]*corev1.Pod, 0, len(bound.Errors))
	for _, e := range bound.Errors {
		pending = append(pending, e.Pod)
	}
	second := in
	second.Pods = pending
	second.Nodes = make([]scheduling.ExistingNode, len(in.Nodes))
	for i, n := range in.Nodes {
		if pods := bound.ExistingNodes[n.Name]; len(pods) > 0 {
			n.Available = scheduling.FromList(n.Available).Sub(requestsOf(pods)).List()
			n.Pods = append(append([]*corev1.Pod{}, n.Pods...), pods...)
		}
		second.Nodes[i] = n
	}
	res := scheduling.Solve(second)
	for name, pods := range bound.ExistingNodes {
		res.ExistingNodes[name] = append(append([]*corev1.Pod{}, pods...), res.ExistingNodes[name]...)
	}
	return res
}

// orderedCoLocationHint ends the reason of an OrderedReady StatefulSet's pod (not the first)
// that must share a node with its own pods and was refused for that affinity: no plan can help
// it.
const orderedCoLocationHint = " (its StatefulSet creates its pods one at a time, podManagementPolicy OrderedReady, " +
	"so the node of its first pod was launched for that pod alone, and a required hostname pod affinity to its own " +
	"pods keeps this one to that node: with podManagementPolicy Parallel its pods are pending together and are " +
	"planned onto a node with room for all of them)"

// podWaves splits pods into the waves solveInWaves plans: a pod of an ordered StatefulSet
// goes to the wave of its rank among that StatefulSet's pods by ordinal (label
// apps.kubernetes.io/pod-index), every other pod to wave 0. Input order is kept within a wave.
func podWaves(pods []*corev1.Pod, ordered map[string]bool) [][]*corev1.Pod {
	if len(ordered) == 0 {
		return [][]*corev1.Pod{pods}
	}
	bySet := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if ss := orderedSet(p, ordered); ss != "" {
			bySet[ss] = append(bySet[ss], p)
		}
	}
	wave := make(map[*corev1.Pod]int, len(pods))
	maxWave := 0
	for _, set := range bySet {
		sort.SliceStable(set, func(i, j int) bool { return ordinal(set[i]) < ordinal(set[j]) })
		for rank, p := range set {
			wave[p] = rank
			maxWave = max(maxWave, rank)
		}
	}
	out := make([][]*corev1.Pod, maxWave+1)
	for _, p := range pods {
		out[wave[p]] = append(out[wave[p]], p)
	}
	return out
}

// orderedSet is the "namespace/name" of the StatefulSet controlling p when it is in ordered,
// else "".
func orderedSet(p *corev1.Pod, ordered map[string]bool) string {
	c := metav1.GetControllerOfNoCopy(p)
	if c == nil || c.Kind != "StatefulSet" {
		return ""
	}
	if key := p.Namespace + "/" + c.Name; ordered[key] {
		return key
	}
	return ""
}

// ordinal is p's StatefulSet ordinal (apps.kubernetes.io/pod-index; -1 if absent or bad).
func ordinal(p *corev1.Pod) int {
	i, err := strconv.Atoi(p.Labels[appsv1.PodIndexLabel])
	if err != nil {
		return -1
	}
	return i
}

// requestsOf sums the requests of pods as the solver counts them (scheduling.PodRequests).
func requestsOf(pods []*corev1.Pod) scheduling.Resources {
	sum := scheduling.Resources{}
	for _, p := range pods {
		sum.AddInPlace(scheduling.PodRequests(p))
	}
	return sum
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string][]*corev1.Pod) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
