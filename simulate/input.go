package simulate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
	"github.com/nodeform/terraform-provider-karpenter/controller/state"
)

// MaxPods bounds the pods one simulation expands the input into (replicas summed), so that a
// typing slip such as replicas: 1000000000 is an error rather than an exhausted machine.
const MaxPods = 100000

// role says what a source is read for.
type role int

const (
	// workloadRole (-f): workload controllers are expanded into pods.
	workloadRole role = iota
	// clusterRole (--nodes): a cluster dump; its pods stand for their controllers, which are
	// skipped.
	clusterRole
)

// Skipped is an object the simulation does not use, and why.
type Skipped struct {
	Source string `json:"source"` // "file:line"
	Kind   string `json:"kind"`
	Name   string `json:"name"` // namespace/name, or name for cluster-scoped objects
	Reason string `json:"reason"`
}

// Workload is what the simulation reads: pods to place, existing capacity and the rest of
// the solver's input except instance types.
type Workload struct {
	Pods         []*corev1.Pod
	DaemonSets   []*appsv1.DaemonSet
	Provisioners []*v1alpha5.Provisioner // validated, with v1alpha5 defaults applied
	// Nodes are the existing nodes with what their bound pods leave free (state.Snapshot).
	Nodes []scheduling.ExistingNode
	// Usage is, per provisioner, the capacity of the existing nodes it launched (limits).
	Usage           map[string]corev1.ResourceList
	NamespaceLabels map[string]map[string]string
	Skipped         []Skipped
	Warnings        []string
}

// reader accumulates objects into a Workload.
type reader struct {
	ctx       context.Context
	w         Workload
	podKeys   map[string]bool
	provs     map[string]*Object // name -> where it was defined
	nodes     []corev1.Node
	nodeNames map[string]bool
	bound     []corev1.Pod
	unbound   int // bound pods whose node is not in the input
	errs      []error
}

type handler func(r *reader, o *Object, rl role) error

// handlers read each supported apiVersion/kind.
var handlers = map[string]handler{
	"v1/Pod":                            (*reader).pod,
	"v1/Namespace":                      (*reader).namespace,
	"v1/Node":                           (*reader).node,
	"v1/ReplicationController":          (*reader).replicationController,
	"apps/v1/Deployment":                (*reader).deployment,
	"apps/v1/ReplicaSet":                (*reader).replicaSet,
	"apps/v1/StatefulSet":               (*reader).statefulSet,
	"apps/v1/DaemonSet":                 (*reader).daemonSet,
	"batch/v1/Job":                      (*reader).job,
	"karpenter.sh/v1alpha5/Provisioner": (*reader).provisioner,
}

func newReader(ctx context.Context) *reader {
	return &reader{ctx: ctx, podKeys: map[string]bool{}, provs: map[string]*Object{}, nodeNames: map[string]bool{},
		w: Workload{NamespaceLabels: map[string]map[string]string{}}}
}

// add reads one decoded object; unknown kinds are recorded as skipped.
func (r *reader) add(o *Object, rl role) {
	h, ok := handlers[o.APIVersion+"/"+o.Kind]
	if !ok {
		r.skip(o, fmt.Sprintf("%s %s is not simulated", o.APIVersion, o.Kind))
		return
	}
	if err := h(r, o, rl); err != nil {
		r.errs = append(r.errs, err)
	}
}

func (r *reader) skip(o *Object, reason string) {
	name := o.Name
	if o.Namespace != "" {
		name = o.Namespace + "/" + name
	}
	r.w.Skipped = append(r.w.Skipped, Skipped{Source: fmt.Sprintf("%s:%d", o.Source, o.Line), Kind: o.Kind, Name: name, Reason: reason})
}

// decode decodes o into v, keeping its warnings.
func (r *reader) decode(o *Object, v any) error {
	warnings, err := o.Decode(v)
	r.w.Warnings = append(r.w.Warnings, warnings...)
	return err
}

func namespaceOr(ns string) string {
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}

func (r *reader) pod(o *Object, _ role) error {
	p := &corev1.Pod{}
	if err := r.decode(o, p); err != nil {
		return err
	}
	p.Namespace = namespaceOr(p.Namespace)
	switch {
	case nodepods.IsTerminal(p):
		return nil // finished: holds no capacity
	case p.Spec.NodeName != "":
		defaultRequests(p)
		r.bound = append(r.bound, *p)
		return nil
	case nodepods.IsDaemonSetPod(p):
		return nil // counted through its DaemonSet on every node it selects
	}
	if p.Name == "" {
		if p.GenerateName == "" {
			return o.Errorf("metadata.name", "Required value: a Pod needs a name or generateName")
		}
		for i := 0; p.Name == "" || r.podKeys[p.Namespace+"/"+p.Name]; i++ {
			p.Name = p.GenerateName + strconv.Itoa(i)
		}
	}
	if r.podKeys[p.Namespace+"/"+p.Name] {
		r.skip(o, "a pod of the same namespace and name was read before")
		return nil
	}
	return r.addPods(o, p)
}

func (r *reader) addPods(o *Object, pods ...*corev1.Pod) error {
	if len(r.w.Pods)+len(pods) > MaxPods {
		return o.Errorf("", "the input expands to more than %d pods", MaxPods)
	}
	for _, p := range pods {
		defaultRequests(p)
		r.podKeys[p.Namespace+"/"+p.Name] = true
		r.w.Pods = append(r.w.Pods, p)
	}
	return nil
}

func (r *reader) namespace(o *Object, _ role) error {
	ns := &corev1.Namespace{}
	if err := r.decode(o, ns); err != nil {
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
	if err := r.decode(o, &n); err != nil {
		return err
	}
	if n.Name == "" {
		return o.Errorf("metadata.name", "Required value: a Node needs a name")
	}
	if r.nodeNames[n.Name] {
		r.skip(o, "a Node of the same name was read before")
		return nil
	}
	r.nodeNames[n.Name] = true
	r.nodes = append(r.nodes, n)
	return nil
}

func (r *reader) daemonSet(o *Object, _ role) error {
	ds := &appsv1.DaemonSet{}
	if err := r.decode(o, ds); err != nil {
		return err
	}
	ds.Namespace = namespaceOr(ds.Namespace)
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

// controllerRole skips workload controllers in cluster dumps; it reports whether to expand.
func (r *reader) controllerRole(o *Object, rl role) bool {
	if rl == clusterRole {
		r.skip(o, "workload controllers are not expanded from --nodes files: their pods in the file stand for them")
		return false
	}
	return true
}

func (r *reader) deployment(o *Object, rl role) error {
	d := &appsv1.Deployment{}
	if err := r.decode(o, d); err != nil || !r.controllerRole(o, rl) {
		return err
	}
	n, err := replicasOr(o, "spec.replicas", d.Spec.Replicas, 1)
	if err != nil {
		return err
	}
	extra := map[string]string{appsv1.DefaultDeploymentUniqueLabelKey: templateHash(&d.Spec.Template)}
	return r.expand(o, &d.ObjectMeta, "apps/v1", "Deployment", n, &d.Spec.Template, extra)
}

func (r *reader) replicaSet(o *Object, rl role) error {
	rs := &appsv1.ReplicaSet{}
	if err := r.decode(o, rs); err != nil || !r.controllerRole(o, rl) {
		return err
	}
	n, err := replicasOr(o, "spec.replicas", rs.Spec.Replicas, 1)
	if err != nil {
		return err
	}
	return r.expand(o, &rs.ObjectMeta, "apps/v1", "ReplicaSet", n, &rs.Spec.Template, nil)
}

func (r *reader) replicationController(o *Object, rl role) error {
	rc := &corev1.ReplicationController{}
	if err := r.decode(o, rc); err != nil || !r.controllerRole(o, rl) {
		return err
	}
	n, err := replicasOr(o, "spec.replicas", rc.Spec.Replicas, 1)
	if err != nil || rc.Spec.Template == nil {
		return err
	}
	return r.expand(o, &rc.ObjectMeta, "v1", "ReplicationController", n, rc.Spec.Template, nil)
}

func (r *reader) statefulSet(o *Object, rl role) error {
	ss := &appsv1.StatefulSet{}
	if err := r.decode(o, ss); err != nil || !r.controllerRole(o, rl) {
		return err
	}
	n, err := replicasOr(o, "spec.replicas", ss.Spec.Replicas, 1)
	if err != nil {
		return err
	}
	return r.expand(o, &ss.ObjectMeta, "apps/v1", "StatefulSet", n, &ss.Spec.Template, nil)
}

// job expands a Job into the pods that run at once: parallelism (default 1), at most
// completions when set, none when suspended (Kubernetes Job controller semantics,
// https://kubernetes.io/docs/concepts/workloads/controllers/job/#parallel-jobs).
func (r *reader) job(o *Object, rl role) error {
	j := &batchv1.Job{}
	if err := r.decode(o, j); err != nil || !r.controllerRole(o, rl) {
		return err
	}
	n, err := replicasOr(o, "spec.parallelism", j.Spec.Parallelism, 1)
	if err != nil {
		return err
	}
	if j.Spec.Completions != nil {
		c, err := replicasOr(o, "spec.completions", j.Spec.Completions, 1)
		if err != nil {
			return err
		}
		n = min(n, c)
	}
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		n = 0
	}
	extra := map[string]string{batchv1.JobNameLabel: j.Name}
	return r.expand(o, &j.ObjectMeta, "batch/v1", "Job", n, &j.Spec.Template, extra)
}

// expand adds n pods built from tmpl: named <owner>-<i> (<owner>-<kind>-<i> when taken), in
// the owner's namespace, with the template's labels plus extra and a controller owner
// reference to the owner, so that pods of one workload are recognisable.
func (r *reader) expand(o *Object, owner *metav1.ObjectMeta, apiVersion, kind string, n int32, tmpl *corev1.PodTemplateSpec, extra map[string]string) error {
	if owner.Name == "" {
		return o.Errorf("metadata.name", "Required value: a %s needs a name", kind)
	}
	if int(n) > MaxPods-len(r.w.Pods) {
		return o.Errorf("", "the input expands to more than %d pods", MaxPods)
	}
	ns := namespaceOr(owner.Namespace)
	controller := true
	ref := metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: owner.Name, Controller: &controller,
		UID: types.UID("simulate/" + kind + "/" + ns + "/" + owner.Name)}
	pods := make([]*corev1.Pod, 0, n)
	for i := range int(n) {
		p := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: *tmpl.ObjectMeta.DeepCopy(),
			Spec:       *tmpl.Spec.DeepCopy(),
			Status:     corev1.PodStatus{Phase: corev1.PodPending},
		}
		p.Namespace, p.OwnerReferences = ns, []metav1.OwnerReference{ref}
		p.Name = fmt.Sprintf("%s-%d", owner.Name, i)
		if r.podKeys[ns+"/"+p.Name] {
			p.Name = fmt.Sprintf("%s-%s-%d", owner.Name, strings.ToLower(kind), i)
		}
		p.Labels = mergeLabels(p.Labels, extra)
		if kind == "StatefulSet" {
			p.Labels = mergeLabels(p.Labels, map[string]string{appsv1.StatefulSetPodNameLabel: p.Name, appsv1.PodIndexLabel: strconv.Itoa(i)})
		}
		pods = append(pods, p)
	}
	return r.addPods(o, pods...)
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

// provisioner validates o with the API server's own checks of the Provisioner CRD, then
// decodes it and applies the v1alpha5 defaults, as the controller does in memory.
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
	if err := r.decode(&validated, prov); err != nil {
		return err
	}
	if first, ok := r.provs[prov.Name]; ok {
		r.skip(o, "Provisioner "+prov.Name+" was read before, from "+fmt.Sprintf("%s:%d", first.Source, first.Line))
		return nil
	}
	r.provs[prov.Name] = o
	r.w.Provisioners = append(r.w.Provisioners, prov.WithDefaults())
	return nil
}

// finish binds pods to the nodes read and builds existing capacity with the controller's
// own snapshot (state.Cluster.Snapshot: allocatable minus the requests of bound non-terminal
// pods; cordoned and deleting nodes offer nothing; provisioner usage from node labels).
func (r *reader) finish() (*Workload, error) {
	if err := errors.Join(r.errs...); err != nil {
		return nil, err
	}
	var bound []corev1.Pod
	for _, p := range r.bound {
		if r.nodeNames[p.Spec.NodeName] {
			bound = append(bound, p)
		} else {
			r.unbound++
		}
	}
	if r.unbound > 0 {
		r.w.Warnings = append(r.w.Warnings, fmt.Sprintf("%d pods bound to nodes that are not in the input were ignored (give the nodes with --nodes)", r.unbound))
	}
	provs := make([]v1alpha5.Provisioner, 0, len(r.w.Provisioners))
	for _, p := range r.w.Provisioners {
		provs = append(provs, *p)
	}
	snap := state.NewCluster(clock.RealClock{}).Snapshot(r.nodes, bound, provs)
	r.w.Nodes, r.w.Usage = snap.Nodes, snap.Usage
	for _, p := range r.w.Pods {
		if _, ok := r.w.NamespaceLabels[p.Namespace]; !ok {
			// The API server labels every namespace with its name.
			r.w.NamespaceLabels[p.Namespace] = map[string]string{corev1.LabelMetadataName: p.Namespace}
		}
	}
	return &r.w, nil
}

// Source is one input: a file, a directory (its *.yaml, *.yml and *.json files, not
// recursive) or "-" for stdin.
type Source struct {
	Name string
	role role
}

// Read reads the workload sources (-f) and the cluster sources (--nodes) in order.
// Errors (joined, each a *SourceError or an I/O error naming the file): unreadable files, bad
// YAML, objects of the wrong shape, invalid Provisioners, and a second "-".
func Read(ctx context.Context, workload, cluster []string, stdin io.Reader) (*Workload, error) {
	r := newReader(ctx)
	var sources []Source
	for _, f := range workload {
		sources = append(sources, Source{Name: f, role: workloadRole})
	}
	for _, f := range cluster {
		sources = append(sources, Source{Name: f, role: clusterRole})
	}
	stdinUsed := false
	for _, s := range sources {
		if s.Name == "-" {
			if stdinUsed {
				return nil, errors.New("-: stdin can be read only once")
			}
			stdinUsed = true
		}
		if err := r.readSource(s, stdin); err != nil {
			r.errs = append(r.errs, err)
		}
	}
	return r.finish()
}

func (r *reader) readSource(s Source, stdin io.Reader) error {
	files, err := expandSource(s.Name)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		var data []byte
		if f == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs, err := Decode(f, data)
		if err != nil {
			errs = append(errs, err)
		}
		for _, o := range objs {
			r.add(o, s.role)
		}
	}
	return errors.Join(errs...)
}

// expandSource lists the files of a source: itself, or a directory's manifest files.
func expandSource(name string) ([]string, error) {
	if name == "-" {
		return []string{name}, nil
	}
	info, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{name}, nil
	}
	entries, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, filepath.Join(name, e.Name()))
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no *.yaml, *.yml or *.json files in the directory", name)
	}
	return files, nil
}
