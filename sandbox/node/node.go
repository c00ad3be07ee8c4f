package node

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Instance is what a booting instance knows about itself (its instance metadata); the sandbox
// fills it from the emulator's aws.BootedInstance.
type Instance struct {
	InstanceID         string
	InstanceType       string
	Zone               string
	PrivateDNSName     string
	PrivateIPAddress   string
	CapacityType       string // "spot" or "on-demand"
	ImageID            string
	InstanceProfileArn string
	UserData           []byte // decoded
	VCPUs              int32
	MemoryMiB          int64
	GPUs               int32
	Architecture       string // x86_64 or arm64
	MaxPods            int32  // ENI-based limit; 0 = unknown
	// AMIFamily is the image's family (AL2, Bottlerocket, Ubuntu; "" is AL2): the format of
	// the user data (ParseUserDataFor).
	AMIFamily string
	// Volumes are the EBS volumes attached at launch; the family's data volume
	// (DataVolumeGiB) is the node's ephemeral-storage.
	Volumes []Volume
}

// Volume is an EBS volume of an instance: device name and size in GiB.
type Volume struct {
	DeviceName string
	SizeGiB    int64
}

// DataVolumeGiB is the size of the volume holding the kubelet's and the containers' data, the
// node's ephemeral-storage capacity: Bottlerocket's data volume /dev/xvdb, else the root volume
// (/dev/sda1 on Ubuntu, /dev/xvda otherwise), else the last volume; EphemeralStorageGiB when the
// instance has none or it has no size.
func (inst Instance) DataVolumeGiB() int64 {
	want := "/dev/xvda"
	switch inst.AMIFamily {
	case "Bottlerocket":
		want = "/dev/xvdb"
	case "Ubuntu":
		want = "/dev/sda1"
	}
	if len(inst.Volumes) == 0 {
		return EphemeralStorageGiB
	}
	pick := inst.Volumes[len(inst.Volumes)-1]
	for _, v := range inst.Volumes {
		if v.DeviceName == want {
			pick = v
		}
	}
	if pick.SizeGiB <= 0 {
		return EphemeralStorageGiB
	}
	return pick.SizeGiB
}

// Well-known labels the kubelet (and the AWS cloud provider) set on a Node.
const (
	LabelHostname     = "kubernetes.io/hostname"
	LabelArch         = "kubernetes.io/arch"
	LabelOS           = "kubernetes.io/os"
	LabelInstanceType = "node.kubernetes.io/instance-type"
	LabelZone         = "topology.kubernetes.io/zone"
	LabelRegion       = "topology.kubernetes.io/region"
	LabelCapacityType = "karpenter.sh/capacity-type"
	ResourceGPU       = corev1.ResourceName("nvidia.com/gpu")

	// The deprecated keys of the same labels, which a real EKS node still carries with the same
	// values: the kubelet sets os, arch and instance type, the AWS cloud provider zone and
	// region (and instance type). Older manifests select on them.
	LabelArchBeta         = "beta.kubernetes.io/arch"
	LabelOSBeta           = "beta.kubernetes.io/os"
	LabelInstanceTypeBeta = "beta.kubernetes.io/instance-type"
	LabelZoneBeta         = "failure-domain.beta.kubernetes.io/zone"
	LabelRegionBeta       = "failure-domain.beta.kubernetes.io/region"
)

// EphemeralStorageGiB is the root volume every sandbox node reports (the EKS AL2 AMI's default
// 20 GiB gp3 root volume).
const EphemeralStorageGiB = 20

// KubeReserved returns the EKS AL2 kube-reserved resources for a node with vcpus CPUs and
// maxPods pods: CPU in millicores and memory in MiB. Source: awslabs/amazon-eks-ami,
// files/bootstrap.sh (get_cpu_millicores_to_reserve, get_memory_mebibytes_to_reserve):
// CPU 6% of the first core, 1% of the second, 0.5% of cores 3-4 and 0.25% of every further
// core, each range computed in integer millicores (as the script's shell arithmetic does);
// memory 11 MiB per pod + 255 MiB.
func KubeReserved(vcpus, maxPods int32) (cpuMillis, memoryMiB int64) {
	total := int64(vcpus) * 1000
	ranges := []struct{ start, end, basisPoints int64 }{
		{0, 1000, 600}, {1000, 2000, 100}, {2000, 4000, 50}, {4000, total, 25},
	}
	for _, r := range ranges {
		if total <= r.start {
			break
		}
		end := min(total, r.end)
		cpuMillis += (end - r.start) * r.basisPoints / 10000
	}
	return cpuMillis, 11*int64(maxPods) + 255
}

// Eviction thresholds of the EKS AL2 kubelet configuration (amazon-eks-ami
// files/kubelet-config.json: evictionHard memory.available 100Mi, nodefs.available 10%) and
// its ephemeral-storage kube-reserved (1Gi).
const (
	EvictionHardMemoryMiB       = 100
	KubeReservedEphemeralGiB    = 1
	EvictionNodefsAvailablePerc = 10
)

// Arch maps an EC2 architecture (x86_64, arm64) to the Kubernetes one (amd64, arm64).
// Error: an architecture the sandbox does not know.
func Arch(ec2Arch string) (string, error) {
	switch ec2Arch {
	case "x86_64", "amd64", "":
		return "amd64", nil
	case "arm64", "aarch64":
		return "arm64", nil
	}
	return "", fmt.Errorf("unknown architecture %q", ec2Arch)
}

// withheld is what the kubelet keeps from capacity (allocatable = capacity - kube-reserved -
// system-reserved - hard eviction thresholds): kube-reserved defaults to the EKS AL2
// bootstrap's (KubeReserved, 1Gi ephemeral storage), each resource of --kube-reserved
// replacing its default; --system-reserved adds; memory.available (default 100Mi) and
// nodefs.available (default 10%) of --eviction-hard, a percentage being of capacity. Errors: a
// threshold that does not parse.
func (b *Bootstrap) withheld(inst Instance, maxPods int32, capacity corev1.ResourceList) (corev1.ResourceList, error) {
	cpuReserved, memReserved := KubeReserved(inst.VCPUs, maxPods)
	out := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(cpuReserved, resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(memReserved<<20, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(KubeReservedEphemeralGiB<<30, resource.BinarySI),
	}
	for k, q := range b.KubeReserved {
		if _, ok := out[corev1.ResourceName(k)]; ok {
			out[corev1.ResourceName(k)] = q
		}
	}
	for k, q := range b.SystemReserved {
		if sum, ok := out[corev1.ResourceName(k)]; ok {
			sum.Add(q)
			out[corev1.ResourceName(k)] = sum
		}
	}
	for _, e := range []struct {
		signal, def string
		r           corev1.ResourceName
	}{{"memory.available", fmt.Sprintf("%dMi", EvictionHardMemoryMiB), corev1.ResourceMemory},
		{"nodefs.available", fmt.Sprintf("%d%%", EvictionNodefsAvailablePerc), corev1.ResourceEphemeralStorage}} {
		v, ok := b.EvictionHard[e.signal]
		if !ok {
			v = e.def
		}
		var q resource.Quantity
		if p, pct := strings.CutSuffix(v, "%"); pct {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 || f > 100 {
				return nil, fmt.Errorf("--eviction-hard %s: %q is not a percentage of 0-100", e.signal, v)
			}
			c := capacity[e.r]
			q = *resource.NewQuantity(int64(float64(c.Value())*f/100+0.5), resource.BinarySI)
		} else {
			var err error
			if q, err = resource.ParseQuantity(v); err != nil {
				return nil, fmt.Errorf("--eviction-hard %s: %q: %w", e.signal, v, err)
			}
		}
		sum := out[e.r]
		sum.Add(q)
		out[e.r] = sum
	}
	return out, nil
}

// BuildNode returns the Node that the kubelet of inst registers from bootstrap b: name = private
// DNS name, providerID aws:///<zone>/<instance-id>, labels from the user data plus the
// kubelet's and the AWS cloud provider's well-known labels, GA and legacy (beta) keys alike
// (and karpenter.sh/capacity-type from the instance lifecycle if the user data did not set
// it), the user data's taints, annotation kwok.x-k8s.io/node=fake,
// capacity (cpu, memory in Mi, pods, ephemeral-storage of DataVolumeGiB, nvidia.com/gpu) and allocatable =
// capacity minus EKS AL2 kube-reserved and hard eviction thresholds. Pods = b.MaxPods if set,
// else inst.MaxPods (else 110, the kubelet default). Error: unknown architecture, empty DNS name.
func BuildNode(inst Instance, b *Bootstrap, region string) (*corev1.Node, error) {
	if inst.PrivateDNSName == "" {
		return nil, fmt.Errorf("instance %s has no private DNS name", inst.InstanceID)
	}
	arch, err := Arch(inst.Architecture)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", inst.InstanceID, err)
	}
	maxPods := b.MaxPods
	if maxPods == 0 {
		maxPods = inst.MaxPods
	}
	if maxPods <= 0 {
		maxPods = 110
	}
	labels := map[string]string{}
	for k, v := range b.Labels {
		labels[k] = v
	}
	labels[LabelHostname] = inst.PrivateDNSName
	labels[LabelArch] = arch
	labels[LabelOS] = "linux"
	labels[LabelInstanceType] = inst.InstanceType
	labels[LabelZone] = inst.Zone
	if region == "" {
		region = strings.TrimRight(inst.Zone, "abcdefghijklmnopqrstuvwxyz")
	}
	labels[LabelRegion] = region
	labels[LabelArchBeta], labels[LabelOSBeta], labels[LabelInstanceTypeBeta] = arch, "linux", inst.InstanceType
	labels[LabelZoneBeta], labels[LabelRegionBeta] = inst.Zone, region
	if _, ok := labels[LabelCapacityType]; !ok && inst.CapacityType != "" {
		labels[LabelCapacityType] = inst.CapacityType
	}

	if b.PodsPerCore > 0 {
		maxPods = min(maxPods, b.PodsPerCore*inst.VCPUs)
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(int64(inst.VCPUs)*1000, resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(inst.MemoryMiB<<20, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(inst.DataVolumeGiB()<<30, resource.BinarySI),
	}
	withheld, err := b.withheld(inst, maxPods, capacity)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", inst.InstanceID, err)
	}
	allocatable := corev1.ResourceList{corev1.ResourcePods: capacity[corev1.ResourcePods]}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		a := capacity[r]
		a.Sub(withheld[r])
		if a.Sign() < 0 {
			a = *resource.NewQuantity(0, a.Format)
		}
		allocatable[r] = a
	}
	if inst.GPUs > 0 {
		capacity[ResourceGPU] = *resource.NewQuantity(int64(inst.GPUs), resource.DecimalSI)
		allocatable[ResourceGPU] = *resource.NewQuantity(int64(inst.GPUs), resource.DecimalSI)
	}
	var addrs []corev1.NodeAddress
	if inst.PrivateIPAddress != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: inst.PrivateIPAddress})
	}
	addrs = append(addrs,
		corev1.NodeAddress{Type: corev1.NodeInternalDNS, Address: inst.PrivateDNSName},
		corev1.NodeAddress{Type: corev1.NodeHostName, Address: inst.PrivateDNSName})
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        inst.PrivateDNSName,
			Labels:      labels,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		},
		Spec: corev1.NodeSpec{
			ProviderID: fmt.Sprintf("aws:///%s/%s", inst.Zone, inst.InstanceID),
			Taints:     append([]corev1.Taint(nil), b.Taints...),
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: allocatable,
			Addresses:   addrs,
			NodeInfo: corev1.NodeSystemInfo{
				Architecture:    arch,
				OperatingSystem: "linux",
				OSImage:         "Amazon Linux 2 (sandbox, " + inst.ImageID + ")",
				KubeletVersion:  "sandbox",
				MachineID:       inst.InstanceID,
				SystemUUID:      inst.InstanceID,
			},
		},
	}, nil
}
