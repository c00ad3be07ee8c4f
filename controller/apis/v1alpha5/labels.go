package v1alpha5

// Well-known label keys, annotations and the finalizer. Users and tools rely on these names.
const (
	Group = "karpenter.sh"

	// LabelProvisionerName is set on every node the controller launches: the Provisioner's name.
	LabelProvisionerName = Group + "/provisioner-name"
	// LabelCapacityType is "spot" or "on-demand".
	LabelCapacityType = Group + "/capacity-type"

	CapacityTypeSpot     = "spot"
	CapacityTypeOnDemand = "on-demand"

	// AWS-specific instance labels (karpenter.k8s.aws/*).
	LabelInstanceFamily   = "karpenter.k8s.aws/instance-family"
	LabelInstanceSize     = "karpenter.k8s.aws/instance-size"
	LabelInstanceCPU      = "karpenter.k8s.aws/instance-cpu"
	LabelInstanceMemory   = "karpenter.k8s.aws/instance-memory" // MiB
	LabelInstanceGPUCount = "karpenter.k8s.aws/instance-gpu-count"
	LabelInstanceCategory = "karpenter.k8s.aws/instance-category"
	LabelInstanceGen      = "karpenter.k8s.aws/instance-generation"

	// Kubernetes well-known labels (https://kubernetes.io/docs/reference/labels-annotations-taints/).
	LabelInstanceType = "node.kubernetes.io/instance-type"
	LabelZone         = "topology.kubernetes.io/zone"
	LabelRegion       = "topology.kubernetes.io/region"
	LabelArch         = "kubernetes.io/arch"
	LabelOS           = "kubernetes.io/os"
	LabelHostname     = "kubernetes.io/hostname"

	// AnnotationEmptinessTimestamp is set (RFC 3339) on a node when it has no non-daemonset,
	// non-terminal pods, and removed when such pods return.
	AnnotationEmptinessTimestamp = Group + "/emptiness-timestamp"
	// AnnotationDoNotEvict on a pod blocks voluntary deprovisioning of its node.
	AnnotationDoNotEvict = Group + "/do-not-evict"

	// AnnotationTerminationGracePeriod on a node carries its provisioner's terminationGracePeriod
	// (a Go duration), copied by the termination controller while the node lives so that the
	// node drains within it even after its Provisioner is gone (terraform destroy removes
	// Provisioners before the nodes).
	AnnotationTerminationGracePeriod = Group + "/termination-grace-period"

	// TerminationFinalizer is put on every launched node; the termination controller cordons,
	// drains, terminates the instance and then removes it.
	TerminationFinalizer = Group + "/termination"

	// DiscoveryTagKey tags subnets and security groups (value: cluster name) for discovery.
	DiscoveryTagKey = Group + "/discovery"

	// TagCluster / TagProvisionerName / TagNodeName tag every launched instance and template.
	TagCluster         = "karpenter.sh/cluster"
	TagProvisionerName = LabelProvisionerName
	TagName            = "Name"
	// TagManagedBy is "karpenter" on every EC2 resource the controller creates.
	TagManagedBy = "karpenter.sh/managed-by"
)

// WellKnownLabels are the label keys the scheduler understands on every provisioner without
// the provisioner declaring them.
var WellKnownLabels = []string{
	LabelProvisionerName, LabelCapacityType, LabelInstanceType, LabelZone, LabelArch, LabelOS,
	LabelInstanceFamily, LabelInstanceSize, LabelInstanceCPU, LabelInstanceMemory,
	LabelInstanceGPUCount, LabelInstanceCategory, LabelInstanceGen,
}
