package crds

import (
	"context"
	"fmt"
	"math"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// Validator checks objects of one CRD version the way kube-apiserver does on create, with the
// API server's own code (k8s.io/apiextensions-apiserver): schema defaults applied, fields the
// structural schema does not know pruned, then metadata (name a DNS subdomain), the OpenAPI v3
// schema (types, enums, minimum/maximum, min/maxItems, min/maxProperties, ...), the uniqueness
// of x-kubernetes-list-type map keys and set items, and the
// x-kubernetes-validations CEL rules within the API server's cost budget. It needs no API
// server, so Provisioners can be checked offline (the simulate command). Safe for concurrent
// use.
type Validator struct {
	kind       string
	apiVersion string
	namespaced bool
	structural *structuralschema.Structural
	schema     validation.SchemaValidator
	cel        *cel.Validator
}

// ValidationResult is the outcome of Validator.Validate.
type ValidationResult struct {
	// Object is the input after defaulting and pruning: what the API server would store.
	Object map[string]any
	// Pruned are the paths of fields the schema does not know (dropped, as kubectl warns).
	Pruned []string
	// Errors are the reasons the API server would refuse the object, with field paths.
	Errors field.ErrorList
	// RulesNotChecked: Errors hold an error that keeps the API server from running the CRD's
	// x-kubernetes-validations rules (blocksCEL), so those were not checked.
	RulesNotChecked bool
}

var (
	provisionerOnce      sync.Once
	provisionerValidator *Validator
	provisionerErr       error
)

// ProvisionerValidator returns the Validator of the embedded Provisioner CRD
// (karpenter.sh/v1alpha5), built once. Errors: the embedded CRD does not parse or its schema is
// not structural (a build defect, caught by this package's tests).
func ProvisionerValidator() (*Validator, error) {
	provisionerOnce.Do(func() {
		provisionerValidator, provisionerErr = NewValidator(Provisioner, "v1alpha5")
	})
	return provisionerValidator, provisionerErr
}

// NewValidator builds a Validator for the named version of the CRD manifest crdYAML. Errors:
// the manifest does not parse, has no such version or no schema, or the schema is not
// structural.
func NewValidator(crdYAML []byte, version string) (*Validator, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(crdYAML, &crd); err != nil {
		return nil, fmt.Errorf("parsing CRD: %w", err)
	}
	var v1schema *apiextensionsv1.JSONSchemaProps
	for _, v := range crd.Spec.Versions {
		if v.Name == version && v.Schema != nil {
			v1schema = v.Schema.OpenAPIV3Schema
		}
	}
	if v1schema == nil {
		return nil, fmt.Errorf("CRD %s has no schema for version %s", crd.Name, version)
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1schema, internal, nil); err != nil {
		return nil, fmt.Errorf("converting the schema of CRD %s: %w", crd.Name, err)
	}
	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("schema of CRD %s is not structural: %w", crd.Name, err)
	}
	schemaValidator, _, err := validation.NewSchemaValidator(internal)
	if err != nil {
		return nil, fmt.Errorf("schema of CRD %s: %w", crd.Name, err)
	}
	return &Validator{
		kind:       crd.Spec.Names.Kind,
		apiVersion: crd.Spec.Group + "/" + version,
		namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		structural: structural,
		schema:     schemaValidator,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// Validate defaults, prunes and validates obj (an unstructured object, as decoded from JSON or
// YAML; it is not modified; whole numbers decoded as float64, as encoding/json and
// sigs.k8s.io/yaml give them, are read as the int64 the API server's decoder makes of them). Error paths are rooted at the object (metadata.name,
// spec.requirements[0].operator, ...).
func (v *Validator) Validate(ctx context.Context, obj map[string]any) ValidationResult {
	u := runtime.DeepCopyJSON(obj)
	wholeFloatsToInts(u)
	res := ValidationResult{Object: u}
	if kind, _ := u["kind"].(string); kind != v.kind {
		res.Errors = append(res.Errors, field.Invalid(field.NewPath("kind"), u["kind"], "must be "+v.kind))
	}
	if apiVersion, _ := u["apiVersion"].(string); apiVersion != v.apiVersion {
		res.Errors = append(res.Errors, field.Invalid(field.NewPath("apiVersion"), u["apiVersion"], "must be "+v.apiVersion))
	}
	if len(res.Errors) > 0 {
		return res
	}
	structuraldefaulting.Default(u, v.structural)
	res.Pruned = structuralpruning.PruneWithOptions(u, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	res.Errors = append(res.Errors, v.validateMetadata(u)...)
	res.Errors = append(res.Errors, validation.ValidateCustomResource(nil, u, v.schema)...)
	res.Errors = append(res.Errors, schemaobjectmeta.Validate(ctx, nil, u, v.structural, false)...)
	// x-kubernetes-list-type map and set: unique keys and items (spec.provider.blockDeviceMappings).
	res.Errors = append(res.Errors, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, u)...)
	if blocksCEL(res.Errors) {
		// As the API server: CEL rules run only on objects whose types, required fields, enums
		// and sizes are right; a pattern, format or bound error lets them run.
		res.RulesNotChecked = true
		return res
	}
	celErrs, _ := v.cel.Validate(ctx, nil, v.structural, u, nil, celconfig.RuntimeCELCostBudget)
	res.Errors = append(res.Errors, celErrs...)
	return res
}

// blocksCEL reports whether errs hold an error that keeps the API server from running the CEL
// rules (k8s.io/apiextensions-apiserver/pkg/registry/customresource, hasBlockingErr): a value
// of the wrong type, a required field missing, a value not in an enum, or too long / too many.
func blocksCEL(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// validateMetadata checks metadata as the API server's generic registry does on create: name
// set and a DNS subdomain, namespace set only for namespaced kinds, labels and annotations
// well formed.
func (v *Validator) validateMetadata(u map[string]any) field.ErrorList {
	path := field.NewPath("metadata")
	raw, _ := u["metadata"].(map[string]any)
	meta := &metav1.ObjectMeta{}
	if raw != nil {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, meta); err != nil {
			return field.ErrorList{field.Invalid(path, nil, err.Error())}
		}
	}
	if !v.namespaced && meta.Namespace != "" {
		// kubectl drops the namespace of a cluster-scoped object; so does this check.
		meta.Namespace = ""
	}
	return apivalidation.ValidateObjectMeta(meta, v.namespaced, apivalidation.NameIsDNSSubdomain, path)
}

// wholeFloatsToInts replaces, in place, the float64 values of v (maps and lists, recursively)
// that hold a whole number within int64 by that int64: the API server decodes the integer
// literals of a request as int64, and its schema and CEL checks (integers, int-or-string) rely
// on it.
func wholeFloatsToInts(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = wholeFloatsToInts(e)
		}
	case []any:
		for i, e := range t {
			t[i] = wholeFloatsToInts(e)
		}
	case float64:
		if t == math.Trunc(t) && t >= math.MinInt64 && t < math.MaxInt64 {
			return int64(t)
		}
	}
	return v
}
