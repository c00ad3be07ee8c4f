// Command crdpatch adds to the CRDs controller-gen wrote the bounds that markers cannot carry:
// fields of types from other modules (corev1.Taint) get no markers, so their strings have no
// maxLength, and CEL rules over them exceed the API server's cost budget. It runs after
// controller-gen in make generate; it rewrites each file in place.
//
// Taints (spec.taints, spec.startupTaints of a Provisioner and a NodeClaim) get what the API
// server checks on a Node (k8s.io/kubernetes pkg/apis/core/validation validateNodeTaints):
// a key that is a qualified name (at most 253 characters of DNS subdomain prefix, '/', at most
// 63 of name; the qualified-name CEL rule only where the list has maxItems, the Provisioner's),
// a value of at most 63 characters that is a label value, an effect of NoSchedule,
// PreferNoSchedule or NoExecute (an enum, so that an unknown effect is refused at
// spec.taints[i].effect, not at the list). A Provisioner's
// spec.labels values get the label value's length and pattern (a CEL rule over unbounded map
// values would exceed the budget too), and its spec.provider.tags values EC2's length bound
// (256 characters).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

const (
	// taintKeyMaxLength is a qualified name's bound: a 253-character prefix, '/', a
	// 63-character name (k8s.io/apimachinery validation.IsQualifiedName).
	taintKeyMaxLength = 253 + 1 + 63
	// taintValueMaxLength is a label value's bound (validation.IsValidLabelValue).
	taintValueMaxLength = 63
	// tagValueMaxLength is EC2's bound of a tag value (v1alpha5.MaxTagValueLength).
	tagValueMaxLength = 256
	// labelValuePattern is validation.IsValidLabelValue's expression (empty allowed).
	labelValuePattern = `^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`
	// qualifiedNameRule is the CEL check of a taint key; bounded by taintKeyMaxLength and the
	// lists' maxItems, its cost fits the API server's budget.
	qualifiedNameRule    = "!format.qualifiedName().validate(self).hasValue()"
	qualifiedNameMessage = "taint keys must be qualified names: an optional DNS subdomain prefix and '/', then 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
)

// taintEffects are the effects the API server accepts on a Node's taint (corev1.TaintEffect).
var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

func main() {
	flag.Parse()
	for _, f := range flag.Args() {
		if err := patch(f); err != nil {
			fmt.Fprintf(os.Stderr, "crdpatch: %s: %v\n", f, err)
			os.Exit(1)
		}
	}
}

func patch(file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		return err
	}
	for i := range crd.Spec.Versions {
		s := crd.Spec.Versions[i].Schema
		if s == nil || s.OpenAPIV3Schema == nil {
			continue
		}
		spec, ok := s.OpenAPIV3Schema.Properties["spec"]
		if !ok {
			continue
		}
		if labels, ok := spec.Properties["labels"]; ok && labels.AdditionalProperties != nil && labels.AdditionalProperties.Schema != nil {
			v := labels.AdditionalProperties.Schema
			v.MaxLength, v.Pattern = ptr(int64(taintValueMaxLength)), labelValuePattern
			spec.Properties["labels"] = labels
		}
		if provider, ok := spec.Properties["provider"]; ok {
			if tags, ok := provider.Properties["tags"]; ok && tags.AdditionalProperties != nil && tags.AdditionalProperties.Schema != nil {
				tags.AdditionalProperties.Schema.MaxLength = ptr(int64(tagValueMaxLength))
				provider.Properties["tags"] = tags
				spec.Properties["provider"] = provider
			}
		}
		for _, name := range []string{"taints", "startupTaints"} {
			if list, ok := spec.Properties[name]; ok {
				boundTaints(&list)
				spec.Properties[name] = list
			}
		}
		s.OpenAPIV3Schema.Properties["spec"] = spec
	}
	out, err := yaml.Marshal(&crd)
	if err != nil {
		return err
	}
	// controller-gen's layout: a document marker first, no status or creationTimestamp.
	out = bytes.Replace(out, []byte("  creationTimestamp: null\n"), nil, 1)
	if i := bytes.Index(out, []byte("\nstatus:\n")); i >= 0 {
		out = out[:i+1]
	}
	return os.WriteFile(file, append([]byte("---\n"), out...), 0o644)
}

// boundTaints bounds a list of corev1.Taint: key and value lengths, the value's pattern, the
// effect's enum and, when the list has maxItems, a CEL rule on the key (once, however often it
// runs), so errors name spec.taints[i].key, .value and .effect.
func boundTaints(list *apiextensionsv1.JSONSchemaProps) {
	items := list.Items.Schema
	key, value, effect := items.Properties["key"], items.Properties["value"], items.Properties["effect"]
	key.MinLength, key.MaxLength = ptr(int64(1)), ptr(int64(taintKeyMaxLength))
	value.MaxLength, value.Pattern = ptr(int64(taintValueMaxLength)), labelValuePattern
	effect.Enum = nil
	for _, e := range taintEffects {
		effect.Enum = append(effect.Enum, apiextensionsv1.JSON{Raw: []byte(strconv.Quote(e))})
	}
	// The API server estimates a rule's cost from the bounds: with no maxItems on the list
	// (a NodeClaim's taints, written by the controller from a validated Provisioner) the key
	// rule's estimate exceeds the budget and the CRD is refused, so it gets the bounds only.
	if list.MaxItems != nil && !slices.ContainsFunc(key.XValidations, func(r apiextensionsv1.ValidationRule) bool { return r.Rule == qualifiedNameRule }) {
		key.XValidations = append(key.XValidations, apiextensionsv1.ValidationRule{Rule: qualifiedNameRule, Message: qualifiedNameMessage})
	}
	items.Properties["key"], items.Properties["value"], items.Properties["effect"] = key, value, effect
}

func ptr[T any](v T) *T { return &v }
