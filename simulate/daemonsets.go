package simulate

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// NodeDaemonSets are the DaemonSets of the input that will start a pod on an existing node
// (--nodes) where they have none yet: the DaemonSet controller creates it there as soon as the
// DaemonSet exists, so its requests are taken from the node's room before pods are planned.
type NodeDaemonSets struct {
	Node       string
	DaemonSets []*appsv1.DaemonSet // in input order
	// Requests are the summed requests of their pods (scheduling.DaemonSetRequests).
	Requests scheduling.Resources
	// Short are the resources the node's room (allocatable minus its bound pods) lacks for
	// them, sorted; when there are some, the node takes no new pod (its bound pods stay).
	Short []string
}

// takeDaemonSetRoom takes from each existing node that offers room the requests of the
// DaemonSets of the input that would run a pod on it (scheduling.DaemonSetRunsOn: their node
// selection and tolerations, with those the DaemonSet controller adds) and have no pod there
// yet (daemonPodOn): a bound pod, or a pending one pinned to the node, that the DaemonSet
// controls. The solver counts daemonsets on new and in-flight nodes only: on a registered node
// the controller sees their pods. A node whose room does not hold them offers none, and a
// warning says so. Nodes that offer no room (cordoned, deleting, not Ready) are left out.
func (r *reader) takeDaemonSetRoom(bound []corev1.Pod) {
	if len(r.w.DaemonSets) == 0 {
		return
	}
	selectors := make([]labels.Selector, len(r.w.DaemonSets))
	for i, ds := range r.w.DaemonSets {
		if sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector); err == nil {
			selectors[i] = sel
		}
	}
	for i := range r.w.Nodes {
		n := &r.w.Nodes[i]
		if n.InFlight || len(n.Available) == 0 {
			continue
		}
		nd := NodeDaemonSets{Node: n.Name, Requests: scheduling.Resources{}}
		for j, ds := range r.w.DaemonSets {
			if !scheduling.DaemonSetRunsOn(ds, *n) || r.daemonPodOn(ds, selectors[j], n.Name, bound) {
				continue
			}
			nd.DaemonSets = append(nd.DaemonSets, ds)
			nd.Requests.AddInPlace(scheduling.DaemonSetRequests(ds))
		}
		if len(nd.DaemonSets) == 0 {
			continue
		}
		avail := scheduling.FromList(n.Available)
		for k, v := range nd.Requests {
			// A resource the node does not report is not counted, as the solver's room does not.
			if have, ok := avail[k]; ok && v > have {
				nd.Short = append(nd.Short, string(k))
			}
		}
		sort.Strings(nd.Short)
		left := corev1.ResourceList{}
		if len(nd.Short) == 0 {
			left = avail.Sub(nd.Requests).List()
		} else {
			for k := range n.Available {
				left[k] = resource.Quantity{}
			}
			r.w.Warnings = append(r.w.Warnings, fmt.Sprintf("node %s: the room its bound pods leave is short of %s for the pods the DaemonSet controller will start there (%s): no pod is planned on it",
				n.Name, strings.Join(nd.Short, ", "), daemonSetList(nd.DaemonSets)))
		}
		n.Available = left
		r.w.NodeDaemonSets = append(r.w.NodeDaemonSets, nd)
	}
}

// daemonPodOn reports whether ds (selecting its pods with sel, nil when invalid) already has a
// pod on the node: a pod of the input bound to it (bound: those whose node is in the input) or
// pending and pinned to it (matchFields metadata.name), not being deleted, that ds controls
// (daemonSetControls).
func (r *reader) daemonPodOn(ds *appsv1.DaemonSet, sel labels.Selector, node string, bound []corev1.Pod) bool {
	for i := range bound {
		if bound[i].Spec.NodeName == node && daemonSetControls(ds, sel, &bound[i]) {
			return true
		}
	}
	for _, pp := range r.pinned {
		if len(pp.nodes) == 1 && pp.nodes[0] == node && daemonSetControls(ds, sel, pp.pod) {
			return true
		}
	}
	return false
}

// daemonSetControls reports whether p, of the input, is a pod of ds, as the DaemonSet controller
// counts the pods on a node (ControllerRefManager.ClaimPods): a pod of its namespace, not being
// deleted (the controller creates another for it), that its selector selects and that it
// controls (an owner reference of kind DaemonSet with its UID, or, when either UID is not given,
// its name) or that no controller owns (the controller adopts it).
func daemonSetControls(ds *appsv1.DaemonSet, sel labels.Selector, p *corev1.Pod) bool {
	if p.Namespace != ds.Namespace || p.DeletionTimestamp != nil || sel == nil || !sel.Matches(labels.Set(p.Labels)) {
		return false
	}
	c := metav1.GetControllerOfNoCopy(p)
	switch {
	case c == nil:
		return true
	case c.Kind != "DaemonSet":
		return false
	case c.UID != "" && ds.UID != "":
		return c.UID == ds.UID
	}
	return c.Name == ds.Name
}

// daemonSetList names DaemonSets: "DaemonSet default/agent, DaemonSet kube-system/logs".
func daemonSetList(dss []*appsv1.DaemonSet) string {
	names := make([]string, 0, len(dss))
	for _, ds := range dss {
		names = append(names, "DaemonSet "+ds.Namespace+"/"+ds.Name)
	}
	return strings.Join(names, ", ")
}
