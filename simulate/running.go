package simulate

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// expandedWorkload is a workload expanded into pods, for subtractRunning.
type expandedWorkload struct {
	kind, namespace, name string
	// selector selects its pods (nil: only pods it controls count, as for a Job).
	selector labels.Selector
	pods     []*corev1.Pod // as expanded, in ordinal order
}

// newExpandedWorkload records w (namespace ns) and the pods expanded from it.
func newExpandedWorkload(w *workload, ns string, pods []*corev1.Pod) expandedWorkload {
	e := expandedWorkload{kind: w.kind, namespace: ns, name: w.meta.Name, pods: pods}
	switch {
	case w.selector != nil:
		if sel, err := metav1.LabelSelectorAsSelector(w.selector); err == nil {
			e.selector = sel
		}
	case w.kind == "ReplicationController" && w.tmpl != nil:
		// The API server defaults a ReplicationController's selector to its template's labels.
		e.selector = labels.SelectorFromSet(w.tmpl.Labels)
	}
	return e
}

// owns reports whether the workload's controller counts p, a pod of the input bound to a node,
// as one of its replicas: a pod of its namespace that its selector selects, controlled by it
// (for a Deployment, by one of its ReplicaSets: named <deployment>-<pod-template-hash>, or read
// in the input as controlled by it) or by nothing (the controller adopts such orphans,
// k8s.io/kubernetes pkg/controller ControllerRefManager.ClaimPods; a Deployment's ReplicaSets
// also select a pod-template-hash label, so only orphans carrying one count); a workload without selector
// (a Job here) counts only the pods it controls.
func (r *reader) owns(e *expandedWorkload, p *corev1.Pod) bool {
	if p.Namespace != e.namespace || p.DeletionTimestamp != nil {
		return false
	}
	c := metav1.GetControllerOfNoCopy(p)
	if e.selector == nil {
		return c != nil && c.Kind == e.kind && c.Name == e.name
	}
	if !e.selector.Matches(labels.Set(p.Labels)) {
		return false
	}
	switch {
	case c == nil:
		// A Deployment's ReplicaSets select a pod-template-hash too: they adopt only orphans
		// that carry one.
		return e.kind != "Deployment" || p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != ""
	case c.Kind == e.kind && c.Name == e.name:
		return true
	case e.kind == "Deployment" && c.Kind == "ReplicaSet":
		hash := p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		return (hash != "" && c.Name == e.name+"-"+hash) ||
			r.workloadOwner["ReplicaSet/"+p.Namespace+"/"+c.Name] == "Deployment/"+e.namespace+"/"+e.name
	}
	return false
}

// subtractRunning plans, for each workload expanded into pods (StatefulSets aside: see
// dropRunning), only the replicas that are missing, as its controller creates replicas minus
// the pods it already has: the bound pods of the input that it counts (owns) stand for as many
// of its expanded pods, the last ordinals first. A warning names each such workload.
func (r *reader) subtractRunning() {
	drop := map[*corev1.Pod]bool{}
	for i := range r.expanded {
		e := &r.expanded[i]
		if e.kind == "StatefulSet" || len(e.pods) == 0 {
			continue
		}
		running := 0
		for j := range r.bound {
			if r.owns(e, &r.bound[j]) {
				running++
			}
		}
		if running == 0 {
			continue
		}
		n := min(running, len(e.pods))
		for _, p := range e.pods[len(e.pods)-n:] {
			drop[p] = true
		}
		r.w.Warnings = append(r.w.Warnings, fmt.Sprintf("%s %s/%s: %d of its %d replicas already run in the input (bound pods it selects): %d planned",
			e.kind, e.namespace, e.name, running, len(e.pods), len(e.pods)-n))
	}
	if len(drop) == 0 {
		return
	}
	kept := r.w.Pods[:0]
	for _, p := range r.w.Pods {
		if !drop[p] {
			kept = append(kept, p)
		}
	}
	r.w.Pods = kept
}
