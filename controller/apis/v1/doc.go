// Package v1 holds the karpenter.sh/v1 API of this controller: the cluster-scoped NodeClaim,
// the durable record of one launch.
//
// The Provisioner stays at karpenter.sh/v1alpha5 (manifests written for Karpenter v0.x apply
// unchanged); NodeClaim takes its version and shape from Karpenter's karpenter.sh/v1 NodeClaim
// (kubernetes-sigs/karpenter pkg/apis/v1/nodeclaim.go) so that a later NodePool API can reuse
// it. Only the fields this controller fills are declared; the owner is referenced by the
// label karpenter.sh/provisioner-name and an owner reference to the Provisioner.
//
// +kubebuilder:object:generate=true
// +groupName=karpenter.sh
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// SchemeGroupVersion is karpenter.sh/v1.
	SchemeGroupVersion = schema.GroupVersion{Group: "karpenter.sh", Version: "v1"}
	// SchemeBuilder registers the types of this package (see addKnownTypes).
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds NodeClaim and NodeClaimList, plus the meta/v1 types every group version
	// needs, to a scheme under SchemeGroupVersion. It returns the first registration error.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers NodeClaim and NodeClaimList under SchemeGroupVersion, and the shared
// meta/v1 types for that group version.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &NodeClaim{}, &NodeClaimList{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
