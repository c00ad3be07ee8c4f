package crds_test

import (
	"context"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
)

// TestCRDsPassTheAPIServersDefinitionChecks runs the API server's own checks of a
// CustomResourceDefinition on each generated CRD, without an API server: among them the CEL
// cost budget of every rule and messageExpression and of the whole schema (a messageExpression
// that joins a filtered list has an unbounded estimate and makes the API server refuse the
// CRD). The API-server tests that install the CRDs check the same, later and slower.
func TestCRDsPassTheAPIServersDefinitionChecks(t *testing.T) {
	for _, raw := range crds.All() {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
			t.Fatalf("generated CRD does not parse: %v", err)
		}
		apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(&crd)
		var internal apiextensions.CustomResourceDefinition
		if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&crd, &internal, nil); err != nil {
			t.Fatalf("%s: %v", crd.Name, err)
		}
		for _, e := range validation.ValidateCustomResourceDefinition(context.Background(), &internal) {
			t.Errorf("%s: the API server would refuse the CRD: %v", crd.Name, e)
		}
	}
}
