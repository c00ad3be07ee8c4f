package simulate

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

// templateSpecPath is the field path of the pod spec in every workload controller read.
var templateSpecPath = field.NewPath("spec", "template", "spec")

// templateLabelsPath is the field path of the pod template's labels.
var templateLabelsPath = field.NewPath("spec", "template", "metadata", "labels")

func (r *reader) pod(o *Object, _ role) error {
	p := &corev1.Pod{}
	usable, err := r.decode(o, p)
	if !usable {
		return err
	}
	errs := append([]error{err}, fieldErrors(o, validateLabels(p.Labels, field.NewPath("metadata", "labels")))...)
	errs = append(errs, fieldErrors(o, validatePodSpec(&p.Spec, specPods{labels: p.Labels, stored: true}, field.NewPath("spec")))...)
	if p.Name == "" && p.GenerateName == "" {
		errs = append(errs, o.Errorf("metadata.name", "Required value: a Pod needs a name or generateName"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p.Namespace = namespaceOr(p.Namespace)
	pinned := pinnedNodes(p)
	switch {
	case nodepods.IsTerminal(p):
		return nil // finished: holds no capacity
	case p.Spec.NodeName != "":
		defaultRequests(p)
		r.bound = append(r.bound, *p)
		return nil
	case nodepods.IsDaemonSetPod(p) && pinned == nil:
		return nil // counted through its DaemonSet on every new node it selects
	case len(p.Spec.SchedulingGates) > 0:
		r.skip(o, gatedReason)
		return nil
	}
	if p.Name == "" {
		for i := 0; p.Name == "" || r.podKeys[p.Namespace+"/"+p.Name]; i++ {
			p.Name = p.GenerateName + strconv.Itoa(i)
		}
	}
	if r.podKeys[p.Namespace+"/"+p.Name] {
		r.skip(o, "a pod of the same namespace and name was expanded from a workload read before")
		return nil
	}
	r.specSources[&p.Spec] = specSource{o: o, path: "spec"}
	if pinned != nil {
		// Bound to named nodes: planned on them only, once the nodes are read (placePinned).
		defaultRequests(p)
		r.podKeys[p.Namespace+"/"+p.Name] = true
		r.pinned = append(r.pinned, pinnedPod{pod: p, nodes: pinned})
		return nil
	}
	return r.addPods(o, p)
}

// gatedReason is why pods with scheduling gates are not planned: kube-scheduler leaves them
// alone (PodScheduled False, reason SchedulingGated, never Unschedulable), so the controller
// launches nothing for them until every gate is removed.
const gatedReason = "spec.schedulingGates: kube-scheduler does not place such pods, and nothing is launched for them, until the gates are removed"

// addPods adds pods to place, with requests defaulted from limits and a UID where they have
// none (generic ephemeral volumes' claims are owned by their pod's UID).
func (r *reader) addPods(o *Object, pods ...*corev1.Pod) error {
	if len(r.w.Pods)+len(pods) > MaxPods {
		return o.Errorf("", "the input expands to more than %d pods", MaxPods)
	}
	for _, p := range pods {
		defaultRequests(p)
		if p.UID == "" {
			p.UID = types.UID("simulate/Pod/" + p.Namespace + "/" + p.Name)
		}
		r.podKeys[p.Namespace+"/"+p.Name] = true
		r.w.Pods = append(r.w.Pods, p)
	}
	return nil
}

func (r *reader) daemonSet(o *Object, _ role) error {
	ds := &appsv1.DaemonSet{}
	usable, err := r.decode(o, ds)
	if !usable {
		return err
	}
	errs := append([]error{err}, fieldErrors(o, validateLabels(ds.Labels, field.NewPath("metadata", "labels")))...)
	errs = append(errs, fieldErrors(o, validateLabels(ds.Spec.Template.Labels, templateLabelsPath))...)
	errs = append(errs, fieldErrors(o, validatePodSpec(&ds.Spec.Template.Spec, specPods{labels: ds.Spec.Template.Labels}, templateSpecPath))...)
	errs = append(errs, checkSelector(o, &workload{kind: "DaemonSet", tmpl: &ds.Spec.Template, selector: ds.Spec.Selector, selectorRequired: true})...)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ds.Namespace = namespaceOr(ds.Namespace)
	r.specSources[&ds.Spec.Template.Spec] = specSource{o: o, path: templateSpecPath.String()}
	r.w.DaemonSets = append(r.w.DaemonSets, ds)
	return nil
}

// defaultRequests sets each container's (and the pod's) missing requests to its limits, as the
// API server's defaulting of a created Pod does (Kubernetes pkg/apis/core/v1 SetDefaults_Pod:
// "if limits are specified, but requests are not, default requests to limits"); pod templates
// are not defaulted that way, so pods built from them need it here. A GPU given only as a
// limit (nvidia.com/gpu: 1) is so requested.
func defaultRequests(p *corev1.Pod) {
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			limitsToRequests(&cs[i].Resources)
		}
	}
	if p.Spec.Resources != nil {
		limitsToRequests(p.Spec.Resources)
	}
}

func limitsToRequests(r *corev1.ResourceRequirements) {
	if len(r.Limits) == 0 {
		return
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = q.DeepCopy()
		}
	}
}

// replicasOr returns *n, or def when n is nil; negative counts are an error at path.
func replicasOr(o *Object, path string, n *int32, def int32) (int32, error) {
	if n == nil {
		return def, nil
	}
	if *n < 0 {
		return 0, o.Errorf(path, "Invalid value: %d: must be greater than or equal to 0", *n)
	}
	return *n, nil
}

// givenPath returns path when the count n at it is given, "" when it is left to its default.
func givenPath(path string, n *int32) string {
	if n == nil {
		return ""
	}
	return path
}

// workload is a controller to expand into pods.
type workload struct {
	meta       *metav1.ObjectMeta
	apiVersion string
	kind       string
	replicas   int32
	// countPath is the field replicas come from ("spec.replicas"), "" when defaulted: an input
	// that expands to too many pods is reported at its line.
	countPath string
	tmpl      *corev1.PodTemplateSpec // nil: missing (an error)
	// extra are labels of its pods beside the template's.
	extra map[string]string
	// perPod, when set, completes pod i (a StatefulSet's identity labels and claims).
	perPod func(p *corev1.Pod, i int)
	// selector is spec.selector; selectorRequired for the apps/v1 kinds, whose selector the API
	// server requires (a ReplicationController's defaults to its template's labels, a Job's is
	// generated).
	selector         *metav1.LabelSelector
	selectorRequired bool
}

// checkSelector returns the API server's errors for w's selector
// (k8s.io/kubernetes pkg/apis/apps/validation ValidateDeploymentSpec and its siblings): required
// for apps/v1 kinds, not empty, valid (validateSelector: matchLabels' keys qualified names and
// values label values, ...), and matching the template's labels, since pods the
// selector does not select would be created again and again.
func checkSelector(o *Object, w *workload) []error {
	if w.selector == nil {
		if w.selectorRequired {
			return []error{o.Errorf("spec.selector", "Required value")}
		}
		return nil
	}
	if len(w.selector.MatchLabels)+len(w.selector.MatchExpressions) == 0 {
		return []error{o.Errorf("spec.selector", "Invalid value: {}: empty selector is invalid for %s", strings.ToLower(w.kind))}
	}
	if fes := validateSelector(w.selector, field.NewPath("spec", "selector")); len(fes) > 0 {
		return fieldErrors(o, fes)
	}
	sel, err := metav1.LabelSelectorAsSelector(w.selector)
	if err != nil {
		return []error{o.Errorf("spec.selector", "Invalid value: %v", err)}
	}
	if w.tmpl != nil && !sel.Matches(labels.Set(w.tmpl.Labels)) {
		return []error{o.Errorf("spec.template.metadata.labels", "Invalid value: %v: `selector` does not match template `labels`", labels.Set(w.tmpl.Labels))}
	}
	return nil
}

func (r *reader) deployment(o *Object, _ role) error {
	d := &appsv1.Deployment{}
	usable, err := r.decode(o, d)
	if !usable {
		return err
	}
	n, nerr := replicasOr(o, "spec.replicas", d.Spec.Replicas, 1)
	return r.expand(o, workload{meta: &d.ObjectMeta, apiVersion: "apps/v1", kind: "Deployment", replicas: n, countPath: givenPath("spec.replicas", d.Spec.Replicas), tmpl: &d.Spec.Template,
		selector: d.Spec.Selector, selectorRequired: true, extra: map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: templateHash(&d.Spec.Template)}}, err, nerr)
}

func (r *reader) replicaSet(o *Object, _ role) error {
	rs := &appsv1.ReplicaSet{}
	usable, err := r.decode(o, rs)
	if !usable {
		return err
	}
	n, nerr := replicasOr(o, "spec.replicas", rs.Spec.Replicas, 1)
	return r.expand(o, workload{meta: &rs.ObjectMeta, apiVersion: "apps/v1", kind: "ReplicaSet", replicas: n, countPath: givenPath("spec.replicas", rs.Spec.Replicas), tmpl: &rs.Spec.Template,
		selector: rs.Spec.Selector, selectorRequired: true}, err, nerr)
}

func (r *reader) replicationController(o *Object, _ role) error {
	rc := &corev1.ReplicationController{}
	usable, err := r.decode(o, rc)
	if !usable {
		return err
	}
	n, nerr := replicasOr(o, "spec.replicas", rc.Spec.Replicas, 1)
	var sel *metav1.LabelSelector
	if len(rc.Spec.Selector) > 0 {
		sel = &metav1.LabelSelector{MatchLabels: rc.Spec.Selector}
	}
	return r.expand(o, workload{meta: &rc.ObjectMeta, apiVersion: "v1", kind: "ReplicationController", replicas: n, countPath: givenPath("spec.replicas", rc.Spec.Replicas), tmpl: rc.Spec.Template, selector: sel}, err, nerr)
}

// statefulSet expands a StatefulSet into pods <name>-<ordinal> and, per pod, the claims of its
// volumeClaimTemplates as the StatefulSet controller names them (<template>-<name>-<ordinal>,
// labelled with the selector's matchLabels), mounted in place of pod volumes of the
// template's name. A claim of that name read from the input is used instead (volumes.go).
func (r *reader) statefulSet(o *Object, _ role) error {
	ss := &appsv1.StatefulSet{}
	usable, err := r.decode(o, ss)
	if !usable {
		return err
	}
	n, nerr := replicasOr(o, "spec.replicas", ss.Spec.Replicas, 1)
	errs := append([]error{err, nerr}, fieldErrors(o, validateClaimTemplates(ss.Spec.VolumeClaimTemplates))...)
	if ss.Spec.PodManagementPolicy != appsv1.ParallelPodManagement { // OrderedReady, the default
		if r.w.OrderedReady == nil {
			r.w.OrderedReady = map[string]bool{}
		}
		r.w.OrderedReady[namespaceOr(ss.Namespace)+"/"+ss.Name] = true
	}
	return r.expand(o, workload{meta: &ss.ObjectMeta, apiVersion: "apps/v1", kind: "StatefulSet", replicas: n, countPath: givenPath("spec.replicas", ss.Spec.Replicas), tmpl: &ss.Spec.Template,
		selector: ss.Spec.Selector, selectorRequired: true, perPod: func(p *corev1.Pod, i int) {
			p.Labels = mergeLabels(p.Labels, map[string]string{appsv1.StatefulSetPodNameLabel: p.Name, appsv1.PodIndexLabel: strconv.Itoa(i)})
			r.storage.templateClaims = append(r.storage.templateClaims, statefulSetClaims(ss, p, i)...)
		}}, errs...)
}

// job expands a Job into the pods that run at once: parallelism (default 1), at most
// completions when set, none when suspended (Kubernetes Job controller semantics,
// https://kubernetes.io/docs/concepts/workloads/controllers/job/#parallel-jobs).
func (r *reader) job(o *Object, _ role) error {
	j := &batchv1.Job{}
	usable, err := r.decode(o, j)
	if !usable {
		return err
	}
	n, nerr := replicasOr(o, "spec.parallelism", j.Spec.Parallelism, 1)
	c, cerr := replicasOr(o, "spec.completions", j.Spec.Completions, n)
	countPath := givenPath("spec.parallelism", j.Spec.Parallelism)
	if c < n {
		countPath = givenPath("spec.completions", j.Spec.Completions)
	}
	n = min(n, c)
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		n = 0
	}
	return r.expand(o, workload{meta: &j.ObjectMeta, apiVersion: "batch/v1", kind: "Job", replicas: n, countPath: countPath, tmpl: &j.Spec.Template,
		extra: map[string]string{batchv1.JobNameLabel: j.Name}}, err, nerr, cerr)
}

// expand checks the workload (errs are the errors found in it before: all are reported
// together) and adds its pods: named <owner>-<i> (<owner>-<kind>-<i> when taken), in the
// owner's namespace, with the template's labels plus extra and a controller owner reference to
// the owner, so that pods of one workload are recognisable. Errors: the check's, and more than
// MaxPods pods in all (before any is built; reported with the check's errors), or more than
// MaxPodBytes of pod specs.
func (r *reader) expand(o *Object, w workload, errs ...error) error {
	if w.meta.Name == "" {
		errs = append(errs, o.Errorf("metadata.name", "Required value: a %s needs a name", w.kind))
	}
	errs = append(errs, fieldErrors(o, validateLabels(w.meta.Labels, field.NewPath("metadata", "labels")))...)
	if w.tmpl == nil {
		errs = append(errs, o.Errorf("spec.template", "Required value"))
	} else {
		errs = append(errs, fieldErrors(o, validateLabels(w.tmpl.Labels, templateLabelsPath))...)
		errs = append(errs, fieldErrors(o, validatePodSpec(&w.tmpl.Spec, specPods{labels: mergeLabels(w.tmpl.Labels, w.extra)}, templateSpecPath))...)
	}
	errs = append(errs, checkSelector(o, &w)...)
	n := int(w.replicas)
	gated := w.tmpl != nil && len(w.tmpl.Spec.SchedulingGates) > 0
	if !gated && n > MaxPods-len(r.w.Pods) {
		// Reported with the workload's other errors, so that one run shows them all.
		errs = append(errs, o.Errorf(w.countPath, "the input expands to more than %d pods", MaxPods))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if gated {
		r.skip(o, gatedReason)
		return nil
	}
	if b, err := json.Marshal(w.tmpl); err == nil && n > 0 {
		if len(b) > (MaxPodBytes-r.podBytes)/n {
			return o.Errorf(w.countPath, "the input expands to more than %d MiB of pod specs (here %d pods of %d KiB)", MaxPodBytes>>20, n, len(b)>>10)
		}
		r.podBytes += n * len(b)
	}
	ns := namespaceOr(w.meta.Namespace)
	key := w.kind + "/" + ns + "/" + w.meta.Name
	r.workloads[key] = true
	if c := metav1.GetControllerOfNoCopy(w.meta); c != nil {
		r.workloadOwner[key] = c.Kind + "/" + ns + "/" + c.Name
	}
	controller := true
	ref := metav1.OwnerReference{APIVersion: w.apiVersion, Kind: w.kind, Name: w.meta.Name, Controller: &controller,
		UID: types.UID("simulate/" + w.kind + "/" + ns + "/" + w.meta.Name)}
	pods := make([]*corev1.Pod, 0, n)
	for i := range n {
		p := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: *w.tmpl.ObjectMeta.DeepCopy(),
			Spec:       *w.tmpl.Spec.DeepCopy(),
			Status:     corev1.PodStatus{Phase: corev1.PodPending},
		}
		p.Namespace, p.OwnerReferences = ns, []metav1.OwnerReference{ref}
		p.Name = fmt.Sprintf("%s-%d", w.meta.Name, i)
		if r.podKeys[ns+"/"+p.Name] {
			p.Name = fmt.Sprintf("%s-%s-%d", w.meta.Name, strings.ToLower(w.kind), i)
		}
		p.Labels = mergeLabels(p.Labels, w.extra)
		if w.perPod != nil {
			w.perPod(p, i)
		}
		r.specSources[&p.Spec] = specSource{o: o, path: templateSpecPath.String()}
		pods = append(pods, p)
	}
	if err := r.addPods(o, pods...); err != nil {
		return err
	}
	r.expanded = append(r.expanded, newExpandedWorkload(&w, ns, pods))
	return nil
}

func mergeLabels(a, b map[string]string) map[string]string {
	if len(b) == 0 {
		return a
	}
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// templateHash stands in for the Deployment controller's pod-template-hash label: a stable
// hash (FNV-32a) of the template, so that pods of one template version share the value.
func templateHash(t *corev1.PodTemplateSpec) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(t.String()))
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}
