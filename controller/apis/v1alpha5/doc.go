// Package v1alpha5 holds the karpenter.sh/v1alpha5 API: the cluster-scoped Provisioner,
// its defaults, validation and the well-known labels, annotations and finalizer.
//
// The shape follows Karpenter v0.6-v0.31's v1alpha5 API so that manifests written for it
// (e.g. the tutorial's provisioner.yaml) apply unchanged.
//
// +kubebuilder:object:generate=true
// +groupName=karpenter.sh
package v1alpha5

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// SchemeGroupVersion is karpenter.sh/v1alpha5.
	SchemeGroupVersion = schema.GroupVersion{Group: "karpenter.sh", Version: "v1alpha5"}
	// SchemeBuilder registers the types of this package.
	SchemeBuilder = &scheme.Builder{GroupVersion: SchemeGroupVersion}
	// AddToScheme adds Provisioner and ProvisionerList to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(&Provisioner{}, &ProvisionerList{})
}
