package operator

import (
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// constrainedDeployment returns a Deployment of replicas pause pods labelled app=name, each
// requesting cpu, with the given affinity.
func constrainedDeployment(name string, replicas int32, cpu string, affinity *corev1.Affinity) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Affinity:                      affinity,
					Containers: []corev1.Container{{Name: "pause", Image: "public.ecr.aws/eks-distro/kubernetes/pause:3.7",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}},
				},
			},
		},
	}
}

// runConstrainedWorkloads creates two Deployments the solver once got wrong and checks the
// outcome against kube-scheduler's:
//   - "spread": 3 replicas of 250m with required anti-affinity on kubernetes.io/hostname (once
//     planned onto one node, leaving two Pending forever);
//   - "sized": 1 replica requiring karpenter.k8s.aws/instance-cpu Gt 3 (once given a node
//     without that label, Pending forever, a new node every batch);
//   - "skewed": 2 replicas with a hostname topology spread constraint, maxSkew 1.
//
// All 6 pods must run, the spread pods on 3 distinct nodes, the skewed ones on 2, every instance launched in this
// phase must host one of these pods, and 20 s later no further instance may have been launched.
// The Deployments are deleted at the end.
func (e *opEnv) runConstrainedWorkloads() {
	t, ctx, kube := e.t, e.ctx, e.kube
	t.Helper()
	since := time.Now().Add(-time.Second)
	spread := constrainedDeployment("spread", 3, "250m", &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: corev1.LabelHostname,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}}}}}})
	sized := constrainedDeployment("sized", 1, "500m", &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"3"}}}}}}}})
	// "zonal-less" hostname spread: 2 replicas, at most 1 per node.
	skewed := constrainedDeployment("skewed", 2, "250m", nil)
	skewed.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname,
		WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "skewed"}}}}
	deployments := []*appsv1.Deployment{spread, sized, skewed}
	for _, d := range deployments {
		if err := kube.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	hosts := map[string]bool{}
	waitFor(t, ctx, 120*time.Second, "spread, sized and skewed pods Running", func() (bool, string) {
		clear(hosts)
		spreadNodes, skewedNodes := map[string]bool{}, map[string]bool{}
		running := 0
		for _, app := range []string{"spread", "sized", "skewed"} {
			pods := &corev1.PodList{}
			if err := kube.List(ctx, pods, client.InNamespace("default"), client.MatchingLabels{"app": app}); err != nil {
				return false, err.Error()
			}
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
					running++
					hosts[p.Spec.NodeName] = true
					switch app {
					case "spread":
						spreadNodes[p.Spec.NodeName] = true
					case "skewed":
						skewedNodes[p.Spec.NodeName] = true
					}
				}
			}
		}
		return running == 6 && len(spreadNodes) == 3 && len(skewedNodes) == 2,
			fmt.Sprintf("%d of 6 pods running, spread over %d nodes, skewed over %d", running, len(spreadNodes), len(skewedNodes))
	})
	time.Sleep(20 * time.Second) // a solver that disagrees with kube-scheduler keeps launching
	launched := e.instancesLaunchedSince(since)
	for id, dns := range launched {
		if !hosts[dns] {
			t.Errorf("instance %s (%s) was launched in this phase but hosts none of its pods (pods on %v)", id, dns, hosts)
		}
	}
	if len(launched) == 0 {
		t.Errorf("no instance launched for the constrained pods (pods on %v)", hosts)
	}
	for _, d := range deployments {
		if err := kube.Delete(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
}

// instancesLaunchedSince maps the id of each cluster instance launched at or after since (any
// state) to its private DNS name, the name of its Node.
func (e *opEnv) instancesLaunchedSince(since time.Time) map[string]string {
	e.t.Helper()
	out, err := e.ec2.DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("tag:" + v1alpha5.TagCluster), Values: []string{e.sb.ClusterName}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	launched := map[string]string{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if i.LaunchTime != nil && !i.LaunchTime.Before(since.Truncate(time.Second)) {
				launched[awssdk.ToString(i.InstanceId)] = awssdk.ToString(i.PrivateDnsName)
			}
		}
	}
	return launched
}
