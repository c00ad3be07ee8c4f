package operator

import (
	"fmt"
	"sort"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Zones of the sandbox's seed subnets the volume phases pin pods to.
const (
	zonalZone = "us-east-1b"
	localZone = "us-east-1c"
	lateZone  = "us-east-1a"
)

// zonalVolume returns a 1Gi ReadWriteOnce PersistentVolume of class whose required node
// affinity is zone; csi makes it an EBS CSI volume, else a local volume.
func zonalVolume(name, class, zone string, csi bool) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			StorageClassName:              class,
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{zone}}}}}}},
		},
	}
	if csi {
		pv.Spec.CSI = &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com", VolumeHandle: "vol-" + name}
	} else {
		pv.Spec.Local = &corev1.LocalVolumeSource{Path: "/mnt/disks/" + name}
	}
	return pv
}

// volumeClaim returns a 1Gi ReadWriteOnce claim in "default" of class, naming volume ("" none).
func volumeClaim(name, class, volume string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), VolumeName: volume,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
	}
}

// withClaim mounts claim in the Deployment's pods.
func withClaim(d *appsv1.Deployment, claim string) *appsv1.Deployment {
	d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{Name: "data",
		VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	return d
}

// noProvisionerClass is a WaitForFirstConsumer class without dynamic provisioning (static
// local-style volumes only).
func noProvisionerClass(name string) *storagev1.StorageClass {
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "kubernetes.io/no-provisioner",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)}
}

// create creates every object, failing the test on error.
func (e *opEnv) create(objs ...client.Object) {
	e.t.Helper()
	for _, o := range objs {
		if err := e.kube.Create(e.ctx, o); err != nil {
			e.t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

// remove deletes every object (missing ones are fine), failing the test on other errors.
func (e *opEnv) remove(objs ...client.Object) {
	e.t.Helper()
	for _, o := range objs {
		if err := e.kube.Delete(e.ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			e.t.Fatalf("deleting %T %s: %v", o, o.GetName(), err)
		}
	}
}

// runningPods returns the Running, not deleted pods of "default" labelled app=app, with the
// zone of their node.
func (e *opEnv) runningPods(app string) (map[string]string, error) {
	pods := &corev1.PodList{}
	if err := e.kube.List(e.ctx, pods, client.InNamespace("default"), client.MatchingLabels{"app": app}); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		n := &corev1.Node{}
		if err := e.kube.Get(e.ctx, client.ObjectKey{Name: p.Spec.NodeName}, n); err != nil {
			return nil, err
		}
		out[p.Name] = n.Name + "@" + n.Labels[v1alpha5.LabelZone]
	}
	return out, nil
}

// launchedInstances returns the cluster's instances launched at or after since (any state).
func (e *opEnv) launchedInstances(since time.Time) []ec2types.Instance {
	e.t.Helper()
	out, err := e.ec2.DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("tag:" + v1alpha5.TagCluster), Values: []string{e.sb.ClusterName}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	var launched []ec2types.Instance
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if i.LaunchTime != nil && !i.LaunchTime.Before(since.Truncate(time.Second)) {
				launched = append(launched, i)
			}
		}
	}
	return launched
}

// runVolumeWorkloads checks volume topology against kube-scheduler's VolumeBinding and
// VolumeZone plugins and kube-controller-manager's PersistentVolume controller:
//   - "zonal": one replica mounting a claim that names an EBS CSI PersistentVolume whose node
//     affinity is us-east-1b (the PV controller binds them; the pod is created at once);
//   - "local": a StatefulSet of 2 replicas whose claims are of a WaitForFirstConsumer class
//     without a provisioner, with two static local PVs in us-east-1c (kube-scheduler picks the
//     PVs and the PV controller completes the binding).
//
// All 3 pods must run in their volume's zone, every instance launched in this phase must be in
// that zone and host one of them, both local claims must be bound to the local PVs, and 20 s
// later no further instance may have been launched. Everything is deleted at the end.
func (e *opEnv) runVolumeWorkloads() {
	t, ctx := e.t, e.ctx
	t.Helper()
	since := time.Now().Add(-time.Second)
	zonalPV := zonalVolume("zonal-pv", "", zonalZone, true)
	zonalClaim := volumeClaim("zonal-claim", "", "zonal-pv")
	zonal := withClaim(constrainedDeployment("zonal", 1, "250m", nil), "zonal-claim")
	class := noProvisionerClass("local-wfc")
	local0, local1 := zonalVolume("local-pv-0", "local-wfc", localZone, false), zonalVolume("local-pv-1", "local-wfc", localZone, false)
	sts := localStatefulSet("local", 2, "local-wfc")
	e.create(zonalPV, zonalClaim, zonal, class, local0, local1, sts)

	var zones map[string]string
	waitFor(t, ctx, 150*time.Second, "zonal and local pods Running in their volumes' zones", func() (bool, string) {
		z, err := e.runningPods("zonal")
		if err != nil {
			return false, err.Error()
		}
		l, err := e.runningPods("local")
		if err != nil {
			return false, err.Error()
		}
		zones = map[string]string{}
		for k, v := range z {
			zones[k] = v
		}
		for k, v := range l {
			zones[k] = v
		}
		return len(z) == 1 && len(l) == 2, fmt.Sprintf("running: %v", zones)
	})
	hosts := map[string]bool{}
	for pod, where := range zones {
		node, zone, _ := strings.Cut(where, "@")
		hosts[node] = true
		want := localZone
		if strings.HasPrefix(pod, "zonal") {
			want = zonalZone
		}
		if zone != want {
			t.Errorf("pod %s runs on %s in %s, want %s (its volume's zone)", pod, node, zone, want)
		}
	}
	for _, name := range []string{"data-local-0", "data-local-1"} {
		c := &corev1.PersistentVolumeClaim{}
		if err := e.kube.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, c); err != nil {
			t.Fatal(err)
		}
		if c.Status.Phase != corev1.ClaimBound || !strings.HasPrefix(c.Spec.VolumeName, "local-pv-") {
			t.Errorf("claim %s: phase %s, volume %q; want Bound to a local PV", name, c.Status.Phase, c.Spec.VolumeName)
		}
	}
	time.Sleep(20 * time.Second) // a solver that disagrees with kube-scheduler keeps launching
	launched := e.launchedInstances(since)
	for _, i := range launched {
		dns, zone := awssdk.ToString(i.PrivateDnsName), awssdk.ToString(i.Placement.AvailabilityZone)
		if !hosts[dns] {
			t.Errorf("instance %s (%s, %s) was launched in this phase but hosts none of its pods (pods on %v)", awssdk.ToString(i.InstanceId), dns, zone, zones)
		}
	}
	if len(launched) == 0 {
		t.Errorf("no instance launched for the volume pods (pods on %v)", zones)
	}
	t.Logf("volume pods: %v; %d instances launched", zones, len(launched))
	e.remove(zonal, sts, zonalClaim, volumeClaim("data-local-0", "", ""), volumeClaim("data-local-1", "", ""))
	e.remove(zonalPV, local0, local1, class)
}

// localStatefulSet returns a StatefulSet of replicas pause pods labelled app=name (250m each),
// started in parallel, each with a 1Gi claim "data" of class.
func localStatefulSet(name string, replicas int32, class string) *appsv1.StatefulSet {
	return scenarioStatefulSet(name, name, replicas, "250m", class)
}

// provisioningFailures returns the messages of the FailedProvisioning Events of the pods of
// "default" whose names start with prefix.
func (e *opEnv) provisioningFailures(prefix string) ([]string, error) {
	events := &corev1.EventList{}
	if err := e.kube.List(e.ctx, events, client.InNamespace("default")); err != nil {
		return nil, err
	}
	var out []string
	for _, ev := range events.Items {
		if ev.InvolvedObject.Kind == "Pod" && strings.HasPrefix(ev.InvolvedObject.Name, prefix) && ev.Reason == "FailedProvisioning" {
			out = append(out, ev.Message)
		}
	}
	sort.Strings(out)
	return out, nil
}

// runVolumeFaults checks that pods whose claims cannot bind get a FailedProvisioning Event
// naming the reason and cause no launch, and that the controller recovers once the cluster is
// fixed:
//   - "late": a claim of StorageClass "late", which does not exist yet;
//   - "ghost": a claim naming PersistentVolume "ghost-pv", which does not exist (as if deleted);
//   - "orphan": a pod mounting claim "no-such-claim".
//
// After the Events and 10 s without a launch, StorageClass "late" (WaitForFirstConsumer, no
// provisioner) and a static PV in us-east-1a are created: "late" must then run in us-east-1a
// on the one instance launched for it.
func (e *opEnv) runVolumeFaults() {
	t, ctx := e.t, e.ctx
	t.Helper()
	since := time.Now().Add(-time.Second)
	lateClaim, ghostClaim := volumeClaim("late-claim", "late", ""), volumeClaim("ghost-claim", "", "ghost-pv")
	late := withClaim(constrainedDeployment("late", 1, "250m", nil), "late-claim")
	ghost := withClaim(constrainedDeployment("ghost", 1, "250m", nil), "ghost-claim")
	orphan := withClaim(constrainedDeployment("orphan", 1, "250m", nil), "no-such-claim")
	e.create(lateClaim, ghostClaim, late, ghost, orphan)
	want := map[string]string{
		"late":   `StorageClass "late" does not exist`,
		"ghost":  `bound to PersistentVolume "ghost-pv", which does not exist`,
		"orphan": `PersistentVolumeClaim "no-such-claim" not found`,
	}
	waitFor(t, ctx, 60*time.Second, "FailedProvisioning Events naming each volume fault", func() (bool, string) {
		var missing []string
		for app, text := range want {
			msgs, err := e.provisioningFailures(app + "-")
			if err != nil {
				return false, err.Error()
			}
			if !strings.Contains(strings.Join(msgs, "\n"), text) {
				missing = append(missing, fmt.Sprintf("%s: %q not in %q", app, text, msgs))
			}
		}
		return len(missing) == 0, strings.Join(missing, "; ")
	})
	time.Sleep(10 * time.Second)
	if launched := e.launchedInstances(since); len(launched) != 0 {
		t.Errorf("%d instances launched for pods whose claims cannot bind", len(launched))
	}

	// Fix the class: the pod lands in the zone of the only PV of that class. The class comes
	// first, so the PV controller leaves the claim to kube-scheduler.
	fixed := time.Now().Add(-time.Second)
	lateClass, latePV := noProvisionerClass("late"), zonalVolume("late-pv", "late", lateZone, false)
	e.create(lateClass)
	time.Sleep(time.Second)
	e.create(latePV)
	var where map[string]string
	waitFor(t, ctx, 120*time.Second, "the late pod Running once its class and a PV exist", func() (bool, string) {
		var err error
		where, err = e.runningPods("late")
		if err != nil {
			return false, err.Error()
		}
		return len(where) == 1, fmt.Sprintf("running: %v", where)
	})
	for pod, w := range where {
		if _, zone, _ := strings.Cut(w, "@"); zone != lateZone {
			t.Errorf("pod %s runs in %s, want %s (its PV's zone)", pod, zone, lateZone)
		}
	}
	launched := e.launchedInstances(fixed)
	if len(launched) != 1 || awssdk.ToString(launched[0].Placement.AvailabilityZone) != lateZone {
		t.Errorf("want one instance launched in %s after the fix, got %d", lateZone, len(launched))
	}
	t.Logf("late pod: %v", where)
	e.remove(late, ghost, orphan, lateClaim, ghostClaim)
	e.remove(latePV, lateClass)
}

// constrainedDeployment returns a Deployment of replicas pause pods labelled app=name, each
// requesting cpu, with the given affinity.
func constrainedDeployment(name string, replicas int32, cpu string, affinity *corev1.Affinity) *appsv1.Deployment {
	return scenarioDeployment(name, name, replicas, cpu, func(s *corev1.PodSpec) { s.Affinity = affinity })
}
