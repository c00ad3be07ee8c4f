package provisioning

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	nodeutil "k8s.io/component-helpers/node/util"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// ConflictRetry is the wait before registering a Node again after the patch lost an
// optimistic-lock race (409 Conflict).
const ConflictRetry = 100 * time.Millisecond

// Registration reconciles Nodes as they register. A Node is matched to its NodeClaim by
// provider ID (status.providerID). It then gets, where it lacks them, every label of the claim
// (the provisioner's labels, the labels its requirements fixed, and every label of the launched
// instance type: karpenter.k8s.aws/instance-*, arch, os, instance-type, zone, capacity-type),
// the claim's annotations (the provisioner's spec.annotations) where it lacks them, the claim's
// taints and startup taints (before the claim is Registered), an owner reference
// to the claim (deleting the claim deletes the Node through the termination finalizer) and the
// finalizer karpenter.sh/termination. The solver planned pods against all of those labels, so a
// Node without one of them could leave a pod Pending that the solver counted as placed. Labels
// the kubelet already set are kept as they are. The claim then records nodeName and
// Registered=True, and Initialized=True once the Node is Ready.
//
// A Node labelled karpenter.sh/provisioner-name without a claim (launched before NodeClaims
// existed) gets the finalizer only. Other nodes are left alone.
type Registration struct {
	kube client.Client
}

// NewRegistration returns the node registration reconciler.
func NewRegistration(kube client.Client) *Registration {
	return &Registration{kube: kube}
}

// ClaimToNode maps a NodeClaim event to its Node (status.nodeName), so a Node that registered
// before its claim recorded the launch is registered once the claim has.
func ClaimToNode(_ context.Context, obj client.Object) []reconcile.Request {
	claim, ok := obj.(*karpv1.NodeClaim)
	if !ok || claim.Status.NodeName == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: claim.Status.NodeName}}}
}

// ProviderIDIndex indexes NodeClaims by status.providerID on the manager's cache.
const ProviderIDIndex = "status.providerID"

// ProviderIDIndexFunc is the ProviderIDIndex function: a launched claim's provider ID.
func ProviderIDIndexFunc(obj client.Object) []string {
	if c, ok := obj.(*karpv1.NodeClaim); ok && c.Status.ProviderID != "" {
		return []string{c.Status.ProviderID}
	}
	return nil
}

// claimOf returns the NodeClaim whose status.providerID is providerID (ProviderIDIndex), or nil.
func (r *Registration) claimOf(ctx context.Context, providerID string) (*karpv1.NodeClaim, error) {
	var list karpv1.NodeClaimList
	if err := r.kube.List(ctx, &list, client.MatchingFields{ProviderIDIndex: providerID}); err != nil {
		return nil, fmt.Errorf("listing node claims: %w", err)
	}
	for i := range list.Items {
		if list.Items[i].Status.ProviderID == providerID {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// Reconcile patches one Node and its claim. Errors: API errors from Get/List/Patch (requeued
// by controller-runtime with backoff); a patch conflict is not an error but a requeue after
// ConflictRetry.
func (r *Registration) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	node := &corev1.Node{}
	if err := r.kube.Get(ctx, req.NamespacedName, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if node.Spec.ProviderID == "" || node.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	claim, err := r.claimOf(ctx, node.Spec.ProviderID)
	if err != nil {
		return reconcile.Result{}, err
	}
	if claim == nil && node.Labels[v1alpha5.LabelProvisionerName] == "" {
		return reconcile.Result{}, nil
	}
	if claim != nil && claim.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	orig := node.DeepCopy()
	added, taints := syncFromClaim(node, claim)
	finalizer := controllerutil.AddFinalizer(node, v1alpha5.TerminationFinalizer)
	if len(added) > 0 || taints > 0 || finalizer || !equality.Semantic.DeepEqual(orig.OwnerReferences, node.OwnerReferences) {
		if err := r.kube.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsConflict(err) {
				// The kubelet (or kwok) updated the Node meanwhile: read it again, no error.
				// A conflict is transient (the other write has already landed), so a short fixed
				// delay is enough: it keeps registration latency low and, unlike an error (or the
				// deprecated Requeue), does not grow the queue's per-Node exponential backoff.
				return reconcile.Result{RequeueAfter: ConflictRetry}, nil
			}
			return reconcile.Result{}, fmt.Errorf("patching node %s: %w", node.Name, err)
		}
		log.FromContext(ctx).Info("registered node", "node", node.Name, "providerID", node.Spec.ProviderID,
			"addedLabels", added, "addedTaints", taints, "addedFinalizer", finalizer)
	}
	if claim == nil {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{}, r.updateClaim(ctx, claim, node)
}

// syncFromClaim adds to node the claim's labels and annotations it lacks, its taints (before the
// claim is Registered) and the owner reference to the claim; it returns the added label and
// annotation keys, sorted, and the number of added taints.
func syncFromClaim(node *corev1.Node, claim *karpv1.NodeClaim) ([]string, int) {
	if claim == nil {
		return nil, 0
	}
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	added := []string{}
	for k, v := range claim.Labels {
		if _, ok := node.Labels[k]; !ok {
			node.Labels[k] = v
			added = append(added, k)
		}
	}
	for k, v := range claim.Annotations {
		if _, ok := node.Annotations[k]; !ok {
			if node.Annotations == nil {
				node.Annotations = map[string]string{}
			}
			node.Annotations[k] = v
			added = append(added, k)
		}
	}
	sort.Strings(added)
	taints := 0
	if !claim.IsTrue(karpv1.ConditionRegistered) {
		for _, t := range append(append([]corev1.Taint(nil), claim.Spec.Taints...), claim.Spec.StartupTaints...) {
			has := false
			for _, nt := range node.Spec.Taints {
				has = has || (nt.Key == t.Key && nt.Effect == t.Effect)
			}
			if !has {
				node.Spec.Taints = append(node.Spec.Taints, t)
				taints++
			}
		}
	}
	owned := false
	for _, o := range node.OwnerReferences {
		owned = owned || o.UID == claim.UID
	}
	if !owned {
		node.OwnerReferences = append(node.OwnerReferences, metav1.OwnerReference{
			APIVersion: karpv1.SchemeGroupVersion.String(), Kind: "NodeClaim", Name: claim.Name, UID: claim.UID})
	}
	return added, taints
}

// updateClaim records the registration on the claim: nodeName, Registered=True and
// Initialized (True once the Node is Ready). Errors: API errors other than NotFound.
func (r *Registration) updateClaim(ctx context.Context, claim *karpv1.NodeClaim, node *corev1.Node) error {
	orig := claim.DeepCopy()
	claim.Status.NodeName = node.Name
	first := claim.SetCondition(karpv1.ConditionRegistered, metav1.ConditionTrue, ReasonRegistered, "Node "+node.Name+" registered") &&
		!orig.IsTrue(karpv1.ConditionRegistered)
	if nodeReady(node) {
		claim.SetCondition(karpv1.ConditionInitialized, metav1.ConditionTrue, ReasonInitialized, "Node "+node.Name+" is Ready")
	} else {
		claim.SetCondition(karpv1.ConditionInitialized, metav1.ConditionFalse, ReasonNotReady, "Node "+node.Name+" is not Ready")
	}
	if equality.Semantic.DeepEqual(orig.Status, claim.Status) {
		return nil
	}
	if err := r.kube.Status().Patch(ctx, claim, client.MergeFrom(orig)); err != nil {
		return client.IgnoreNotFound(err)
	}
	if first {
		log.FromContext(ctx).Info("node claim registered", "nodeClaim", claim.Name, "node", node.Name,
			"launchToRegistration", node.CreationTimestamp.Sub(claim.CreationTimestamp.Time).String())
	}
	return nil
}

func nodeReady(node *corev1.Node) bool {
	_, c := nodeutil.GetNodeCondition(&node.Status, corev1.NodeReady)
	return c != nil && c.Status == corev1.ConditionTrue
}
