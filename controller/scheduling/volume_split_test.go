package scheduling_test

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// t3aTypes are priced like EC2's t3a family: price proportional to memory, so first-fit's one
// large node costs as much as the small ones that hold the pods, and often more (its CPU).
func t3aTypes() []*cloudprovider.InstanceType {
	return []*cloudprovider.InstanceType{
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "t3a.nano", CPU: 2, MemoryMi: 512, Pods: 4, OnDemandPrice: 0.0047}),
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "t3a.micro", CPU: 2, MemoryMi: 1024, Pods: 4, OnDemandPrice: 0.0094}),
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "t3a.small", CPU: 2, MemoryMi: 2048, Pods: 8, OnDemandPrice: 0.0188}),
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "t3a.medium", CPU: 2, MemoryMi: 4096, Pods: 17, OnDemandPrice: 0.0376}),
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "t3a.large", CPU: 2, MemoryMi: 8192, Pods: 35, OnDemandPrice: 0.0752}),
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "t3a.xlarge", CPU: 4, MemoryMi: 16384, Pods: 58, OnDemandPrice: 0.1504}),
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "t3a.2xlarge", CPU: 8, MemoryMi: 32768, Pods: 58, OnDemandPrice: 0.3008}),
	}
}

// stsPods returns n StatefulSet-like pods "name-i" of cpu and mem, each given opts(i).
func stsPods(name string, n int, cpu, mem string, opts func(i int) []podOpt) []*corev1.Pod {
	var pods []*corev1.Pod
	for i := range n {
		var o []podOpt
		if opts != nil {
			o = opts(i)
		}
		pods = append(pods, pod(fmt.Sprintf("%s-%d", name, i), cpu, mem, append(o, withLabels("app", name))...))
	}
	return pods
}

func solveT3a(t *testing.T, pods []*corev1.Pod, vols scheduling.Volumes, types []*cloudprovider.InstanceType) *scheduling.Result {
	t.Helper()
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, v1alpha5.CapacityTypeOnDemand))},
		types, func(in *scheduling.Input) { in.Volumes = vols })
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", reasons(res))
	}
	return res
}

// Pods with claims are sized by the bill like pods without: a StatefulSet whose
// volumeClaimTemplates use a WaitForFirstConsumer class (or pods with generic ephemeral
// volumes) is planned on the same cheap small nodes as the same pods without volumes, not on
// the one large node first-fit grew.
func TestClaimsSplitLikePodsWithout(t *testing.T) {
	gp3 := storageClass("gp3", ebs, storagev1.VolumeBindingWaitForFirstConsumer)
	for _, tc := range []struct {
		n        int
		cpu, mem string
	}{{6, "500m", "1Gi"}, {30, "10m", "16Mi"}} {
		t.Run(fmt.Sprintf("%dx%s/%s", tc.n, tc.cpu, tc.mem), func(t *testing.T) {
			want := cost(solveT3a(t, stsPods("es", tc.n, tc.cpu, tc.mem, nil), volumes(), t3aTypes()))
			objs := []any{gp3}
			pods := stsPods("es", tc.n, tc.cpu, tc.mem, func(i int) []podOpt {
				c := claim(fmt.Sprintf("data-es-%d", i), ptr.To("gp3"), "")
				objs = append(objs, c)
				return []podOpt{withClaims(c.Name)}
			})
			res := solveT3a(t, pods, volumes(objs...), t3aTypes())
			if got := cost(res); math.Abs(got-want) > 1e-9 {
				t.Errorf("with claims %.4f USD/h on %d nodes, without %.4f", got, len(res.NewNodes), want)
			}
			// Generic ephemeral volumes alike.
			objs = []any{gp3}
			pods = stsPods("es", tc.n, tc.cpu, tc.mem, func(i int) []podOpt {
				return []podOpt{func(p *corev1.Pod) {
					p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}})
					c := claim(p.Name+"-scratch", ptr.To("gp3"), "")
					c.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: p.UID, Controller: ptr.To(true)}}
					objs = append(objs, c)
				}}
			})
			res = solveT3a(t, pods, volumes(objs...), t3aTypes())
			if got := cost(res); math.Abs(got-want) > 1e-9 {
				t.Errorf("with ephemeral volumes %.4f USD/h on %d nodes, without %.4f", got, len(res.NewNodes), want)
			}
		})
	}
}

// A split keeps every volume constraint: pods whose claims are bound to PVs in one zone stay
// in it, the pods of one claim stay on one node, and each node attaches no more volumes than
// its types allow.
func TestClaimsSplitKeepVolumeConstraints(t *testing.T) {
	t.Run("zonal PVs", func(t *testing.T) {
		want := cost(solveT3a(t, stsPods("es", 6, "500m", "1Gi", func(int) []podOpt {
			return []podOpt{withSelector(v1alpha5.LabelZone, "us-east-1b")}
		}), volumes(), t3aTypes()))
		var objs []any
		pods := stsPods("es", 6, "500m", "1Gi", func(i int) []podOpt {
			c := claim(fmt.Sprintf("data-es-%d", i), ptr.To(""), "")
			pv := ebsVolume(fmt.Sprintf("pv-%d", i), "", "us-east-1b")
			bind(pv, c)
			objs = append(objs, c, pv)
			return []podOpt{withClaims(c.Name)}
		})
		res := solveT3a(t, pods, volumes(objs...), t3aTypes())
		for _, c := range res.NewNodes {
			if z := zoneOf(c); !reflect.DeepEqual(z, []string{"us-east-1b"}) {
				t.Errorf("a node of %d pods in %v, want us-east-1b", len(c.Pods), z)
			}
		}
		if got := cost(res); math.Abs(got-want) > 1e-9 {
			t.Errorf("with zonal PVs %.4f USD/h on %d nodes, pinned to the zone without %.4f", got, len(res.NewNodes), want)
		}
	})
	t.Run("static PVs of a WaitForFirstConsumer class", func(t *testing.T) {
		local := storageClass("local", "kubernetes.io/no-provisioner", storagev1.VolumeBindingWaitForFirstConsumer)
		objs := []any{local}
		for i := range 6 {
			objs = append(objs, ebsVolume(fmt.Sprintf("pv-c%d", i), "local", "us-east-1c"))
		}
		pods := stsPods("es", 6, "500m", "1Gi", func(i int) []podOpt {
			c := claim(fmt.Sprintf("data-es-%d", i), ptr.To("local"), "")
			objs = append(objs, c)
			return []podOpt{withClaims(c.Name)}
		})
		res := solveT3a(t, pods, volumes(objs...), t3aTypes())
		if len(res.NewNodes) < 2 {
			t.Errorf("want the pods split over small nodes, got %d node(s)", len(res.NewNodes))
		}
		for _, c := range res.NewNodes {
			if z := zoneOf(c); !reflect.DeepEqual(z, []string{"us-east-1c"}) {
				t.Errorf("a node of %d pods in %v, want us-east-1c", len(c.Pods), z)
			}
		}
	})
	t.Run("shared claims and attach limits", func(t *testing.T) {
		types := t3aTypes()
		for _, it := range types {
			it.VolumeLimits = map[string]int{ebs: 2}
		}
		gp3 := storageClass("gp3", ebs, storagev1.VolumeBindingWaitForFirstConsumer)
		objs := []any{gp3}
		// Twelve pods, two per claim: at most two claims (four pods) per node.
		pods := stsPods("es", 12, "100m", "128Mi", func(i int) []podOpt {
			c := claim(fmt.Sprintf("data-%d", i/2), ptr.To("gp3"), "")
			objs = append(objs, c)
			return []podOpt{withClaims(c.Name)}
		})
		res := solveT3a(t, pods, volumes(objs...), types)
		nodeOf := map[string]int{}
		for n, c := range res.NewNodes {
			claims := map[string]bool{}
			for _, p := range c.Pods {
				name := p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName
				claims[name] = true
				if prev, ok := nodeOf[name]; ok && prev != n {
					t.Errorf("pods of claim %s on two nodes", name)
				}
				nodeOf[name] = n
			}
			if len(claims) > 2 {
				t.Errorf("a node attaches %d volumes, over the limit of 2", len(claims))
			}
		}
	})
	t.Run("attach limits of the small types", func(t *testing.T) {
		// t3a.medium takes three of the pods by resources but attaches two volumes: the
		// split makes three of them, not two.
		types := t3aTypes()
		for _, it := range types {
			it.VolumeLimits = map[string]int{ebs: 8}
			if it.Name == "t3a.medium" {
				it.VolumeLimits = map[string]int{ebs: 2}
			}
		}
		objs := []any{storageClass("gp3", ebs, storagev1.VolumeBindingWaitForFirstConsumer)}
		pods := stsPods("es", 6, "500m", "1Gi", func(i int) []podOpt {
			c := claim(fmt.Sprintf("data-es-%d", i), ptr.To("gp3"), "")
			objs = append(objs, c)
			return []podOpt{withClaims(c.Name)}
		})
		res := solveT3a(t, pods, volumes(objs...), types)
		if len(res.NewNodes) < 2 {
			t.Errorf("want the pods split over small nodes, got %d node(s)", len(res.NewNodes))
		}
		for _, c := range res.NewNodes {
			for _, it := range c.InstanceTypeOptions {
				if l := it.VolumeLimits[ebs]; len(c.Pods) > l {
					t.Errorf("%d volumes on a node that may launch as %s, which attaches %d", len(c.Pods), it.Name, l)
				}
			}
		}
	})
}
