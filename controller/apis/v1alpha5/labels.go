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
	// The other labels Karpenter's AWS provider gives a node from DescribeInstanceTypes; a type
	// lacking the fact (no GPU, no instance store) lacks the label.
	LabelInstanceHypervisor                   = "karpenter.k8s.aws/instance-hypervisor"                      // nitro or xen
	LabelInstanceEncryptionInTransitSupported = "karpenter.k8s.aws/instance-encryption-in-transit-supported" // true or false
	LabelInstanceLocalNVME                    = "karpenter.k8s.aws/instance-local-nvme"                      // instance store GB
	LabelInstanceNetworkBandwidth             = "karpenter.k8s.aws/instance-network-bandwidth"               // baseline Mbps
	LabelInstanceEBSBandwidth                 = "karpenter.k8s.aws/instance-ebs-bandwidth"                   // maximum Mbps
	LabelInstancePods                         = "karpenter.k8s.aws/instance-pods"                            // the node's pod capacity
	LabelInstanceCPUManufacturer              = "karpenter.k8s.aws/instance-cpu-manufacturer"                // intel, amd, aws
	LabelInstanceGPUName                      = "karpenter.k8s.aws/instance-gpu-name"                        // e.g. a10g
	LabelInstanceGPUManufacturer              = "karpenter.k8s.aws/instance-gpu-manufacturer"                // e.g. nvidia
	LabelInstanceGPUMemory                    = "karpenter.k8s.aws/instance-gpu-memory"                      // MiB per GPU
	LabelInstanceAcceleratorName              = "karpenter.k8s.aws/instance-accelerator-name"                // e.g. inferentia
	LabelInstanceAcceleratorManufacturer      = "karpenter.k8s.aws/instance-accelerator-manufacturer"        // e.g. aws
	LabelInstanceAcceleratorCount             = "karpenter.k8s.aws/instance-accelerator-count"

	// Kubernetes well-known labels (https://kubernetes.io/docs/reference/labels-annotations-taints/).
	LabelInstanceType = "node.kubernetes.io/instance-type"
	LabelZone         = "topology.kubernetes.io/zone"
	LabelRegion       = "topology.kubernetes.io/region"
	LabelArch         = "kubernetes.io/arch"
	LabelOS           = "kubernetes.io/os"
	LabelHostname     = "kubernetes.io/hostname"

	// The deprecated keys of the same labels, which kubelets (os, arch, instance type) and the
	// AWS cloud provider (zone, region) still set on every node beside the GA keys above, and
	// which older manifests still select on (see LegacyLabels).
	LabelArchBeta         = "beta.kubernetes.io/arch"
	LabelOSBeta           = "beta.kubernetes.io/os"
	LabelInstanceTypeBeta = "beta.kubernetes.io/instance-type"
	LabelZoneBeta         = "failure-domain.beta.kubernetes.io/zone"
	LabelRegionBeta       = "failure-domain.beta.kubernetes.io/region"

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
	// AnnotationTerminationTimestamp on a node (RFC 3339) ends its drain at that time, before
	// its termination grace period would: pods still on it are then deleted and not waited on,
	// and its instance is terminated (Karpenter v1's karpenter.sh/nodeclaim-termination-timestamp).
	// Node repair sets it to the time of the deletion, so that a node whose kubelet is dead is
	// not drained through evictions that no kubelet confirms.
	AnnotationTerminationTimestamp = Group + "/termination-timestamp"

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
	// TagNodeClaim names an instance's NodeClaim (v1.TagNodeClaim).
	TagNodeClaim = Group + "/nodeclaim"
	// TagClusterOwnedPrefix starts the kubernetes.io/cluster/<cluster name> tag that marks
	// resources of a Kubernetes cluster for its cloud controller; a Provisioner's tags may not
	// set it (ReservedTagKeys).
	TagClusterOwnedPrefix = "kubernetes.io/cluster/"
)

// WellKnownLabels are the label keys the scheduler understands on every provisioner without
// the provisioner declaring them.
var WellKnownLabels = []string{
	LabelProvisionerName, LabelCapacityType, LabelInstanceType, LabelZone, LabelArch, LabelOS,
	LabelInstanceFamily, LabelInstanceSize, LabelInstanceCPU, LabelInstanceMemory,
	LabelInstanceGPUCount, LabelInstanceCategory, LabelInstanceGen, LabelRegion,
	LabelInstanceHypervisor, LabelInstanceEncryptionInTransitSupported, LabelInstanceLocalNVME,
	LabelInstanceNetworkBandwidth, LabelInstanceEBSBandwidth, LabelInstancePods, LabelInstanceCPUManufacturer,
	LabelInstanceGPUName, LabelInstanceGPUManufacturer, LabelInstanceGPUMemory,
	LabelInstanceAcceleratorName, LabelInstanceAcceleratorManufacturer, LabelInstanceAcceleratorCount,
}

// LegacyLabels maps each deprecated node label key to the GA key a node carries with the same
// value (a kubelet sets beta.kubernetes.io/os and kubernetes.io/os alike, the AWS cloud provider
// failure-domain.beta.kubernetes.io/zone and topology.kubernetes.io/zone alike). The scheduler
// reads a legacy key wherever it reads label keys (pods' node selectors, node affinity and
// topology keys, a Provisioner's requirements and labels, node labels) as its GA key, so that a
// pod selecting beta.kubernetes.io/os: linux is planned as kube-scheduler would bind it.
var LegacyLabels = map[string]string{
	LabelArchBeta:         LabelArch,
	LabelOSBeta:           LabelOS,
	LabelInstanceTypeBeta: LabelInstanceType,
	LabelZoneBeta:         LabelZone,
	LabelRegionBeta:       LabelRegion,
}

// NormalizeLabelKey returns the GA key of a legacy label key (LegacyLabels), any other key as
// it is.
func NormalizeLabelKey(key string) string {
	if ga, ok := LegacyLabels[key]; ok {
		return ga
	}
	return key
}
