package provisioning

import (
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// maxClaimInstanceTypes caps the instance type options a NodeClaim records (cheapest first),
// the number one CreateFleet request offers (aws.MaxInstanceTypeOptions, as Karpenter's 60).
const maxClaimInstanceTypes = 60

// Condition reasons on NodeClaims.
const (
	ReasonLaunched           = "Launched"
	ReasonRegistered         = "Registered"
	ReasonInitialized        = "Initialized"
	ReasonNotReady           = "NodeNotReady"
	ReasonRegistrationTTL    = "RegistrationTimeout"
	ReasonInstanceTerminated = "InstanceTerminated"
)

// newClaim returns the NodeClaim of a planned node, not yet created: name "<provisioner>-"
// and 5 random characters, the labels the node registers with (claim.Labels()), an owner reference to
// the Provisioner, the plan's requirements plus an In requirement on
// node.kubernetes.io/instance-type listing its options (at most maxClaimInstanceTypes,
// cheapest first), the pods' summed requests, and the provisioner's taints and startup taints.
func newClaim(plan *scheduling.NodeClaim) *karpv1.NodeClaim {
	prov := plan.Provisioner
	reqs := []v1alpha5.NodeSelectorRequirement{}
	for _, r := range plan.Requirements.NodeSelectorRequirements() {
		if r.Key == v1alpha5.LabelInstanceType {
			continue // replaced by the options, which the requirement allows
		}
		reqs = append(reqs, v1alpha5.NodeSelectorRequirement{Key: r.Key, Operator: r.Operator, Values: r.Values})
	}
	names := make([]string, 0, len(plan.InstanceTypeOptions))
	for i, it := range plan.InstanceTypeOptions {
		if i == maxClaimInstanceTypes {
			break
		}
		names = append(names, it.Name)
	}
	reqs = append(reqs, v1alpha5.NodeSelectorRequirement{Key: v1alpha5.LabelInstanceType, Operator: corev1.NodeSelectorOpIn, Values: names})
	return &karpv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{
			// Named here rather than by generateName, so that the claim is marked as being
			// launched (Provisioner.launching) before it exists.
			Name:   prov.Name + "-" + utilrand.String(5),
			Labels: plan.Labels(),
			// The provisioner's annotations, given to the Node on registration (syncFromClaim).
			Annotations: maps.Clone(prov.Spec.Annotations),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha5.SchemeGroupVersion.String(), Kind: "Provisioner", Name: prov.Name, UID: prov.UID}},
		},
		Spec: karpv1.NodeClaimSpec{
			Requirements:    reqs,
			Resources:       karpv1.ResourceRequirements{Requests: plan.Requests.List()},
			Taints:          append([]corev1.Taint(nil), prov.Spec.Taints...),
			StartupTaints:   append([]corev1.Taint(nil), prov.Spec.StartupTaints...),
			ProvisionerName: prov.Name,
		},
	}
}

// nodeRequest is the cloud request of a created claim; options are the instance types to
// offer, cheapest first.
func nodeRequest(claim *karpv1.NodeClaim, prov *v1alpha5.Provisioner, options []*cloudprovider.InstanceType, findExisting bool) *cloudprovider.NodeRequest {
	reqs := make([]corev1.NodeSelectorRequirement, 0, len(claim.Spec.Requirements))
	for _, r := range claim.Spec.Requirements {
		reqs = append(reqs, corev1.NodeSelectorRequirement{Key: r.Key, Operator: r.Operator, Values: r.Values})
	}
	labels := map[string]string{}
	for k, v := range claim.Labels {
		labels[k] = v
	}
	return &cloudprovider.NodeRequest{
		ClaimName:           claim.Name,
		ClaimUID:            claim.UID,
		FindExisting:        findExisting,
		Provisioner:         prov,
		InstanceTypeOptions: options,
		Requirements:        reqs,
		Labels:              labels,
		Taints:              append(append([]corev1.Taint(nil), claim.Spec.Taints...), claim.Spec.StartupTaints...),
	}
}

// claimOptions returns the types named by the claim's instance-type requirement, in its order.
func claimOptions(claim *karpv1.NodeClaim, types []*cloudprovider.InstanceType) []*cloudprovider.InstanceType {
	byName := make(map[string]*cloudprovider.InstanceType, len(types))
	for _, it := range types {
		byName[it.Name] = it
	}
	var out []*cloudprovider.InstanceType
	for _, r := range claim.Spec.Requirements {
		if r.Key != v1alpha5.LabelInstanceType || r.Operator != corev1.NodeSelectorOpIn {
			continue
		}
		for _, name := range r.Values {
			if it, ok := byName[name]; ok {
				out = append(out, it)
			}
		}
	}
	return out
}

// markLaunched records the launched instance on the claim: its labels gain every label of the
// node (instance type labels, zone, capacity type), then its status gets the provider ID, the
// node name (the instance's private DNS name), image, capacity, allocatable and
// Launched=True. Errors: API errors of the two patches.
func markLaunched(ctx context.Context, kube client.Client, claim *karpv1.NodeClaim, node *cloudprovider.Node, types []*cloudprovider.InstanceType) error {
	orig := claim.DeepCopy()
	if claim.Labels == nil {
		claim.Labels = map[string]string{}
	}
	for _, it := range types {
		if it.Name == node.InstanceType {
			for k, v := range it.Labels {
				claim.Labels[k] = v
			}
		}
	}
	for k, v := range node.Labels {
		claim.Labels[k] = v
	}
	claim.Labels[v1alpha5.LabelInstanceType] = node.InstanceType
	claim.Labels[v1alpha5.LabelZone] = node.Zone
	claim.Labels[v1alpha5.LabelCapacityType] = node.CapacityType
	claim.Labels[v1alpha5.LabelProvisionerName] = claim.Spec.ProvisionerName
	if err := kube.Patch(ctx, claim, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("labelling node claim %s: %w", claim.Name, err)
	}
	orig = claim.DeepCopy()
	claim.Status.ProviderID = node.ProviderID
	claim.Status.NodeName = node.Name
	claim.Status.ImageID = node.ImageID
	claim.Status.Capacity = node.Capacity
	claim.Status.Allocatable = node.Allocatable
	claim.SetCondition(karpv1.ConditionLaunched, metav1.ConditionTrue, ReasonLaunched,
		fmt.Sprintf("%s %s %s", node.InstanceType, node.Zone, node.CapacityType))
	if err := kube.Status().Patch(ctx, claim, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("recording the launch on node claim %s: %w", claim.Name, err)
	}
	return nil
}

// claimCacheWait bounds how long a batch waits for its new claims to reach the cache.
const claimCacheWait = 10 * time.Second

// waitForClaims waits until the client (the manager's cache) shows every launched claim with
// its provider ID and no deleted claim, so that the next batch counts exactly the batch's
// launches as in-flight capacity; it gives up silently after claimCacheWait (the API server has
// the claims, and the cache catches up).
func waitForClaims(ctx context.Context, kube client.Client, launched, deleted []string) {
	_ = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, claimCacheWait, true, func(ctx context.Context) (bool, error) {
		for len(launched) > 0 {
			c := &karpv1.NodeClaim{}
			if err := kube.Get(ctx, client.ObjectKey{Name: launched[0]}, c); err != nil || c.Status.ProviderID == "" {
				return false, nil
			}
			launched = launched[1:]
		}
		for len(deleted) > 0 {
			if err := kube.Get(ctx, client.ObjectKey{Name: deleted[0]}, &karpv1.NodeClaim{}); !apierrors.IsNotFound(err) {
				return false, nil
			}
			deleted = deleted[1:]
		}
		return true, nil
	})
}
