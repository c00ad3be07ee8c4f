package provisioning

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

// DefaultRegistrationTimeout is how long a NodeClaim may go without its Node registering
// before it is deleted and its instance terminated: 15 minutes, Karpenter's registration TTL
// (kubernetes-sigs/karpenter pkg/controllers/nodeclaim/lifecycle/liveness.go), long enough for
// GPU AMIs and large images.
const DefaultRegistrationTimeout = 15 * time.Minute

// ResumeAfter is how old an unlaunched NodeClaim must be before the lifecycle reconciler
// resumes its launch: a live provisioning loop records a launch within seconds, and a claim
// still unlaunched after this long was left by a controller that stopped (the instance an
// earlier call started is then visible to DescribeInstances, which AWS makes eventually
// consistent).
const ResumeAfter = 30 * time.Second

// LaunchingRecheck is how soon the lifecycle reconciler looks again at a claim the
// provisioning loop was still launching when it reconciled it.
const LaunchingRecheck = 5 * time.Second

// LifecycleWorkers is how many NodeClaims the lifecycle reconciler handles at once.
const LifecycleWorkers = 10

// nameSet is a set of names safe for concurrent use.
type nameSet struct {
	mu    sync.Mutex
	names map[string]bool
}

func newNameSet() *nameSet { return &nameSet{names: map[string]bool{}} }

func (s *nameSet) Add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[name] = true
}

func (s *nameSet) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.names, name)
}

func (s *nameSet) Has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[name]
}

// Lifecycle reconciles NodeClaims that the provisioning loop is not launching right now:
//
//	resume    a claim not Launched ResumeAfter after creation (the controller stopped between
//	          creating it and recording the launch) is launched again with FindExisting: the instance an earlier call
//	          started is found by its claim tag (or returned again for the same client token),
//	          so a claim never gets two instances; a claim whose Provisioner is gone, or whose
//	          launch fails, is deleted and its pods are planned again
//	liveness  a claim not Registered RegistrationTimeout after creation is deleted and its
//	          instance terminated
//
// Registration itself is the Node reconciler's (Registration).
type Lifecycle struct {
	kube      client.Client
	cp        cloudprovider.CloudProvider
	clk       clock.Clock
	recorder  record.EventRecorder
	launching *nameSet
	timeout   time.Duration
}

// NewLifecycle returns the NodeClaim lifecycle reconciler; launching names the claims the
// provisioning loop is launching (skipped); timeout is the registration timeout.
func NewLifecycle(kube client.Client, cp cloudprovider.CloudProvider, clk clock.Clock, recorder record.EventRecorder,
	launching *nameSet, timeout time.Duration) *Lifecycle {
	if launching == nil {
		launching = newNameSet()
	}
	if timeout <= 0 {
		timeout = DefaultRegistrationTimeout
	}
	return &Lifecycle{kube: kube, cp: cp, clk: clk, recorder: recorder, launching: launching, timeout: timeout}
}

// Register adds the reconciler to mgr (it watches NodeClaims).
func (l *Lifecycle) Register(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).Named("nodeclaim.lifecycle").For(&karpv1.NodeClaim{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: LifecycleWorkers}).Complete(l)
}

// Reconcile handles one NodeClaim. Errors: API and cloud errors (requeued with backoff).
func (l *Lifecycle) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	claim := &karpv1.NodeClaim{}
	if err := l.kube.Get(ctx, req.NamespacedName, claim); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if claim.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	if l.launching.Has(claim.Name) {
		// The claim's own events (creation, the launch recorded in its status) arrive while
		// the provisioning loop still holds it; without a requeue a claim whose Node never
		// registers would get no further event and never time out.
		return reconcile.Result{RequeueAfter: LaunchingRecheck}, nil
	}
	logger := log.FromContext(ctx).WithValues("nodeClaim", claim.Name, "provisioner", claim.Spec.ProvisionerName)
	if claim.IsTrue(karpv1.ConditionRegistered) {
		return reconcile.Result{}, nil
	}
	if age := l.clk.Since(claim.CreationTimestamp.Time); age >= l.timeout {
		logger.Info("node claim did not register in time: deleting it and terminating its instance",
			"providerID", claim.Status.ProviderID, "registrationTimeout", l.timeout.String())
		return reconcile.Result{}, l.remove(ctx, claim, karpv1.ConditionRegistered, ReasonRegistrationTTL,
			fmt.Sprintf("no Node registered within %s", l.timeout))
	}
	requeue := reconcile.Result{RequeueAfter: l.timeout - l.clk.Since(claim.CreationTimestamp.Time)}
	if claim.Status.ProviderID != "" {
		return requeue, nil
	}
	if age := l.clk.Since(claim.CreationTimestamp.Time); age < ResumeAfter {
		return reconcile.Result{RequeueAfter: ResumeAfter - age}, nil
	}
	if err := l.resume(ctx, claim); err != nil {
		return reconcile.Result{}, err
	}
	return requeue, nil
}

// resume launches a claim whose launch was not recorded, finding an instance an earlier call
// started. A claim whose Provisioner is gone or whose launch fails (other than a transient
// API error) is deleted.
func (l *Lifecycle) resume(ctx context.Context, claim *karpv1.NodeClaim) error {
	logger := log.FromContext(ctx).WithValues("nodeClaim", claim.Name)
	prov := &v1alpha5.Provisioner{}
	if err := l.kube.Get(ctx, client.ObjectKey{Name: claim.Spec.ProvisionerName}, prov); err != nil {
		if apierrors.IsNotFound(err) {
			logger.Info("provisioner of an unlaunched node claim is gone: deleting the claim")
			return client.IgnoreNotFound(l.kube.Delete(ctx, claim))
		}
		return err
	}
	prov = prov.WithDefaults()
	types, err := l.cp.GetInstanceTypes(ctx, prov)
	if err != nil {
		return fmt.Errorf("getting instance types for provisioner %s: %w", prov.Name, err)
	}
	options := claimOptions(claim, types)
	logger.Info("resuming the launch of a node claim", "options", len(options))
	node, err := l.cp.Create(ctx, nodeRequest(claim, prov, options, true))
	if err == nil {
		err = markLaunched(ctx, l.kube, claim, node, options)
	}
	if err != nil {
		logger.Error(err, "resumed launch failed: deleting the node claim so its pods are planned again")
		if derr := l.kube.Delete(ctx, claim); derr != nil && !apierrors.IsNotFound(derr) {
			return fmt.Errorf("%w; deleting node claim %s: %w", err, claim.Name, derr)
		}
		return nil
	}
	logger.Info("resumed node claim launched", "providerID", node.ProviderID, "node", node.Name, "instanceType", node.InstanceType)
	return nil
}

// remove sets a False condition on the claim (best effort), terminates its instance and
// deletes it. Errors: cloud and API errors.
func (l *Lifecycle) remove(ctx context.Context, claim *karpv1.NodeClaim, cond, reason, message string) error {
	orig := claim.DeepCopy()
	if claim.SetCondition(cond, metav1.ConditionFalse, reason, message) {
		_ = l.kube.Status().Patch(ctx, claim, client.MergeFrom(orig))
	}
	if l.recorder != nil {
		l.recorder.Event(claim, corev1.EventTypeWarning, reason, message)
	}
	if claim.Status.ProviderID != "" {
		if err := l.cp.Delete(ctx, claim.Status.ProviderID); err != nil {
			return fmt.Errorf("terminating the instance of node claim %s: %w", claim.Name, err)
		}
	}
	return client.IgnoreNotFound(l.kube.Delete(ctx, claim))
}
