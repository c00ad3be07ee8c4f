package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kschema "k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	nodeutil "k8s.io/component-helpers/node/util"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// ensureNamespace creates namespace name (namespaceObject) when it does not exist and reports
// created = true; an existing namespace is adopted untouched, and created reports whether it
// carries createdByAnnotation (this resource made it before, e.g. ahead of an import or a
// re-create after the Deployment was deleted outside Terraform). When owned (state says this
// resource created it) or it carries the annotation, the labels and annotation of
// namespaceObject are re-applied (restoring any removed outside Terraform) and created is true.
// A namespace being deleted is an error.
func ensureNamespace(ctx context.Context, kc client.Client, name string, owned bool) (created bool, err error) {
	var ns corev1.Namespace
	err = kc.Get(ctx, client.ObjectKey{Name: name}, &ns)
	if apierrors.IsNotFound(err) {
		err = kc.Create(ctx, namespaceObject(name), client.FieldOwner(fieldOwner))
		if apierrors.IsAlreadyExists(err) { // created concurrently by someone else: adopt it
			return ensureNamespace(ctx, kc, name, false)
		}
		return err == nil, err
	}
	if err != nil {
		return false, err
	}
	if ns.DeletionTimestamp != nil {
		return false, fmt.Errorf("namespace %s is being deleted; wait until it is gone or choose another namespace", name)
	}
	if !owned && ns.Annotations[createdByAnnotation] != createdByController {
		return false, nil
	}
	if namespaceChanged(&ns) {
		if err := apply(ctx, kc, namespaceObject(name)); err != nil {
			return true, fmt.Errorf("restoring the labels and annotation of namespace %s: %w", name, err)
		}
	}
	return true, nil
}

// namespaceChanged reports whether live, a namespace this resource created, lacks a label or
// annotation of namespaceObject (or has another value for it).
func namespaceChanged(live *corev1.Namespace) bool {
	return metadataChanged(namespaceObject(live.Name), live, "")
}

// metadataChanged reports whether live lacks a label or annotation that desired has (or holds
// another value for it), other than the annotation skip (one an attribute reads back; "" for
// none). Labels and annotations that others added are not compared: apply keeps them.
func metadataChanged(desired, live client.Object, skip string) bool {
	for k, v := range desired.GetLabels() {
		if lv, ok := live.GetLabels()[k]; !ok || lv != v {
			return true
		}
	}
	for k, v := range desired.GetAnnotations() {
		if k == skip {
			continue
		}
		if lv, ok := live.GetAnnotations()[k]; !ok || lv != v {
			return true
		}
	}
	return false
}

// appliedByUs reports whether obj's managed fields include a server-side apply by fieldOwner.
func appliedByUs(obj client.Object) bool {
	for _, f := range obj.GetManagedFields() {
		if f.Manager == fieldOwner {
			return true
		}
	}
	return false
}

// refuseForeign returns an error naming every object of objs that exists but was not applied
// by this provider (see appliedByUs), so that an installation never takes over, and later
// deletes, someone else's service account, RBAC or Deployment of the same name.
func refuseForeign(ctx context.Context, kc client.Client, objs []client.Object) error {
	var foreign []string
	err := forEachLive(ctx, kc, objs, func(obj, live client.Object) {
		if !appliedByUs(live) {
			foreign = append(foreign, objectName(kc, obj))
		}
	})
	if err != nil {
		return err
	}
	if len(foreign) > 0 {
		return targetTaken{summary: foreignObjectsSummary, detail: fmt.Sprintf("%s: not created by terraform-provider-karpenter (no %q field manager); "+
			"delete or rename them, or choose another namespace (or service_account_name, for a service account)", strings.Join(foreign, ", "), fieldOwner)}
	}
	return nil
}

// foreignObjectsSummary is the summary of refuseForeign's refusal, at plan and at apply.
const foreignObjectsSummary = "Objects of the same names exist and are not managed by this provider"

// targetTaken is the error of an installation target that this provider may not use (objects
// of someone else's, another installation, a held leader-election Lease, a namespace being
// deleted), as opposed to a failure to read it: summary and detail of the diagnostic.
type targetTaken struct{ summary, detail string }

func (e targetTaken) Error() string { return e.detail }

// installTarget is what checkInstallTarget knows of the installation that wants the target:
// the install id of the resource instance (installIDAnnotation; "" for a state from before
// install ids) and whether it may take over another installation (take_over_installation).
type installTarget struct {
	installID string
	takeOver  bool
	// fresh: the instance has no install id yet (a create being planned), so a Deployment
	// without one is not its own (as Create, which has made its id by then, finds).
	fresh bool
	// ours reports whether the Deployment with install id id in namespace ns belongs to this
	// Terraform state (plan time only: an instance of it was refreshed; nil: never).
	ours func(ns, id string) bool
}

// checkInstallTarget reports why installation s cannot be applied without taking over
// someone else's objects: its namespace is being deleted, objects of its names exist that this
// provider did not apply (refuseForeign), another installation runs there (otherInstallation)
// or, when no Deployment of this installation is there, someone else holds its leader-election
// Lease (leaseHeldByOther). It changes nothing.
func checkInstallTarget(ctx context.Context, kc client.Client, s controllerSettings, t installTarget) error {
	var ns corev1.Namespace
	err := kc.Get(ctx, client.ObjectKey{Name: s.Namespace}, &ns)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err == nil && ns.DeletionTimestamp != nil {
		return targetTaken{summary: "Namespace " + s.Namespace + " is being deleted",
			detail: fmt.Sprintf("namespace %s is being deleted; wait until it is gone or choose another namespace", s.Namespace)}
	}
	if err := refuseForeign(ctx, kc, controllerObjects(s)); err != nil {
		return err
	}
	present, err := otherInstallation(ctx, kc, s.Namespace, t)
	if err != nil || present {
		return err // present: its replicas hold the Lease
	}
	return leaseHeldByOther(ctx, kc, s.Namespace)
}

// otherInstallation refuses namespace's controller Deployment when another karpenter_controller
// resource instance applied it: it carries an install id other than t.installID (or none,
// applied by a version before install ids), unless t.takeOver or t.ours says it is this
// Terraform state's (a replacement being planned). A second installation from another
// Terraform state or workspace would otherwise re-apply it under its own id, claim a namespace
// it did not create, and delete the running installation on its destroy. Objects of an
// installation whose Deployment is gone (a create that failed before it, or a Deployment
// deleted outside Terraform) are re-applied. present: the Deployment exists and may be
// applied (this installation's, or taken over).
func otherInstallation(ctx context.Context, kc client.Client, namespace string, t installTarget) (present bool, err error) {
	var d appsv1.Deployment
	err = kc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, &d)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading Deployment %s/%s: %w", namespace, deploymentName, err)
	}
	live := d.Annotations[installIDAnnotation]
	if t.takeOver || (t.installID != "" && live == t.installID) || (t.installID == "" && live == "" && !t.fresh) || (t.ours != nil && t.ours(namespace, live)) {
		return true, nil
	}
	which := "install id " + live
	if live == "" {
		which = "no install id: applied by an earlier version"
	}
	return false, targetTaken{summary: "Another installation of the controller runs in namespace " + namespace,
		detail: fmt.Sprintf("Deployment %s/%s belongs to another karpenter_controller resource instance (%s), of another Terraform "+
			"state or workspace, or one whose state was lost: creating this one would take it over, and destroying it would "+
			"remove the running installation. Manage it from its own state, import it into this one (terraform import "+
			"<address> %s), or choose another namespace. A create_before_destroy replacement of this resource in the same "+
			"namespace takes over its predecessor: that needs take_over_installation = true (Terraform does not tell a "+
			"provider that a create is half of a replacement)", namespace, deploymentName, which, namespace)}
}

// leaseHeldByOther refuses namespace, which holds no controller Deployment of this
// installation, when its leader-election Lease (leaderLeaseName) is held (renewTime, else
// acquireTime, plus leaseDurationSeconds in the future): its holder is not a replica of this
// installation, and the new controller would wait for it without ever acting. An expired or
// released Lease is taken over by the controller, but only quickly when its duration is at
// most staleLeaseWait: client-go's leader election waits a holder's full duration from when it
// first observes the record, whatever its renewTime, so an expired record of a longer duration
// is refused too. A record that ends within staleLeaseWait (a replica that was killed without
// releasing it) is waited for: refused only if it is renewed meanwhile (a live holder).
func leaseHeldByOther(ctx context.Context, kc client.Client, namespace string) error {
	var l coordinationv1.Lease
	key := client.ObjectKey{Namespace: namespace, Name: leaderLeaseName}
	var held bool
	var until time.Time
	err := wait.PollUntilContextTimeout(ctx, pollInterval, staleLeaseWait+leaseClockSkew, true, func(ctx context.Context) (bool, error) {
		prev := l.Spec.RenewTime
		if err := kc.Get(ctx, key, &l); err != nil {
			return false, err
		}
		until, held = leaseHeldUntil(&l, time.Now())
		renewed := prev != nil && l.Spec.RenewTime != nil && !l.Spec.RenewTime.Equal(prev)
		return !held || renewed || time.Until(until) > staleLeaseWait, nil
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil && !wait.Interrupted(err) {
		return fmt.Errorf("reading Lease %s/%s: %w", namespace, leaderLeaseName, err)
	}
	holder, duration := ptr.Deref(l.Spec.HolderIdentity, ""), time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, 0))*time.Second
	if !held && (holder == "" || duration <= staleLeaseWait) {
		return nil
	}
	if !held {
		// client-go's leader election times a Lease from when it first observes the record, not
		// from its renewTime: a holder's record with a long duration blocks that long even if stale.
		return targetTaken{summary: "The controller's leader-election Lease in namespace " + namespace + " names another holder",
			detail: fmt.Sprintf("Lease %s/%s names holder %q with a duration of %s (renewed %s), and no controller of this "+
				"installation runs in the namespace: a new controller waits the whole duration from when it first sees the Lease "+
				"(client-go's leader election does not trust renewTime), so it would not act for that long. Delete the Lease if "+
				"its holder is gone, or choose another namespace", namespace, leaderLeaseName, holder, duration, leaseRenewed(&l))}
	}
	return targetTaken{summary: "The controller's leader-election Lease in namespace " + namespace + " is held by someone else",
		detail: fmt.Sprintf("Lease %s/%s is held by %q until %s (renewed %s, duration %ds), and no controller of this "+
			"installation runs in the namespace: its controller would wait for the Lease and never act. Stop the other "+
			"holder (another Karpenter in this namespace) or choose another namespace; an expired Lease is taken over",
			namespace, leaderLeaseName, ptr.Deref(l.Spec.HolderIdentity, ""), until.UTC().Format(time.RFC3339), leaseRenewed(&l),
			ptr.Deref(l.Spec.LeaseDurationSeconds, 0))}
}

// staleLeaseWait bounds how long leaseHeldByOther waits for a Lease record to end (the
// controller's own lease duration is 15 s); leaseClockSkew is the margin past it.
const (
	staleLeaseWait = 20 * time.Second
	leaseClockSkew = 5 * time.Second
)

// leaseHeldUntil returns when Lease l's record ends (renewTime, else acquireTime, plus its
// duration) and whether it has a holder and has not ended at now.
func leaseHeldUntil(l *coordinationv1.Lease, now time.Time) (time.Time, bool) {
	renew := l.Spec.RenewTime
	if renew == nil {
		renew = l.Spec.AcquireTime
	}
	if ptr.Deref(l.Spec.HolderIdentity, "") == "" || renew == nil {
		return time.Time{}, false
	}
	until := renew.Add(time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, 0)) * time.Second)
	return until, now.Before(until)
}

// leaseRenewed is the Lease's renewTime (else acquireTime) in RFC 3339, "never" without one.
func leaseRenewed(l *coordinationv1.Lease) string {
	for _, t := range []*metav1.MicroTime{l.Spec.RenewTime, l.Spec.AcquireTime} {
		if t != nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return "never"
}

// objectName is "<Kind> <namespace/>name" of obj.
func objectName(kc client.Client, obj client.Object) string {
	kind := fmt.Sprintf("%T", obj)
	if gvk, err := apiutil.GVKForObject(obj, kc.Scheme()); err == nil {
		kind = gvk.Kind
	}
	if obj.GetNamespace() != "" {
		return kind + " " + obj.GetNamespace() + "/" + obj.GetName()
	}
	return kind + " " + obj.GetName()
}

// nameLabel is the label every Karpenter controller Deployment carries, this provider's and
// the Helm chart's (whose app.kubernetes.io/instance is the release name, not karpenter).
const nameLabel = "app.kubernetes.io/name"

// karpenterDeployments lists the Karpenter controller Deployments in the cluster: every
// Deployment labelled app.kubernetes.io/name=karpenter (nameLabel), whatever its other labels,
// that is not being deleted, sorted by namespace and name. It is the one definition of "a
// Karpenter controller" that the warning about other controllers (controllersElsewhere) and the
// destroy's decision to leave what the controllers share (otherControllers) both use. Errors
// are those of the list.
func karpenterDeployments(ctx context.Context, kc client.Client) ([]appsv1.Deployment, error) {
	var ds appsv1.DeploymentList
	if err := kc.List(ctx, &ds, client.MatchingLabels{nameLabel: "karpenter"}); err != nil {
		return nil, err
	}
	out := make([]appsv1.Deployment, 0, len(ds.Items))
	for _, d := range ds.Items {
		if d.DeletionTimestamp == nil {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out, nil
}

// scaledToZero reports whether Deployment d asks for no replicas (spec.replicas 0; unset is
// 1): it runs no controller now, but its installation (a Helm release scaled down) still has
// its Provisioners in the shared CRD.
func scaledToZero(d *appsv1.Deployment) bool { return d.Spec.Replicas != nil && *d.Spec.Replicas == 0 }

// otherControllers lists the Karpenter controller Deployments (karpenterDeployments) other
// than namespace's own (deploymentName there), as "namespace/name", suffixed " (scaled to
// zero)" for one with no replicas: while one exists, the nodes, Provisioners, NodeClaims,
// launch templates and CRDs are shared with it and a destroy leaves them alone. A Deployment
// scaled to zero counts: deleting the CRDs would delete the Provisioners of its installation.
// Errors are those of the list.
func otherControllers(ctx context.Context, kc client.Client, namespace string) ([]string, error) {
	ds, err := karpenterDeployments(ctx, kc)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, d := range ds {
		if d.Namespace == namespace && d.Name == deploymentName {
			continue
		}
		name := d.Namespace + "/" + d.Name
		if scaledToZero(&ds[i]) {
			name += " (scaled to zero)"
		}
		out = append(out, name)
	}
	return out, nil
}

// controllersElsewhere lists, as "namespace/name" plus " (install id <id>)" when annotated
// (installIDAnnotation), the running Karpenter controller Deployments (karpenterDeployments
// not scaledToZero: one with no replicas acts on nothing) outside namespace that are not this
// installation: neither carrying install id own (when not "") nor the controller Deployment of
// namespace from (where a move leaves). Errors are those of the list.
func controllersElsewhere(ctx context.Context, kc client.Client, namespace, own, from string) ([]string, error) {
	ds, err := karpenterDeployments(ctx, kc)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, d := range ds {
		id := d.Annotations[installIDAnnotation]
		if d.Namespace == namespace || scaledToZero(&ds[i]) || (own != "" && id == own) ||
			(d.Namespace == from && d.Name == deploymentName) {
			continue
		}
		name := d.Namespace + "/" + d.Name
		if id != "" {
			name += " (install id " + id + ")"
		}
		out = append(out, name)
	}
	return out, nil
}

// warnControllersElsewhere adds a warning at namespace when controllersElsewhere finds another
// running Karpenter controller Deployment outside namespace (see there for own and from):
// Karpenter controllers do not divide a cluster between them, so both would act on every
// Provisioner. It is not an error. skip names Deployments (as controllersElsewhere lists them)
// already warned about, not named again (nil: none). Returns the Deployments found (skipped ones
// included) and the error of the list (nothing added).
func warnControllersElsewhere(ctx context.Context, kc client.Client, namespace, own, from string, skip map[string]bool, diags *diag.Diagnostics) ([]string, error) {
	others, err := controllersElsewhere(ctx, kc, namespace, own, from)
	if err != nil {
		return nil, err
	}
	var named []string
	for _, o := range others {
		if !skip[o] {
			named = append(named, o)
		}
	}
	if len(named) == 0 {
		return others, nil
	}
	diags.AddAttributeWarning(path.Root("namespace"), "Another Karpenter controller runs in the cluster",
		fmt.Sprintf("Deployment %s, labelled %s=karpenter, runs a Karpenter controller outside namespace %s. Karpenter "+
			"controllers do not divide a cluster between them: both controllers act on every Provisioner, so both would "+
			"launch nodes for the same pending pods and consolidate or remove each other's nodes. Keep one controller per "+
			"cluster: remove the other installation (or scale it to zero) unless it is about to go.",
			strings.Join(named, ", Deployment "), nameLabel, namespace))
	return others, nil
}

// sharedLeftWarning is the warning of a destroy that left what the controllers share because
// other Karpenter controller Deployments (others, as otherControllers lists them) remain.
func sharedLeftWarning(others []string) (summary, detail string) {
	return "Shared objects left to another Karpenter controller", fmt.Sprintf("Deployment %s, labelled %s=karpenter, "+
		"is another Karpenter controller in the cluster: the launched nodes, Provisioners, NodeClaims, launch templates and "+
		"the Provisioner and NodeClaim CRDs are shared with it, so this destroy removed only this installation's own "+
		"objects and left those in place. A Deployment scaled to zero counts too: its installation (a Helm release "+
		"scaled down) still has its Provisioners in the CRD, which deleting the CRD would delete. They are removed by "+
		"destroying the last karpenter_controller once no other such Deployment is left.",
		strings.Join(others, ", Deployment "), nameLabel)
}

// remainingProvisioners lists the names of the Provisioners not being deleted (none without
// the CRD). While one remains the launched nodes still serve it, so a controller's Delete
// leaves them (and what they share) to the next controller.
func remainingProvisioners(ctx context.Context, kc client.Client) ([]string, error) {
	var ps v1alpha5.ProvisionerList
	err := kc.List(ctx, &ps)
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range ps.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p.Name)
		}
	}
	return out, nil
}

// newInstallID is a random id for a karpenter_controller resource instance (installIDAnnotation).
func newInstallID() string { return utilrand.String(16) }

// privateState is what the framework's request and response private state offer.
type privateState interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// getInstallID reads the install id from private state ("" when absent).
func getInstallID(ctx context.Context, p privateState, diags *diag.Diagnostics) string {
	if p == nil {
		return ""
	}
	b, d := p.GetKey(ctx, installIDKey)
	diags.Append(d...)
	var id string
	if len(b) > 0 {
		if err := json.Unmarshal(b, &id); err != nil {
			diags.AddError("Invalid private state", installIDKey+": "+err.Error())
		}
	}
	return id
}

// setInstallID stores id in private state.
func setInstallID(ctx context.Context, p interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}, id string) diag.Diagnostics {
	b, _ := json.Marshal(id)
	return p.SetKey(ctx, installIDKey, b)
}

// updateFailed reports whether private state marks the resource's install_complete = false as
// a failed update's (updateFailedKey), not a failed create's.
func updateFailed(ctx context.Context, p privateState, diags *diag.Diagnostics) bool {
	if p == nil {
		return false
	}
	b, d := p.GetKey(ctx, updateFailedKey)
	diags.Append(d...)
	return string(b) == "true"
}

// supersededBy returns the install id of the controller Deployment in namespace when it
// differs from id, i.e. another karpenter_controller resource instance (a create_before_destroy
// replacement) applied it since; "" when id is empty (state from before install ids), the
// Deployment is absent or carries id or none.
func supersededBy(ctx context.Context, kc client.Client, namespace, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	var d appsv1.Deployment
	err := kc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, &d)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if live := d.Annotations[installIDAnnotation]; live != "" && live != id {
		return live, nil
	}
	return "", nil
}

// checkNotTakenOver refuses an update of the resource instance whose install id is own (in
// private state; "" from before install ids, or a create whose private state was lost: never
// refused) when the controller Deployment in namespace carries another instance's install id
// (supersededBy): the installation was taken over (take_over_installation) and applying this
// instance would silently take it back. Returns a targetTaken (see takenOver), or an error
// when the Deployment cannot be read. Changes nothing.
//
// Nothing is needed to tell a create_before_destroy replacement in the same Terraform state
// from another state: a replacement's predecessor, whose installation its successor took
// over, is a deposed object, which Terraform only ever destroys (never refreshes into an
// update nor updates), and a destroy of a superseded instance removes nothing either way.
func checkNotTakenOver(ctx context.Context, kc client.Client, namespace, own string) error {
	by, err := supersededBy(ctx, kc, namespace, own)
	if err != nil {
		return fmt.Errorf("reading Deployment %s/%s: %w", namespace, deploymentName, err)
	}
	if by != "" {
		return takenOver(namespace, own, by)
	}
	return nil
}

// takenOverSummary is the summary of takenOver's refusal, at plan and at apply.
const takenOverSummary = "The installation was taken over by another karpenter_controller"

// takenOver is the refusal of an update of the instance with install id own whose installation
// in namespace another instance (install id by) took over: what happened and how to proceed.
func takenOver(namespace, own, by string) targetTaken {
	return targetTaken{summary: takenOverSummary,
		detail: fmt.Sprintf("Deployment %s/%s carries install id %s, not this resource instance's (%s): another karpenter_controller "+
			"resource instance took the installation over (take_over_installation = true), from another Terraform state or "+
			"workspace, and manages it now. This instance no longer applies it, so that two states never take it back and "+
			"forth (and its destroy removes nothing). %s Terraform plans the configuration before a destroy too, so with "+
			"this change in it terraform destroy refuses as well: revert the change first (or remove the resource from the "+
			"configuration and apply)", namespace, deploymentName, by, own, takenOverAdvice(namespace))}
}

// takenOverAdvice is how to proceed with an instance whose installation in namespace another
// instance took over.
func takenOverAdvice(namespace string) string {
	return fmt.Sprintf("Let one state manage it: to leave it to the other, remove this resource from this state "+
		"(terraform state rm <address>) or destroy it (which removes nothing now); to manage it from this state instead, "+
		"remove it from the other state (terraform state rm there), then here run terraform state rm <address> and "+
		"terraform import <address> %s.", namespace)
}

// takenOverPlanned is the warning of a plan of the instance with install id own, whose
// installation in namespace another instance (install id by) took over, that plans nothing.
func takenOverPlanned(namespace, own, by string) (summary, detail string) {
	return "Installation taken over: nothing planned", fmt.Sprintf("Deployment %s/%s carries install id %s, not this "+
		"resource instance's (%s): another karpenter_controller resource instance took the installation over "+
		"(take_over_installation = true), from another Terraform state or workspace, and manages it now. This instance "+
		"no longer applies it: nothing is planned for it, a change of its configuration is refused, and its destroy "+
		"removes nothing. %s", namespace, deploymentName, by, own, takenOverAdvice(namespace))
}

// supersededWarning is the warning of a destroy that removed nothing because the installation
// in namespace carries install id by, not own: another instance took it over; provs are the
// Provisioners left (named: their nodes stay too).
func supersededWarning(namespace, own, by string, provs []string) (summary, detail string) {
	left := "the installation and its launched nodes stay"
	if len(provs) > 0 {
		left = "the installation, its launched nodes and the Provisioners (" + strings.Join(provs, ", ") + ") stay"
	}
	return "Installation taken over: nothing removed", fmt.Sprintf("The controller Deployment in namespace %s carries install "+
		"id %s, not this resource instance's (%s): another karpenter_controller resource instance took the installation over "+
		"(the create_before_destroy replacement of this one, or an instance in another Terraform state or workspace), so this "+
		"destroy removed nothing: %s with that instance.", namespace, by, own, left)
}

// waitProvisionersGone waits until no Provisioner is left (those being deleted finish), so
// that the controller launches nothing for the pods that draining nodes evict. It deletes
// none: Provisioners are their resources' or their authors' to delete. Without the CRD there
// is nothing to wait for.
func waitProvisionersGone(ctx context.Context, kc client.Client) error {
	return wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		var ps v1alpha5.ProvisionerList
		err := kc.List(ctx, &ps)
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return len(ps.Items) == 0, nil
	})
}

// deleteObjects deletes objs in reverse order (foreground propagation, NotFound ignored; a
// Deployment, and so its pods, is gone before the next object is deleted) and waits until each is gone, so that a create right after does not meet a terminating object.
func deleteObjects(ctx context.Context, kc client.Client, objs []client.Object) error {
	for i := len(objs) - 1; i >= 0; i-- {
		err := kc.Delete(ctx, objs[i], client.PropagationPolicy(metav1.DeletePropagationForeground))
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", objectName(kc, objs[i]), err)
		}
		if d, ok := objs[i].(*appsv1.Deployment); ok {
			// The controller pods go (foreground deletion) before the RBAC they use.
			if err := waitDeploymentGone(ctx, kc, client.ObjectKeyFromObject(d)); err != nil {
				return fmt.Errorf("waiting for %s to be deleted: %w", objectName(kc, objs[i]), err)
			}
		}
	}
	for _, obj := range objs {
		if err := waitGone(ctx, kc, obj.DeepCopyObject().(client.Object)); err != nil {
			return fmt.Errorf("waiting for %s to be deleted: %w", objectName(kc, obj), err)
		}
	}
	return nil
}

// waitDeploymentGone waits until Deployment key, deleted in the foreground, is gone. A pod of
// it on a node whose kubelet no longer reports (the Node's Ready condition is not True, or the
// Node is gone) never finishes terminating: the API server waits for the kubelet to confirm,
// and the foreground deletion waits for the pod. Such a pod, once past its grace period, is
// force-deleted (grace period 0, as `kubectl delete pod --force`), so destroying the
// controller does not hang on a dead node. Errors: API errors, or ctx's deadline.
func waitDeploymentGone(ctx context.Context, kc client.Client, key client.ObjectKey) error {
	return wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		var d appsv1.Deployment
		err := kc.Get(ctx, key, &d)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil || d.Spec.Selector == nil {
			return false, err
		}
		return false, forceDeleteStrandedPods(ctx, kc, key.Namespace, d.Spec.Selector)
	})
}

// forceDeleteStrandedPods force-deletes the pods of namespace matching selector that are
// terminating past their grace period (deletionTimestamp, which the API server sets to the
// deletion time plus the grace period, has passed) on a node that is gone or whose Ready
// condition is not True.
func forceDeleteStrandedPods(ctx context.Context, kc client.Client, namespace string, selector *metav1.LabelSelector) error {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return err
	}
	var pods corev1.PodList
	if err := kc.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil || time.Now().Before(p.DeletionTimestamp.Time) {
			continue
		}
		if p.Spec.NodeName != "" {
			var n corev1.Node
			err := kc.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, &n)
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			if err == nil && nodeReady(&n) {
				continue
			}
		}
		if err := kc.Delete(ctx, p, client.GracePeriodSeconds(0), client.Preconditions{UID: &p.UID}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("force-deleting pod %s/%s on unreachable node %s: %w", p.Namespace, p.Name, p.Spec.NodeName, err)
		}
	}
	return nil
}

// nodeReady reports whether node's Ready condition is True (its kubelet reports).
func nodeReady(node *corev1.Node) bool {
	_, c := nodeutil.GetNodeCondition(&node.Status, corev1.NodeReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// stopDeployment deletes the controller Deployment of namespace and waits until it (and so its
// pods) is gone.
func stopDeployment(ctx context.Context, kc client.Client, namespace string) error {
	return deleteObjects(ctx, kc, []client.Object{&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: deploymentName}}})
}

// scaleDownDeployment scales the controller Deployment of namespace to zero replicas and waits
// until its pods are gone (pods stranded on a node that no longer reports are force-deleted,
// see forceDeleteStrandedPods). The Deployment stays, so that re-applying the installation
// scales it back. A missing Deployment is not an error. Errors: API errors, or ctx's deadline.
func scaleDownDeployment(ctx context.Context, kc client.Client, namespace string) error {
	var d appsv1.Deployment
	err := kc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, &d)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
		patch := client.MergeFrom(d.DeepCopy())
		d.Spec.Replicas = ptr.To(int32(0))
		if err := kc.Patch(ctx, &d, patch, client.FieldOwner(fieldOwner)); err != nil {
			return fmt.Errorf("scaling Deployment %s/%s to 0: %w", namespace, deploymentName, err)
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return err
	}
	var left []string
	err = wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := kc.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return false, err
		}
		left = left[:0]
		for _, p := range pods.Items {
			left = append(left, p.Name)
		}
		if len(left) == 0 {
			return true, nil
		}
		return false, forceDeleteStrandedPods(ctx, kc, namespace, d.Spec.Selector)
	})
	if err != nil && len(left) > 0 {
		return fmt.Errorf("%w; pods of Deployment %s/%s still present: %s", err, namespace, deploymentName, strings.Join(left, ", "))
	}
	return err
}

// moveUndo is what undoMove needs to take back a failed move of installation old to next
// (another namespace, service account or both): which of next's objects, and whether next's
// namespace, existed before the move (prepareMove), so that only what the move created is
// deleted, and the installation's install id.
type moveUndo struct {
	old, next controllerSettings
	existed   map[string]bool // objectName of next's objects that existed before the move
	nsExisted bool
	installID string
}

// prepareMove records, before a move of installation old to next changes anything, which of
// next's objects and whether its namespace exist. Errors: reading them failed.
func prepareMove(ctx context.Context, kc client.Client, old, next controllerSettings) (*moveUndo, error) {
	u := &moveUndo{old: old, next: next, existed: map[string]bool{}}
	err := forEachLive(ctx, kc, controllerObjects(next), func(obj, _ client.Object) { u.existed[objectName(kc, obj)] = true })
	if err != nil {
		return nil, err
	}
	err = kc.Get(ctx, client.ObjectKey{Name: next.Namespace}, &corev1.Namespace{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading namespace %s: %w", next.Namespace, err)
	}
	u.nsExisted = err == nil
	return u, nil
}

// stopTarget deletes, after a failed move to another namespace, the controller Deployment the
// move created there (waiting until its pods are gone) and returns its creation time, which
// its leader-election Lease follows (zero: nothing deleted). A rename shares the Deployment
// with the old installation: nothing is deleted.
func (u *moveUndo) stopTarget(ctx context.Context, kc client.Client) (time.Time, error) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: u.next.Namespace, Name: deploymentName}}
	if u.next.Namespace == u.old.Namespace || u.existed[objectName(kc, d)] {
		return time.Time{}, nil
	}
	created, err := deploymentCreated(ctx, kc, u.next.Namespace)
	if err != nil || created.IsZero() {
		return created, err
	}
	return created, stopDeployment(ctx, kc, u.next.Namespace)
}

// remove deletes, after a failed move, the objects of next that old does not have and that did
// not exist before the move, as far as this provider applied them (deleteOwned); after a move
// to another namespace also the leader-election Lease of the Deployment the move created there
// (since: its creation, see deleteLeaderLease) and the namespace when the move created it.
func (u *moveUndo) remove(ctx context.Context, kc client.Client, since time.Time) error {
	keep := map[string]bool{}
	for _, obj := range controllerObjects(u.old) {
		keep[objectName(kc, obj)] = true
	}
	var gone []client.Object
	for _, obj := range controllerObjects(u.next) {
		if n := objectName(kc, obj); !keep[n] && !u.existed[n] {
			gone = append(gone, obj)
		}
	}
	if err := deleteOwned(ctx, kc, gone); err != nil {
		return err
	}
	if u.next.Namespace == u.old.Namespace {
		return nil
	}
	if err := deleteLeaderLease(ctx, kc, u.next.Namespace, since); err != nil {
		return err
	}
	if u.nsExisted {
		return nil
	}
	var ns corev1.Namespace
	err := kc.Get(ctx, client.ObjectKey{Name: u.next.Namespace}, &ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s: %w", u.next.Namespace, err)
	}
	if ns.Annotations[createdByAnnotation] != createdByController {
		return nil // made by someone else meanwhile
	}
	return deleteObjects(ctx, kc, []client.Object{&ns})
}

// ownedObjects returns the objects of objs that exist and carry this provider's mark (a
// server-side apply by fieldOwner, see appliedByUs): those it may delete. An object of the
// same name that someone else made (the namespace's default service account, a team's own) or
// that is already gone is left out.
func ownedObjects(ctx context.Context, kc client.Client, objs []client.Object) ([]client.Object, error) {
	var out []client.Object
	err := forEachLive(ctx, kc, objs, func(obj, live client.Object) {
		if appliedByUs(live) {
			out = append(out, obj)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// forEachLive calls found with each object of objs that exists and its live copy; objects that
// are gone are skipped. Errors: reading one failed (named), and found is not called after.
func forEachLive(ctx context.Context, kc client.Client, objs []client.Object, found func(obj, live client.Object)) error {
	for _, obj := range objs {
		live := obj.DeepCopyObject().(client.Object)
		err := kc.Get(ctx, client.ObjectKeyFromObject(obj), live)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", objectName(kc, obj), err)
		}
		found(obj, live)
	}
	return nil
}

// deleteOwned deletes (see deleteObjects) the objects of objs that this provider applied
// (ownedObjects); the others are never touched.
func deleteOwned(ctx context.Context, kc client.Client, objs []client.Object) error {
	owned, err := ownedObjects(ctx, kc, objs)
	if err != nil {
		return err
	}
	return deleteObjects(ctx, kc, owned)
}

// removeOldObjects deletes the objects of installation old that installation cur does not have
// (after a move to another namespace or service account) and that this provider applied (see
// ownedObjects: a service account it never created is never deleted), the old namespace's
// leader-election Lease after a move (see deleteLeaderLease; since is when the old Deployment
// was created), and old's namespace when it moved and nsCreated says this resource created it,
// unless it holds objects someone else made there (deleteCreatedNamespace): those are returned.
func removeOldObjects(ctx context.Context, kc client.Client, old, cur controllerSettings, nsCreated bool, since time.Time) ([]string, error) {
	keep := map[string]bool{}
	for _, obj := range controllerObjects(cur) {
		keep[objectName(kc, obj)] = true
	}
	var gone []client.Object
	for _, obj := range controllerObjects(old) {
		if !keep[objectName(kc, obj)] {
			gone = append(gone, obj)
		}
	}
	if err := deleteOwned(ctx, kc, gone); err != nil {
		return nil, err
	}
	if old.Namespace == cur.Namespace {
		return nil, nil
	}
	if err := deleteLeaderLease(ctx, kc, old.Namespace, since); err != nil {
		return nil, err
	}
	if nsCreated {
		return deleteCreatedNamespace(ctx, kc, old.Namespace)
	}
	return nil, nil
}

// namespaceContentKinds are the kinds whose objects in a namespace this provider created keep
// it from being deleted when someone else made them: what users put in a namespace (workloads,
// configuration, access, storage), read by metadata only.
var namespaceContentKinds = []kschema.GroupVersionKind{
	{Version: "v1", Kind: "ConfigMapList"}, {Version: "v1", Kind: "SecretList"}, {Version: "v1", Kind: "ServiceAccountList"},
	{Version: "v1", Kind: "ServiceList"}, {Version: "v1", Kind: "PodList"}, {Version: "v1", Kind: "PersistentVolumeClaimList"},
	{Group: "apps", Version: "v1", Kind: "DeploymentList"}, {Group: "apps", Version: "v1", Kind: "StatefulSetList"},
	{Group: "apps", Version: "v1", Kind: "DaemonSetList"}, {Group: "batch", Version: "v1", Kind: "JobList"},
	{Group: "batch", Version: "v1", Kind: "CronJobList"}, {Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleList"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBindingList"},
}

// foreignContents lists ("<Kind> <name>") the objects in namespace, among namespaceContentKinds,
// that this installation did not make: not applied by this provider, not being deleted, and not
// what Kubernetes puts in every namespace (the ConfigMap kube-root-ca.crt, the ServiceAccount
// default) or derives from the installation (the controller's pods and their ReplicaSet's,
// labelled app.kubernetes.io/name=karpenter; service-account token Secrets).
func foreignContents(ctx context.Context, kc client.Client, namespace string) ([]string, error) {
	var out []string
	for _, gvk := range namespaceContentKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk)
		if err := kc.List(ctx, list, client.InNamespace(namespace)); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return nil, fmt.Errorf("listing %s in namespace %s: %w", gvk.Kind, namespace, err)
		}
		kind := strings.TrimSuffix(gvk.Kind, "List")
		for _, o := range list.Items {
			switch {
			case o.DeletionTimestamp != nil || appliedByUs(&o),
				kind == "ConfigMap" && o.Name == "kube-root-ca.crt",
				kind == "ServiceAccount" && o.Name == "default",
				kind == "Pod" && o.Labels["app.kubernetes.io/name"] == "karpenter",
				kind == "Secret" && o.Annotations[corev1.ServiceAccountNameKey] != "":
				continue
			}
			out = append(out, kind+" "+o.Name)
		}
	}
	return out, nil
}

// deleteCreatedNamespace deletes namespace, which this provider created, unless it holds objects
// someone else made there (foreignContents): then it is kept, and those are returned (a
// namespace's deletion deletes everything in it, and a replacement or move would take them).
func deleteCreatedNamespace(ctx context.Context, kc client.Client, namespace string) ([]string, error) {
	foreign, err := foreignContents(ctx, kc, namespace)
	if err != nil || len(foreign) > 0 {
		return foreign, err
	}
	return nil, deleteObjects(ctx, kc, []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}})
}

// leaderLeaseName is the Lease the controller replicas compete for in their namespace
// (operator.LeaderElectionID; POD_NAMESPACE is the leader election namespace).
const leaderLeaseName = "karpenter-leader-election"

// deploymentCreated returns when the controller Deployment of namespace was created; the zero
// time when it does not exist.
func deploymentCreated(ctx context.Context, kc client.Client, namespace string) (time.Time, error) {
	var d appsv1.Deployment
	err := kc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, &d)
	if apierrors.IsNotFound(err) {
		return time.Time{}, nil
	}
	return d.CreationTimestamp.Time, err
}

// deleteLeaderLease deletes the controller's leader-election Lease (leaderLeaseName) in
// namespace, once its controller Deployment is gone, when it is the controller's: created
// once this resource's Deployment existed (since, its creation time; zero: unknown, nothing
// is deleted; only one controller Deployment can exist in a namespace) and not held by a live
// holder other than a replica of it (a holder identity is "<pod name>_<uuid>"; a replica
// stopping releases the Lease, leaving no holder; a killed one's record expires).
func deleteLeaderLease(ctx context.Context, kc client.Client, namespace string, since time.Time) error {
	if since.IsZero() {
		return nil
	}
	var l coordinationv1.Lease
	err := kc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: leaderLeaseName}, &l)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Lease %s/%s: %w", namespace, leaderLeaseName, err)
	}
	// Timestamps have a second's precision: a Lease of the same second is the controller's.
	if l.CreationTimestamp.Time.Before(since.Truncate(time.Second)) || !leaseReleased(&l) {
		return nil
	}
	err = kc.Delete(ctx, &l, client.Preconditions{UID: &l.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting Lease %s/%s: %w", namespace, leaderLeaseName, err)
	}
	return nil
}

// webhookCertSecret is the Secret the controller keeps its webhook serving certificate in
// (controller/webhook.Certificates: "<webhook service>-cert"); this installation creates it
// empty.
const webhookCertSecret = webhookServiceName + "-cert"

// leaseReleased reports whether Lease l has no live holder but possibly a replica of the
// controller Deployment: no holder, a holder whose pod name is the Deployment's
// ("karpenter-<hash>-<suffix>"), or a record past its duration.
func leaseReleased(l *coordinationv1.Lease) bool {
	holder := ptr.Deref(l.Spec.HolderIdentity, "")
	if holder == "" || strings.HasPrefix(holder, deploymentName+"-") {
		return true
	}
	renew := l.Spec.RenewTime
	if renew == nil {
		renew = l.Spec.AcquireTime
	}
	d := time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, 0)) * time.Second
	return renew == nil || time.Now().After(renew.Add(d))
}
