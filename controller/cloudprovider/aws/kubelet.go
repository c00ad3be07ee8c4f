package aws

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// A Provisioner's kubeletConfiguration reaches a node twice: as kubelet flags in the bootstrap
// user data (kubeletFlags), and in the allocatable the solver packs against (podCapacity,
// kubeletOverhead), which follows the kubelet's own formula: allocatable = capacity -
// kube-reserved - system-reserved - hard eviction thresholds
// (https://kubernetes.io/docs/tasks/administer-cluster/reserve-compute-resources/).

// kubeletFlags returns the kubelet flags of kc, in a fixed order, for --kubelet-extra-args.
// Values are checked to be free of quotes, spaces and commas (the CRD's patterns already
// refuse them), so they can be placed inside single quotes. Errors name the field.
func kubeletFlags(kc *v1alpha5.KubeletConfiguration) ([]string, error) {
	if kc == nil {
		return nil, nil
	}
	var out []string
	intFlag := func(flag string, v *int32) {
		if v != nil {
			out = append(out, fmt.Sprintf("--%s=%d", flag, *v))
		}
	}
	intFlag("max-pods", kc.MaxPods)
	intFlag("pods-per-core", kc.PodsPerCore)
	if len(kc.ClusterDNS) > 0 {
		for i, ip := range kc.ClusterDNS {
			if err := plainValue(fmt.Sprintf("spec.kubeletConfiguration.clusterDNS[%d]", i), ip); err != nil {
				return nil, err
			}
		}
		out = append(out, "--cluster-dns="+strings.Join(kc.ClusterDNS, ","))
	}
	for _, m := range []struct {
		flag, field, sep string
		values           map[string]v1alpha5.KubeletValue
	}{
		{"system-reserved", "systemReserved", "=", kc.SystemReserved},
		{"kube-reserved", "kubeReserved", "=", kc.KubeReserved},
		{"eviction-hard", "evictionHard", "<", kc.EvictionHard},
		{"eviction-soft", "evictionSoft", "<", kc.EvictionSoft},
		{"eviction-soft-grace-period", "evictionSoftGracePeriod", "=", kc.EvictionSoftGracePeriod},
	} {
		if len(m.values) == 0 {
			continue
		}
		keys := make([]string, 0, len(m.values))
		for k := range m.values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			f := fmt.Sprintf("spec.kubeletConfiguration.%s[%s]", m.field, k)
			if err := plainValue(f, k); err != nil {
				return nil, err
			}
			if err := plainValue(f, string(m.values[k])); err != nil {
				return nil, err
			}
			parts = append(parts, k+m.sep+string(m.values[k]))
		}
		out = append(out, "--"+m.flag+"="+strings.Join(parts, ","))
	}
	intFlag("eviction-max-pod-grace-period", kc.EvictionMaxPodGracePeriod)
	intFlag("image-gc-high-threshold", kc.ImageGCHighThresholdPercent)
	intFlag("image-gc-low-threshold", kc.ImageGCLowThresholdPercent)
	if kc.CPUCFSQuota != nil {
		out = append(out, "--cpu-cfs-quota="+strconv.FormatBool(*kc.CPUCFSQuota))
	}
	return out, nil
}

// plainValue refuses an empty value or one with a character that would break the user data's
// quoting or the flag's list syntax.
func plainValue(field, v string) error {
	if v == "" || strings.ContainsAny(v, "'\"\\ ,=<\n\r\t$`") {
		return fmt.Errorf("%s: %q is empty or contains a quote, space, comma, '=', '<' or shell character", field, v)
	}
	return nil
}

// podCapacity is the node's pod capacity: kubeletConfiguration.maxPods, else the ENI limit
// (enis), capped at podsPerCore times the vCPUs when podsPerCore is above 0 (the kubelet's
// --pods-per-core).
func podCapacity(enis int64, vcpus int64, kc *v1alpha5.KubeletConfiguration) int64 {
	pods := enis
	if kc == nil {
		return pods
	}
	if kc.MaxPods != nil {
		pods = int64(*kc.MaxPods)
	}
	if kc.PodsPerCore != nil && *kc.PodsPerCore > 0 {
		pods = min(pods, int64(*kc.PodsPerCore)*vcpus)
	}
	return pods
}

// kubeletOverhead is what the kubelet withholds from capacity: kube-reserved (the EKS AL2
// bootstrap's defaults: CPU tiers, 11 MiB per pod + 255 MiB memory, 1Gi ephemeral storage;
// each resource kubeReserved names replaces its default, as Karpenter v0.31 did), plus
// systemReserved, plus the hard eviction thresholds of memory.available (default 100Mi) and
// nodefs.available (default 10%), a percentage being of the resource's capacity. Errors: a
// value that does not parse, with its field path.
func kubeletOverhead(capacity corev1.ResourceList, kc *v1alpha5.KubeletConfiguration) (corev1.ResourceList, error) {
	cpu, pods, mem, disk := capacity[corev1.ResourceCPU], capacity[corev1.ResourcePods], capacity[corev1.ResourceMemory], capacity[corev1.ResourceEphemeralStorage]
	reserved := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(KubeReservedCPUMillicores(cpu.Value()), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity((kubeReservedMemPerPodMi*pods.Value()+kubeReservedMemBaseMi)<<20, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(kubeReservedEphemeralGi<<30, resource.BinarySI),
	}
	evictMem := *resource.NewQuantity(evictionHardMemoryMi<<20, resource.BinarySI)
	evictDisk := *resource.NewQuantity(disk.Value()*evictionNodefsPercent/100, resource.BinarySI)
	if kc != nil {
		for _, m := range []struct {
			field  string
			values map[string]v1alpha5.KubeletValue
			add    bool
		}{{"kubeReserved", kc.KubeReserved, false}, {"systemReserved", kc.SystemReserved, true}} {
			for k, v := range m.values {
				name := corev1.ResourceName(k)
				if name != corev1.ResourceCPU && name != corev1.ResourceMemory && name != corev1.ResourceEphemeralStorage {
					continue // pid reserves no schedulable resource
				}
				q, err := resource.ParseQuantity(string(v))
				if err != nil {
					return nil, fmt.Errorf("spec.kubeletConfiguration.%s[%s]: %q: %w", m.field, k, v, err)
				}
				if m.add {
					sum := reserved[name]
					sum.Add(q)
					q = sum
				}
				reserved[name] = q
			}
		}
		var err error
		if v, ok := kc.EvictionHard["memory.available"]; ok {
			if evictMem, err = threshold(string(v), mem, "memory.available"); err != nil {
				return nil, err
			}
		}
		if v, ok := kc.EvictionHard["nodefs.available"]; ok {
			if evictDisk, err = threshold(string(v), disk, "nodefs.available"); err != nil {
				return nil, err
			}
		}
	}
	m := reserved[corev1.ResourceMemory]
	m.Add(evictMem)
	reserved[corev1.ResourceMemory] = m
	d := reserved[corev1.ResourceEphemeralStorage]
	d.Add(evictDisk)
	reserved[corev1.ResourceEphemeralStorage] = d
	return reserved, nil
}

// threshold converts an eviction threshold (a quantity, or a percentage of capacity) to a
// quantity.
func threshold(v string, capacity resource.Quantity, signal string) (resource.Quantity, error) {
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f > 100 {
			return resource.Quantity{}, fmt.Errorf("spec.kubeletConfiguration.evictionHard[%s]: %q is not a percentage of 0-100", signal, v)
		}
		return *resource.NewQuantity(int64(float64(capacity.Value())*f/100+0.5), resource.BinarySI), nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("spec.kubeletConfiguration.evictionHard[%s]: %q: %w", signal, v, err)
	}
	return q, nil
}
