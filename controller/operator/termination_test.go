package operator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// drainGrace is the terminationGracePeriod of TestTerminationAlwaysFinishes' provisioner.
const drainGrace = 20 * time.Second

var drainLabels = map[string]string{"app": "drain"}

// TestTerminationAlwaysFinishes runs the controller against the sandbox (real API server with
// its Eviction API and PodDisruptionBudgets, kwok kubelets, AWS emulator) and shows that a
// deleted node goes although (1) a PodDisruptionBudget never allows an eviction: after the
// provisioner's terminationGracePeriod, and (2) its evicted pods stay terminating, as a dead
// kubelet leaves them (here a finalizer nobody removes): once their grace has passed.
func TestTerminationAlwaysFinishes(t *testing.T) {
	e, done := startOpEnv(t, 10*time.Minute, "-term-test-node")
	defer done()
	kube, ctx := e.kube, e.ctx
	prov, deploy, pdb := e.createDrainWorkload()
	defer func() {
		_ = kube.Delete(ctx, deploy)
		_ = kube.Delete(ctx, prov)
	}()

	victim := e.waitDrainPodsRunning()
	start := time.Now()
	if err := kube.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	// Before the grace period the PDB holds: the node and its pod stay.
	time.Sleep(drainGrace / 2)
	n := &corev1.Node{}
	if err := kube.Get(ctx, client.ObjectKeyFromObject(victim), n); err != nil || !hasFinalizer(n) || !n.Spec.Unschedulable {
		t.Fatalf("after %s of a never-allowed eviction: node %s err %v; want it cordoned and still finalizing", drainGrace/2, victim.Name, err)
	}
	e.waitNodeAndInstanceGone(victim, 90*time.Second)
	t.Logf("node held by a PodDisruptionBudget that never allows eviction went %.1fs after its deletion (terminationGracePeriod %s)",
		time.Since(start).Seconds(), drainGrace)
	// deletionTimestamp has a resolution of one second (it is truncated), so the deadline may
	// fall up to 1 s before start + grace.
	if took := time.Since(start); took < drainGrace-time.Second {
		t.Errorf("node went after %s, before the grace period %s although no eviction was allowed", took, drainGrace)
	}

	// Pods that stay terminating, as a dead kubelet leaves them: a finalizer nobody removes
	// keeps them after kwok's confirmation.
	if err := kube.Delete(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	if err := kube.Get(ctx, client.ObjectKeyFromObject(prov), prov); err != nil {
		t.Fatal(err)
	}
	prov.Spec.TerminationGracePeriod = nil // only the pods' own grace may end this drain
	if err := kube.Update(ctx, prov); err != nil {
		t.Fatal(err)
	}
	dead := e.waitDrainPodsRunning()
	held := e.holdTerminating(dead)
	defer func() {
		for _, p := range held {
			_ = kube.Patch(ctx, p, client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`)))
		}
	}()
	start = time.Now()
	if err := kube.Delete(ctx, dead); err != nil {
		t.Fatal(err)
	}
	stuck := 0
	waitFor(t, ctx, 60*time.Second, "an evicted pod terminating on the deleted node", func() (bool, string) {
		for _, p := range held {
			got := &corev1.Pod{}
			if err := kube.Get(ctx, client.ObjectKeyFromObject(p), got); err == nil && got.DeletionTimestamp != nil {
				stuck++
				return true, ""
			}
		}
		return false, "no terminating pod on the deleted node yet"
	})
	e.waitNodeAndInstanceGone(dead, 90*time.Second)
	t.Logf("node with %d pod(s) stuck terminating went %.1fs after its deletion (pod grace 5s)", stuck, time.Since(start).Seconds())
	for _, p := range held {
		got := &corev1.Pod{}
		if err := kube.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil || got.DeletionTimestamp == nil {
			t.Logf("pod %s: %v (the test wants it still terminating when the node went)", p.Name, err)
			continue
		}
		t.Logf("pod %s still terminating (deletionTimestamp %s) when its node went: not waited on", p.Name, got.DeletionTimestamp.UTC().Format(time.RFC3339))
	}
}

// waitDrainPodsRunning waits up to 120s for the 2 drain pods to run on live nodes of the
// "drain" provisioner and returns the node of one of them.
func (e *opEnv) waitDrainPodsRunning() *corev1.Node {
	t, ctx, kube := e.t, e.ctx, e.kube
	t.Helper()
	var node *corev1.Node
	waitFor(t, ctx, 120*time.Second, "2 drain pods Running on launched nodes", func() (bool, string) {
		pods := &corev1.PodList{}
		if err := kube.List(ctx, pods, client.InNamespace("default"), client.MatchingLabels(drainLabels)); err != nil {
			return false, err.Error()
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
				continue
			}
			n := &corev1.Node{}
			if err := kube.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, n); err != nil || n.DeletionTimestamp != nil || !hasFinalizer(n) {
				continue
			}
			running++
			node = n
		}
		return running == 2, fmt.Sprintf("%d of %d pods running", running, len(pods.Items))
	})
	return node
}

// waitNodeAndInstanceGone waits for the Node to be gone and its instance shutting down or
// terminated in the AWS emulator.
func (e *opEnv) waitNodeAndInstanceGone(victim *corev1.Node, timeout time.Duration) {
	t, ctx, kube := e.t, e.ctx, e.kube
	t.Helper()
	waitFor(t, ctx, timeout, "node "+victim.Name+" and its instance gone", func() (bool, string) {
		err := kube.Get(ctx, client.ObjectKey{Name: victim.Name}, &corev1.Node{})
		if !apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("node %s still there (%v)", victim.Name, err)
		}
		id := victim.Spec.ProviderID[strings.LastIndex(victim.Spec.ProviderID, "/")+1:]
		out, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return false, err.Error()
		}
		state := out.Reservations[0].Instances[0].State.Name
		return state == ec2types.InstanceStateNameShuttingDown || state == ec2types.InstanceStateNameTerminated, "instance " + string(state)
	})
}

// createDrainWorkload creates the "drain" Provisioner (spot, terminationGracePeriod
// drainGrace), the "drain" Deployment (2 pods of 1 CPU, pod grace 5 s, on that provisioner's
// nodes) and a PodDisruptionBudget that never allows an eviction of its pods.
func (e *opEnv) createDrainWorkload() (*v1alpha5.Provisioner, *appsv1.Deployment, *policyv1.PodDisruptionBudget) {
	e.t.Helper()
	prov := &v1alpha5.Provisioner{
		ObjectMeta: metav1.ObjectMeta{Name: "drain"},
		Spec: v1alpha5.ProvisionerSpec{
			Requirements:           []v1alpha5.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{v1alpha5.CapacityTypeSpot}}},
			TerminationGracePeriod: &metav1.Duration{Duration: drainGrace},
			Provider: &v1alpha5.AWS{
				SubnetSelector:        map[string]string{v1alpha5.DiscoveryTagKey: e.sb.ClusterName},
				SecurityGroupSelector: map[string]string{v1alpha5.DiscoveryTagKey: e.sb.ClusterName},
			},
		},
	}
	if err := e.kube.Create(e.ctx, prov); err != nil {
		e.t.Fatal(err)
	}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "drain", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: drainLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: drainLabels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					NodeSelector:                  map[string]string{v1alpha5.LabelProvisionerName: "drain"},
					Containers: []corev1.Container{{Name: "pause", Image: "public.ecr.aws/eks-distro/kubernetes/pause:3.7",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}},
				},
			},
		},
	}
	if err := e.kube.Create(e.ctx, deploy); err != nil {
		e.t.Fatal(err)
	}
	// minAvailable 2 of 2 replicas: no eviction is ever allowed.
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "drain", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(2)), Selector: &metav1.LabelSelector{MatchLabels: drainLabels}}}
	if err := e.kube.Create(e.ctx, pdb); err != nil {
		e.t.Fatal(err)
	}

	return prov, deploy, pdb
}

// holdTerminating adds a finalizer nobody removes to the drain pods on node, so that once
// deleted they stay terminating as a dead kubelet leaves them, and returns them.
func (e *opEnv) holdTerminating(node *corev1.Node) []*corev1.Pod {
	e.t.Helper()
	const neverConfirmed = "example.com/kubelet-never-confirms"
	pods := &corev1.PodList{}
	if err := e.kube.List(e.ctx, pods, client.InNamespace("default"), client.MatchingLabels(drainLabels)); err != nil {
		e.t.Fatal(err)
	}
	var held []*corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Spec.NodeName != node.Name {
			continue
		}
		orig := p.DeepCopy()
		p.Finalizers = append(p.Finalizers, neverConfirmed)
		if err := e.kube.Patch(e.ctx, p, client.MergeFrom(orig)); err != nil {
			e.t.Fatal(err)
		}
		held = append(held, p)
	}
	return held
}
