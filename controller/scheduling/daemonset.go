package scheduling

import (
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// daemonPodTolerations are the tolerations the DaemonSet controller gives every pod it creates,
// besides its template's (k8s.io/kubernetes pkg/controller/daemon/util
// AddOrUpdateDaemonPodTolerations): its pods run on nodes that are not ready, unreachable,
// under disk, memory or PID pressure, or cordoned.
var daemonPodTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

// daemonTolerations returns the tolerations of a pod the DaemonSet controller creates from a
// template with spec: the template's, daemonPodTolerations and, for a pod on the host network,
// node.kubernetes.io/network-unavailable.
func daemonTolerations(spec *corev1.PodSpec) []corev1.Toleration {
	out := append(slices.Clone(spec.Tolerations), daemonPodTolerations...)
	if spec.HostNetwork {
		out = append(out, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return out
}

// compiledDaemonSets caches each daemonset's pod requests, tolerations and node selection.
type compiledDaemonSets []compiledDaemonSet

type compiledDaemonSet struct {
	requests    Resources
	tolerations []corev1.Toleration
	affinity    nodeaffinity.RequiredNodeAffinity
	nodeName    string // the template's spec.nodeName ("" for any node)
}

func compileDaemonSet(ds *appsv1.DaemonSet) compiledDaemonSet {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ds.Namespace, Name: ds.Name}, Spec: ds.Spec.Template.Spec}
	return compiledDaemonSet{
		requests:    PodRequests(pod),
		tolerations: daemonTolerations(&pod.Spec),
		affinity:    nodeaffinity.GetRequiredNodeAffinity(withGAKeys(pod)),
		nodeName:    pod.Spec.NodeName,
	}
}

func compileDaemonSets(dss []*appsv1.DaemonSet) compiledDaemonSets {
	out := make(compiledDaemonSets, 0, len(dss))
	for _, ds := range dss {
		out = append(out, compileDaemonSet(ds))
	}
	return out
}

// runsOn reports whether the DaemonSet controller would run the daemonset's pod on a node named
// name ("" for a node not launched yet) with labels and taints, as its predicates decide
// (k8s.io/kubernetes pkg/controller/daemon NodeShouldRunDaemonPod): the template's nodeName, if
// any, is the node's; its required node affinity (nodeSelector, nodeSelectorTerms, matchFields
// metadata.name) matches the node; its tolerations, with the controller's (daemonTolerations),
// tolerate every NoSchedule and NoExecute taint. A daemonset whose node affinity is invalid runs
// nowhere.
func (ds *compiledDaemonSet) runsOn(name string, labels map[string]string, taints []corev1.Taint) bool {
	if ds.nodeName != "" && ds.nodeName != name {
		return false
	}
	if Tolerates(ds.tolerations, taints) != nil {
		return false
	}
	ok, err := ds.affinity.Match(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
	return err == nil && ok
}

// overhead sums the requests of the daemonsets that would run on a new node with labels and
// taints (runsOn).
func (dss compiledDaemonSets) overhead(labels map[string]string, taints []corev1.Taint) Resources {
	out := Resources{}
	for i := range dss {
		if dss[i].runsOn("", labels, taints) {
			out.AddInPlace(dss[i].requests)
		}
	}
	return out
}

// DaemonSetRunsOn reports whether the DaemonSet controller would run a pod of ds on the node
// (its name, labels and taints; callers drop the taints that go once the node is ready), by the
// rules the solver applies to new and in-flight nodes: the template's required node affinity
// and nodeName select the node, and its tolerations, with those the DaemonSet controller adds to
// every daemon pod (not-ready, unreachable, disk-, memory- and PID-pressure, unschedulable;
// network-unavailable for the host network), tolerate every NoSchedule and NoExecute taint.
func DaemonSetRunsOn(ds *appsv1.DaemonSet, node ExistingNode) bool {
	c := compileDaemonSet(ds)
	return c.runsOn(node.Name, normalizeLabels(node.Labels), node.Taints)
}

// DaemonSetRequests is what one pod of ds requests (PodRequests of its template: one pod
// included), the room it takes on each node it runs on.
func DaemonSetRequests(ds *appsv1.DaemonSet) Resources {
	return compileDaemonSet(ds).requests
}

// withGAKeys returns p, or a copy of it whose nodeSelector and required node affinity name the
// GA key of each legacy key (v1alpha5.LegacyLabels), as the solver's requirements and node
// labels do: a daemonset selecting beta.kubernetes.io/os: linux counts on a new node, whose
// planned labels carry kubernetes.io/os. A nodeSelector that gives a legacy key and its GA key
// different values is kept as it is (no node matches it either way).
func withGAKeys(p *corev1.Pod) *corev1.Pod {
	legacy := false
	for k := range p.Spec.NodeSelector {
		_, l := v1alpha5.LegacyLabels[k]
		legacy = legacy || l
	}
	var terms []corev1.NodeSelectorTerm
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		for _, t := range terms {
			for _, e := range t.MatchExpressions {
				_, l := v1alpha5.LegacyLabels[e.Key]
				legacy = legacy || l
			}
		}
	}
	if !legacy {
		return p
	}
	out := &corev1.Pod{ObjectMeta: p.ObjectMeta, Spec: *p.Spec.DeepCopy()}
	sel := out.Spec.NodeSelector
	for k, v := range sel {
		ga, l := v1alpha5.LegacyLabels[k]
		if !l {
			continue
		}
		if have, ok := sel[ga]; !ok || have == v {
			sel[ga] = v
			delete(sel, k)
		}
	}
	if terms != nil {
		for _, t := range out.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for i := range t.MatchExpressions {
				t.MatchExpressions[i].Key = v1alpha5.NormalizeLabelKey(t.MatchExpressions[i].Key)
			}
		}
	}
	return out
}
