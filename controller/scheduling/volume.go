package scheduling

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/component-helpers/storage/ephemeral"
	"k8s.io/component-helpers/storage/volume"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Volume topology and attach limits, as kube-scheduler applies them to a pod's
// PersistentVolumeClaims (persistentVolumeClaim and generic ephemeral volumes) in the plugins of
// k8s.io/kubernetes/pkg/scheduler/framework/plugins (v1.37):
//
//   - VolumeBinding: a claim bound to a PersistentVolume needs a node that the PV's
//     spec.nodeAffinity.required admits (terms ORed). An unbound claim whose StorageClass has
//     volumeBindingMode WaitForFirstConsumer needs a node on which it can bind an available PV
//     that matches it (same class, enough capacity, volume mode, access modes, selector, volume
//     attributes class; the smallest such PV wins, a PV pre-bound to the claim is the only
//     candidate), or, when the class provisions volumes dynamically, a node its
//     allowedTopologies admit (TopologySelectorTerms ORed, matchLabelExpressions ANDed). A claim
//     annotated volume.kubernetes.io/selected-node waits for that node. Any other unbound claim
//     (Immediate binding, no class, a missing class), a missing claim, a claim being deleted or
//     Lost, and a claim bound to a missing PV make the pod unschedulable until the cluster
//     changes: the solver reports it in Result.Errors and launches nothing for it. A claim that
//     names its PV (spec.volumeName) counts as bound to it: the PersistentVolume controller
//     completes that binding on its own.
//   - VolumeZone: the zone and region labels of a bound PV (topology.kubernetes.io/zone and
//     /region, and the legacy failure-domain.beta.kubernetes.io keys; several zones joined by
//     "__") must match the node's.
//   - NodeVolumeLimits: the unique volumes of each CSI driver on a node (its bound pods' and the
//     planned ones'; a claim shared by pods counts once; a bound claim is its PV's driver and
//     volume handle, an unbound one its class's provisioner) stay within the node's limit:
//     CSINode spec.drivers[].allocatable.count, or, when the node has no such entry (a new or
//     in-flight node, or one whose driver has not registered yet), the instance type's
//     cloudprovider.InstanceType.VolumeLimits. A new node's limit is the smallest over its
//     instance type options, so whichever type launches can attach its volumes.
//
// Node requirements of volumes are written on the label keys nodes launched here carry: the
// legacy zone key and topology.ebs.csi.aws.com/zone (the EBS CSI driver's key, which the driver
// sets on a node with the same value as its zone) become topology.kubernetes.io/zone, and a
// region requirement becomes a zone requirement over the zones known to the solver (offering
// zones and existing nodes' zones; an AWS zone name starts with its region's name).
//
// Static PVs of a WaitForFirstConsumer class are a pool shared by the batch: each pod placed
// takes the PV kube-scheduler would bind for it (on an existing node the smallest matching PV
// the node admits; on a new node the smallest one whose node affinity contains the node's
// requirements), and pods solved later only count the PVs left. Two unbound claims of one pod
// are not checked for needing distinct PVs when its requirement alternatives are built.
//
// Not modelled: storage capacity (CSIStorageCapacity), VolumeAttachments left by pods that are
// gone, ReadWriteOncePod conflicts (VolumeRestrictions), inline in-tree volumes, and PV node
// affinity terms using matchFields (skipped).

// Volumes are the cluster's storage objects the solver reads for pods' volumes. A pod volume
// whose claim is not in PVCs makes the pod an error; nil maps are empty.
type Volumes struct {
	// PVCs by "namespace/name".
	PVCs map[string]*corev1.PersistentVolumeClaim
	// PVs (PersistentVolumes) by name.
	PVs map[string]*corev1.PersistentVolume
	// StorageClasses by name.
	StorageClasses map[string]*storagev1.StorageClass
	// CSINodes by name (a CSINode is named after its Node).
	CSINodes map[string]*storagev1.CSINode
}

// NewVolumes indexes the cluster's storage objects as the solver reads them: claims by
// "namespace/name", volumes, classes and CSINodes by name. The maps point into the slices, which
// the caller must not change afterwards. Of objects with the same key the last one is kept (the
// API server never lists two). It is the one conversion from listed objects to Volumes, used by
// the provisioner (objects listed from the API server) and by simulate (objects read from
// manifests).
func NewVolumes(pvcs []corev1.PersistentVolumeClaim, pvs []corev1.PersistentVolume, classes []storagev1.StorageClass, csiNodes []storagev1.CSINode) Volumes {
	v := Volumes{
		PVCs:           make(map[string]*corev1.PersistentVolumeClaim, len(pvcs)),
		PVs:            make(map[string]*corev1.PersistentVolume, len(pvs)),
		StorageClasses: make(map[string]*storagev1.StorageClass, len(classes)),
		CSINodes:       make(map[string]*storagev1.CSINode, len(csiNodes)),
	}
	for i := range pvcs {
		v.PVCs[pvcs[i].Namespace+"/"+pvcs[i].Name] = &pvcs[i]
	}
	for i := range pvs {
		v.PVs[pvs[i].Name] = &pvs[i]
	}
	for i := range classes {
		v.StorageClasses[classes[i].Name] = &classes[i]
	}
	for i := range csiNodes {
		v.CSINodes[csiNodes[i].Name] = &csiNodes[i]
	}
	return v
}

// maxVolumeTerms bounds the requirement alternatives of one pod once its volumes multiply its
// node affinity terms; beyond it the first alternatives (pod terms in order, PVs smallest
// first) are kept.
const maxVolumeTerms = 64

// ebsZoneKey is the topology key of the Amazon EBS CSI driver (ebs.csi.aws.com).
const ebsZoneKey = "topology.ebs.csi.aws.com/zone"

// volumeKeys maps the label keys of volume topology to the keys nodes launched here carry.
var volumeKeys = map[string]string{
	corev1.LabelFailureDomainBetaZone:   corev1.LabelTopologyZone,
	ebsZoneKey:                          corev1.LabelTopologyZone,
	corev1.LabelFailureDomainBetaRegion: corev1.LabelTopologyRegion,
}

// pvZoneLabels are the PV labels VolumeZone checks, in a fixed order.
var pvZoneLabels = []string{corev1.LabelTopologyZone, corev1.LabelFailureDomainBetaZone, corev1.LabelTopologyRegion, corev1.LabelFailureDomainBetaRegion}

// awsRegion matches the region at the start of an AWS zone name: us-east-1 in us-east-1a,
// us-gov-west-1 in us-gov-west-1b, us-west-2 in the Local Zone us-west-2-lax-1a.
var awsRegion = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]+`)

// attached is a set of unique volumes (driver/handle) with their count per driver.
type attached struct {
	ids      map[string]string // unique volume name -> driver
	byDriver map[string]int
}

func (a *attached) add(ids map[string]string) {
	if a.ids == nil {
		a.ids, a.byDriver = map[string]string{}, map[string]int{}
	}
	for id, d := range ids {
		if _, ok := a.ids[id]; !ok {
			a.ids[id] = d
			a.byDriver[d]++
		}
	}
}

// volumeState is one Solve's view of volumes: the static PV pools, the PVs planned for pods of
// the batch, and the volumes attached or planned per node and per new node.
type volumeState struct {
	vols  Volumes
	in    *Input
	zones []string
	// pools are the PVs of each class, smallest first, then by name; preBound the PVs whose
	// claimRef names a claim ("namespace/name"); matches caches matchingPVs by claim shape.
	pools    map[string][]*corev1.PersistentVolume
	preBound map[string][]*corev1.PersistentVolume
	matches  map[string][]*corev1.PersistentVolume
	// pvAlts caches each PV's node requirement alternatives (or the error making it unusable).
	pvAlts map[string]pvTopology
	taken  sets.Set[string]
	// version grows whenever taken does, so pods recompute their alternatives.
	version    int
	nodes      map[*existing]*attached
	claims     map[*claim]*attached
	typeLimits map[string]map[string]int // instance type name -> driver -> limit
	maxLimits  map[string]int            // driver -> largest limit over instance types
	unlimited  sets.Set[string]          // drivers some instance type does not limit
}

type pvTopology struct {
	alts []Requirements
	keys []string // alts[i].String(), to deduplicate alternatives of many PVs cheaply
	err  error
}

// newVolumeState prepares the volume view of in; nodes are the solver's existing nodes.
func newVolumeState(in *Input, nodes []*existing) *volumeState {
	vs := &volumeState{vols: in.Volumes, in: in, pvAlts: map[string]pvTopology{}, taken: sets.New[string](),
		nodes: map[*existing]*attached{}, claims: map[*claim]*attached{}}
	zones := sets.New[string]()
	for _, p := range in.Provisioners {
		for _, it := range p.InstanceTypes {
			for _, o := range it.Offerings {
				zones.Insert(o.Zone)
			}
		}
	}
	for _, n := range nodes {
		if z, ok := n.node.Labels[corev1.LabelTopologyZone]; ok {
			zones.Insert(z)
		}
	}
	vs.zones = sets.List(zones)
	return vs
}

// pool returns the PVs of class, smallest capacity first, then by name.
func (vs *volumeState) pool(class string) []*corev1.PersistentVolume {
	if vs.pools == nil {
		vs.pools, vs.preBound, vs.matches = map[string][]*corev1.PersistentVolume{}, map[string][]*corev1.PersistentVolume{}, map[string][]*corev1.PersistentVolume{}
		for _, pv := range vs.vols.PVs {
			c := volume.GetPersistentVolumeClass(pv)
			vs.pools[c] = append(vs.pools[c], pv)
			if ref := pv.Spec.ClaimRef; ref != nil {
				vs.preBound[ref.Namespace+"/"+ref.Name] = append(vs.preBound[ref.Namespace+"/"+ref.Name], pv)
			}
		}
		for _, pvs := range vs.pools {
			sort.Slice(pvs, func(i, j int) bool {
				a, b := pvs[i].Spec.Capacity[corev1.ResourceStorage], pvs[j].Spec.Capacity[corev1.ResourceStorage]
				if c := a.Cmp(b); c != 0 {
					return c < 0
				}
				return pvs[i].Name < pvs[j].Name
			})
		}
	}
	return vs.pools[class]
}

// podVolumes is what one pod's claims ask of its node.
type podVolumes struct {
	st *volumeState
	// base are the pod's own requirement alternatives (node selector and affinity).
	base []Requirements
	// fixed holds, per claim whose constraint does not depend on the batch, its alternatives.
	fixed [][]Requirements
	// pending are unbound WaitForFirstConsumer claims matched against the static PV pools.
	pending []*pendingClaim
	// attach are the pod's volumes counted against attach limits (unique name -> driver).
	attach map[string]string
	// claims are the pod's claims ("namespace/name"): a split keeps pods sharing one together.
	claims  []string
	version int
	built   bool
}

// pendingClaim is an unbound WaitForFirstConsumer claim.
type pendingClaim struct {
	pvc *corev1.PersistentVolumeClaim
	// candidates are the PVs that match it, smallest first.
	candidates []*corev1.PersistentVolume
	// dynamic are the node requirements under which its class can provision a volume; nil
	// when the class does not provision.
	dynamic []Requirements
}

// claimVolumes returns the names of the claims of pod's persistentVolumeClaim and generic
// ephemeral volumes, with whether each is ephemeral.
func claimVolumes(pod *corev1.Pod) (names []string, isEphemeral []bool) {
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.PersistentVolumeClaim != nil:
			names, isEphemeral = append(names, v.PersistentVolumeClaim.ClaimName), append(isEphemeral, false)
		case v.Ephemeral != nil:
			names, isEphemeral = append(names, ephemeral.VolumeClaimName(pod, v)), append(isEphemeral, true)
		}
	}
	return names, isEphemeral
}

// lookupClaim returns the claim of a pod volume, or why the pod cannot be scheduled with it.
func lookupClaim(vols Volumes, pod *corev1.Pod, name string, isEphemeral bool) (*corev1.PersistentVolumeClaim, error) {
	pvc := vols.PVCs[pod.Namespace+"/"+name]
	switch {
	case pvc == nil && isEphemeral:
		return nil, fmt.Errorf("waiting for the ephemeral volume controller to create PersistentVolumeClaim %q", name)
	case pvc == nil:
		return nil, fmt.Errorf("PersistentVolumeClaim %q not found", name)
	case pvc.DeletionTimestamp != nil:
		return nil, fmt.Errorf("PersistentVolumeClaim %q is being deleted", name)
	case pvc.Status.Phase == corev1.ClaimLost:
		return nil, fmt.Errorf("PersistentVolumeClaim %q is Lost: its PersistentVolume %q no longer exists", name, pvc.Spec.VolumeName)
	}
	if isEphemeral {
		if err := ephemeral.VolumeIsForPod(pod, pvc); err != nil {
			return nil, err
		}
	}
	return pvc, nil
}

// compile fills pi.vol from the pod's claims and narrows pi.terms by their node requirements.
// Pods without claims keep pi.vol nil. Errors say why the pod cannot be scheduled yet.
func (vs *volumeState) compile(pi *podInfo) error {
	names, eph := claimVolumes(pi.pod)
	if len(names) == 0 {
		return nil
	}
	pv := &podVolumes{st: vs, base: pi.terms, attach: map[string]string{}}
	for i, name := range names {
		pvc, err := lookupClaim(vs.vols, pi.pod, name, eph[i])
		if err != nil {
			return err
		}
		pv.claims = append(pv.claims, pi.pod.Namespace+"/"+name)
		if id, driver := attachName(vs.vols, pvc); id != "" {
			pv.attach[id] = driver
		}
		alts, pending, err := vs.claimTopology(pvc)
		switch {
		case err != nil:
			return err
		case pending != nil:
			pv.pending = append(pv.pending, pending)
		case alts != nil:
			pv.fixed = append(pv.fixed, alts)
		}
	}
	// Claims are matched smallest request first, as kube-scheduler does.
	sort.SliceStable(pv.pending, func(i, j int) bool {
		a, b := pv.pending[i].pvc.Spec.Resources.Requests[corev1.ResourceStorage], pv.pending[j].pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		return a.Cmp(b) < 0
	})
	if err := vs.checkAttachable(pv.attach); err != nil {
		return err
	}
	pi.vol = pv
	return pv.refresh(pi)
}

// claimTopology returns the node requirement alternatives of a claim (nil: any node), or the
// pending claim to match against a PV pool, or why the pod must wait.
func (vs *volumeState) claimTopology(pvc *corev1.PersistentVolumeClaim) ([]Requirements, *pendingClaim, error) {
	if name := pvc.Spec.VolumeName; name != "" {
		pv := vs.vols.PVs[name]
		if pv == nil {
			return nil, nil, fmt.Errorf("PersistentVolumeClaim %q is bound to PersistentVolume %q, which does not exist", pvc.Name, name)
		}
		t := vs.pvTopology(pv)
		return t.alts, nil, t.err
	}
	className := volume.GetPersistentVolumeClaimClass(pvc)
	if className == "" {
		return nil, nil, fmt.Errorf("PersistentVolumeClaim %q is not bound and has no StorageClass: waiting for the PersistentVolume controller to bind it", pvc.Name)
	}
	class := vs.vols.StorageClasses[className]
	if class == nil {
		return nil, nil, fmt.Errorf("PersistentVolumeClaim %q is not bound and its StorageClass %q does not exist", pvc.Name, className)
	}
	if class.VolumeBindingMode == nil || *class.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		return nil, nil, fmt.Errorf("PersistentVolumeClaim %q is not bound and StorageClass %q binds immediately: waiting for the PersistentVolume controller to bind it", pvc.Name, className)
	}
	if node, ok := pvc.Annotations[volume.AnnSelectedNode]; ok {
		// kube-scheduler chose a node for provisioning already; only that node will do.
		return []Requirements{NewRequirements(&Requirement{Key: corev1.LabelHostname, values: sets.New(node)})}, nil, nil
	}
	pc := &pendingClaim{pvc: pvc, candidates: vs.matchingPVs(pvc, className)}
	if class.Provisioner != "" && class.Provisioner != volume.NotSupportedProvisioner {
		if len(class.AllowedTopologies) == 0 {
			return nil, nil, nil // provisioned wherever the pod lands
		}
		alts, err := vs.allowedTopologies(class)
		if err != nil {
			return nil, nil, err
		}
		pc.dynamic = alts
	}
	if len(pc.candidates) == 0 && pc.dynamic == nil {
		req := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		return nil, nil, fmt.Errorf("no available PersistentVolume of StorageClass %q matches PersistentVolumeClaim %q (storage %s, access modes %v), and the class does not provision volumes (provisioner %q)",
			className, pvc.Name, req.String(), pvc.Spec.AccessModes, class.Provisioner)
	}
	return nil, pc, nil
}

// matchingPVs returns the PVs of class that can bind pvc wherever their node affinity allows,
// as volume.FindMatchingVolume judges them apart from the node: a PV pre-bound to the claim is
// the only candidate; otherwise available, unclaimed PVs with enough capacity, the same volume
// mode and volume attributes class, every requested access mode, and labels the claim's
// selector matches. Smallest first.
func (vs *volumeState) matchingPVs(pvc *corev1.PersistentVolumeClaim, class string) []*corev1.PersistentVolume {
	pool := vs.pool(class)
	requested := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	fits := func(pv *corev1.PersistentVolume) bool {
		capacity := pv.Spec.Capacity[corev1.ResourceStorage]
		return capacity.Cmp(requested) >= 0 && !volume.CheckVolumeModeMismatches(&pvc.Spec, &pv.Spec) && pv.DeletionTimestamp == nil &&
			ptr.Deref(pvc.Spec.VolumeAttributesClassName, "") == ptr.Deref(pv.Spec.VolumeAttributesClassName, "")
	}
	for _, pv := range vs.preBound[pvc.Namespace+"/"+pvc.Name] {
		if volume.GetPersistentVolumeClass(pv) == class && volume.IsVolumeBoundToClaim(pv, pvc) && fits(pv) {
			return []*corev1.PersistentVolume{pv}
		}
	}
	var selector labels.Selector
	key := ""
	if pvc.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(pvc.Spec.Selector)
		if err != nil {
			return nil // kube-scheduler errors on it too: nothing matches
		}
		selector = sel
	} else {
		// Claims of one shape (a StatefulSet's) share their candidates.
		key = fmt.Sprintf("%s|%s|%v|%s|%s", class, requested.String(), pvc.Spec.AccessModes,
			ptr.Deref(pvc.Spec.VolumeMode, corev1.PersistentVolumeFilesystem), ptr.Deref(pvc.Spec.VolumeAttributesClassName, ""))
		if out, ok := vs.matches[key]; ok {
			return out
		}
	}
	var out []*corev1.PersistentVolume
	for _, pv := range pool {
		if pv.Spec.ClaimRef != nil || !fits(pv) || pv.Status.Phase != corev1.VolumeAvailable ||
			(selector != nil && !selector.Matches(labels.Set(pv.Labels))) || !volume.CheckAccessModes(pvc, pv) {
			continue
		}
		if t := vs.pvTopology(pv); t.err == nil && len(t.alts) > 0 {
			out = append(out, pv)
		}
	}
	if key != "" {
		vs.matches[key] = out
	}
	return out
}

// pvTopology returns the node requirement alternatives of pv: each term of its required node
// affinity (keys normalised, see volumeKeys) ANDed with its zone and region labels; one
// alternative with just the labels when it has no node affinity. Unsatisfiable alternatives are
// dropped; the error names the PV and field when none is left or a term is invalid.
func (vs *volumeState) pvTopology(pv *corev1.PersistentVolume) pvTopology {
	if t, ok := vs.pvAlts[pv.Name]; ok {
		return t
	}
	t := pvTopology{}
	zoneReqs := Requirements{}
	for _, key := range pvZoneLabels {
		v, ok := pv.Labels[key]
		if !ok {
			continue
		}
		values := sets.New[string]()
		for _, z := range strings.Split(v, "__") {
			if z = strings.TrimSpace(z); z != "" {
				values.Insert(z)
			}
		}
		zoneReqs.Add(&Requirement{Key: normalKey(key), values: values})
	}
	path := field.NewPath("spec", "nodeAffinity", "required", "nodeSelectorTerms")
	var raw []Requirements
	if na := pv.Spec.NodeAffinity; na != nil && na.Required != nil {
		for i, term := range na.Required.NodeSelectorTerms {
			if len(term.MatchFields) > 0 || len(term.MatchExpressions) == 0 {
				continue // matchFields name a node; an empty term matches none, as in Kubernetes
			}
			exprs := make([]corev1.NodeSelectorRequirement, len(term.MatchExpressions))
			for j, e := range term.MatchExpressions {
				exprs[j] = e
				exprs[j].Key = normalKey(e.Key)
			}
			reqs, err := FromNodeSelector(path.Index(i).Child("matchExpressions"), exprs)
			if err != nil {
				t.err = fmt.Errorf("PersistentVolume %q: %w", pv.Name, err)
				vs.pvAlts[pv.Name] = t
				return t
			}
			raw = append(raw, reqs)
		}
		if len(raw) == 0 {
			t.err = fmt.Errorf("PersistentVolume %q: %s has no term a node can match by labels (empty, or matchFields only)", pv.Name, path)
		}
	} else {
		raw = []Requirements{{}}
	}
	for _, r := range raw {
		for _, k := range zoneReqs.Keys() {
			r.Add(zoneReqs[k])
		}
		if r = vs.regionToZone(r); satisfiable(r) {
			t.alts, t.keys = append(t.alts, r), append(t.keys, r.String())
		}
	}
	if t.err == nil && len(t.alts) == 0 {
		t.err = fmt.Errorf("PersistentVolume %q: no node can satisfy its node affinity and zone labels (known zones %v)", pv.Name, vs.zones)
	}
	vs.pvAlts[pv.Name] = t
	return t
}

// allowedTopologies returns the alternatives of class's allowedTopologies (keys normalised).
func (vs *volumeState) allowedTopologies(class *storagev1.StorageClass) ([]Requirements, error) {
	var out []Requirements
	for i, term := range class.AllowedTopologies {
		r := Requirements{}
		for j, e := range term.MatchLabelExpressions {
			if len(e.Values) == 0 {
				return nil, fmt.Errorf("StorageClass %q: allowedTopologies[%d].matchLabelExpressions[%d].values: must not be empty", class.Name, i, j)
			}
			r.Add(&Requirement{Key: normalKey(e.Key), values: sets.New(e.Values...)})
		}
		if r = vs.regionToZone(r); satisfiable(r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("StorageClass %q: no node can satisfy its allowedTopologies (known zones %v)", class.Name, vs.zones)
	}
	return out, nil
}

func normalKey(k string) string {
	if n, ok := volumeKeys[k]; ok {
		return n
	}
	return k
}

// regionToZone replaces a requirement on topology.kubernetes.io/region by one on the zone: the
// known zones whose region it admits.
func (vs *volumeState) regionToZone(r Requirements) Requirements {
	region, ok := r[corev1.LabelTopologyRegion]
	if !ok {
		return r
	}
	delete(r, corev1.LabelTopologyRegion)
	zones := sets.New[string]()
	for _, z := range vs.zones {
		name := awsRegion.FindString(z)
		if region.Matches(name, name != "") {
			zones.Insert(z)
		}
	}
	r.Add(&Requirement{Key: corev1.LabelTopologyZone, values: zones})
	return r
}

func satisfiable(r Requirements) bool {
	for _, q := range r {
		if q.IsEmpty() {
			return false
		}
	}
	return true
}

// refresh recomputes pi.terms: the pod's own alternatives ANDed with one alternative of each
// claim, PVs planned for other pods excluded. It returns why no alternative is left.
func (pv *podVolumes) refresh(pi *podInfo) error {
	if pv == nil || (pv.built && (len(pv.pending) == 0 || pv.version == pv.st.version)) {
		return nil
	}
	pv.built, pv.version = true, pv.st.version
	lists := append([][]Requirements{}, pv.fixed...)
	for _, pc := range pv.pending {
		alts := append([]Requirements{}, pc.dynamic...)
		seen := sets.New[string]()
		for _, cand := range pc.candidates {
			if pv.st.taken.Has(cand.Name) {
				continue
			}
			t := pv.st.pvTopology(cand)
			for i, a := range t.alts {
				if !seen.Has(t.keys[i]) {
					seen.Insert(t.keys[i])
					alts = append(alts, a)
				}
			}
		}
		if len(alts) == 0 {
			return fmt.Errorf("every PersistentVolume matching PersistentVolumeClaim %q is planned for other pods of this batch, and its class does not provision volumes", pc.pvc.Name)
		}
		lists = append(lists, alts)
	}
	terms := pv.base
	for _, alts := range lists {
		var next []Requirements
		seen := sets.New[string]()
		for _, t := range terms {
			for _, a := range alts {
				m := t.Copy()
				for _, k := range a.Keys() {
					m.Add(a[k])
				}
				if key := m.String(); satisfiable(m) && !seen.Has(key) && len(next) < maxVolumeTerms {
					seen.Insert(key)
					next = append(next, m)
				}
			}
		}
		if len(next) == 0 {
			return fmt.Errorf("the node requirements of its volumes (%s) conflict with its node selector, node affinity or other volumes", describe(alts))
		}
		terms = next
	}
	pi.terms = terms
	return nil
}

func describe(alts []Requirements) string {
	parts := make([]string, 0, len(alts))
	for _, a := range alts {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, " or ")
}

// attachName returns the unique name and CSI driver of a claim's volume for attach limits, as
// NodeVolumeLimits counts it: a bound claim is its CSI PV's driver/volumeHandle (an in-tree
// awsElasticBlockStore PV counts as ebs.csi.aws.com, CSI migration being always on); an unbound
// claim (or one whose PV is missing) is its class's provisioner and the claim itself. A volume
// no CSI driver attaches (local, hostPath, NFS ...) returns "".
func attachName(vols Volumes, pvc *corev1.PersistentVolumeClaim) (id, driver string) {
	if pv := vols.PVs[pvc.Spec.VolumeName]; pvc.Spec.VolumeName != "" && pv != nil {
		switch {
		case pv.Spec.CSI != nil:
			return pv.Spec.CSI.Driver + "/" + pv.Spec.CSI.VolumeHandle, pv.Spec.CSI.Driver
		case pv.Spec.AWSElasticBlockStore != nil:
			id := pv.Spec.AWSElasticBlockStore.VolumeID
			return ebsCSIDriver + "/" + id[strings.LastIndex(id, "/")+1:], ebsCSIDriver
		default:
			return "", ""
		}
	}
	class := vols.StorageClasses[volume.GetPersistentVolumeClaimClass(pvc)]
	if class == nil || class.Provisioner == "" {
		return "", ""
	}
	return class.Provisioner + "/claim:" + pvc.Namespace + "/" + pvc.Name, class.Provisioner
}

// ebsCSIDriver is the CSI driver in-tree awsElasticBlockStore volumes migrate to
// (k8s.io/csi-translation-lib).
const ebsCSIDriver = "ebs.csi.aws.com"

// limits lazily indexes the instance types' volume limits.
func (vs *volumeState) limits() map[string]map[string]int {
	if vs.typeLimits == nil {
		vs.typeLimits, vs.maxLimits, vs.unlimited = map[string]map[string]int{}, map[string]int{}, sets.New[string]()
		drivers := sets.New[string]()
		var all []map[string]int
		for _, p := range vs.in.Provisioners {
			for _, it := range p.InstanceTypes {
				vs.typeLimits[it.Name] = it.VolumeLimits
				all = append(all, it.VolumeLimits)
				for d, l := range it.VolumeLimits {
					drivers.Insert(d)
					vs.maxLimits[d] = max(vs.maxLimits[d], l)
				}
			}
		}
		for _, l := range all {
			for d := range drivers {
				if _, ok := l[d]; !ok {
					vs.unlimited.Insert(d)
				}
			}
		}
	}
	return vs.typeLimits
}

// checkAttachable returns an error when the pod alone has more volumes of a driver than any
// instance type can attach.
func (vs *volumeState) checkAttachable(ids map[string]string) error {
	if len(ids) == 0 {
		return nil
	}
	vs.limits()
	count := map[string]int{}
	for _, d := range ids {
		count[d]++
	}
	for d, n := range count {
		if m, ok := vs.maxLimits[d]; ok && n > m && !vs.unlimited.Has(d) {
			return fmt.Errorf("it has %d volumes of CSI driver %s, more than any instance type can attach (at most %d)", n, d, m)
		}
	}
	return nil
}

// nodeAttached returns the volumes of the pods bound to n (counted once, on first use).
func (vs *volumeState) nodeAttached(n *existing) *attached {
	a, ok := vs.nodes[n]
	if !ok {
		a = &attached{}
		for _, p := range n.node.Pods {
			names, eph := claimVolumes(p)
			ids := map[string]string{}
			for i, name := range names {
				// Like kube-scheduler, a bound pod's claim that cannot be read is not counted.
				if pvc, err := lookupClaim(vs.vols, p, name, eph[i]); err == nil {
					if id, d := attachName(vs.vols, pvc); id != "" {
						ids[id] = d
					}
				}
			}
			a.add(ids)
		}
		vs.nodes[n] = a
	}
	return a
}

// nodeLimit is driver's attach limit on n: its CSINode's allocatable count; without a CSINode
// entry for the driver, its instance type's limit; ok=false when unlimited.
func (vs *volumeState) nodeLimit(n *existing, driver string) (int, bool) {
	if cn := vs.vols.CSINodes[n.node.Name]; cn != nil {
		for _, d := range cn.Spec.Drivers {
			if d.Name == driver {
				if d.Allocatable != nil && d.Allocatable.Count != nil {
					return int(*d.Allocatable.Count), true
				}
				return 0, false
			}
		}
	}
	l, ok := vs.limits()[n.node.Labels[v1alpha5.LabelInstanceType]][driver]
	return l, ok
}

// claimLimit is driver's attach limit on a new node: the smallest over its instance types.
func claimLimit(c *claim, driver string) (int, bool) {
	limit, found := 0, false
	for _, t := range c.types {
		if l, ok := t.it.VolumeLimits[driver]; ok && (!found || l < limit) {
			limit, found = l, true
		}
	}
	return limit, found
}

// fitsWith reports whether the pod's volumes not yet in a stay within limit per driver.
func (pv *podVolumes) fitsWith(a *attached, limit func(string) (int, bool)) bool {
	added := map[string]int{}
	for id, d := range pv.attach {
		if _, ok := a.ids[id]; !ok {
			added[d]++
		}
	}
	for d, n := range added {
		if l, ok := limit(d); ok && a.byDriver[d]+n > l {
			return false
		}
	}
	return true
}

// admitsNode reports whether the pod's volumes fit n's attach limits.
func (pv *podVolumes) admitsNode(n *existing) bool {
	if pv == nil || len(pv.attach) == 0 {
		return true
	}
	return pv.fitsWith(pv.st.nodeAttached(n), func(d string) (int, bool) { return pv.st.nodeLimit(n, d) })
}

// admitsClaim reports whether the pod's volumes fit the attach limits of every type of c.
func (pv *podVolumes) admitsClaim(c *claim) bool {
	if pv == nil || len(pv.attach) == 0 {
		return true
	}
	a := pv.st.claims[c]
	if a == nil {
		a = &attached{}
	}
	return pv.fitsWith(a, func(d string) (int, bool) { return claimLimit(c, d) })
}

// admitsPiece reports whether the pod's volumes fit the attach limits of every type of c, a
// node a split is planning, beside a (the volumes of the pods planned on c so far; nil: none).
func (pv *podVolumes) admitsPiece(c *claim, a *attached) bool {
	if pv == nil || len(pv.attach) == 0 {
		return true
	}
	if a == nil {
		a = &attached{}
	}
	return pv.fitsWith(a, func(d string) (int, bool) { return claimLimit(c, d) })
}

// splitInto records the volumes of the pods of pieces, the new nodes a split or detach made of
// others, for the placements that follow (admitsClaim). The PVs the pods' claims were planned
// to bind stay theirs: a piece's requirements are within those of the node the PVs were chosen
// for (see placedOnClaim), so each PV's node affinity still admits the piece. The entries of the
// nodes replaced are left (a plan kept elsewhere may still hold them).
func (vs *volumeState) splitInto(pieces []*claim) {
	for _, c := range pieces {
		if _, ok := vs.claims[c]; ok {
			continue
		}
		var a *attached
		for _, pi := range c.infos {
			if pi.vol != nil && len(pi.vol.attach) > 0 {
				if a == nil {
					a = &attached{}
				}
				a.add(pi.vol.attach)
			}
		}
		if a != nil {
			vs.claims[c] = a
		}
	}
}

// attachableTypes returns the types that can attach the pod's volumes on a new node.
func (pv *podVolumes) attachableTypes(types []*typeInfo) []*typeInfo {
	if pv == nil || len(pv.attach) == 0 {
		return types
	}
	count := map[string]int{}
	for _, d := range pv.attach {
		count[d]++
	}
	out := make([]*typeInfo, 0, len(types))
	for _, t := range types {
		ok := true
		for d, n := range count {
			if l, limited := t.it.VolumeLimits[d]; limited && n > l {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, t)
		}
	}
	return out
}

// placedOnNode records the pod on n: its volumes count there, and each pending claim takes
// the PV kube-scheduler would bind on n (volume.FindMatchingVolume with n's labels).
func (pv *podVolumes) placedOnNode(n *existing) {
	if pv == nil {
		return
	}
	pv.st.nodeAttached(n).add(pv.attach)
	if len(pv.pending) == 0 {
		return
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.node.Name, Labels: n.node.Labels}}
	pv.take(func(pc *pendingClaim, free []*corev1.PersistentVolume, chosen map[string]*corev1.PersistentVolume) *corev1.PersistentVolume {
		found, err := volume.FindMatchingVolume(pc.pvc, free, node, chosen, true, true)
		if err != nil {
			return nil
		}
		return found
	})
}

// placedOnClaim records the pod on the new node c: its volumes count there, and each pending
// claim takes the smallest candidate PV whose node requirements contain c's.
func (pv *podVolumes) placedOnClaim(c *claim) {
	if pv == nil {
		return
	}
	a := pv.st.claims[c]
	if a == nil {
		a = &attached{}
		pv.st.claims[c] = a
	}
	a.add(pv.attach)
	pv.take(func(_ *pendingClaim, free []*corev1.PersistentVolume, chosen map[string]*corev1.PersistentVolume) *corev1.PersistentVolume {
		for _, cand := range free {
			if _, ok := chosen[cand.Name]; ok {
				continue
			}
			for _, alt := range pv.st.pvTopology(cand).alts {
				if contains(alt, c.reqs) {
					return cand
				}
			}
		}
		return nil
	})
}

// take marks the PV choose picks for each pending claim as planned (a claim it finds none for
// is provisioned dynamically). choose gets the claim's candidates not planned for other pods,
// and the PVs chosen for the pod's claims before it.
func (pv *podVolumes) take(choose func(pc *pendingClaim, free []*corev1.PersistentVolume, chosen map[string]*corev1.PersistentVolume) *corev1.PersistentVolume) {
	chosen := map[string]*corev1.PersistentVolume{}
	for _, pc := range pv.pending {
		free := make([]*corev1.PersistentVolume, 0, len(pc.candidates))
		for _, c := range pc.candidates {
			if !pv.st.taken.Has(c.Name) {
				free = append(free, c)
			}
		}
		if found := choose(pc, free, chosen); found != nil {
			chosen[found.Name] = found
			pv.st.taken.Insert(found.Name)
			pv.st.version++
		}
	}
}

// contains reports whether every node that node (requirements of a new node: a missing key
// means the label will be absent) admits also satisfies alt.
func contains(alt, node Requirements) bool {
	for k, want := range alt {
		have, ok := node[k]
		if !ok {
			have = Absent(k)
		}
		if !within(have, want) {
			return false
		}
	}
	return true
}

// within reports whether every label state a admits, b admits too. Integer bounds that leave
// finitely many values of a complemented a are not enumerated (within is then false).
func within(a, b *Requirement) bool {
	if a.allowAbsent && !b.allowAbsent {
		return false
	}
	if !a.complement {
		for v := range a.values {
			if a.withinBounds(v) && !b.Has(v) {
				return false
			}
		}
		return true
	}
	if !b.complement {
		return !a.hasPresentValue()
	}
	for v := range b.values {
		if a.Has(v) {
			return false
		}
	}
	if b.gt != nil && (a.gt == nil || *a.gt < *b.gt) {
		return false
	}
	return b.lt == nil || (a.lt != nil && *a.lt <= *b.lt)
}

// explainVolumes returns which of pod's volume constraints node breaks, judged as
// kube-scheduler does against the node's own labels (keys not normalised), or "".
func explainVolumes(pod *corev1.Pod, node *corev1.Node, vols Volumes) string {
	names, eph := claimVolumes(pod)
	for i, name := range names {
		pvc, err := lookupClaim(vols, pod, name, eph[i])
		if err != nil {
			return err.Error()
		}
		if pvName := pvc.Spec.VolumeName; pvName != "" {
			pv := vols.PVs[pvName]
			if pv == nil {
				return fmt.Sprintf("PersistentVolumeClaim %q is bound to PersistentVolume %q, which does not exist", name, pvName)
			}
			if err := volume.CheckNodeAffinity(pv, node.Labels); err != nil {
				return fmt.Sprintf("volume node affinity conflict: the node affinity of PersistentVolume %q (claim %q: %s) does not admit the node (zone %q)",
					pv.Name, name, nodeAffinityString(pv), node.Labels[corev1.LabelTopologyZone])
			}
			if why := zoneConflict(pv, node); why != "" {
				return why
			}
			continue
		}
		if why := explainUnbound(pvc, node, vols); why != "" {
			return why
		}
	}
	return ""
}

// explainUnbound says why an unbound claim cannot bind or be provisioned on node, or "".
func explainUnbound(pvc *corev1.PersistentVolumeClaim, node *corev1.Node, vols Volumes) string {
	className := volume.GetPersistentVolumeClaimClass(pvc)
	class := vols.StorageClasses[className]
	switch {
	case class == nil:
		return fmt.Sprintf("PersistentVolumeClaim %q is not bound and its StorageClass %q does not exist", pvc.Name, className)
	case class.VolumeBindingMode == nil || *class.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer:
		return fmt.Sprintf("PersistentVolumeClaim %q is not bound and StorageClass %q binds immediately", pvc.Name, className)
	}
	if selected, ok := pvc.Annotations[volume.AnnSelectedNode]; ok {
		if selected != node.Name {
			return fmt.Sprintf("PersistentVolumeClaim %q is being provisioned for node %q", pvc.Name, selected)
		}
		return ""
	}
	var pvs []*corev1.PersistentVolume
	for _, pv := range vols.PVs {
		if volume.GetPersistentVolumeClass(pv) == className {
			pvs = append(pvs, pv)
		}
	}
	if found, err := volume.FindMatchingVolume(pvc, pvs, node, nil, true, true); err == nil && found != nil {
		return ""
	}
	if class.Provisioner != "" && class.Provisioner != volume.NotSupportedProvisioner {
		if matchTopology(class.AllowedTopologies, node.Labels) {
			return ""
		}
		return fmt.Sprintf("volume zone conflict: the allowedTopologies of StorageClass %q (claim %q) do not admit the node (zone %q)",
			className, pvc.Name, node.Labels[corev1.LabelTopologyZone])
	}
	return fmt.Sprintf("volume zone conflict: no available PersistentVolume of StorageClass %q for claim %q can bind on the node (zone %q)",
		className, pvc.Name, node.Labels[corev1.LabelTopologyZone])
}

// matchTopology reports whether labels satisfy one of terms (none: any labels do).
func matchTopology(terms []corev1.TopologySelectorTerm, labels map[string]string) bool {
	if len(terms) == 0 {
		return true
	}
	for _, t := range terms {
		ok := true
		for _, e := range t.MatchLabelExpressions {
			v, present := labels[e.Key]
			if !present || !sets.New(e.Values...).Has(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// zoneConflict applies VolumeZone: pv's zone and region labels against node's ("" when met,
// or when the node has no topology label at all).
func zoneConflict(pv *corev1.PersistentVolume, node *corev1.Node) string {
	labelled := false
	for _, k := range pvZoneLabels {
		if _, ok := node.Labels[k]; ok {
			labelled = true
		}
	}
	if !labelled {
		return ""
	}
	for _, k := range pvZoneLabels {
		want, ok := pv.Labels[k]
		if !ok {
			continue
		}
		have, present := node.Labels[k]
		if !present {
			have, present = node.Labels[normalKey(k)]
		}
		if !present || !sets.New(strings.Split(want, "__")...).Has(have) {
			return fmt.Sprintf("volume zone conflict: PersistentVolume %q has %s=%s, the node %q", pv.Name, k, want, have)
		}
	}
	return ""
}

// nodeAffinityString renders pv's required node affinity terms, ORed.
func nodeAffinityString(pv *corev1.PersistentVolume) string {
	var terms []string
	for _, t := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		var parts []string
		for _, e := range t.MatchExpressions {
			parts = append(parts, fmt.Sprintf("%s %s %v", e.Key, e.Operator, e.Values))
		}
		terms = append(terms, strings.Join(parts, ", "))
	}
	return strings.Join(terms, " or ")
}
