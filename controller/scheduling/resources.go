package scheduling

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Resources are amounts by resource name in milli-units: cpu in millicores, memory and
// ephemeral-storage in milli-bytes, pods and extended resources (nvidia.com/gpu) in
// thousandths of a unit, each within ±MaxMilli (2.3e15 base units).
type Resources map[corev1.ResourceName]int64

// MaxMilli is the largest magnitude a quantity converts to (MilliValue), 2^61 milli-units
// (2.3e15 base units, 2 PiB of memory): larger quantities (a limit of "10P" cpu or "8Ei" memory
// meant as no limit, "1e400") are held at it, where resource.Quantity.MilliValue would wrap
// around to 0 or a negative amount. It exceeds every node's capacity and every usage, and sums
// of a few such amounts stay within int64.
const MaxMilli = 1 << 61

// MilliValue returns q in milli-units (ceil(q * 1000), as resource.Quantity.MilliValue), held
// within ±MaxMilli.
func MilliValue(q resource.Quantity) int64 {
	switch {
	case q.CmpInt64(MaxMilli/1000) > 0:
		return MaxMilli
	case q.CmpInt64(-MaxMilli/1000) < 0:
		return -MaxMilli
	}
	return q.MilliValue()
}

// FromList converts a ResourceList to milli-units (MilliValue).
func FromList(l corev1.ResourceList) Resources {
	out := make(Resources, len(l))
	for k, q := range l {
		out[k] = MilliValue(q)
	}
	return out
}

// List converts back to a ResourceList (cpu as millicores, others as whole units rounded up).
func (r Resources) List() corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range r {
		if k == corev1.ResourceCPU {
			out[k] = *resource.NewMilliQuantity(v, resource.DecimalSI)
		} else if v%1000 == 0 {
			format := resource.DecimalSI
			if k == corev1.ResourceMemory || k == corev1.ResourceEphemeralStorage {
				format = resource.BinarySI
			}
			out[k] = *resource.NewQuantity(v/1000, format)
		} else {
			out[k] = *resource.NewMilliQuantity(v, resource.DecimalSI)
		}
	}
	return out
}

// Copy returns a copy.
func (r Resources) Copy() Resources {
	out := make(Resources, len(r))
	for k, v := range r {
		out[k] = v
	}
	return out
}

// AddInPlace adds o to r.
func (r Resources) AddInPlace(o Resources) {
	for k, v := range o {
		r[k] += v
	}
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	out := r.Copy()
	out.AddInPlace(o)
	return out
}

// Sub returns r - o, clamping each amount at 0.
func (r Resources) Sub(o Resources) Resources {
	out := r.Copy()
	for k, v := range o {
		if _, ok := out[k]; !ok {
			continue
		}
		out[k] -= v
		if out[k] < 0 {
			out[k] = 0
		}
	}
	return out
}

// Fits reports whether every positive amount in r is at most the same amount in capacity
// (a resource missing from capacity has capacity 0).
func (r Resources) Fits(capacity Resources) bool {
	for k, v := range r {
		if v > 0 && v > capacity[k] {
			return false
		}
	}
	return true
}

// Exceeding returns the names of resources where r exceeds capacity, sorted.
func (r Resources) Exceeding(capacity Resources) []string {
	var out []string
	for k, v := range r {
		if v > 0 && v > capacity[k] {
			out = append(out, string(k))
		}
	}
	sort.Strings(out)
	return out
}

// MaxInPlace sets each amount of r to max(r, o).
func (r Resources) MaxInPlace(o Resources) {
	for k, v := range o {
		if v > r[k] {
			r[k] = v
		}
	}
}

// MinInPlace sets r to the smaller of r and o per resource of r (a resource o lacks counts 0):
// the least request of each resource among several pods.
func (r Resources) MinInPlace(o Resources) {
	for k, v := range r {
		r[k] = min(v, o[k])
	}
}

// key renders r compactly and canonically (names sorted, raw milli-units), for cache keys.
func (r Resources) key() string { return r.keyOf(sortedNames(r)) }

// keyOf is key given r's names sorted (sortedNames).
func (r Resources) keyOf(names []corev1.ResourceName) string {
	b := make([]byte, 0, 24*len(names))
	for _, n := range names {
		b = append(b, n...)
		b = append(b, '=')
		b = strconv.AppendInt(b, r[n], 10)
		b = append(b, ',')
	}
	return string(b)
}

// String renders r as `cpu=1500m, memory=2Gi, pods=3`, names sorted.
func (r Resources) String() string {
	l := r.List()
	names := make([]string, 0, len(l))
	for k := range l {
		names = append(names, string(k))
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		q := l[corev1.ResourceName(n)]
		parts = append(parts, fmt.Sprintf("%s=%s", n, q.String()))
	}
	return strings.Join(parts, ", ")
}

// PodRequests returns what a pod needs from a node: the effective requests as kube-scheduler
// computes them (k8s.io/component-helpers/resource.PodRequests: max(max(initContainers),
// sum(containers)) with restartable (sidecar) init containers added, plus pod overhead and
// pod-level resources when set), plus one "pods" slot.
func PodRequests(pod *corev1.Pod) Resources {
	var out Resources
	if s := &pod.Spec; len(s.Containers) == 1 && len(s.InitContainers) == 0 && s.Overhead == nil && s.Resources == nil {
		// One container and nothing else: its requests are the pod's (the helper's answer,
		// without its copies).
		out = make(Resources, len(s.Containers[0].Resources.Requests)+1)
		for k, q := range s.Containers[0].Resources.Requests {
			out[k] = MilliValue(q)
		}
	} else {
		out = FromList(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
	}
	out[corev1.ResourcePods] += 1000
	return out
}
