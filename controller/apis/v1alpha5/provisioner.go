package v1alpha5

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Provisioner describes the nodes the controller may launch for pending pods and when it removes
// them again.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=provisioners,scope=Cluster,categories=karpenter
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="TTL-Empty",type=integer,JSONPath=".spec.ttlSecondsAfterEmpty"
// +kubebuilder:printcolumn:name="CPU",type=string,JSONPath=".status.resources.cpu"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
type Provisioner struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ProvisionerSpec   `json:"spec,omitempty"`
	Status ProvisionerStatus `json:"status,omitempty"`
}

// ProvisionerList is a list of Provisioners.
//
// +kubebuilder:object:root=true
type ProvisionerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Provisioner `json:"items"`
}

// ProvisionerSpec is the desired shape of the nodes a Provisioner launches.
//
// +kubebuilder:validation:XValidation:rule="!has(self.taints) || !has(self.startupTaints) || !self.startupTaints.exists(s, self.taints.exists(t, t.key == s.key && t.effect == s.effect))",message="each taint key and effect may be given once across taints and startupTaints",fieldPath=".startupTaints"
// +kubebuilder:validation:XValidation:rule="!has(self.provider) || !has(self.providerRef)",message="provider and providerRef are mutually exclusive",fieldPath=".providerRef",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.ttlSecondsAfterEmpty) || !has(self.consolidation) || !has(self.consolidation.enabled) || !self.consolidation.enabled",message="consolidation.enabled and ttlSecondsAfterEmpty are mutually exclusive: consolidation removes empty nodes itself",fieldPath=".ttlSecondsAfterEmpty",reason=FieldValueForbidden
type ProvisionerSpec struct {
	// Annotations are applied to every node launched by this provisioner. Keys must be
	// qualified names, as the API server requires of any object's annotations.
	// +optional
	// +kubebuilder:validation:MaxProperties=100
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="annotation keys must be qualified names: an optional DNS subdomain prefix and '/', then 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric",messageExpression=`'"' + self.filter(k, format.qualifiedName().validate(k).hasValue())[0] + '": annotation keys must be qualified names: an optional DNS subdomain prefix and \'/\', then 1-63 alphanumerics, \'-\', \'_\' or \'.\', starting and ending alphanumeric'`
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels are applied to every node launched by this provisioner and passed to its kubelet
	// (--node-labels). Keys must be qualified names. Keys in the kubernetes.io and k8s.io
	// domains (and their subdomains) are allowed only where a kubelet may set them itself
	// (k8s.io/kubelet IsKubeletLabel: node.kubernetes.io/*, kubelet.kubernetes.io/* and the
	// well-known topology, instance-type, os and arch labels; kubernetes.io/hostname is per
	// node); in the karpenter.sh domain only karpenter.sh/capacity-type; none in the
	// karpenter.k8s.aws domain (the controller sets those from the instance type; requirements
	// on them choose instance types). See ValidateLabelKey.
	// An error names the refused key (the first one, when several are refused): the API
	// server's field path cannot.
	// +optional
	// +kubebuilder:validation:MaxProperties=100
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="label keys must be qualified names: an optional DNS subdomain prefix and '/', then 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric",messageExpression=`'"' + self.filter(k, format.qualifiedName().validate(k).hasValue())[0] + '": label keys must be qualified names: an optional DNS subdomain prefix and \'/\', then 1-63 alphanumerics, \'-\', \'_\' or \'.\', starting and ending alphanumeric'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.matches('^([^/]+[.])?(kubernetes[.]io|k8s[.]io)/') || k in ['beta.kubernetes.io/arch', 'beta.kubernetes.io/instance-type', 'beta.kubernetes.io/os', 'failure-domain.beta.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/zone', 'kubernetes.io/arch', 'kubernetes.io/os', 'node.kubernetes.io/instance-type', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone'] || k.matches('^([^/]+[.])?(kubelet|node)[.]kubernetes[.]io/'))",message="restricted label domain: in kubernetes.io and k8s.io only the labels a kubelet may set are allowed (node.kubernetes.io/*, kubelet.kubernetes.io/*, topology, instance-type, os and arch); node-role.kubernetes.io and kubernetes.io/hostname are refused",messageExpression=`'"' + self.filter(k, k.matches('^([^/]+[.])?(kubernetes[.]io|k8s[.]io)/') && !(k in ['beta.kubernetes.io/arch', 'beta.kubernetes.io/instance-type', 'beta.kubernetes.io/os', 'failure-domain.beta.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/zone', 'kubernetes.io/arch', 'kubernetes.io/os', 'node.kubernetes.io/instance-type', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone']) && !k.matches('^([^/]+[.])?(kubelet|node)[.]kubernetes[.]io/'))[0] + '": restricted label domain: in kubernetes.io and k8s.io only the labels a kubelet may set are allowed (node.kubernetes.io/*, kubelet.kubernetes.io/*, topology, instance-type, os and arch); node-role.kubernetes.io and kubernetes.io/hostname are refused'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.matches('^([^/]+[.])?karpenter[.]sh/') || k == 'karpenter.sh/capacity-type')",message="restricted label domain: karpenter.sh labels are set by the controller; only karpenter.sh/capacity-type may be given",messageExpression=`'"' + self.filter(k, k.matches('^([^/]+[.])?karpenter[.]sh/') && k != 'karpenter.sh/capacity-type')[0] + '": restricted label domain: karpenter.sh labels are set by the controller; only karpenter.sh/capacity-type may be given'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.matches('^([^/]+[.])?karpenter[.]k8s[.]aws/'))",message="restricted label domain: karpenter.k8s.aws labels are set by the controller from the instance type; use a requirement to choose instance types",messageExpression=`'"' + self.filter(k, k.matches('^([^/]+[.])?karpenter[.]k8s[.]aws/'))[0] + '": restricted label domain: karpenter.k8s.aws labels are set by the controller from the instance type; use a requirement to choose instance types'`
	Labels map[string]string `json:"labels,omitempty"`

	// Taints are applied to every node launched by this provisioner; pods must tolerate them.
	// Keys must be qualified names, values label values and effects NoSchedule,
	// PreferNoSchedule or NoExecute, as the API server requires of a Node; the CRD checks all
	// three (corev1.Taint takes no markers: hack/crdpatch adds the bounds, pattern, effect enum
	// and CEL rule after controller-gen). Each key and effect pair may appear once, also
	// across startupTaints, as on a Node: within the list the API server refuses a duplicate
	// itself (a list of type map keyed by key and effect), across the two lists a CEL rule on
	// the spec does; ValidateTaints checks the same before the controller launches.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	// +listType=map
	// +listMapKey=key
	// +listMapKey=effect
	Taints []corev1.Taint `json:"taints,omitempty"`

	// StartupTaints are applied at launch and expected to be removed by another agent; pods need
	// not tolerate them. Same rules as taints.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	// +listType=map
	// +listMapKey=key
	// +listMapKey=effect
	StartupTaints []corev1.Taint `json:"startupTaints,omitempty"`

	// Requirements constrain the launched nodes' labels (instance type, zone, capacity type,
	// architecture, ...). Pods' node selectors and required node affinity narrow them further.
	// +optional
	// +kubebuilder:validation:MaxItems=50
	Requirements []NodeSelectorRequirement `json:"requirements,omitempty"`

	// KubeletConfiguration tunes the kubelet of launched nodes.
	// +optional
	KubeletConfiguration *KubeletConfiguration `json:"kubeletConfiguration,omitempty"`

	// Provider holds inline AWS settings (subnets, security groups, instance profile, tags, AMI).
	// +optional
	Provider *AWS `json:"provider,omitempty"`

	// ProviderRef names an AWSNodeTemplate instead of inline provider settings. It is kept and
	// read back, but this controller has no AWSNodeTemplate: a Provisioner with it launches
	// with the controller's defaults (subnets and security groups tagged for discovery).
	// +optional
	ProviderRef *ProviderRef `json:"providerRef,omitempty"`

	// TTLSecondsAfterEmpty is the number of seconds a node may stay empty (no non-daemonset,
	// non-terminal pods) before it is deleted; 0 to MaxTTLSeconds (100 years, so that seconds
	// times 10^9 ns never overflows a 64-bit duration). Unset means never.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3153600000
	TTLSecondsAfterEmpty *int64 `json:"ttlSecondsAfterEmpty,omitempty"`

	// TTLSecondsUntilExpired is the number of seconds after launch at which a node is deleted
	// (drained and replaced as needed); 0 to MaxTTLSeconds. Unset means never.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3153600000
	TTLSecondsUntilExpired *int64 `json:"ttlSecondsUntilExpired,omitempty"`

	// TerminationGracePeriod is how long a node being deleted may take to drain, as in
	// Karpenter v1's NodePool spec.template.spec.terminationGracePeriod: once it has passed
	// since the node's deletion, pods still on the node (blocked by a PodDisruptionBudget,
	// karpenter.sh/do-not-evict or a kubelet that does not answer) are deleted and the instance
	// is terminated. Hours, minutes and seconds in that order (e.g. 48h, 1h30m, 90s;
	// TerminationGracePeriodPattern), at most 876000h (100 years). Unset means drain waits for
	// evictions for ever. The CEL rule evaluates only values the pattern accepts, so a value
	// such as 2d gets the pattern's error alone, never a CEL conversion error.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]{1,6}h)?([0-9]{1,7}m)?([0-9]{1,9}s)?$`
	// +kubebuilder:validation:XValidation:rule="size(self) == 0 || !self.matches('^([0-9]{1,6}h)?([0-9]{1,7}m)?([0-9]{1,9}s)?$') || duration(self) <= duration('876000h')",message="terminationGracePeriod must be at most 876000h (100 years)"
	TerminationGracePeriod *metav1.Duration `json:"terminationGracePeriod,omitempty"`

	// Limits cap the total resources of the nodes this provisioner has launched.
	// +optional
	Limits *Limits `json:"limits,omitempty"`

	// Weight orders provisioners: higher weight is tried first. 0-100.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight *int32 `json:"weight,omitempty"`

	// Consolidation settings (reserved for the consolidating deprovisioner).
	// +optional
	Consolidation *Consolidation `json:"consolidation,omitempty"`
}

// NodeSelectorRequirement is a label key, an operator and values, with the same JSON shape as
// Kubernetes' core/v1 NodeSelectorRequirement, validated more strictly.
//
// +kubebuilder:validation:XValidation:rule="self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : true",message="operators In and NotIn need at least one value",fieldPath=".values",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.operator in ['Exists', 'DoesNotExist'] ? (!has(self.values) || size(self.values) == 0) : true",message="operators Exists and DoesNotExist take no values",fieldPath=".values",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.operator in ['Gt', 'Lt'] ? (has(self.values) && size(self.values) == 1 && self.values[0].matches('^(-?0*([0-9]{1,18}|[0-8][0-9]{18}|9[0-1][0-9]{17}|92[0-1][0-9]{16}|922[0-2][0-9]{15}|9223[0-2][0-9]{14}|92233[0-6][0-9]{13}|922337[0-1][0-9]{12}|92233720[0-2][0-9]{10}|922337203[0-5][0-9]{9}|9223372036[0-7][0-9]{8}|92233720368[0-4][0-9]{7}|922337203685[0-3][0-9]{6}|9223372036854[0-6][0-9]{5}|92233720368547[0-6][0-9]{4}|922337203685477[0-4][0-9]{3}|9223372036854775[0-7][0-9]{2}|922337203685477580[0-6]|9223372036854775807)|-0*9223372036854775808)$')) : true",message="operators Gt and Lt need exactly one integer value, from -9223372036854775808 to 9223372036854775807 (64 bits)",fieldPath=".values"
// +kubebuilder:validation:XValidation:rule="self.key == 'karpenter.sh/capacity-type' && has(self.values) ? self.values.all(v, v in ['spot', 'on-demand']) : true",message="karpenter.sh/capacity-type values must be spot or on-demand",messageExpression=`'"' + self.values.filter(v, !(v in ['spot', 'on-demand']))[0] + '": karpenter.sh/capacity-type values must be spot or on-demand'`,fieldPath=".values"
// +kubebuilder:validation:XValidation:rule="!format.qualifiedName().validate(self.key).hasValue()",message="key must be a qualified name: an optional DNS subdomain prefix and '/', then 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric",fieldPath=".key"
// +kubebuilder:validation:XValidation:rule="!self.key.matches('^([^/]+[.])?(kubernetes[.]io|k8s[.]io)/') || self.key in ['beta.kubernetes.io/arch', 'beta.kubernetes.io/instance-type', 'beta.kubernetes.io/os', 'failure-domain.beta.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/zone', 'kubernetes.io/arch', 'kubernetes.io/os', 'node.kubernetes.io/instance-type', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone'] || self.key.matches('^([^/]+[.])?(kubelet|node)[.]kubernetes[.]io/')",message="restricted label domain: in kubernetes.io and k8s.io only the labels a kubelet may set are allowed (node.kubernetes.io/*, kubelet.kubernetes.io/*, topology, instance-type, os and arch); node-role.kubernetes.io and kubernetes.io/hostname are refused",fieldPath=".key"
// +kubebuilder:validation:XValidation:rule="!self.key.matches('^([^/]+[.])?karpenter[.]sh/') || self.key in ['karpenter.sh/capacity-type', 'karpenter.sh/provisioner-name']",message="restricted label domain: in karpenter.sh only karpenter.sh/capacity-type and karpenter.sh/provisioner-name may be required",fieldPath=".key"
type NodeSelectorRequirement struct {
	// Key is the label key, e.g. karpenter.sh/capacity-type or node.kubernetes.io/instance-type.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	Key string `json:"key"`
	// Operator is one of In, NotIn, Exists, DoesNotExist, Gt, Lt.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist;Gt;Lt
	Operator corev1.NodeSelectorOperator `json:"operator"`
	// Values for In/NotIn (one or more) and Gt/Lt (exactly one integer).
	// +optional
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=63
	Values []string `json:"values,omitempty"`
}

// KubeletConfiguration is the subset of kubelet settings a provisioner can set, as Karpenter
// v0.31's v1alpha5 had them. Each is passed to the kubelet of launched nodes by the bootstrap
// user data, and maxPods, podsPerCore, systemReserved, kubeReserved and evictionHard change the
// allocatable the solver packs against (see the kubelet's node allocatable:
// https://kubernetes.io/docs/tasks/administer-cluster/reserve-compute-resources/).
//
// +kubebuilder:validation:XValidation:rule="!has(self.imageGCHighThresholdPercent) || !has(self.imageGCLowThresholdPercent) || self.imageGCHighThresholdPercent > self.imageGCLowThresholdPercent",message="imageGCHighThresholdPercent must be greater than imageGCLowThresholdPercent",fieldPath=".imageGCHighThresholdPercent"
// +kubebuilder:validation:XValidation:rule="(has(self.evictionSoft) ? self.evictionSoft : {}).all(k, has(self.evictionSoftGracePeriod) && k in self.evictionSoftGracePeriod)",message="every evictionSoft signal needs an evictionSoftGracePeriod",messageExpression=`'"' + (has(self.evictionSoft) ? self.evictionSoft : {}).filter(k, !has(self.evictionSoftGracePeriod) || !(k in self.evictionSoftGracePeriod))[0] + '": every evictionSoft signal needs an evictionSoftGracePeriod'`,fieldPath=".evictionSoft"
// +kubebuilder:validation:XValidation:rule="(has(self.evictionSoftGracePeriod) ? self.evictionSoftGracePeriod : {}).all(k, has(self.evictionSoft) && k in self.evictionSoft)",message="every evictionSoftGracePeriod signal needs an evictionSoft threshold",messageExpression=`'"' + (has(self.evictionSoftGracePeriod) ? self.evictionSoftGracePeriod : {}).filter(k, !has(self.evictionSoft) || !(k in self.evictionSoft))[0] + '": every evictionSoftGracePeriod signal needs an evictionSoft threshold'`,fieldPath=".evictionSoftGracePeriod"
type KubeletConfiguration struct {
	// ClusterDNS overrides the kubelet's cluster DNS server IPs (--cluster-dns): IPv4 or IPv6
	// addresses (without a zone, not IPv4-mapped; ValidateClusterDNS).
	// +optional
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:items:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="self.all(ip, isIP(ip))",message="clusterDNS entries must be IPv4 or IPv6 addresses",messageExpression=`'"' + self.filter(ip, !isIP(ip))[0] + '": clusterDNS entries must be IPv4 or IPv6 addresses'`
	ClusterDNS []string `json:"clusterDNS,omitempty"`
	// ContainerRuntime is containerd (default) or dockerd (AL2 bootstrap --container-runtime).
	// +optional
	// +kubebuilder:validation:Enum=containerd;dockerd
	ContainerRuntime *string `json:"containerRuntime,omitempty"`
	// MaxPods caps pods per node (--max-pods); default is the ENI-based limit of the instance
	// type.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=2147483647
	MaxPods *int32 `json:"maxPods,omitempty"`
	// PodsPerCore caps pods per node at this many per vCPU (--pods-per-core); the smaller of
	// it and maxPods wins. 0 means no per-core cap. Bottlerocket has no such setting: its
	// launch templates set settings.kubernetes.max-pods per instance type to the same bound.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	PodsPerCore *int32 `json:"podsPerCore,omitempty"`
	// SystemReserved is reserved for system daemons (--system-reserved): cpu, memory,
	// ephemeral-storage or pid, each a non-negative quantity.
	// +optional
	// +kubebuilder:validation:MaxProperties=4
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['cpu', 'memory', 'ephemeral-storage', 'pid'])",message="systemReserved keys must be cpu, memory, ephemeral-storage or pid",messageExpression=`'"' + self.filter(k, !(k in ['cpu', 'memory', 'ephemeral-storage', 'pid']))[0] + '": systemReserved keys must be cpu, memory, ephemeral-storage or pid'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].matches('^[0-9]+([.][0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$'))",message="reserved amounts must be non-negative quantities such as 100m or 1Gi",messageExpression=`'"' + self.filter(k, !self[k].matches('^[0-9]+([.][0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$'))[0] + '": reserved amounts must be non-negative quantities such as 100m or 1Gi'`
	SystemReserved map[string]KubeletValue `json:"systemReserved,omitempty"`
	// KubeReserved is reserved for Kubernetes daemons (--kube-reserved): as systemReserved.
	// Unset, the EKS AL2 bootstrap's defaults apply (cpu tiers, 11 MiB per pod + 255 MiB).
	// +optional
	// +kubebuilder:validation:MaxProperties=4
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['cpu', 'memory', 'ephemeral-storage', 'pid'])",message="kubeReserved keys must be cpu, memory, ephemeral-storage or pid",messageExpression=`'"' + self.filter(k, !(k in ['cpu', 'memory', 'ephemeral-storage', 'pid']))[0] + '": kubeReserved keys must be cpu, memory, ephemeral-storage or pid'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].matches('^[0-9]+([.][0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$'))",message="reserved amounts must be non-negative quantities such as 100m or 1Gi",messageExpression=`'"' + self.filter(k, !self[k].matches('^[0-9]+([.][0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$'))[0] + '": reserved amounts must be non-negative quantities such as 100m or 1Gi'`
	KubeReserved map[string]KubeletValue `json:"kubeReserved,omitempty"`
	// EvictionHard are the hard eviction thresholds (--eviction-hard): signal to a quantity
	// or a percentage (e.g. memory.available: 100Mi, nodefs.available: 10%).
	// +optional
	// +kubebuilder:validation:MaxProperties=6
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available'])",message="eviction signals must be memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree or pid.available",messageExpression=`'"' + self.filter(k, !(k in ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available']))[0] + '": eviction signals must be memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree or pid.available'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].matches('^(([0-9]{1,2}([.][0-9]{1,2})?|100([.]0{1,2})?)%|[0-9]+([.][0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?)$'))",message="eviction thresholds must be a percentage (0-100%) or a non-negative quantity",messageExpression=`'"' + self.filter(k, !self[k].matches('^(([0-9]{1,2}([.][0-9]{1,2})?|100([.]0{1,2})?)%|[0-9]+([.][0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?)$'))[0] + '": eviction thresholds must be a percentage (0-100%) or a non-negative quantity'`
	EvictionHard map[string]KubeletValue `json:"evictionHard,omitempty"`
	// EvictionSoft are the soft eviction thresholds (--eviction-soft), as evictionHard; each
	// needs an evictionSoftGracePeriod.
	// +optional
	// +kubebuilder:validation:MaxProperties=6
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available'])",message="eviction signals must be memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree or pid.available",messageExpression=`'"' + self.filter(k, !(k in ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available']))[0] + '": eviction signals must be memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree or pid.available'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].matches('^(([0-9]{1,2}([.][0-9]{1,2})?|100([.]0{1,2})?)%|[0-9]+([.][0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?)$'))",message="eviction thresholds must be a percentage (0-100%) or a non-negative quantity",messageExpression=`'"' + self.filter(k, !self[k].matches('^(([0-9]{1,2}([.][0-9]{1,2})?|100([.]0{1,2})?)%|[0-9]+([.][0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?)$'))[0] + '": eviction thresholds must be a percentage (0-100%) or a non-negative quantity'`
	EvictionSoft map[string]KubeletValue `json:"evictionSoft,omitempty"`
	// EvictionSoftGracePeriod is how long each soft threshold must hold before pods are
	// evicted (--eviction-soft-grace-period): signal to a duration such as 1m30s.
	// +optional
	// +kubebuilder:validation:MaxProperties=6
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available'])",message="eviction signals must be memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree or pid.available",messageExpression=`'"' + self.filter(k, !(k in ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available']))[0] + '": eviction signals must be memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree or pid.available'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].matches('^([0-9]+(s|m|h))+$'))",message="grace periods must be hours, minutes and seconds such as 1m30s",messageExpression=`'"' + self.filter(k, !self[k].matches('^([0-9]+(s|m|h))+$'))[0] + '": grace periods must be hours, minutes and seconds such as 1m30s'`
	EvictionSoftGracePeriod map[string]KubeletValue `json:"evictionSoftGracePeriod,omitempty"`
	// EvictionMaxPodGracePeriod is the longest termination grace period (seconds) granted to
	// pods evicted on a soft threshold (--eviction-max-pod-grace-period).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=2147483647
	EvictionMaxPodGracePeriod *int32 `json:"evictionMaxPodGracePeriod,omitempty"`
	// ImageGCHighThresholdPercent is the disk usage (percent) above which image garbage
	// collection always runs (--image-gc-high-threshold); 0-100, above the low threshold.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	ImageGCHighThresholdPercent *int32 `json:"imageGCHighThresholdPercent,omitempty"`
	// ImageGCLowThresholdPercent is the disk usage (percent) image garbage collection frees down
	// to (--image-gc-low-threshold); 0-100.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	ImageGCLowThresholdPercent *int32 `json:"imageGCLowThresholdPercent,omitempty"`
	// CPUCFSQuota enforces CPU limits with CFS quota (--cpu-cfs-quota); default true.
	// +optional
	CPUCFSQuota *bool `json:"cpuCFSQuota,omitempty"`
}

// KubeletValue is a value of one of the kubelet configuration's maps: a quantity, a percentage
// or a duration. Its bounded length keeps the CRD's CEL rules on these maps within the API
// server's cost budget.
// +kubebuilder:validation:MaxLength=64
type KubeletValue string

// AWS is the inline AWS provider configuration of a Provisioner, as Karpenter v0.31's
// v1alpha5 Provisioner had it under spec.provider.
//
// +kubebuilder:validation:XValidation:rule="!has(self.launchTemplate) || !has(self.blockDeviceMappings)",message="launchTemplate and blockDeviceMappings are mutually exclusive: the named launch template carries its own block device mappings",fieldPath=".blockDeviceMappings",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.launchTemplate) || !has(self.metadataOptions)",message="launchTemplate and metadataOptions are mutually exclusive: the named launch template carries its own metadata options",fieldPath=".metadataOptions",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.launchTemplate) || !has(self.userData)",message="launchTemplate and userData are mutually exclusive: the named launch template carries its own user data",fieldPath=".userData",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.launchTemplate) || !has(self.detailedMonitoring)",message="launchTemplate and detailedMonitoring are mutually exclusive: the named launch template sets monitoring itself",fieldPath=".detailedMonitoring",reason=FieldValueForbidden
type AWS struct {
	// SubnetSelector discovers subnets by tags (key: value; value "*" matches any value),
	// or by id with the key "aws-ids" and comma separated ids.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != '' && self[k] != '')",message="subnetSelector keys and values must not be empty",messageExpression=`'"' + self.filter(k, k == '' || self[k] == '')[0] + '": subnetSelector keys and values must not be empty'`
	SubnetSelector map[string]string `json:"subnetSelector"`
	// SecurityGroupSelector discovers security groups by tags, as SubnetSelector.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != '' && self[k] != '')",message="securityGroupSelector keys and values must not be empty",messageExpression=`'"' + self.filter(k, k == '' || self[k] == '')[0] + '": securityGroupSelector keys and values must not be empty'`
	SecurityGroupSelector map[string]string `json:"securityGroupSelector"`
	// InstanceProfile is the IAM instance profile name of launched nodes; defaults to the
	// controller's --default-instance-profile.
	// +optional
	// +kubebuilder:validation:MinLength=1
	InstanceProfile *string `json:"instanceProfile,omitempty"`
	// Tags are added to every launched instance, volume and launch template. At most 50 tags
	// (MaxTags), keys of 1 to 128 characters and values of at most 256 (EC2's limits; the
	// value bound is added by hack/crdpatch). Keys may not start with aws: (reserved by AWS),
	// be one the controller sets itself (karpenter.sh/cluster, karpenter.sh/managed-by,
	// karpenter.sh/nodeclaim, karpenter.sh/provisioner-name) or start with
	// kubernetes.io/cluster/ (ReservedTagKeys). An error names the refused key (the first one,
	// when several are refused).
	// +optional
	// +kubebuilder:validation:MaxProperties=50
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) >= 1 && size(k) <= 128)",message="tag keys must be 1 to 128 characters (EC2's limit)",messageExpression=`'"' + self.filter(k, size(k) < 1 || size(k) > 128)[0] + '": tag keys must be 1 to 128 characters (EC2\'s limit)'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.lowerAscii().startsWith('aws:'))",message="the aws: prefix of tag keys is reserved for AWS",messageExpression=`'"' + self.filter(k, k.lowerAscii().startsWith('aws:'))[0] + '": the aws: prefix of tag keys is reserved for AWS'`
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['karpenter.sh/cluster', 'karpenter.sh/managed-by', 'karpenter.sh/nodeclaim', 'karpenter.sh/provisioner-name']) && !k.startsWith('kubernetes.io/cluster/'))",message="reserved tag key: the controller sets karpenter.sh/cluster, karpenter.sh/managed-by, karpenter.sh/nodeclaim and karpenter.sh/provisioner-name itself, and kubernetes.io/cluster/* marks a cluster's resources",messageExpression=`'"' + self.filter(k, k in ['karpenter.sh/cluster', 'karpenter.sh/managed-by', 'karpenter.sh/nodeclaim', 'karpenter.sh/provisioner-name'] || k.startsWith('kubernetes.io/cluster/'))[0] + '": reserved tag key: the controller sets karpenter.sh/cluster, karpenter.sh/managed-by, karpenter.sh/nodeclaim and karpenter.sh/provisioner-name itself, and kubernetes.io/cluster/* marks a cluster\'s resources'`
	Tags map[string]string `json:"tags,omitempty"`
	// AMIFamily selects the AMI (the family's public SSM parameter, see AMIFamilies) and the
	// bootstrap format of the user data: AL2 (default; a MIME multi-part document whose last
	// part calls /etc/eks/bootstrap.sh), Bottlerocket (TOML settings) or Ubuntu (as AL2, on
	// Canonical's EKS AMI).
	// +optional
	// +kubebuilder:validation:Enum=AL2;Bottlerocket;Ubuntu
	AMIFamily *string `json:"amiFamily,omitempty"`
	// LaunchTemplate names an existing launch template to use instead of a generated one; it
	// carries its own AMI, user data, block device mappings and metadata options.
	// +optional
	// +kubebuilder:validation:MinLength=1
	LaunchTemplate *string `json:"launchTemplate,omitempty"`
	// BlockDeviceMappings are the volumes of launched instances, one per device name. Unset,
	// the AMI family's root volume is used (AL2: /dev/xvda, Ubuntu: /dev/sda1, 20Gi gp3;
	// Bottlerocket: /dev/xvda 4Gi for the OS and /dev/xvdb 20Gi for data; all encrypted).
	// +optional
	// +kubebuilder:validation:MaxItems=50
	// +listType=map
	// +listMapKey=deviceName
	BlockDeviceMappings []BlockDeviceMapping `json:"blockDeviceMappings,omitempty"`
	// MetadataOptions configure the instance metadata service of launched instances. Unset
	// fields default as Karpenter's: httpEndpoint enabled, httpProtocolIPv6 disabled,
	// httpPutResponseHopLimit 2, httpTokens required.
	// +optional
	MetadataOptions *MetadataOptions `json:"metadataOptions,omitempty"`
	// UserData is merged with the generated bootstrap: for AL2 and Ubuntu a shell script or a
	// MIME multi-part document whose parts run before the bootstrap part; for Bottlerocket TOML
	// settings, over which the controller's settings (cluster, labels, taints, kubelet) are
	// written. At most 16384 bytes (EC2's limit on user data). The format is checked by the
	// controller's admission webhook (ValidateUserData), which the CRD cannot do.
	// +optional
	// +kubebuilder:validation:MaxLength=16384
	UserData *string `json:"userData,omitempty"`
	// DetailedMonitoring enables EC2 detailed (1-minute) CloudWatch monitoring of launched
	// instances.
	// +optional
	DetailedMonitoring *bool `json:"detailedMonitoring,omitempty"`
}

// AMI families of spec.provider.amiFamily.
const (
	AMIFamilyAL2          = "AL2"
	AMIFamilyBottlerocket = "Bottlerocket"
	AMIFamilyUbuntu       = "Ubuntu"
)

// AMIFamilies are the values of spec.provider.amiFamily.
var AMIFamilies = []string{AMIFamilyAL2, AMIFamilyBottlerocket, AMIFamilyUbuntu}

// EBS volume types (EC2 API reference, EbsBlockDevice.VolumeType).
var VolumeTypes = []string{"standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"}

// Bounds of a block device's EBS settings (EC2 User Guide, "Amazon EBS volume types": io2
// Block Express reaches 256000 IOPS, gp3 1000 MiB/s; volumes are 1 GiB to 64 TiB).
const (
	MinVolumeIOPS       = 100
	MaxVolumeIOPS       = 256000
	MinVolumeThroughput = 125
	MaxVolumeThroughput = 1000
	MinVolumeSize       = "1Gi"
	MaxVolumeSize       = "64Ti"
	// MaxUserDataBytes is EC2's limit on user data before base64 encoding.
	MaxUserDataBytes = 16384
)

// BlockDeviceMapping is one volume of launched instances.
type BlockDeviceMapping struct {
	// DeviceName is the device name, e.g. /dev/xvda.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	DeviceName string `json:"deviceName"`
	// EBS is the EBS volume of the device.
	EBS BlockDevice `json:"ebs"`
}

// BlockDevice is an EBS volume of a block device mapping.
//
// +kubebuilder:validation:XValidation:rule="has(self.volumeSize) || has(self.snapshotID)",message="volumeSize is required unless snapshotID is set",fieldPath=".volumeSize",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.iops) || (has(self.volumeType) && self.volumeType in ['io1', 'io2', 'gp3'])",message="iops applies only to volumeType io1, io2 or gp3",fieldPath=".iops",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="!has(self.volumeType) || !(self.volumeType in ['io1', 'io2']) || has(self.iops)",message="volumeType io1 and io2 need iops",fieldPath=".iops",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.throughput) || (has(self.volumeType) && self.volumeType == 'gp3')",message="throughput applies only to volumeType gp3",fieldPath=".throughput",reason=FieldValueForbidden
type BlockDevice struct {
	// DeleteOnTermination deletes the volume when the instance terminates (EC2's default: true).
	// +optional
	DeleteOnTermination *bool `json:"deleteOnTermination,omitempty"`
	// Encrypted encrypts the volume.
	// +optional
	Encrypted *bool `json:"encrypted,omitempty"`
	// IOPS is the provisioned I/O operations per second (io1, io2, gp3), 100-256000.
	// +optional
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=256000
	IOPS *int64 `json:"iops,omitempty"`
	// KMSKeyID is the KMS key (id, alias or ARN) encrypting the volume.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	KMSKeyID *string `json:"kmsKeyID,omitempty"`
	// SnapshotID is the EBS snapshot the volume is created from (snap- and 8 or 17 hex digits).
	// +optional
	// +kubebuilder:validation:Pattern=`^snap-([0-9a-f]{8}|[0-9a-f]{17})$`
	SnapshotID *string `json:"snapshotID,omitempty"`
	// Throughput is the provisioned throughput of a gp3 volume, MiB/s, 125-1000.
	// +optional
	// +kubebuilder:validation:Minimum=125
	// +kubebuilder:validation:Maximum=1000
	Throughput *int64 `json:"throughput,omitempty"`
	// VolumeSize is the volume's size, a quantity of 1Gi to 64Ti (e.g. 100Gi); it is rounded up
	// to whole GiB for EC2.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+([.][0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$') && isQuantity(self) && quantity(self).compareTo(quantity('1Gi')) >= 0 && quantity(self).compareTo(quantity('64Ti')) <= 0",message="volumeSize must be a quantity between 1Gi and 64Ti such as 100Gi",messageExpression=`isQuantity(self) && quantity(self).isLessThan(quantity('0')) ? 'volumeSize must be positive (between 1Gi and 64Ti): ' + self + ' is negative' : (self.matches('^[0-9]+([.][0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$') ? 'volumeSize must be between 1Gi and 64Ti' : '"' + self + '" is not a quantity such as 100Gi: volumeSize must be between 1Gi and 64Ti')`
	VolumeSize *VolumeSize `json:"volumeSize,omitempty"`
	// VolumeType is standard, io1, io2, gp2, sc1, st1 or gp3 (EC2's default: gp2).
	// +optional
	// +kubebuilder:validation:Enum=standard;io1;io2;gp2;sc1;st1;gp3
	VolumeType *string `json:"volumeType,omitempty"`
}

// VolumeSize is a volume size quantity as text (e.g. 100Gi), kept as written so that it reads
// back unchanged.
type VolumeSize string

// MetadataOptions configure the instance metadata service (EC2 API reference,
// LaunchTemplateInstanceMetadataOptionsRequest).
type MetadataOptions struct {
	// HTTPEndpoint enables or disables the metadata service: enabled or disabled.
	// +optional
	// +kubebuilder:validation:Enum=enabled;disabled
	HTTPEndpoint *string `json:"httpEndpoint,omitempty"`
	// HTTPProtocolIPv6 enables or disables the service's IPv6 endpoint: enabled or disabled.
	// +optional
	// +kubebuilder:validation:Enum=enabled;disabled
	HTTPProtocolIPv6 *string `json:"httpProtocolIPv6,omitempty"`
	// HTTPPutResponseHopLimit is the IP hop limit of the token PUT response, 1-64 (2 lets
	// containers behind one extra hop reach it).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	HTTPPutResponseHopLimit *int64 `json:"httpPutResponseHopLimit,omitempty"`
	// HTTPTokens is required (IMDSv2 only) or optional.
	// +optional
	// +kubebuilder:validation:Enum=required;optional
	HTTPTokens *string `json:"httpTokens,omitempty"`
}

// ProviderRef references a provider-specific node template object.
type ProviderRef struct {
	// Name of the referenced object (a DNS-1123 subdomain).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Kind of the referenced object, e.g. AWSNodeTemplate.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind,omitempty"`
	// APIVersion of the referenced object, e.g. karpenter.k8s.aws/v1alpha1.
	// +optional
	// +kubebuilder:validation:MaxLength=316
	APIVersion string `json:"apiVersion,omitempty"`
}

// Limits cap the resources of the nodes a provisioner launches.
type Limits struct {
	// Resources is the maximum sum of node capacity, e.g. cpu: 1000, memory: 1000Gi; each a
	// non-negative quantity (a negative limit would forbid every launch; the Terraform
	// provider refuses it too). At most 64 resources (MaxLimitResources), which keeps the rule
	// within the API server's CEL cost budget.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == int ? self[k] >= 0 : !self[k].startsWith('-'))",message="limits must be non-negative quantities such as 1000 or 1000Gi",messageExpression=`'"' + self.filter(k, type(self[k]) == int ? self[k] < 0 : self[k].startsWith('-'))[0] + '": limits must be non-negative quantities such as 1000 or 1000Gi'`
	Resources corev1.ResourceList `json:"resources,omitempty"`
}

// Consolidation settings.
type Consolidation struct {
	// Enabled turns on consolidation (not implemented yet; accepted for compatibility).
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
}

// ProvisionerStatus is the observed state of a Provisioner.
type ProvisionerStatus struct {
	// Resources is the sum of the capacity of the nodes this provisioner launched.
	// +optional
	Resources corev1.ResourceList `json:"resources,omitempty"`
	// LastScaleTime is when the provisioner last launched or removed a node.
	// +optional
	LastScaleTime *metav1.Time `json:"lastScaleTime,omitempty"`
	// Conditions of the provisioner.
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
