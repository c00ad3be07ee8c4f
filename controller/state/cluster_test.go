package state

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

func rl(cpu, mem string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110")}
}

func boundPod(name, node, cpu string, phase corev1.PodPhase) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "d", Name: name},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
		Status: corev1.PodStatus{Phase: phase}}
}

func TestSnapshot(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	c := NewCluster(clk)
	provs := []v1alpha5.Provisioner{{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha5.ProvisionerSpec{
		StartupTaints: []corev1.Taint{{Key: "agent", Effect: corev1.TaintEffectNoSchedule}}}}}
	nodes := []corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{v1alpha5.LabelProvisionerName: "default"}},
			Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-1", Taints: []corev1.Taint{
				{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
				{Key: "agent", Effect: corev1.TaintEffectNoSchedule},
				{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}},
			Status: corev1.NodeStatus{Capacity: rl("4", "16Gi"), Allocatable: rl("3900m", "15Gi")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "cordoned", Labels: map[string]string{v1alpha5.LabelProvisionerName: "default"}},
			Spec:   corev1.NodeSpec{Unschedulable: true},
			Status: corev1.NodeStatus{Capacity: rl("2", "8Gi"), Allocatable: rl("2", "8Gi")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "static"}, Status: corev1.NodeStatus{Capacity: rl("2", "1Gi"), Allocatable: rl("2", "1Gi")}},
	}
	pods := []corev1.Pod{
		boundPod("a", "n1", "1", corev1.PodRunning),
		boundPod("b", "n1", "500m", corev1.PodPending),
		boundPod("done", "n1", "2", corev1.PodSucceeded),
		boundPod("pending", "", "8", corev1.PodPending),
	}
	// One in-flight launch that registered as n1, one still in flight.
	c.RecordLaunch(&InFlight{Node: &cloudprovider.Node{Name: "n1", ProviderID: "aws:///us-east-1a/i-1", Capacity: rl("4", "16Gi")}, Provisioner: "default"})
	c.RecordLaunch(&InFlight{Node: &cloudprovider.Node{Name: "n2", ProviderID: "aws:///us-east-1b/i-2", Capacity: rl("8", "32Gi"), Allocatable: rl("7900m", "30Gi")},
		Provisioner: "default", Labels: map[string]string{"k": "v"}})

	snap := c.Snapshot(nodes, pods, provs)
	if len(snap.Nodes) != 3 {
		t.Fatalf("nodes %+v; want n1, static, n2", snap.Nodes)
	}
	n1 := snap.Nodes[0]
	if n1.Name != "n1" || n1.Available.Cpu().MilliValue() != 2400 || len(n1.Taints) != 1 || n1.Taints[0].Key != "dedicated" {
		t.Fatalf("n1 = %+v (want 2400m cpu left, only the dedicated taint)", n1)
	}
	if snap.Nodes[1].Name != "static" || snap.Nodes[1].InFlight {
		t.Fatalf("static = %+v", snap.Nodes[1])
	}
	n2 := snap.Nodes[2]
	if n2.Name != "n2" || !n2.InFlight || n2.Labels["k"] != "v" || n2.Available.Cpu().MilliValue() != 7900 {
		t.Fatalf("n2 = %+v", n2)
	}
	// Usage: n1 (4) + cordoned (2) + in-flight n2 (8); the registered record is not counted twice.
	if got := snap.Usage["default"][corev1.ResourceCPU]; got.MilliValue() != 14000 {
		t.Fatalf("usage cpu = %v, want 14", got.String())
	}
	if _, ok := snap.Usage[""]; ok {
		t.Fatal("unmanaged node counted as usage")
	}

	if !c.MarkRegistered("aws:///us-east-1a/i-1") || c.MarkRegistered("aws:///us-east-1a/i-1") {
		t.Fatal("MarkRegistered should report the record once")
	}
	clk.Step(InFlightTTL)
	if got := c.InFlightNodes(); len(got) != 0 {
		t.Fatalf("in-flight records after TTL: %d", len(got))
	}
}
