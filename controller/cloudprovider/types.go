// Package cloudprovider is the interface the controllers use to learn what can be launched and
// to launch, list and terminate instances. aws/ implements it with aws-sdk-go-v2.
package cloudprovider

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Offering is one pool an instance type can be launched from: a zone and a capacity type.
type Offering struct {
	Zone         string  // e.g. us-east-1a
	CapacityType string  // v1alpha5.CapacityTypeSpot or v1alpha5.CapacityTypeOnDemand
	Price        float64 // USD/hour
	// Available is false while the pool is known to have no capacity
	// (InsufficientInstanceCapacity seen recently) or the type is not offered in the zone.
	Available bool
}

// InstanceType is a launchable machine shape with its offerings.
type InstanceType struct {
	Name string // e.g. m5.large
	// Labels are the node labels a node of this type carries: instance-type, arch, os,
	// karpenter.k8s.aws/instance-{family,size,cpu,memory,gpu-count,category,generation}.
	Labels map[string]string
	// Capacity is the node's capacity: cpu (cores), memory (bytes), pods, nvidia.com/gpu,
	// ephemeral-storage.
	Capacity corev1.ResourceList
	// Overhead is what the node reserves and is not allocatable: kube-reserved,
	// system-reserved and the eviction threshold. Allocatable = Capacity - Overhead.
	Overhead  corev1.ResourceList
	Offerings []Offering
	// VolumeLimits are how many volumes each CSI driver (by name, e.g. ebs.csi.aws.com) can
	// attach to a new node of this type, before the driver reports its own count in the node's
	// CSINode; a driver not listed is unlimited.
	VolumeLimits map[string]int
}

// Allocatable returns Capacity minus Overhead (never negative).
func (it *InstanceType) Allocatable() corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, c := range it.Capacity {
		q := c.DeepCopy()
		if o, ok := it.Overhead[name]; ok {
			q.Sub(o)
			if q.Sign() < 0 {
				q = resource.MustParse("0")
			}
		}
		out[name] = q
	}
	return out
}

// NodeRequest asks the cloud provider to launch one node for one NodeClaim.
type NodeRequest struct {
	// ClaimName and ClaimUID identify the NodeClaim the node is launched for: the instance is
	// tagged with the name and the launch is idempotent per UID (a repeated request returns
	// the same instance). Both required.
	ClaimName string
	ClaimUID  types.UID
	// FindExisting makes Create look for an instance already launched for the claim (by its
	// tag) before launching: set when resuming a claim whose earlier launch may have
	// succeeded (after a restart or a failure after the launch call).
	FindExisting bool
	Provisioner  *v1alpha5.Provisioner
	// InstanceTypeOptions are the types that fit the node's pods, cheapest first; the provider
	// picks among their available offerings allowed by Requirements.
	InstanceTypeOptions []*InstanceType
	// Requirements are the node's requirements on zone, capacity type, arch, etc, as a
	// NodeSelector term (ANDed expressions).
	Requirements []corev1.NodeSelectorRequirement
	// Labels and Taints to register the node with (passed to the kubelet via user data).
	Labels map[string]string
	Taints []corev1.Taint
}

// Node describes a launched instance as the Node it will register as.
type Node struct {
	Name         string // the instance's private DNS name, the Node's name
	ProviderID   string // aws:///<zone>/<instance-id>
	InstanceType string
	Zone         string
	CapacityType string
	Price        float64 // USD/hour of the chosen offering
	LaunchTime   time.Time
	Labels       map[string]string
	Capacity     corev1.ResourceList
	Allocatable  corev1.ResourceList
	ImageID      string // e.g. ami-0123456789abcdef0
	// ClaimName is the NodeClaim the instance was launched for (its karpenter.sh/nodeclaim
	// tag); empty for instances launched before NodeClaims existed.
	ClaimName string
}

// CloudProvider is implemented by aws.CloudProvider.
type CloudProvider interface {
	// GetInstanceTypes returns every instance type the provisioner's provider settings allow,
	// with offerings' prices and availability.
	GetInstanceTypes(ctx context.Context, provisioner *v1alpha5.Provisioner) ([]*InstanceType, error)
	// Create launches one instance for the request. It returns an *InsufficientCapacityError
	// when no offering of any option could be launched.
	Create(ctx context.Context, req *NodeRequest) (*Node, error)
	// Delete terminates the instance with the given provider ID; a missing instance is not an error.
	Delete(ctx context.Context, providerID string) error
	// Exists reports whether the instance of providerID is still pending or running: false once
	// the cloud reports it shutting down, terminated or unknown. Termination keeps a node's
	// finalizer until it is false.
	Exists(ctx context.Context, providerID string) (bool, error)
	// List returns every running/pending instance the controller launched for this cluster.
	List(ctx context.Context) ([]*Node, error)
}

// InsufficientCapacityError means no requested pool had capacity.
type InsufficientCapacityError struct {
	Pools []string // "type/zone/capacity-type" that failed
}

func (e *InsufficientCapacityError) Error() string {
	return fmt.Sprintf("insufficient capacity in all requested pools %v", e.Pools)
}

// IsInsufficientCapacity reports whether err wraps an InsufficientCapacityError.
func IsInsufficientCapacity(err error) bool {
	var ice *InsufficientCapacityError
	return errors.As(err, &ice)
}

// NotAuthorizedError means the cloud refused a call for lack of permission (AWS:
// UnauthorizedOperation, AccessDenied, AccessDeniedException). Retrying does not help until
// the controller's policy changes.
type NotAuthorizedError struct {
	Action  string // the call refused, e.g. "ec2:CreateFleet"
	Message string // the cloud's explanation; AWS names the denied action and resource ARN
	Err     error  // the original error
}

func (e *NotAuthorizedError) Error() string {
	return "not authorised: " + e.Action + ": " + e.Message
}

func (e *NotAuthorizedError) Unwrap() error { return e.Err }

// AsNotAuthorized returns the NotAuthorizedError err wraps, if any.
func AsNotAuthorized(err error) (*NotAuthorizedError, bool) {
	var na *NotAuthorizedError
	ok := errors.As(err, &na)
	return na, ok
}

// CredentialsError means the controller could not obtain its cloud credentials at all, so no
// call was made: e.g. AWS STS refused sts:AssumeRoleWithWebIdentity because the IAM role's
// trust policy does not allow the controller's service account (IRSA), or the EKS Pod
// Identity agent's credentials endpoint answered an error (no association for the service
// account). Every call fails the same way until the controller's identity is fixed.
type CredentialsError struct {
	Cloud string // the cloud whose credentials failed, e.g. "AWS"
	// Action is what obtaining the credentials called: the call refused, e.g.
	// "sts:AssumeRoleWithWebIdentity", or the credentials endpoint, e.g. "EKS Pod Identity
	// credentials endpoint http://169.254.170.23/v1/credentials".
	Action string
	// Message is the cloud's explanation, prefixed with its error code when it has one
	// ("AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity"), else the
	// innermost error's text (e.g. a connection error).
	Message string
	Err     error // the original error
}

func (e *CredentialsError) Error() string {
	return "could not obtain " + e.Cloud + " credentials: " + e.Action + ": " + e.Message
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// AsCredentialsError returns the CredentialsError err wraps, if any.
func AsCredentialsError(err error) (*CredentialsError, bool) {
	var ce *CredentialsError
	ok := errors.As(err, &ce)
	return ce, ok
}
