package simulate

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

func (r *reader) namespace(o *Object, _ role) error {
	ns := &corev1.Namespace{}
	if usable, err := r.decode(o, ns); !usable || err != nil {
		return err
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
	if err != nil {
		return err
	}
	r.nodeNames[n.Name] = true
	r.nodes = append(r.nodes, n)
	return nil
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
		errs := make([]error, 0, len(res.Errors))
		for _, fe := range res.Errors {
			errs = append(errs, o.Errorf(fe.Field, "invalid Provisioner %q: %s", o.Name, fe.ErrorBody()))
		}
		return errors.Join(errs...)
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
