package simulate

import (
	"errors"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/component-helpers/storage/ephemeral"
	"k8s.io/component-helpers/storage/volume"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// storage is what the input holds for pods' volumes, and what the cluster's controllers would
// add to it before kube-scheduler sees the pods:
//
//   - the claims of StatefulSets' volumeClaimTemplates (the StatefulSet controller) and of
//     generic ephemeral volumes (the ephemeral volume controller), unless the input holds a
//     claim of the same namespace and name, which is used instead;
//   - the default StorageClass on claims that name none (the DefaultStorageClass admission
//     plugin, and the PersistentVolume controller's retroactive assignment);
//   - static binding (the PersistentVolume controller): an unbound claim whose class does not
//     wait for the first consumer is bound to the smallest matching available
//     PersistentVolume, or to the volume pre-bound to it by spec.claimRef.
//
// The solver reads the result as scheduling.Volumes (controller/scheduling/volume.go says what
// it does with them).
type storage struct {
	claims   []corev1.PersistentVolumeClaim
	pvs      []corev1.PersistentVolume
	classes  []storagev1.StorageClass
	csiNodes []storagev1.CSINode
	// templateClaims are the claims StatefulSets' volumeClaimTemplates create.
	templateClaims []corev1.PersistentVolumeClaim
}

func (r *reader) claim(o *Object, _ role) error {
	pvc := corev1.PersistentVolumeClaim{}
	usable, err := r.decode(o, &pvc)
	if !usable {
		return err
	}
	errs := append([]error{err}, fieldErrors(o, validateClaimSpec(&pvc.Spec, field.NewPath("spec")))...)
	if pvc.Name == "" {
		errs = append(errs, o.Errorf("metadata.name", "Required value: a PersistentVolumeClaim needs a name"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	pvc.Namespace = namespaceOr(pvc.Namespace)
	r.storage.claims = append(r.storage.claims, pvc)
	return nil
}

// volume reads a PersistentVolume. One without a status (written rather than dumped) gets the
// phase the PersistentVolume controller gives it: Bound when its claimRef names a claim by UID,
// else Available.
func (r *reader) volume(o *Object, _ role) error {
	pv := corev1.PersistentVolume{}
	usable, err := r.decode(o, &pv)
	if !usable {
		return err
	}
	errs := []error{err}
	if pv.Name == "" {
		errs = append(errs, o.Errorf("metadata.name", "Required value: a PersistentVolume needs a name"))
	}
	if len(pv.Spec.AccessModes) == 0 {
		errs = append(errs, o.Errorf("spec.accessModes", "Required value"))
	}
	if _, ok := pv.Spec.Capacity[corev1.ResourceStorage]; !ok {
		errs = append(errs, o.Errorf("spec.capacity.storage", "Required value"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if pv.Status.Phase == "" {
		pv.Status.Phase = corev1.VolumeAvailable
		if ref := pv.Spec.ClaimRef; ref != nil && ref.UID != "" {
			pv.Status.Phase = corev1.VolumeBound
		}
	}
	r.storage.pvs = append(r.storage.pvs, pv)
	return nil
}

// storageClass reads a StorageClass; without volumeBindingMode it binds Immediate (the API
// server's default).
func (r *reader) storageClass(o *Object, _ role) error {
	sc := storagev1.StorageClass{}
	usable, err := r.decode(o, &sc)
	if !usable {
		return err
	}
	errs := []error{err}
	if sc.Name == "" {
		errs = append(errs, o.Errorf("metadata.name", "Required value: a StorageClass needs a name"))
	}
	if sc.Provisioner == "" {
		errs = append(errs, o.Errorf("provisioner", "Required value"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if sc.VolumeBindingMode == nil {
		sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingImmediate)
	}
	r.storage.classes = append(r.storage.classes, sc)
	return nil
}

func (r *reader) csiNode(o *Object, _ role) error {
	n := storagev1.CSINode{}
	usable, err := r.decode(o, &n)
	if usable && n.Name == "" {
		err = errors.Join(err, o.Errorf("metadata.name", "Required value: a CSINode needs a name"))
	}
	if err != nil {
		return err
	}
	r.storage.csiNodes = append(r.storage.csiNodes, n)
	return nil
}

// statefulSetClaims returns the claims of pod p, ordinal i of ss, as the StatefulSet controller
// creates them (Kubernetes pkg/controller/statefulset, getPersistentVolumeClaims and
// updateStorage): per volumeClaimTemplate a claim named <template>-<set>-<i> in the set's
// namespace, with the template's labels plus the selector's matchLabels; p mounts each in a
// volume named after its template, replacing a pod volume of that name.
func statefulSetClaims(ss *appsv1.StatefulSet, p *corev1.Pod, i int) []corev1.PersistentVolumeClaim {
	if len(ss.Spec.VolumeClaimTemplates) == 0 {
		return nil
	}
	var selector map[string]string
	if ss.Spec.Selector != nil {
		selector = ss.Spec.Selector.MatchLabels
	}
	claims := make([]corev1.PersistentVolumeClaim, 0, len(ss.Spec.VolumeClaimTemplates))
	vols := make([]corev1.Volume, 0, len(ss.Spec.VolumeClaimTemplates)+len(p.Spec.Volumes))
	templates := sets.New[string]()
	for _, t := range ss.Spec.VolumeClaimTemplates {
		c := corev1.PersistentVolumeClaim{ObjectMeta: *t.ObjectMeta.DeepCopy(), Spec: *t.Spec.DeepCopy()}
		c.Name, c.Namespace = fmt.Sprintf("%s-%s-%d", t.Name, ss.Name, i), p.Namespace
		c.Labels = mergeLabels(c.Labels, selector)
		claims = append(claims, c)
		templates.Insert(t.Name)
		vols = append(vols, corev1.Volume{Name: t.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
	}
	for _, v := range p.Spec.Volumes {
		if !templates.Has(v.Name) {
			vols = append(vols, v)
		}
	}
	p.Spec.Volumes = vols
	return claims
}

// ephemeralClaims returns the claims the ephemeral volume controller creates for p's generic
// ephemeral volumes (Kubernetes pkg/controller/volume/ephemeral): named <pod>-<volume>,
// owned by the pod, with the template's labels, annotations and spec.
func ephemeralClaims(p *corev1.Pod) []corev1.PersistentVolumeClaim {
	var claims []corev1.PersistentVolumeClaim
	for i := range p.Spec.Volumes {
		v := &p.Spec.Volumes[i]
		if v.Ephemeral == nil || v.Ephemeral.VolumeClaimTemplate == nil {
			continue
		}
		t := v.Ephemeral.VolumeClaimTemplate
		claims = append(claims, corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: ephemeral.VolumeClaimName(p, v), Namespace: p.Namespace,
				Labels: mergeLabels(nil, t.Labels), Annotations: mergeLabels(nil, t.Annotations),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: p.UID,
					Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
			Spec: *t.Spec.DeepCopy(),
		})
	}
	return claims
}

// Annotations marking the default StorageClass
// (https://kubernetes.io/docs/tasks/administer-cluster/change-default-storage-class/).
const (
	annDefaultClass     = "storageclass.kubernetes.io/is-default-class"
	annBetaDefaultClass = "storageclass.beta.kubernetes.io/is-default-class"
)

// defaultClass returns the name of the default StorageClass: of the classes annotated as
// default, the newest, then the first by name (Kubernetes pkg/volume/util GetDefaultClass); ""
// when none is.
func defaultClass(classes []storagev1.StorageClass) string {
	var defaults []*storagev1.StorageClass
	for i := range classes {
		if c := &classes[i]; c.Annotations[annDefaultClass] == "true" || c.Annotations[annBetaDefaultClass] == "true" {
			defaults = append(defaults, c)
		}
	}
	if len(defaults) == 0 {
		return ""
	}
	sort.Slice(defaults, func(i, j int) bool {
		a, b := defaults[i].CreationTimestamp, defaults[j].CreationTimestamp
		if !a.Equal(&b) {
			return b.Before(&a)
		}
		return defaults[i].Name < defaults[j].Name
	})
	return defaults[0].Name
}

// build adds the claims the cluster's controllers would create for pods, assigns the default
// class, binds static volumes and returns the solver's Volumes.
func (s *storage) build(pods []*corev1.Pod) scheduling.Volumes {
	read := sets.New[string]()
	for _, c := range s.claims {
		read.Insert(c.Namespace + "/" + c.Name)
	}
	add := func(c corev1.PersistentVolumeClaim) {
		if key := c.Namespace + "/" + c.Name; !read.Has(key) {
			read.Insert(key)
			s.claims = append(s.claims, c)
		}
	}
	for _, c := range s.templateClaims {
		add(c)
	}
	for _, p := range pods {
		for _, c := range ephemeralClaims(p) {
			add(c)
		}
	}
	if def := defaultClass(s.classes); def != "" {
		for i := range s.claims {
			if !volume.PersistentVolumeClaimHasClass(&s.claims[i]) {
				s.claims[i].Spec.StorageClassName = ptr.To(def)
			}
		}
	}
	s.bindStatic()
	return scheduling.NewVolumes(s.claims, s.pvs, s.classes, s.csiNodes)
}

// bindStatic binds, in input order, each unbound claim whose class does not wait for the first
// consumer (Immediate, no class, or a class that does not exist) to the PersistentVolume the
// PersistentVolume controller would pick: volume.FindMatchingVolume without a node (a volume
// pre-bound to the claim, else the smallest available one of its class that matches). Claims
// left unbound are the solver's to judge (it reports them as waiting).
func (s *storage) bindStatic() {
	classes := map[string]*storagev1.StorageClass{}
	for i := range s.classes {
		classes[s.classes[i].Name] = &s.classes[i]
	}
	byClass := map[string][]*corev1.PersistentVolume{}
	for i := range s.pvs {
		pv := &s.pvs[i]
		if pv.Status.Phase == corev1.VolumeAvailable {
			byClass[volume.GetPersistentVolumeClass(pv)] = append(byClass[volume.GetPersistentVolumeClass(pv)], pv)
		}
	}
	taken := map[string]*corev1.PersistentVolume{}
	for i := range s.claims {
		c := &s.claims[i]
		if c.Spec.VolumeName != "" || c.DeletionTimestamp != nil {
			continue
		}
		name := volume.GetPersistentVolumeClaimClass(c)
		if sc := classes[name]; sc != nil && ptr.Deref(sc.VolumeBindingMode, "") == storagev1.VolumeBindingWaitForFirstConsumer {
			continue
		}
		pv, err := volume.FindMatchingVolume(c, byClass[name], nil, taken, false, true)
		if err != nil || pv == nil {
			continue
		}
		taken[pv.Name] = pv
		c.Spec.VolumeName, c.Status.Phase = pv.Name, corev1.ClaimBound
		pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: c.Namespace, Name: c.Name, UID: c.UID}
		pv.Status.Phase = corev1.VolumeBound
	}
}
