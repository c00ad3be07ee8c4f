package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// NodeClaim is the durable record of one node launch: the provisioner writes it before any
// cloud call, the cloud provider launches at most one instance for it (the CreateFleet client
// token derives from its UID; the instance is tagged karpenter.sh/nodeclaim=<name>), and the
// Node that registers with the instance's provider ID takes its labels, taints and finalizer
// from it. In-flight capacity and provisioner usage are rebuilt from NodeClaims after a restart.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=nodeclaims,scope=Cluster,categories=karpenter
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=".metadata.labels.node\\.kubernetes\\.io/instance-type"
// +kubebuilder:printcolumn:name="Zone",type=string,JSONPath=".metadata.labels.topology\\.kubernetes\\.io/zone"
// +kubebuilder:printcolumn:name="Capacity",type=string,JSONPath=".metadata.labels.karpenter\\.sh/capacity-type"
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=".status.nodeName"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type==\"Initialized\")].status"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="ProviderID",type=string,JSONPath=".status.providerID",priority=1
// +kubebuilder:printcolumn:name="Provisioner",type=string,JSONPath=".metadata.labels.karpenter\\.sh/provisioner-name",priority=1
type NodeClaim struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NodeClaimSpec   `json:"spec,omitempty"`
	Status NodeClaimStatus `json:"status,omitempty"`
}

// NodeClaimList is a list of NodeClaims.
//
// +kubebuilder:object:root=true
type NodeClaimList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeClaim `json:"items"`
}

// NodeClaimSpec is what the node must be. It is written once, at creation.
//
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
type NodeClaimSpec struct {
	// Requirements the launched instance must satisfy: the solver's requirements of the node
	// (zone, capacity type, arch, ...) and an In requirement on node.kubernetes.io/instance-type
	// listing the chosen instance type options, cheapest first.
	// +kubebuilder:validation:MaxItems=100
	Requirements []v1alpha5.NodeSelectorRequirement `json:"requirements"`

	// Resources are the summed requests of the pods the node was planned for.
	// +optional
	Resources ResourceRequirements `json:"resources,omitempty"`

	// Taints the node keeps after startup (the provisioner's taints).
	// +optional
	Taints []corev1.Taint `json:"taints,omitempty"`

	// StartupTaints the node registers with and another agent removes.
	// +optional
	StartupTaints []corev1.Taint `json:"startupTaints,omitempty"`

	// ProvisionerName is the Provisioner that planned the node (also the label
	// karpenter.sh/provisioner-name and an owner reference).
	// +kubebuilder:validation:MinLength=1
	ProvisionerName string `json:"provisionerName"`
}

// ResourceRequirements holds the requests the node was planned for.
type ResourceRequirements struct {
	// Requests are the summed resource requests of the planned pods (and daemonsets), e.g.
	// cpu: 3500m, memory: 6Gi, pods: 12.
	// +optional
	Requests corev1.ResourceList `json:"requests,omitempty"`
}

// NodeClaimStatus is what the cloud and the cluster report about the claim.
type NodeClaimStatus struct {
	// ProviderID of the launched instance, aws:///<zone>/<instance-id>.
	// +optional
	ProviderID string `json:"providerID,omitempty"`
	// NodeName is the name of the Node that registered for the instance.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// ImageID is the AMI the instance runs.
	// +optional
	ImageID string `json:"imageID,omitempty"`
	// Capacity of the instance type (cpu, memory, pods, ...).
	// +optional
	Capacity corev1.ResourceList `json:"capacity,omitempty"`
	// Allocatable is Capacity minus the kubelet's reservations and eviction threshold.
	// +optional
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
	// Conditions: Launched, Registered, Initialized, Drifted (reserved), Terminating.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Condition types of a NodeClaim.
const (
	// ConditionLaunched is True once the instance exists (status.providerID is set).
	ConditionLaunched = "Launched"
	// ConditionRegistered is True once a Node with the claim's provider ID has taken the
	// claim's labels, taints, owner reference and finalizer.
	ConditionRegistered = "Registered"
	// ConditionInitialized is True once the registered Node is Ready.
	ConditionInitialized = "Initialized"
	// ConditionDrifted is reserved for drift detection.
	ConditionDrifted = "Drifted"
	// ConditionTerminating is True once the claim or its Node is being removed.
	ConditionTerminating = "Terminating"
)

// TagNodeClaim is the EC2 tag naming an instance's NodeClaim: the cloud provider finds the
// instance of a claim by it after a restart, and garbage collection terminates an instance
// whose claim is gone.
const TagNodeClaim = v1alpha5.TagNodeClaim

// IsTrue reports whether the claim's condition of type t has status True.
func (c *NodeClaim) IsTrue(t string) bool {
	return meta.IsStatusConditionTrue(c.Status.Conditions, t)
}

// SetCondition sets the claim's condition t to status with reason and message, stamping the
// claim's generation (meta.SetStatusCondition keeps the transition time when status is unchanged).
// It reports whether anything changed.
func (c *NodeClaim) SetCondition(t string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{
		Type: t, Status: status, Reason: reason, Message: message, ObservedGeneration: c.Generation})
}
