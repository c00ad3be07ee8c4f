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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// SchemeGroupVersion is karpenter.sh/v1alpha5.
	SchemeGroupVersion = schema.GroupVersion{Group: "karpenter.sh", Version: "v1alpha5"}
	// SchemeBuilder registers the types of this package (see addKnownTypes).
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds Provisioner and ProvisionerList, plus the meta/v1 types every group
	// version needs (ListOptions, Status, ...), to a scheme under SchemeGroupVersion. It
	// returns the first registration error, e.g. a kind already registered to another type.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers Provisioner and ProvisionerList under SchemeGroupVersion, and the
// shared meta/v1 types for that group version.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &Provisioner{}, &ProvisionerList{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
