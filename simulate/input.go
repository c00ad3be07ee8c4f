package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/provisioning"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// MaxPods bounds the pods one simulation expands the input into (replicas summed), so that a
// typing slip such as replicas: 1000000000 is an error rather than an exhausted machine.
const MaxPods = 100000

// MaxPodBytes bounds the pod specs one simulation builds from workload templates (replicas
// times the template's size as JSON, summed), so that a large template with many replicas is an
// error too; in memory a pod takes several times its JSON size.
const MaxPodBytes = 256 << 20

// role says what a source is read for.
type role int

const (
	// workloadRole (-f): workload controllers are expanded into pods.
	workloadRole role = iota
	// clusterRole (--nodes): a cluster dump; its pods stand for their controllers, which are
	// skipped.
	clusterRole
)

// flag is the command-line flag that gives sources of the role.
func (rl role) flag() string {
	if rl == clusterRole {
		return "--nodes"
	}
	return "-f"
}

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
	// Nodes are the existing nodes with what their bound pods leave free (provisioning.BuildSnapshot).
	Nodes []scheduling.ExistingNode
	// NodeDaemonSets are, per existing node, the DaemonSets that will start a pod there and
	// have none yet: their requests are taken from the node's Available (daemonsets.go).
	NodeDaemonSets []NodeDaemonSets
	// Usage is, per provisioner, the capacity of the existing nodes it launched (limits).
	Usage           map[string]corev1.ResourceList
	NamespaceLabels map[string]map[string]string
	// Volumes are the PersistentVolumeClaims read (with those StatefulSets' volumeClaimTemplates
	// and generic ephemeral volumes would create), PersistentVolumes, StorageClasses and
	// CSINodes (volumes.go).
	Volumes  scheduling.Volumes
	Skipped  []Skipped
	Warnings []string
	// Holds keep the pods pinned to nodes of the input by matchFields metadata.name on those
	// nodes, without new nodes (pinned.go).
	Holds map[string]scheduling.Hold
	// Unplaced are the pods that cannot be planned before solving, with the reason: pods
	// pinned to nodes not in the input.
	Unplaced []scheduling.PodError
	// OrderedReady are the StatefulSets ("namespace/name") whose pods are created one at a
	// time (podManagementPolicy OrderedReady, the default): see solveInWaves.
	OrderedReady map[string]bool
	// provisionerObjects are where the Provisioners were read, by name (zoneWarnings).
	provisionerObjects map[string]*Object
	// nodeSources are the Nodes read, with where, in input order (zoneWarnings).
	nodeSources []nodeSource
	// specSources are where the pod specs were read (zoneWarnings reads those of Pods).
	specSources map[*corev1.PodSpec]specSource
}

// reader accumulates objects into a Workload.
type reader struct {
	ctx       context.Context
	now       time.Time // nodes not Ready for provisioning.NotReadyGrace before it offer no room
	w         Workload
	podKeys   map[string]bool
	seen      map[string]*Object // objectKey -> where the object was read
	nodes     []corev1.Node
	nodeNames map[string]bool
	bound     []corev1.Pod
	unbound   int // bound pods whose node is not in the input
	podBytes  int // JSON size of the pods expanded from templates (MaxPodBytes)
	storage   storage
	// workloads are the workloads expanded into pods ("Kind/namespace/name"), workloadOwner the
	// controller of those that have one (a Deployment's ReplicaSet), for dropOwned.
	workloads     map[string]bool
	workloadOwner map[string]string
	// runtimeClasses are the RuntimeClasses read, by name (applyRuntimeClasses).
	runtimeClasses map[string]*nodev1.RuntimeClass
	// specSources are where the specs of the pods to place and of the DaemonSets were read.
	specSources map[*corev1.PodSpec]specSource
	// expanded are the workloads expanded into pods, with their pods (subtractRunning).
	expanded []expandedWorkload
	// pinned are the pending pods pinned to named nodes (placePinned).
	pinned []pinnedPod
	files  []givenFile
	errs   []error
}

// givenFile is a file read, and the argument that named it.
type givenFile struct {
	info os.FileInfo
	arg  string
	rl   role
}

type handler func(r *reader, o *Object, rl role) error

// kind is how one apiVersion/kind is read.
type kind struct {
	read handler
	// clusterScoped objects have no namespace.
	clusterScoped bool
	// controller kinds create pods; they are skipped in --nodes files, whose pods stand for them.
	controller bool
}

// kinds are the apiVersion/kinds read.
var kinds = map[string]kind{
	"v1/Pod":                            {read: (*reader).pod},
	"v1/Namespace":                      {read: (*reader).namespace, clusterScoped: true},
	"v1/Node":                           {read: (*reader).node, clusterScoped: true},
	"v1/PersistentVolumeClaim":          {read: (*reader).claim},
	"v1/PersistentVolume":               {read: (*reader).volume, clusterScoped: true},
	"storage.k8s.io/v1/StorageClass":    {read: (*reader).storageClass, clusterScoped: true},
	"storage.k8s.io/v1/CSINode":         {read: (*reader).csiNode, clusterScoped: true},
	"node.k8s.io/v1/RuntimeClass":       {read: (*reader).runtimeClass, clusterScoped: true},
	"v1/ReplicationController":          {read: (*reader).replicationController, controller: true},
	"apps/v1/Deployment":                {read: (*reader).deployment, controller: true},
	"apps/v1/ReplicaSet":                {read: (*reader).replicaSet, controller: true},
	"apps/v1/StatefulSet":               {read: (*reader).statefulSet, controller: true},
	"apps/v1/DaemonSet":                 {read: (*reader).daemonSet},
	"batch/v1/Job":                      {read: (*reader).job, controller: true},
	"karpenter.sh/v1alpha5/Provisioner": {read: (*reader).provisioner, clusterScoped: true},
}

func init() {
	namespacedKind = func(apiVersion, kind string) bool {
		k, read := kinds[apiVersion+"/"+kind]
		return read && !k.clusterScoped
	}
}

func newReader(ctx context.Context) *reader {
	return &reader{ctx: ctx, now: time.Now(), podKeys: map[string]bool{}, specSources: map[*corev1.PodSpec]specSource{}, workloads: map[string]bool{}, workloadOwner: map[string]string{}, seen: map[string]*Object{}, nodeNames: map[string]bool{},
		w: Workload{NamespaceLabels: map[string]map[string]string{}}}
}

// group returns the API group of apiVersion ("" for the core group's "v1").
func group(apiVersion string) string {
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

// splitKindKey splits a key of kinds ("apps/v1/Deployment") into its apiVersion and kind.
func splitKindKey(k string) (apiVersion, kind string) {
	i := strings.LastIndexByte(k, '/')
	return k[:i], k[i+1:]
}

// readAs returns the apiVersion under which the group and kind of o are read, when o has
// another version ("" when the kind is not read at all).
func readAs(o *Object) string {
	for k := range kinds {
		apiVersion, kindName := splitKindKey(k)
		if kindName == o.Kind && group(apiVersion) == group(o.APIVersion) {
			return apiVersion
		}
	}
	return ""
}

// movedKinds are the kinds read whose older API groups the API server no longer serves
// (Kubernetes 1.16 removed extensions/v1beta1 Deployment, ReplicaSet and DaemonSet:
// https://kubernetes.io/docs/reference/using-api/deprecation-guide/#v1-16).
var movedKinds = map[string]string{
	"extensions/Deployment": "apps/v1", "extensions/ReplicaSet": "apps/v1", "extensions/DaemonSet": "apps/v1",
}

// unreadKind returns an error for an object that is not read but looks meant to be, so that
// it is not left out of the plan unnoticed: a kind read in another version of its group
// (apps/v1beta1 Deployment) or in a group it moved from (extensions/v1beta1), a kind spelt in
// another case (kinds are case-sensitive), and Karpenter v1 NodePools, which this controller
// does not read (it reads v1alpha5 Provisioners). Nil for other objects, which are skipped.
func unreadKind(o *Object) error {
	if as := readAs(o); as != "" {
		return o.Errorf("apiVersion", "Unsupported value: %q: %s is read as %s", o.APIVersion, o.Kind, as)
	}
	if as, ok := movedKinds[group(o.APIVersion)+"/"+o.Kind]; ok {
		return o.Errorf("apiVersion", "Unsupported value: %q: %s is no longer served by the API server (removed in Kubernetes 1.16); use %s", o.APIVersion, o.Kind, as)
	}
	for k := range kinds {
		_, name := splitKindKey(k)
		if name != o.Kind && strings.EqualFold(name, o.Kind) {
			return o.Errorf("kind", "Unsupported value: %q: kinds are case-sensitive: did you mean %s?", o.Kind, name)
		}
	}
	if guess := misspeltKind(o); guess != "" {
		return o.Errorf("kind", "Unsupported value: %q: not a kind of %s: did you mean %s?", o.Kind, o.APIVersion, guess)
	}
	if group(o.APIVersion) == v1alpha5.Group && o.Kind == "NodePool" {
		return o.Errorf("kind", "Unsupported value: %q: this controller reads karpenter.sh/v1alpha5 Provisioners, not NodePools: write the pool as a Provisioner", o.Kind)
	}
	return nil
}

// misspeltKind returns the kind read in o's API group that o's kind is a likely misspelling
// of (Deploymnet for Deployment: at most 2 edits, Levenshtein, of a kind name of 6 letters or
// more, so that no other Kubernetes kind of the group is taken for one), "" for none; the
// closest, then the first by name.
func misspeltKind(o *Object) string {
	best, bestDist := "", 3
	for k := range kinds {
		apiVersion, name := splitKindKey(k)
		if len(name) < 6 || group(apiVersion) != group(o.APIVersion) || name == o.Kind {
			continue
		}
		d := levenshtein.Distance(o.Kind, name, nil)
		if d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	return best
}

// add reads one decoded object. Unknown kinds are recorded as skipped; a kind that is read in
// another version of its group (apps/v1beta1 Deployment) is an error, so that a workload is
// not left out of the plan unnoticed; the second of two objects of the same kind, namespace
// and name is an error naming both places; a namespace that is not an RFC 1123 label is an
// error at metadata.namespace.
func (r *reader) add(o *Object, rl role) {
	r.w.Warnings = append(r.w.Warnings, o.Warnings...)
	k, ok := kinds[o.APIVersion+"/"+o.Kind]
	if !ok {
		if err := unreadKind(o); err != nil {
			r.errs = append(r.errs, err)
			return
		}
	}
	switch {
	case !ok:
		r.skip(o, fmt.Sprintf("%s %s is not simulated", o.APIVersion, o.Kind))
		return
	case k.controller && rl == clusterRole:
		r.skip(o, "workload controllers are not expanded from --nodes files: their pods in the file stand for them")
		return
	}
	if err := r.once(o, k); err != nil {
		r.errs = append(r.errs, err)
		return
	}
	var nsErr error
	if !k.clusterScoped {
		nsErr = namespaceName(o, "metadata.namespace", o.Namespace)
	}
	if err := errors.Join(nsErr, k.read(r, o, rl)); err != nil {
		r.errs = append(r.errs, byLine(err, o.undecoded))
	}
}

// namespaceName checks the namespace name at path of o (metadata.namespace, or a Namespace's
// metadata.name) as the API server does (ValidateNamespaceName): an RFC 1123 label. Nil for
// "" (the default namespace, or a name the object's handler requires).
func namespaceName(o *Object, path, ns string) error {
	if ns == "" {
		return nil
	}
	var errs []error
	for _, msg := range validation.IsDNS1123Label(ns) {
		errs = append(errs, o.Errorf(path, "Invalid value: %q: %s", ns, msg))
	}
	return errors.Join(errs...)
}

// byLine orders the errors of one object joined in err by line, so that they read from top to
// bottom (errors without a line keep their place at the front), and leaves out the errors of
// checks on a field whose value could not be decoded (a quantity that does not parse is not
// also a missing quantity): those Object.Decode found, and undecoded, the fields whose error
// was reported when the object was read (Object.undecoded).
func byLine(err error, undecoded []string) error {
	flat := flatten(err)
	undecoded = slices.Clone(undecoded)
	for _, e := range flat {
		if se, ok := e.(*SourceError); ok && se.decoding {
			undecoded = append(undecoded, se.Path)
		}
	}
	kept := flat[:0]
	for _, e := range flat {
		if se, ok := e.(*SourceError); !ok || se.decoding || !under(se.Path, undecoded) {
			kept = append(kept, e)
		}
	}
	return inLineOrder(kept)
}

// flatten lists the errors joined in err (nested joins too).
func flatten(err error) []error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// under reports whether path is one of paths or below one of them (paths "" stand for the
// whole object and cover nothing, so that other errors are still reported).
func under(path string, paths []string) bool {
	for _, p := range paths {
		if p != "" && (path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[")) {
			return true
		}
	}
	return false
}

// once records o and returns an error when an object of the same group, kind, namespace and
// name was read before. Objects without a name are not checked (their handlers require one,
// or generate it).
func (r *reader) once(o *Object, k kind) error {
	if o.Name == "" {
		return nil
	}
	name := o.Name
	if !k.clusterScoped {
		name = namespaceOr(o.Namespace) + "/" + name
	}
	key := group(o.APIVersion) + "/" + o.Kind + "/" + name
	if first, ok := r.seen[key]; ok {
		return o.Errorf("", "%s %s: Duplicate value: also defined at %s:%d", o.Kind, name, first.Source, first.Line)
	}
	r.seen[key] = o
	return nil
}

func (r *reader) skip(o *Object, reason string) {
	name := o.Name
	if o.Namespace != "" {
		name = o.Namespace + "/" + name
	}
	r.w.Skipped = append(r.w.Skipped, Skipped{Source: fmt.Sprintf("%s:%d", o.Source, o.Line), Kind: o.Kind, Name: name, Reason: reason})
}

// decode decodes o into v, keeping its warnings; usable as for Object.Decode.
func (r *reader) decode(o *Object, v any) (usable bool, err error) {
	warnings, usable, err := o.Decode(v)
	r.w.Warnings = append(r.w.Warnings, warnings...)
	return usable, err
}

func namespaceOr(ns string) string {
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}

// finish binds pods to the nodes read and builds existing capacity with the controller's
// own snapshot (provisioning.BuildSnapshot: allocatable minus the requests of bound non-terminal
// pods; cordoned and deleting nodes offer nothing; provisioner usage from node labels) less
// the requests of the DaemonSets that will start a pod on a node (takeDaemonSetRoom), and the
// volumes.
func (r *reader) finish() (*Workload, error) {
	if err := errors.Join(r.errs...); err != nil {
		return r.partial(), err
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
	r.dropRunning(r.bound)
	r.subtractRunning()
	r.dropOwned()
	r.placePinned()
	if err := r.applyRuntimeClasses(); err != nil {
		return r.partial(), err
	}
	provs := make([]v1alpha5.Provisioner, 0, len(r.w.Provisioners))
	for _, p := range r.w.Provisioners {
		provs = append(provs, *p)
	}
	snap := provisioning.BuildSnapshot(r.now, r.nodes, bound, provs, nil)
	r.w.Nodes, r.w.Usage = snap.Nodes, snap.Usage
	r.takeDaemonSetRoom(bound)
	for _, p := range r.w.Pods {
		if _, ok := r.w.NamespaceLabels[p.Namespace]; !ok {
			// The API server labels every namespace with its name.
			r.w.NamespaceLabels[p.Namespace] = map[string]string{corev1.LabelMetadataName: p.Namespace}
		}
	}
	r.w.Volumes = r.storage.build(r.w.Pods)
	r.w.specSources = r.specSources
	return &r.w, nil
}

// partial is what Read returns beside an error: the warnings and skipped objects met so far
// (unknown and duplicate fields among them), which are worth showing with the errors.
func (r *reader) partial() *Workload {
	return &Workload{Warnings: r.w.Warnings, Skipped: r.w.Skipped}
}

// dropRunning removes the pods expanded from StatefulSets that are already bound in the input
// under the same namespace and name (db-0 running in a --nodes dump): the running pod stands
// for it, as the StatefulSet controller creates only the ordinals that are missing. A warning
// says how many.
func (r *reader) dropRunning(bound []corev1.Pod) {
	running := make(map[string]bool, len(bound))
	for i := range bound {
		running[bound[i].Namespace+"/"+bound[i].Name] = true
	}
	kept, dropped := r.w.Pods[:0], 0
	for _, p := range r.w.Pods {
		// Only a StatefulSet's pod names are the cluster's (<name>-<ordinal>); those simulate
		// gives a Deployment's pods are its own.
		if c := metav1.GetControllerOfNoCopy(p); c != nil && c.Kind == "StatefulSet" && running[p.Namespace+"/"+p.Name] {
			dropped++
			continue
		}
		kept = append(kept, p)
	}
	r.w.Pods = kept
	if dropped > 0 {
		r.w.Warnings = append(r.w.Warnings, fmt.Sprintf("%d pods of the workloads are already bound to a node in the input (same namespace and name): they run there and are not planned again", dropped))
	}
}

// dropOwned keeps one workload's pods where the input holds a workload and what it controls
// (kubectl get all, or get deploy,rs): the pods expanded from a ReplicaSet whose controller (a
// Deployment) is expanded too, and the pending pods whose controller, or its controller, is an
// expanded workload, are dropped, since the controlling workload's pods stand for them. A
// warning says what was dropped.
func (r *reader) dropOwned() {
	covered := func(key string) bool {
		return r.workloads[key] || r.workloads[r.workloadOwner[key]]
	}
	kept := r.w.Pods[:0]
	shadowed := map[string]string{}
	pending := 0
	for _, p := range r.w.Pods {
		c := metav1.GetControllerOfNoCopy(p)
		if c == nil {
			kept = append(kept, p)
			continue
		}
		key := c.Kind + "/" + p.Namespace + "/" + c.Name
		switch {
		case strings.HasPrefix(string(c.UID), "simulate/"): // expanded here
			if owner, ok := r.workloadOwner[key]; ok && r.workloads[owner] {
				shadowed[key] = owner
				continue
			}
		case covered(key):
			pending++
			continue
		}
		kept = append(kept, p)
	}
	r.w.Pods = kept
	keys := make([]string, 0, len(shadowed))
	for k := range shadowed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name, owner := strings.Replace(k, "/", " ", 1), strings.Replace(shadowed[k], "/", " ", 1)
		r.w.Warnings = append(r.w.Warnings, fmt.Sprintf("%s is controlled by %s, also in the input: only the pods of %s are planned", name, owner, owner))
	}
	if pending > 0 {
		r.w.Warnings = append(r.w.Warnings, fmt.Sprintf("%d pending pods are controlled by a workload in the input: the workload's pods are planned instead", pending))
	}
}

// Source is one input: a file, a directory (its *.yaml, *.yml and *.json files, not
// recursive) or "-" for stdin.
type Source struct {
	Name string
	role role
}

// Read reads the workload sources (-f) and the cluster sources (--nodes) in order. A file
// that holds no object (empty, only comments and "---", or a List without items) is a warning
// "<file>: no Kubernetes objects".
// Errors (joined, each a *SourceError or an I/O error naming the file): unreadable files, bad
// YAML, objects of the wrong shape, invalid objects, duplicate objects, a file given twice
// (also through its directory) and a second "-". With an error, the Workload returned holds
// only the Warnings and Skipped objects met.
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
				return r.partial(), errors.New("-: stdin can be read only once")
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
		return givenAs(s, err)
	}
	var errs []error
	for _, f := range files {
		var data []byte
		if f == "-" {
			data, err = readInput(f, stdin, MaxInputBytes)
		} else if err = r.firstTime(f, s); err == nil {
			data, err = readFile(f)
		}
		if err != nil {
			errs = append(errs, givenAs(s, err))
			continue
		}
		objs, err := Decode(f, data)
		if err == nil && len(objs) == 0 {
			// Empty, only comments and "---", or a List without items: most likely the wrong
			// file, which would otherwise go unnoticed.
			r.w.Warnings = append(r.w.Warnings, fmt.Sprintf("%s: no Kubernetes objects", f))
		}
		// The file's errors, those of its documents and those of its objects, in line order.
		mark := len(r.errs)
		for _, o := range objs {
			r.add(o, s.role)
		}
		fileErrs := append([]error{err}, r.errs[mark:]...)
		r.errs = r.errs[:mark]
		errs = append(errs, inLineOrder(fileErrs))
	}
	return errors.Join(errs...)
}

// inLineOrder joins the errors of one source in line order (stable: errors on one line keep
// their order; errors without a line come first). Nil errors are dropped.
func inLineOrder(errs []error) error {
	var flat []error
	for _, e := range errs {
		if e != nil {
			flat = append(flat, flatten(e)...)
		}
	}
	sort.SliceStable(flat, func(i, j int) bool { return errorLine(flat[i]) < errorLine(flat[j]) })
	return errors.Join(flat...)
}

// errorLine is the line of a *SourceError, 0 for other errors.
func errorLine(e error) int {
	if se, ok := e.(*SourceError); ok {
		return se.Line
	}
	return 0
}

// firstTime records file f of source s, and returns an error when the same file (by
// os.SameFile: also through another path or a directory) was given before: its objects would
// count twice.
func (r *reader) firstTime(f string, s Source) error {
	info, err := os.Stat(f)
	if err != nil {
		return err
	}
	for _, g := range r.files {
		if os.SameFile(g.info, info) {
			return &SourceError{Source: f, Reason: fmt.Sprintf("the file is given twice (%s %s and %s %s)", g.rl.flag(), g.arg, s.role.flag(), s.Name)}
		}
	}
	r.files = append(r.files, givenFile{info: info, arg: s.Name, rl: s.role})
	return nil
}

// MaxInputBytes bounds what one file (or stdin) may hold, 512 MiB: `kubectl get -o yaml` of
// a cluster of tens of thousands of pods is far less, and decoding takes several times the
// file's size in memory, so a larger input (or an endless one, such as /dev/zero) is refused
// before it exhausts memory.
const MaxInputBytes = 512 << 20

// readFile reads the file name, at most MaxInputBytes of it.
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return readInput(name, f, MaxInputBytes)
}

// readInput reads in (the file name), failing with a SourceError when it holds more than limit
// bytes.
func readInput(name string, in io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(in, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &SourceError{Source: name, Reason: fmt.Sprintf("too large: more than %s (split it into several files)", humanBytes(limit))}
	}
	return data, nil
}

// humanBytes renders n bytes in MiB when it is a whole number of them, else in bytes.
func humanBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// givenAs says which flag gave the file an error of the file system is about ("-f nope.yaml:
// open nope.yaml: no such file or directory"); other errors name their file already.
func givenAs(s Source, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", s.role.flag(), s.Name, err)
	}
	return err
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
