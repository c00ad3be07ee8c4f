package provisioning

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestProvisionReadsVolumes runs a batch whose pods mount claims: one bound to a volume in
// us-east-1b gets a node there; one whose class binds immediately gets an Event and no node.
func TestProvisionReadsVolumes(t *testing.T) {
	claim := func(name, class, volume string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), VolumeName: volume,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	}
	mount := func(p *corev1.Pod, claim string) *corev1.Pod {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
		return tolerating(p)
	}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-b"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com", VolumeHandle: "vol-b"}},
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: corev1.LabelTopologyZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1b"}}}}}}}}}
	standard := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Provisioner: "ebs.csi.aws.com",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}
	e := newEnv(t, defaultProvisioner(), pv, standard, claim("bound", "", "pv-b"), claim("waiting", "standard", ""),
		mount(pendingPod("zonal", "1", "1Gi"), "bound"), mount(pendingPod("immediate", "1", "1Gi"), "waiting"))

	res, err := e.prov.Provision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Launched) != 1 || res.Launched[0].Node.Zone != "us-east-1b" || res.Launched[0].Pods[0].Name != "zonal" {
		t.Fatalf("want one launch in us-east-1b for zonal, got %+v", res.Launched)
	}
	if len(res.Unschedulable) != 1 || res.Unschedulable[0].Pod.Name != "immediate" {
		t.Fatalf("want immediate unschedulable, got %+v", res.Unschedulable)
	}
	events := strings.Join(e.events(), "\n")
	if !strings.Contains(events, `FailedProvisioning Cannot provision a node: PersistentVolumeClaim "waiting" is not bound and StorageClass "standard" binds immediately`) {
		t.Errorf("events:\n%s", events)
	}
}
