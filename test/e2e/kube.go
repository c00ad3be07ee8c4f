package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// FieldManager is the server-side apply field manager of the objects the e2e suite applies.
const FieldManager = "karpenter-e2e"

// ProvisionerGVR is the Provisioner resource (karpenter.sh/v1alpha5, cluster scoped).
var ProvisionerGVR = schema.GroupVersionResource{Group: v1alpha5.Group, Version: "v1alpha5", Resource: "provisioners"}

// Kube is a client-go view of one cluster: typed, dynamic and a discovery-backed REST mapper.
type Kube struct {
	Clientset *kubernetes.Clientset
	Dynamic   dynamic.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
}

// NewKube returns clients for the cluster of the kubeconfig file at path.
func NewKube(kubeconfig string) (*Kube, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Kube{Clientset: cs, Dynamic: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// DecodeManifests parses a multi-document YAML (or JSON) manifest into objects, skipping empty
// documents. Errors name the document (1-based) and require apiVersion, kind and metadata.name.
func DecodeManifests(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for n := 1; ; n++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		switch {
		case u.GetAPIVersion() == "":
			return nil, fmt.Errorf("document %d: apiVersion is required", n)
		case u.GetKind() == "":
			return nil, fmt.Errorf("document %d: kind is required", n)
		case u.GetName() == "":
			return nil, fmt.Errorf("document %d (%s): metadata.name is required", n, u.GetKind())
		}
		objs = append(objs, u)
	}
}

// Apply server-side applies every object of a manifest (as `kubectl apply --server-side`):
// namespaced objects without a namespace go to "default". It returns the objects as stored.
func (k *Kube) Apply(ctx context.Context, manifest []byte) ([]*unstructured.Unstructured, error) {
	objs, err := DecodeManifests(manifest)
	if err != nil {
		return nil, err
	}
	var applied []*unstructured.Unstructured
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		mapping, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			// A CRD may have been installed since discovery was cached.
			k.mapper.Reset()
			mapping, err = k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			return applied, fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		var ri dynamic.ResourceInterface = k.Dynamic.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(metav1.NamespaceDefault)
			}
			ri = k.Dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		}
		out, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		if err != nil {
			return applied, fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		applied = append(applied, out)
	}
	return applied, nil
}

// Scale sets the replicas of a Deployment through its scale subresource (as `kubectl scale`),
// retrying when the Deployment changed between read and write.
func (k *Kube) Scale(ctx context.Context, namespace, name string, replicas int32) error {
	deployments := k.Clientset.AppsV1().Deployments(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc, err := deployments.GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sc.Spec.Replicas = replicas
		_, err = deployments.UpdateScale(ctx, name, sc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("scaling deployment %s/%s to %d: %w", namespace, name, replicas, err)
	}
	return nil
}

// LaunchedNodes returns the Nodes the controller launched (labelled karpenter.sh/provisioner-name),
// sorted by name.
func (k *Kube) LaunchedNodes(ctx context.Context) ([]corev1.Node, error) {
	list, err := k.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: v1alpha5.LabelProvisionerName})
	if err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

// PodsBySelector lists the pods in namespace matching a label selector.
func (k *Kube) PodsBySelector(ctx context.Context, namespace, selector string) ([]corev1.Pod, error) {
	list, err := k.Clientset.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// WaitPodsOnLaunchedNodes waits until exactly want pods match selector in namespace, all Running
// on Nodes that the controller launched with karpenter.sh/capacity-type = capacityType ("" for
// any capacity type; "*" for any node at all, launched or not). It returns the launched Nodes
// that hold them. Progress lines go to log every 10 s. Errors on timeout with the
// last observed state.
func (k *Kube) WaitPodsOnLaunchedNodes(ctx context.Context, namespace, selector string, want int, capacityType string, timeout time.Duration, log io.Writer) ([]corev1.Node, error) {
	var last string
	var nodes []corev1.Node
	lastReport := time.Now()
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := k.PodsBySelector(ctx, namespace, selector)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		launched, err := k.LaunchedNodes(ctx)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		byName := map[string]corev1.Node{}
		for _, n := range launched {
			byName[n.Name] = n
		}
		running, onOther := 0, 0
		used := map[string]corev1.Node{}
		for _, p := range pods {
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
				continue
			}
			n, ok := byName[p.Spec.NodeName]
			if capacityType == "*" && !ok {
				running++
				continue
			}
			if !ok || (capacityType != "" && capacityType != "*" && n.Labels[v1alpha5.LabelCapacityType] != capacityType) {
				onOther++
				continue
			}
			running++
			used[n.Name] = n
		}
		where := "on launched " + capacityType + " nodes"
		if capacityType == "*" {
			where = "on any node"
		}
		last = fmt.Sprintf("%d pods, %d Running %s, %d Running elsewhere, %d launched nodes", len(pods), running, where, onOther, len(launched))
		if time.Since(lastReport) >= 10*time.Second {
			fmt.Fprintf(log, "  ... %s\n", last)
			lastReport = time.Now()
		}
		if len(pods) == want && running == want {
			nodes = nodes[:0]
			for _, n := range used {
				nodes = append(nodes, n)
			}
			sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d pods (%s) Running on launched %s nodes: %w (last: %s)", want, selector, capacityType, err, last)
	}
	return nodes, nil
}

// WaitNoPods waits until no pod matches selector in namespace.
func (k *Kube) WaitNoPods(ctx context.Context, namespace, selector string, timeout time.Duration) error {
	var n int
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := k.PodsBySelector(ctx, namespace, selector)
		if err != nil {
			return false, nil
		}
		n = len(pods)
		return n == 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for pods (%s) to be gone: %w (%d left)", selector, err, n)
	}
	return nil
}

// WaitNodesGone waits until none of the named Nodes exists.
func (k *Kube) WaitNodesGone(ctx context.Context, names []string, timeout time.Duration) error {
	var left []string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, name := range names {
			_, err := k.Clientset.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			left = append(left, name)
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for nodes to be gone: %w (left: %s)", err, strings.Join(left, ", "))
	}
	return nil
}

// PatchProvisioner applies a JSON merge patch to a Provisioner, as `kubectl edit` would
// (field manager "kubectl-edit").
func (k *Kube) PatchProvisioner(ctx context.Context, name string, mergePatch []byte) error {
	_, err := k.Dynamic.Resource(ProvisionerGVR).Patch(ctx, name, types.MergePatchType, mergePatch, metav1.PatchOptions{FieldManager: "kubectl-edit"})
	if err != nil {
		return fmt.Errorf("patching provisioner %s: %w", name, err)
	}
	return nil
}
