package simulate

import (
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
)

// runtimeClass reads a node.k8s.io/v1 RuntimeClass: pods naming it in spec.runtimeClassName
// get its overhead and scheduling in finish, as the API server's RuntimeClass admission plugin
// gives them to pods it creates.
func (r *reader) runtimeClass(o *Object, _ role) error {
	rc := &nodev1.RuntimeClass{}
	usable, err := r.decode(o, rc)
	if !usable {
		return err
	}
	errs := []error{err}
	if rc.Name == "" {
		errs = append(errs, o.Errorf("metadata.name", "Required value: a RuntimeClass needs a name"))
	}
	if rc.Handler == "" {
		errs = append(errs, o.Errorf("handler", "Required value"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if r.runtimeClasses == nil {
		r.runtimeClasses = map[string]*nodev1.RuntimeClass{}
	}
	r.runtimeClasses[rc.Name] = rc
	return nil
}

// applyRuntimeClasses gives the pods to place and the daemonsets' templates their RuntimeClass's
// overhead (when the pod sets none) and scheduling (its nodeSelector merged into the pod's, its
// tolerations added), as the API server's RuntimeClass admission does at pod creation (bound pods
// of a --nodes dump have had it already). A class the input does not hold is named in a warning:
// the pods are planned without its overhead. As the admission plugin refuses the pod, these are
// errors at the field of the pod's (or template's) source: a nodeSelector conflicting with the
// class's, an overhead set in the pod when the class defines none, or one that differs from the
// class's.
func (r *reader) applyRuntimeClasses() error {
	missing := map[string]bool{}
	var errs []error
	reported := map[string]bool{}
	// fail reports an admission refusal at field of the spec's source (once per template).
	fail := func(spec *corev1.PodSpec, field, format string, args ...any) {
		var err error
		if src, ok := r.specSources[spec]; ok {
			err = src.o.Errorf(src.path+"."+field, format, args...)
		} else {
			err = fmt.Errorf("spec.%s: %s", field, fmt.Sprintf(format, args...))
		}
		if !reported[err.Error()] {
			reported[err.Error()] = true
			errs = append(errs, err)
		}
	}
	apply := func(spec *corev1.PodSpec) {
		if spec.RuntimeClassName == nil || *spec.RuntimeClassName == "" {
			return
		}
		rc, ok := r.runtimeClasses[*spec.RuntimeClassName]
		if !ok {
			missing[*spec.RuntimeClassName] = true
			return
		}
		switch {
		case rc.Overhead == nil || rc.Overhead.PodFixed == nil:
			if spec.Overhead != nil {
				fail(spec, "overhead", "Forbidden: %s (RuntimeClass %q defines none)", overheadWithoutClass, rc.Name)
				return
			}
		case len(spec.Overhead) == 0:
			spec.Overhead = rc.Overhead.PodFixed.DeepCopy()
		case !sameQuantities(spec.Overhead, rc.Overhead.PodFixed):
			fail(spec, "overhead", "Forbidden: %s (RuntimeClass %q: %v)", overheadMismatch, rc.Name, rc.Overhead.PodFixed)
			return
		}
		if rc.Scheduling == nil {
			return
		}
		for k, v := range rc.Scheduling.NodeSelector {
			if have, ok := spec.NodeSelector[k]; ok && have != v {
				fail(spec, "nodeSelector", "conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s", k, v, k, have)
				continue
			}
			if spec.NodeSelector == nil {
				spec.NodeSelector = map[string]string{}
			}
			spec.NodeSelector[k] = v
		}
		for _, t := range rc.Scheduling.Tolerations {
			dup := false
			for _, have := range spec.Tolerations {
				dup = dup || have.MatchToleration(&t)
			}
			if !dup {
				spec.Tolerations = append(spec.Tolerations, t)
			}
		}
	}
	for _, p := range r.w.Pods {
		apply(&p.Spec)
	}
	for _, ds := range r.w.DaemonSets {
		apply(&ds.Spec.Template.Spec)
	}
	names := make([]string, 0, len(missing))
	for n := range missing {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r.w.Warnings = append(r.w.Warnings, fmt.Sprintf("RuntimeClass %q is not in the input: the pods that name it are planned without its overhead and scheduling (give it with -f)", n))
	}
	return errors.Join(errs...)
}

// specSource is where a pod spec was read: the object and the spec's field path in it.
type specSource struct {
	o    *Object
	path string
}

// sameQuantities reports whether a and b list the same resources in equal amounts (as the
// admission plugin's semantic comparison does: 1000m equals 1).
func sameQuantities(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}
