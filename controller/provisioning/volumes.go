package provisioning

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// registerVolumeTriggers starts the informers of PersistentVolumeClaims, PersistentVolumes,
// StorageClasses and CSINodes (the solver reads them from the cache) and opens a batch on any
// change to them: a claim created or bound, a volume released or a class created can make a
// pending pod schedulable without kube-scheduler updating the pod.
func (p *Provisioner) registerVolumeTriggers(mgr manager.Manager) error {
	trigger := reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
		p.Trigger()
		return reconcile.Result{}, nil
	})
	if err := builder.ControllerManagedBy(mgr).Named("provisioning.volumes").For(&corev1.PersistentVolumeClaim{}).
		Watches(&corev1.PersistentVolume{}, &handler.EnqueueRequestForObject{}).
		Watches(&storagev1.StorageClass{}, &handler.EnqueueRequestForObject{}).
		Watches(&storagev1.CSINode{}, &handler.EnqueueRequestForObject{}).
		Complete(trigger); err != nil {
		return fmt.Errorf("registering volume trigger: %w", err)
	}
	return nil
}

// hasClaims reports whether a pod has a persistentVolumeClaim or generic ephemeral volume.
func hasClaims(pods []*corev1.Pod) bool {
	for _, pod := range pods {
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].PersistentVolumeClaim != nil || pod.Spec.Volumes[i].Ephemeral != nil {
				return true
			}
		}
	}
	return false
}

// listVolumes returns every PersistentVolumeClaim (by "namespace/name"), PersistentVolume,
// StorageClass and CSINode (by name) when a pending pod has a claim (the claims of pods bound to
// nodes count against attach limits), else empty Volumes. Errors: list failures.
func (p *Provisioner) listVolumes(ctx context.Context, pending []*corev1.Pod) (scheduling.Volumes, error) {
	vols := scheduling.Volumes{}
	if !hasClaims(pending) {
		return vols, nil
	}
	var pvcs corev1.PersistentVolumeClaimList
	if err := p.kube.List(ctx, &pvcs); err != nil {
		return vols, fmt.Errorf("listing persistentvolumeclaims: %w", err)
	}
	var pvs corev1.PersistentVolumeList
	if err := p.kube.List(ctx, &pvs); err != nil {
		return vols, fmt.Errorf("listing persistentvolumes: %w", err)
	}
	var classes storagev1.StorageClassList
	if err := p.kube.List(ctx, &classes); err != nil {
		return vols, fmt.Errorf("listing storageclasses: %w", err)
	}
	var csiNodes storagev1.CSINodeList
	if err := p.kube.List(ctx, &csiNodes); err != nil {
		return vols, fmt.Errorf("listing csinodes: %w", err)
	}
	return scheduling.NewVolumes(pvcs.Items, pvs.Items, classes.Items, csiNodes.Items), nil
}
