package v1_test

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
)

// The generated NodeClaim CRD is cluster scoped, served and stored as karpenter.sh/v1 with a
// status subresource, and `kubectl get nodeclaims` shows type, zone, capacity type, node and age.
func TestNodeClaimCRD(t *testing.T) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(crds.NodeClaim, &crd); err != nil {
		t.Fatal(err)
	}
	if crd.Name != "nodeclaims.karpenter.sh" || crd.Spec.Scope != apiextensionsv1.ClusterScoped || len(crd.Spec.Versions) != 1 {
		t.Fatalf("crd %s scope %s versions %d", crd.Name, crd.Spec.Scope, len(crd.Spec.Versions))
	}
	v := crd.Spec.Versions[0]
	if v.Name != "v1" || !v.Served || !v.Storage || v.Subresources == nil || v.Subresources.Status == nil {
		t.Fatalf("version %+v", v)
	}
	cols := map[string]string{}
	for _, c := range v.AdditionalPrinterColumns {
		if c.Priority == 0 {
			cols[c.Name] = c.JSONPath
		}
	}
	want := map[string]string{
		"Type":     ".metadata.labels.node\\.kubernetes\\.io/instance-type",
		"Zone":     ".metadata.labels.topology\\.kubernetes\\.io/zone",
		"Capacity": ".metadata.labels.karpenter\\.sh/capacity-type",
		"Node":     ".status.nodeName",
		"Age":      ".metadata.creationTimestamp",
	}
	for name, path := range want {
		if cols[name] != path {
			t.Errorf("column %s: %q, want %q", name, cols[name], path)
		}
	}
	spec := v.Schema.OpenAPIV3Schema.Properties["spec"]
	for _, f := range []string{"requirements", "resources", "taints", "startupTaints", "provisionerName"} {
		if _, ok := spec.Properties[f]; !ok {
			t.Errorf("spec.%s missing", f)
		}
	}
	status := v.Schema.OpenAPIV3Schema.Properties["status"]
	for _, f := range []string{"providerID", "nodeName", "imageID", "capacity", "allocatable", "conditions"} {
		if _, ok := status.Properties[f]; !ok {
			t.Errorf("status.%s missing", f)
		}
	}
}
