package simulate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The checks here are those of the API server's validation (k8s.io/kubernetes
// pkg/apis/core/validation, v1.37: ValidatePodSpec, validateContainers, validateInitContainers,
// ValidateResourceRequirements, validateVolumes, ValidatePersistentVolumeClaimSpec) for the
// fields a plan depends on, so that an object the API server would refuse is refused here,
// with the API server's wording, rather than planned. Map keys in paths are written as fields
// (resources.requests.cpu, not resources.requests[cpu]), as in the rest of simulate's errors.
// Not checked: fields the plan does not read (probes, environment, security context).

// fieldErrors turns the field errors found in o into *SourceErrors at their lines.
func fieldErrors(o *Object, list field.ErrorList) []error {
	out := make([]error, 0, len(list))
	for _, fe := range list {
		out = append(out, o.Errorf(fe.Field, "%s", fe.ErrorBody()))
	}
	return out
}

// validatePodSpec checks a pod's (or pod template's) spec at path: at least one container;
// container names present, RFC 1123 labels and unique over containers and init containers;
// images present; resources; affinity, topology spread (with matchLabelKeys and
// mismatchLabelKeys as pods' labels value them), tolerations and ports (validateScheduling);
// nodeSelector's keys qualified names and values label values (validateLabels); volumes; no
// overhead without a runtimeClassName (the RuntimeClass admission plugin refuses
// it; applyRuntimeClasses checks it against the class).
func validatePodSpec(spec *corev1.PodSpec, pods specPods, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(path.Child("containers"), ""))
	}
	names := sets.New[string]()
	errs = append(errs, validateContainers(spec.Containers, path.Child("containers"), names)...)
	errs = append(errs, validateContainers(spec.InitContainers, path.Child("initContainers"), names)...)
	if spec.Resources != nil {
		errs = append(errs, validateResources(spec.Resources, path.Child("resources"))...)
	}
	if len(spec.Overhead) > 0 && (spec.RuntimeClassName == nil || *spec.RuntimeClassName == "") {
		errs = append(errs, field.Forbidden(path.Child("overhead"), overheadWithoutClass))
	}
	errs = append(errs, validateLabels(spec.NodeSelector, path.Child("nodeSelector"))...)
	errs = append(errs, validateScheduling(spec, pods, path)...)
	return append(errs, validateVolumes(spec.Volumes, path.Child("volumes"))...)
}

// The RuntimeClass admission plugin's refusals of a pod's overhead (k8s.io/kubernetes
// plugin/pkg/admission/runtimeclass: validateOverhead and setOverhead): the overhead is the
// RuntimeClass's to set.
const (
	overheadWithoutClass = "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"
	overheadMismatch     = "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
)

// validateContainers checks containers at path; names holds the names taken before (the
// API server checks init containers against the regular ones, so a clash is reported on
// the init container).
func validateContainers(cs []corev1.Container, path *field.Path, names sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		c, p := &cs[i], path.Index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Label(c.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
			}
		}
		if names.Has(c.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		} else {
			names.Insert(c.Name)
		}
		if c.Image == "" {
			errs = append(errs, field.Required(p.Child("image"), ""))
		}
		errs = append(errs, validateResources(&c.Resources, p.Child("resources"))...)
	}
	return errs
}

// overcommitAllowed reports whether requests of a resource may be below its limit: native
// resources (no domain, or a kubernetes.io domain) except huge pages. Extended resources such as
// nvidia.com/gpu must request exactly their limit (Kubernetes pkg/apis/core/helper
// IsOvercommitAllowed).
func overcommitAllowed(name corev1.ResourceName) bool {
	native := !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
	return native && !strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// extendedResource reports whether name is an extended resource such as nvidia.com/gpu: not
// native (see overcommitAllowed), not a quota's requests.* name, and a qualified name with the
// requests. prefix (Kubernetes pkg/apis/core/helper IsExtendedResourceName). Its quantities must
// be integers.
func extendedResource(name corev1.ResourceName) bool {
	n := string(name)
	native := !strings.Contains(n, "/") || strings.Contains(n, corev1.ResourceDefaultNamespacePrefix)
	if native || strings.HasPrefix(n, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+n)) == 0
}

// validateResources checks requests and limits: not negative, integers for extended resources
// (ValidateResourceQuantityValue); a request at most its limit, and equal to a limit that must
// be set for resources that cannot be overcommitted (a limit alone is the request too, as the
// API server's defaulting sets it, so it needs no request).
func validateResources(r *corev1.ResourceRequirements, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sortedNames(r.Limits) {
		q := r.Limits[name]
		errs = append(errs, quantityValue(name, q, path.Child("limits", string(name)))...)
	}
	for _, name := range sortedNames(r.Requests) {
		q, p := r.Requests[name], path.Child("requests", string(name))
		errs = append(errs, quantityValue(name, q, p)...)
		limit, ok := r.Limits[name]
		switch {
		case !ok && !overcommitAllowed(name):
			errs = append(errs, field.Required(path.Child("limits", string(name)), "Limit must be set for non overcommitable resources"))
		case !ok:
		case q.Cmp(limit) != 0 && !overcommitAllowed(name):
			errs = append(errs, field.Invalid(p, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
		case q.Cmp(limit) > 0:
			errs = append(errs, field.Invalid(p, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		}
	}
	return errs
}

// maxQuantity bounds every request and limit: the plan counts amounts in int64 milli-units
// (scheduling.Resources), which hold up to 9.2e15 units, so a larger amount would be counted as
// some other one; 1P (10^15 cores, or bytes: 888 TiB) leaves room to sum such amounts, and is
// far above any instance type.
var maxQuantity = resource.MustParse("1P")

// quantityValue checks a quantity of resource name: not negative, and a whole number for an
// extended resource (the API server's "must be an integer"); and at most maxQuantity, which the
// API server does not check (kube-scheduler would leave such a pod pending).
func quantityValue(name corev1.ResourceName, q resource.Quantity, path *field.Path) field.ErrorList {
	errs := nonNegative(q, path)
	if extendedResource(name) && !wholeNumber(q) {
		errs = append(errs, field.Invalid(path, q.String(), "must be an integer"))
	}
	if q.Cmp(maxQuantity) > 0 {
		errs = append(errs, field.Invalid(path, q.String(), "too large: the plan counts amounts up to "+maxQuantity.String()))
	}
	return errs
}

// wholeNumber reports whether q is an integer (the API server's test: MilliValue() % 1000 == 0).
func wholeNumber(q resource.Quantity) bool {
	return q.MilliValue()%1000 == 0
}

func nonNegative(q resource.Quantity, path *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(path, q.String(), "must be greater than or equal to 0")}
	}
	return nil
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

// validateVolumes checks the pod's volumes: names present, RFC 1123 labels and unique; a
// persistentVolumeClaim names its claim; a generic ephemeral volume has a claim template with
// a valid claim spec.
func validateVolumes(vols []corev1.Volume, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range vols {
		v, p := &vols[i], path.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case names.Has(v.Name):
			errs = append(errs, field.Duplicate(p.Child("name"), v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), v.Name, msg))
			}
		}
		names.Insert(v.Name)
		switch {
		case v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "":
			errs = append(errs, field.Required(p.Child("persistentVolumeClaim", "claimName"), ""))
		case v.Ephemeral != nil && v.Ephemeral.VolumeClaimTemplate == nil:
			errs = append(errs, field.Required(p.Child("ephemeral", "volumeClaimTemplate"), ""))
		case v.Ephemeral != nil:
			errs = append(errs, validateClaimSpec(&v.Ephemeral.VolumeClaimTemplate.Spec, p.Child("ephemeral", "volumeClaimTemplate", "spec"))...)
		}
	}
	return errs
}

// validateClaimSpec checks a PersistentVolumeClaim's spec: at least one access mode, a storage
// request greater than zero.
func validateClaimSpec(spec *corev1.PersistentVolumeClaimSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(path.Child("accessModes"), "at least 1 access mode is required"))
	}
	storage, ok := spec.Resources.Requests[corev1.ResourceStorage]
	switch {
	case !ok:
		errs = append(errs, field.Required(path.Child("resources", "requests", string(corev1.ResourceStorage)), ""))
	case storage.Sign() <= 0:
		errs = append(errs, field.Invalid(path.Child("resources", "requests", string(corev1.ResourceStorage)), storage.String(), "must be greater than zero"))
	}
	return errs
}

// validateClaimTemplates checks a StatefulSet's volumeClaimTemplates: each named, uniquely,
// with a valid claim spec.
func validateClaimTemplates(ts []corev1.PersistentVolumeClaim) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec", "volumeClaimTemplates")
	names := sets.New[string]()
	for i := range ts {
		t, p := &ts[i], path.Index(i)
		switch {
		case t.Name == "":
			errs = append(errs, field.Required(p.Child("metadata", "name"), ""))
		case names.Has(t.Name):
			errs = append(errs, field.Duplicate(p.Child("metadata", "name"), t.Name))
		}
		names.Insert(t.Name)
		errs = append(errs, validateClaimSpec(&t.Spec, p.Child("spec"))...)
	}
	return errs
}
