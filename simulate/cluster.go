package simulate

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

func (r *reader) namespace(o *Object, _ role) error {
	ns := &corev1.Namespace{}
	usable, err := r.decode(o, ns)
	if !usable {
		return err
	}
	// The name is checked even when a field (a label's type) is wrong: every error at once.
	labelErrs := fieldErrors(o, validateLabels(ns.Labels, field.NewPath("metadata", "labels")))
	if nameErr := namespaceName(o, "metadata.name", ns.Name); nameErr != nil || err != nil || len(labelErrs) > 0 {
		return errors.Join(append([]error{err, nameErr}, labelErrs...)...)
	}
	labels := map[string]string{corev1.LabelMetadataName: ns.Name}
	for k, v := range ns.Labels {
		labels[k] = v
	}
	r.w.NamespaceLabels[ns.Name] = labels
	return nil
}

func (r *reader) node(o *Object, _ role) error {
	n := corev1.Node{}
	usable, err := r.decode(o, &n)
	if n.Name == "" && usable {
		err = errors.Join(err, o.Errorf("metadata.name", "Required value: a Node needs a name"))
	}
	if usable {
		fes := nodeQuantities(n.Status.Capacity, field.NewPath("status", "capacity"))
		fes = append(fes, nodeQuantities(n.Status.Allocatable, field.NewPath("status", "allocatable"))...)
		// The API server's checks of a Node's taints (a known effect, qualified keys).
		fes = append(fes, v1alpha5.ValidateTaints(n.Spec.Taints, field.NewPath("spec", "taints"), map[string]bool{})...)
		for _, fe := range fes {
			// As given ("1.5"), not as the quantity prints it ("1500m").
			if v, ok := valueAt(o.Content, fe.Field); ok {
				fe.BadValue = fmt.Sprint(v)
			}
		}
		fes = append(validateLabels(n.Labels, field.NewPath("metadata", "labels")), fes...)
		err = errors.Join(append([]error{err}, fieldErrors(o, fes)...)...)
	}
	if err != nil {
		return err
	}
	r.nodeNames[n.Name] = true
	r.nodes = append(r.nodes, n)
	r.w.nodeSources = append(r.w.nodeSources, nodeSource{o: o, name: n.Name, labels: n.Labels})
	return nil
}

// nodeQuantities checks a Node's capacity or allocatable at path as the API server does
// (ValidateNode: ValidateResourceQuantityValue): not negative, and an integer for pods and
// extended resources (nvidia.com/gpu); besides, as kubelets report them, whole bytes for
// memory, ephemeral-storage and hugepages-*, which the plan counts in bytes; and at most
// maxQuantity (quantityValue).
func nodeQuantities(l corev1.ResourceList, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sortedNames(l) {
		q, p := l[name], path.Child(string(name))
		errs = append(errs, quantityValue(name, q, p)...)
		if wholeNumber(q) || extendedResource(name) { // quantityValue checks extended resources
			continue
		}
		switch {
		case name == corev1.ResourcePods:
			errs = append(errs, field.Invalid(p, q.String(), "must be an integer"))
		case name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage || strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
			errs = append(errs, field.Invalid(p, q.String(), "must be an integer: a whole number of bytes"))
		}
	}
	return errs
}

// provisioner validates o with the API server's own checks of the Provisioner CRD, then
// decodes it, refuses what the controller's validating webhook refuses (v1alpha5 Validate) and
// applies the v1alpha5 defaults, as the controller does in memory.
func (r *reader) provisioner(o *Object, _ role) error {
	v, err := crds.ProvisionerValidator()
	if err != nil {
		return err
	}
	res := v.Validate(r.ctx, o.Content)
	for _, p := range res.Pruned {
		r.w.Warnings = append(r.w.Warnings, fmt.Sprintf("%s:%d: Provisioner %s: unknown field %q (dropped, as the API server does)", o.Source, o.LineOf(p), o.Name, p))
	}
	if len(res.Errors) > 0 {
		err := schemaErrors(o, res.Errors)
		if res.RulesNotChecked {
			err = errors.Join(err, o.Errorf("", "invalid Provisioner %q: %s", o.Name, rulesNotChecked))
		}
		return err
	}
	validated := *o
	validated.Content = res.Object
	prov := &v1alpha5.Provisioner{}
	if usable, err := r.decode(&validated, prov); !usable || err != nil {
		return err
	}
	// What the controller's validating webhook refuses besides (v1alpha5 Validate: user data,
	// limits' resource names, requirements that admit no value, ...).
	if fes := prov.Spec.Validate(field.NewPath("spec")); len(fes) > 0 {
		errs := make([]error, 0, len(fes))
		for _, fe := range fes {
			errs = append(errs, o.Errorf(fe.Field, "invalid Provisioner %q: %s", o.Name, fe.ErrorBody()))
		}
		return errors.Join(errs...)
	}
	r.w.Provisioners = append(r.w.Provisioners, prov.WithDefaults())
	if r.w.provisionerObjects == nil {
		r.w.provisionerObjects = map[string]*Object{}
	}
	r.w.provisionerObjects[prov.Name] = o
	return nil
}

// rulesNotChecked is the API server's note when schema errors keep it from running a CRD's
// x-kubernetes-validations rules (crds.ValidationResult.RulesNotChecked); the controller's
// validating webhook does not run either (its checks, such as label keys and requirements, are
// not reported).
const rulesNotChecked = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"

// checkedType matches the schema validator's second report of a value of the wrong type,
// without a field path: "Checked value must be of type integer (default format) in
// spec.limits.resources.cpu".
var checkedType = regexp.MustCompile(`^Checked value must be of type .* in (\S+)$`)

// anyOfError matches the schema validator's summary of a value that matches none of a field's
// alternatives, which it gives without a field path ("<nil>"): "\"spec.limits.resources.cpu\"
// must validate at least one schema (anyOf)".
var anyOfError = regexp.MustCompile(`^"([^"]+)" must validate at least one schema \(anyOf\)$`)

// schemaErrors words the Provisioner schema's errors as the API server gives them, each at its
// field's line, less repetition: a value of the wrong type is one "Invalid type: expected a
// quantity (a string or a number), got a boolean" error (as in Decode), not one per schema
// alternative plus an anyOf summary without a field path.
func schemaErrors(o *Object, fes field.ErrorList) error {
	fields := map[string]bool{}
	for _, fe := range fes {
		fields[fe.Field] = true
	}
	typed := map[string]bool{}
	var errs []error
	for _, fe := range fes {
		path, body := fe.Field, fe.ErrorBody()
		if path == "<nil>" {
			path = ""
			if m := anyOfError.FindStringSubmatch(fmt.Sprint(fe.BadValue) + fe.Detail); m != nil && fields[m[1]] {
				continue
			}
			if m := checkedType.FindStringSubmatch(fe.Detail); m != nil && fields[m[1]] {
				continue
			}
		}
		if (fe.Type == field.ErrorTypeInvalid || fe.Type == field.ErrorTypeTypeInvalid) && strings.Contains(fe.Detail, "must be of type") {
			if typed[path] {
				continue
			}
			typed[path] = true
			ft := fieldType(reflect.TypeOf(v1alpha5.Provisioner{}), path)
			if given, ok := valueAt(o.Content, path); ok && ft != nil && jsonKindOf(ft) != "" {
				body = fmt.Sprintf("Invalid type: expected %s, got %s%s", jsonKindOf(ft), jsonKind(given), o.yamlBoolean(path, given))
				if isQuantity(ft) {
					body = crdQuantityType(given) + o.yamlBoolean(path, given)
				}
			}
		}
		if fe.Type == field.ErrorTypeInvalid {
			path = entryPath(o, path, fe.Detail)
		}
		errs = append(errs, o.Errorf(path, "invalid Provisioner %q: %s", o.Name, body))
	}
	return errors.Join(errs...)
}

// crdQuantityType words the error of a Provisioner quantity (spec.limits.resources.cpu) given
// the value given, of the wrong type. The CRD's quantities are int-or-string
// (x-kubernetes-int-or-string): unlike a Pod's, which the API server decodes as
// resource.Quantity, they take an integer or a string only, so a fractional number (1.5) is
// refused and must be written as a string ("1.5") or in smaller units (1500m).
func crdQuantityType(given any) string {
	const expected = "Invalid type: expected an integer or a string (a quantity such as 4, \"1.5\" or 1500m)"
	if f, ok := given.(float64); ok {
		n := strconv.FormatFloat(f, 'g', -1, 64)
		return fmt.Sprintf("%s, got a number that is not an integer: %s (write it as a string: \"%s\")", expected, n, n)
	}
	return fmt.Sprintf("%s, got %s", expected, jsonKind(given))
}

// entryKey matches the detail of a CRD rule's error about one entry of a map, as the
// Provisioner CRD's messageExpressions word it: "\"cpu\": limits must be non-negative ...".
var entryKey = regexp.MustCompile(`^"([^"\[\]]+)": `)

// entryPath returns the path of the map entry that an error at path, with detail, is about:
// path.<key> (spec.limits.resources.cpu) when detail names a key (entryKey) of the map at path,
// so that the error is at the entry's line. The API server reports such errors at the map
// (spec.limits.resources), as a CEL rule's fieldPath cannot name a key. Otherwise path.
func entryPath(o *Object, path, detail string) string {
	m := entryKey.FindStringSubmatch(detail)
	if m == nil {
		return path
	}
	if ft := fieldType(reflect.TypeOf(v1alpha5.Provisioner{}), path); ft == nil || ft.Kind() != reflect.Map {
		return path
	}
	if v, ok := valueAt(o.Content, path); ok {
		if entries, ok := v.(map[string]any); ok {
			if _, ok := entries[m[1]]; ok {
				return path + "." + m[1]
			}
		}
	}
	return path
}
