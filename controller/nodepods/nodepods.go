// Package nodepods lists the pods bound to a node through a cache field index and classifies
// them the way deprovisioning and termination need (daemonset, mirror, terminal pods).
package nodepods

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// IndexKey is the pod field index on spec.nodeName.
const IndexKey = "spec.nodeName"

// IndexFunc indexes a pod by spec.nodeName (unbound pods are not indexed).
func IndexFunc(o client.Object) []string {
	pod, ok := o.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return nil
	}
	return []string{pod.Spec.NodeName}
}

// NominatedIndexKey is the pod field index on status.nominatedNodeName of pods not yet bound.
const NominatedIndexKey = "status.nominatedNodeName"

// NominatedIndexFunc indexes an unbound pod by status.nominatedNodeName: the node kube-scheduler
// is binding it to while its PreBind plugins run (e.g. VolumeBinding waiting for the
// PersistentVolume controller), which it announces "to tell external components (e.g. the
// cluster autoscaler) that the pod is about to be bound to the node" (KEP-5278,
// NominatedNodeNameForExpectation, on by default since Kubernetes 1.35), or the node a
// preemption made room on.
func NominatedIndexFunc(o client.Object) []string {
	pod, ok := o.(*corev1.Pod)
	if !ok || pod.Spec.NodeName != "" || pod.Status.NominatedNodeName == "" {
		return nil
	}
	return []string{pod.Status.NominatedNodeName}
}

// Register adds the indexes to the manager's cache; call it once, before the manager starts.
func Register(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &corev1.Pod{}, IndexKey, IndexFunc); err != nil {
		return fmt.Errorf("indexing pods by %s: %w", IndexKey, err)
	}
	if err := indexer.IndexField(ctx, &corev1.Pod{}, NominatedIndexKey, NominatedIndexFunc); err != nil {
		return fmt.Errorf("indexing pods by %s: %w", NominatedIndexKey, err)
	}
	return nil
}

// ListNominated returns the pods nominated for the node and not bound yet (see
// NominatedIndexFunc). Errors: client errors (index missing, API).
func ListNominated(ctx context.Context, kube client.Reader, node string) ([]corev1.Pod, error) {
	list := &corev1.PodList{}
	if err := kube.List(ctx, list, client.MatchingFields{NominatedIndexKey: node}); err != nil {
		return nil, fmt.Errorf("listing pods nominated for node %s: %w", node, err)
	}
	return list.Items, nil
}

// List returns the pods bound to the node. Errors: client errors (index missing, API).
func List(ctx context.Context, kube client.Reader, node string) ([]corev1.Pod, error) {
	return list(ctx, kube, node)
}

// ListReadOnly is List for callers that only read the pods: from the manager's cache it shares
// the cached objects instead of copying them (client.UnsafeDisableDeepCopy), which matters on
// every pod and node event of a busy cluster. The pods must not be modified.
func ListReadOnly(ctx context.Context, kube client.Reader, node string) ([]corev1.Pod, error) {
	return list(ctx, kube, node, client.UnsafeDisableDeepCopy)
}

func list(ctx context.Context, kube client.Reader, node string, opts ...client.ListOption) ([]corev1.Pod, error) {
	list := &corev1.PodList{}
	if err := kube.List(ctx, list, append(opts, client.MatchingFields{IndexKey: node})...); err != nil {
		return nil, fmt.Errorf("listing pods on node %s: %w", node, err)
	}
	return list.Items, nil
}

// IsTerminal reports whether the pod finished (Succeeded or Failed).
func IsTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// IsDaemonSetPod reports whether a DaemonSet controls the pod.
func IsDaemonSetPod(pod *corev1.Pod) bool {
	ref := metav1.GetControllerOf(pod)
	return ref != nil && ref.Kind == "DaemonSet"
}

// IsMirrorPod reports whether the pod is the API mirror of a static pod (annotation
// kubernetes.io/config.mirror); such pods cannot be evicted and go with their node.
func IsMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

// IsReschedulable reports whether the pod is one that keeps a node from being empty and must
// be evicted before the node goes: not terminal, not a daemonset pod, not a mirror pod.
func IsReschedulable(pod *corev1.Pod) bool {
	return !IsTerminal(pod) && !IsDaemonSetPod(pod) && !IsMirrorPod(pod)
}
