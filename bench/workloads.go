package bench

import (
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// Workload is one benchmark scenario: pending pods and, optionally, existing nodes that
// already hold pods.
type Workload struct {
	Name  string
	Pods  []*corev1.Pod
	Nodes []scheduling.ExistingNode
}

// Karpenter's scheduling benchmark (sigs.k8s.io/karpenter v1.15.0,
// pkg/controllers/provisioning/scheduling/scheduling_benchmark_test.go) draws every pod's CPU
// request from these millicores and its memory request from these MiB, and its label values
// from a to g.
var (
	KarpenterCPUMillis = []int64{100, 250, 500, 1000, 1500}
	KarpenterMemoryMiB = []int64{100, 256, 512, 1024, 2048, 4096}
	karpenterLabels    = []string{"a", "b", "c", "d", "e", "f", "g"}
)

// gen makes pods with deterministic random draws.
type gen struct {
	rng    *rand.Rand
	prefix string
	n      int
}

func newGen(prefix string, seed uint64) *gen {
	return &gen{rng: rand.New(rand.NewPCG(seed, 42)), prefix: prefix}
}

func (g *gen) pick(values []string) string { return values[g.rng.IntN(len(values))] }

// pod returns a pod in namespace default with labels and the given requests (millicores, MiB).
func (g *gen) pod(labels map[string]string, cpuMillis, memMiB int64) *corev1.Pod {
	g.n++
	name := fmt.Sprintf("%s-%05d", g.prefix, g.n)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: name, UID: types.UID("uid-" + name), Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(cpuMillis, resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(memMiB<<20, resource.BinarySI),
			}}}}},
	}
}

// karpenterPod is a pod with Karpenter's random CPU and memory.
func (g *gen) karpenterPod(labels map[string]string) *corev1.Pod {
	cpu := KarpenterCPUMillis[g.rng.IntN(len(KarpenterCPUMillis))]
	mem := KarpenterMemoryMiB[g.rng.IntN(len(KarpenterMemoryMiB))]
	return g.pod(labels, cpu, mem)
}

// KarpenterMix returns n pods mixed as Karpenter's benchmark mixes them: one fifth each of
// generic pods (label my-label=<a..g>), DoNotSchedule topology spread with maxSkew 1 on the zone
// and on the hostname (own label and selector each a random my-label value), required pod
// affinity on the zone to the pod's own labels (my-affinity=<a..g>: pods of one value share a
// zone), and required hostname anti-affinity among all of them (app=nginx); the remainder of
// n/5 is generic. Requests are drawn from KarpenterCPUMillis and KarpenterMemoryMiB.
func KarpenterMix(prefix string, n int, seed uint64) []*corev1.Pod {
	g := newGen(prefix, seed)
	fifth := n / 5
	var pods []*corev1.Pod
	for range fifth {
		pods = append(pods, g.karpenterPod(map[string]string{"my-label": g.pick(karpenterLabels)}))
	}
	for _, key := range []string{corev1.LabelTopologyZone, corev1.LabelHostname} {
		for range fifth {
			p := g.karpenterPod(map[string]string{"my-label": g.pick(karpenterLabels)})
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"my-label": g.pick(karpenterLabels)}},
			}}
			pods = append(pods, p)
		}
	}
	for range fifth {
		labels := map[string]string{"my-affinity": g.pick(karpenterLabels)}
		p := g.karpenterPod(labels)
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: corev1.LabelTopologyZone,
		}}}}
		pods = append(pods, p)
	}
	nginx := map[string]string{"app": "nginx"}
	for range fifth {
		p := g.karpenterPod(nginx)
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: nginx}, TopologyKey: corev1.LabelHostname,
		}}}}
		pods = append(pods, p)
	}
	for len(pods) < n {
		pods = append(pods, g.karpenterPod(map[string]string{"my-label": g.pick(karpenterLabels)}))
	}
	return pods
}

// ExistingNodes returns n registered nodes of the provisioner "default", cycling through
// m5.xlarge, c5.xlarge, r5.large and m5.2xlarge in the three zones (on-demand), each filled with
// generic Karpenter-mix pods until the next drawn pod does not fit (nodes left nearly full, as a
// consolidated cluster's are); Available is the type's allocatable (from catalogue, the
// controller's view) less those pods' requests. Errors when a type is missing from catalogue.
func ExistingNodes(n int, catalogue []*cloudprovider.InstanceType, seed uint64) ([]scheduling.ExistingNode, error) {
	byName := map[string]*cloudprovider.InstanceType{}
	for _, it := range catalogue {
		byName[it.Name] = it
	}
	shapes := []string{"m5.xlarge", "c5.xlarge", "r5.large", "m5.2xlarge"}
	for _, s := range shapes {
		if byName[s] == nil {
			return nil, fmt.Errorf("instance type %s is not in the catalogue", s)
		}
	}
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	g := newGen("bound", seed)
	nodes := make([]scheduling.ExistingNode, 0, n)
	for i := range n {
		it := byName[shapes[i%len(shapes)]]
		name := fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i/250, i%250)
		labels := map[string]string{}
		for k, v := range it.Labels {
			labels[k] = v
		}
		labels[corev1.LabelHostname] = name
		labels[v1alpha5.LabelZone] = zones[i%len(zones)]
		labels[v1alpha5.LabelCapacityType] = v1alpha5.CapacityTypeOnDemand
		labels[v1alpha5.LabelProvisionerName] = "default"
		avail := scheduling.FromList(it.Allocatable())
		var bound []*corev1.Pod
		for {
			p := g.karpenterPod(map[string]string{"my-label": g.pick(karpenterLabels)})
			req := scheduling.PodRequests(p)
			if !req.Fits(avail) {
				break
			}
			p.Spec.NodeName = name
			bound = append(bound, p)
			avail = avail.Sub(req)
		}
		nodes = append(nodes, scheduling.ExistingNode{Name: name, Labels: labels, Available: avail.List(), Pods: bound})
	}
	return nodes, nil
}

// Uniform returns n pods with the same requests (millicores, MiB) and, when gpus > 0, that many
// nvidia.com/gpu each.
func Uniform(prefix string, n int, cpuMillis, memMiB, gpus int64) []*corev1.Pod {
	g := newGen(prefix, 1)
	pods := make([]*corev1.Pod, 0, n)
	for range n {
		p := g.pod(map[string]string{"app": prefix}, cpuMillis, memMiB)
		if gpus > 0 {
			p.Spec.Containers[0].Resources.Requests["nvidia.com/gpu"] = *resource.NewQuantity(gpus, resource.DecimalSI)
		}
		pods = append(pods, p)
	}
	return pods
}

// MixedSizes returns n pods whose requests are drawn from shapes between 100m / 128Mi and
// 16 CPU / 64Gi, small ones more often (as in a typical cluster).
func MixedSizes(prefix string, n int, seed uint64) []*corev1.Pod {
	shapes := []struct{ cpu, mem int64 }{
		{100, 128}, {250, 512}, {500, 1024}, {1000, 2048}, {1000, 4096}, {2000, 4096},
		{2000, 8192}, {4000, 8192}, {4000, 16384}, {8000, 32768}, {16000, 65536},
	}
	weights := []int{20, 20, 15, 12, 8, 8, 6, 4, 3, 2, 2}
	total := 0
	for _, w := range weights {
		total += w
	}
	g := newGen(prefix, seed)
	pods := make([]*corev1.Pod, 0, n)
	for range n {
		r := g.rng.IntN(total)
		i := 0
		for r >= weights[i] {
			r -= weights[i]
			i++
		}
		pods = append(pods, g.pod(map[string]string{"app": prefix}, shapes[i].cpu, shapes[i].mem))
	}
	return pods
}

// Workloads returns the table's scenarios: the Karpenter mix at 1k, 5k and (when large) 20k
// pods, the 5k mix against 4,000 existing nodes, and 5k homogeneous, mixed-size and memory-heavy
// pods and 500 GPU pods. Errors: see ExistingNodes.
func Workloads(catalogue []*cloudprovider.InstanceType, large bool) ([]Workload, error) {
	sizes := []int{1000, 5000}
	if large {
		sizes = append(sizes, 20000)
	}
	var out []Workload
	for _, n := range sizes {
		out = append(out, Workload{Name: fmt.Sprintf("karpenter-mix-%dk", n/1000), Pods: KarpenterMix("mix", n, 42)})
	}
	nodes, err := ExistingNodes(4000, catalogue, 7)
	if err != nil {
		return nil, err
	}
	out = append(out,
		Workload{Name: "karpenter-mix-5k+4000-nodes", Pods: KarpenterMix("mix", 5000, 42), Nodes: nodes},
		Workload{Name: "homogeneous-5k (1 cpu, 2Gi)", Pods: Uniform("homogeneous", 5000, 1000, 2048, 0)},
		Workload{Name: "mixed-sizes-5k", Pods: MixedSizes("mixed", 5000, 3)},
		Workload{Name: "memory-heavy-5k (0.5 cpu, 12Gi)", Pods: Uniform("memory", 5000, 500, 12288, 0)},
		Workload{Name: "gpu-500 (1 gpu, 3 cpu, 12Gi)", Pods: Uniform("gpu", 500, 3000, 12288, 1)},
	)
	return out, nil
}
