// Package provisioning is the allocator: it batches pods that kube-scheduler could not place,
// asks the solver (controller/scheduling) where they fit, launches the new nodes through the
// cloud provider, and makes sure registered nodes carry the labels and finalizer the other
// controllers rely on.
package provisioning

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
	"github.com/nodeform/terraform-provider-karpenter/controller/state"
)

// Event reasons on pods.
const (
	// ReasonFailedProvisioning: no provisioner/instance type can take the pod, or its launch failed.
	ReasonFailedProvisioning = "FailedProvisioning"
	// ReasonNominated: a node was launched for the pod ("Launched node <name> (...)") or the pod
	// was planned on an existing or in-flight node ("Planned on existing node <name>").
	ReasonNominated = "Nominated"
	// ReasonSchedulingDisagreement: kube-scheduler did not bind the pod to the Ready node the
	// solver planned it on within the grace period.
	ReasonSchedulingDisagreement = "SchedulingDisagreement"
)

// ReasonNotAuthorized is the Warning Event on a Provisioner whose launch the cloud refused for
// lack of permission: "not authorised: <action>: <the cloud's message naming action and
// resource>". The controller's policy must change before launches can succeed.
const ReasonNotAuthorized = "NotAuthorized"

// ReasonCredentialsUnavailable is the Warning Event on a Provisioner whose instance types or
// launch failed because the controller could not obtain its cloud credentials at all: "could
// not obtain AWS credentials: <action>: <the cloud's code and message>", the action being e.g.
// sts:AssumeRoleWithWebIdentity (the IAM role's trust policy does not allow the controller's
// service account) or the EKS Pod Identity credentials endpoint (no association). The
// controller's identity must be fixed before anything can be launched.
const ReasonCredentialsUnavailable = "CredentialsUnavailable"

// Options tune the provisioning loop.
type Options struct {
	// BatchIdleDuration closes a batch when no pending pod event arrived for this long (default 1 s).
	BatchIdleDuration time.Duration
	// BatchMaxDuration closes a batch this long after it opened (default 10 s).
	BatchMaxDuration time.Duration
	// DisagreementGrace is how long kube-scheduler may take to bind a pod to the Ready node it
	// was planned on before the plan counts as refused (default state.DefaultDisagreementGrace);
	// postponed while kube-scheduler binds other pending pods (state.Disagreements).
	DisagreementGrace time.Duration
	// RegistrationTimeout is how long a NodeClaim may go without its Node registering before
	// the claim is deleted and its instance terminated (default DefaultRegistrationTimeout).
	RegistrationTimeout time.Duration
	// Solve is the scheduling simulation (default scheduling.Solve); tests inject a wrong one
	// to prove that a disagreement with kube-scheduler stays bounded.
	Solve func(scheduling.Input) *scheduling.Result
}

// launchWorkers bounds concurrent launches (create NodeClaim, CreateFleet, record the launch)
// in one batch. Each NodeClaim is one idempotent CreateFleet call; 32 concurrent calls stay
// well within EC2's request token buckets
// (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).
const launchWorkers = 32

// RegistrationWorkers is how many Nodes the registration reconciler patches at once.
const RegistrationWorkers = 10

// Provisioner runs the provisioning loop.
type Provisioner struct {
	kube     client.Client
	cp       cloudprovider.CloudProvider
	clk      clock.Clock
	recorder record.EventRecorder
	opts     Options
	batcher  *Batcher
	backoff  wait.Backoff
	// disagreements remembers where pods were planned and holds back those kube-scheduler
	// did not bind there.
	disagreements *state.Disagreements
	// launched carries the Node name of each recorded launch to the registration reconciler:
	// a fast-booting instance can register before its claim records the launch, and a Node
	// sends no further event for a long while after it is Ready.
	launched chan event.GenericEvent
	// launching holds the names of the claims this process is launching right now, so that
	// the claim lifecycle reconciler does not resume them (a second launch would find the same
	// instance, but costs cloud calls).
	launching *nameSet
	// pendingSeen holds the UID of every pod seen provisionable and not since seen otherwise,
	// by namespace/name: its further events are Rechecks, not Triggers (see Batcher).
	pendingMu   sync.Mutex
	pendingSeen map[types.NamespacedName]types.UID
}

// NewProvisioner wires the loop; zero Options fields take their defaults.
func NewProvisioner(kube client.Client, cp cloudprovider.CloudProvider,
	clk clock.Clock, recorder record.EventRecorder, opts Options) *Provisioner {
	if opts.BatchIdleDuration <= 0 {
		opts.BatchIdleDuration = time.Second
	}
	if opts.BatchMaxDuration <= 0 {
		opts.BatchMaxDuration = 10 * time.Second
	}
	if opts.Solve == nil {
		opts.Solve = scheduling.Solve
	}
	if opts.RegistrationTimeout <= 0 {
		opts.RegistrationTimeout = DefaultRegistrationTimeout
	}
	return &Provisioner{
		kube: kube, cp: cp, clk: clk, recorder: recorder, opts: opts,
		batcher:       NewBatcher(clk, opts.BatchIdleDuration, opts.BatchMaxDuration),
		backoff:       defaultBackoff(),
		disagreements: state.NewDisagreements(clk, opts.DisagreementGrace),
		launched:      make(chan event.GenericEvent, 1024),
		launching:     newNameSet(),
		pendingSeen:   map[types.NamespacedName]types.UID{},
	}
}

// defaultBackoff retries a failed batch after 1 s, doubling to at most 1 minute.
func defaultBackoff() wait.Backoff {
	return wait.Backoff{Duration: time.Second, Factor: 2, Steps: 7, Cap: time.Minute}
}

// Register adds to mgr: informers for every kind a batch lists, a pod watcher that triggers
// batches, a Provisioner watcher that triggers a batch when provisioners change, a watcher of
// claims, volumes, storage classes and CSINodes that does the same, the node registration
// reconciler, and the provisioning loop (a leader-elected runnable).
func (p *Provisioner) Register(mgr manager.Manager) error {
	// Every kind a batch lists is read from the manager's cache, whose informers start on the
	// first read of a kind: DaemonSets and Namespaces, which no controller watches, would
	// otherwise be listed from the API server (and waited for) inside the first batch.
	for _, obj := range []client.Object{&appsv1.DaemonSet{}, &corev1.Namespace{}} {
		if _, err := mgr.GetCache().GetInformer(context.Background(), obj, cache.BlockUntilSynced(false)); err != nil {
			return fmt.Errorf("starting the %T informer: %w", obj, err)
		}
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &karpv1.NodeClaim{}, ProviderIDIndex, ProviderIDIndexFunc); err != nil {
		return fmt.Errorf("indexing node claims by provider ID: %w", err)
	}
	if err := builder.ControllerManagedBy(mgr).Named("provisioning.pods").For(&corev1.Pod{}).
		Complete(reconcile.Func(p.reconcilePod)); err != nil {
		return fmt.Errorf("registering pod trigger: %w", err)
	}
	// A claim that goes (registration timeout, a failed or lost launch, garbage collection)
	// frees the pods planned on it, which see no event of their own: kube-scheduler retries an
	// unschedulable pod only on cluster events or after minutes, so without this a pod waited
	// for an unrelated event before it was planned again (found by a user trial: 3.5 min).
	if err := builder.ControllerManagedBy(mgr).Named("provisioning.claims").
		For(&karpv1.NodeClaim{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
			UpdateFunc: func(event.UpdateEvent) bool { return false },
			DeleteFunc: func(event.DeleteEvent) bool { return true },
		})).
		Complete(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			p.Trigger()
			return reconcile.Result{}, nil
		})); err != nil {
		return fmt.Errorf("registering claim deletion trigger: %w", err)
	}
	if err := builder.ControllerManagedBy(mgr).Named("provisioning.provisioners").For(&v1alpha5.Provisioner{}).
		Complete(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			p.Trigger()
			return reconcile.Result{}, nil
		})); err != nil {
		return fmt.Errorf("registering provisioner trigger: %w", err)
	}
	// Registration patches every launched Node once; a burst of launches registers hundreds
	// at once, and one worker (each patch racing kwok's or the kubelet's status updates) would
	// take tens of seconds to work through them.
	if err := builder.ControllerManagedBy(mgr).Named("provisioning.registration").For(&corev1.Node{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: RegistrationWorkers}).
		WatchesRawSource(source.Channel(p.launched, &handler.EnqueueRequestForObject{})).
		Watches(&karpv1.NodeClaim{}, handler.EnqueueRequestsFromMapFunc(ClaimToNode)).
		Complete(NewRegistration(p.kube)); err != nil {
		return fmt.Errorf("registering node registration: %w", err)
	}
	if err := NewLifecycle(p.kube, p.cp, p.clk, p.recorder, p.launching, p.opts.RegistrationTimeout).Register(mgr); err != nil {
		return fmt.Errorf("registering node claim lifecycle: %w", err)
	}
	if err := p.registerVolumeTriggers(mgr); err != nil {
		return err
	}
	if err := NewStatus(p.kube).Register(mgr); err != nil {
		return fmt.Errorf("registering provisioner status: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(p.Start)); err != nil {
		return fmt.Errorf("adding provisioning loop: %w", err)
	}
	return nil
}

// NominatedUntil returns until when pods planned on node, and still unbound in the cache, keep
// it from counting as empty (see state.Disagreements.NominatedUntil); zero when none does.
func (p *Provisioner) NominatedUntil(ctx context.Context, node *corev1.Node) time.Time {
	return p.disagreements.NominatedUntil(node, func(key types.NamespacedName, uid types.UID) bool {
		pod := &corev1.Pod{}
		if err := p.kube.Get(ctx, key, pod); err != nil {
			return false
		}
		return (uid == "" || pod.UID == uid) && pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil
	})
}

// Trigger opens or extends a batch.
func (p *Provisioner) Trigger() { p.batcher.Trigger() }

// reconcilePod turns a pod event into batcher input: a pod provisionable for the first time
// (by UID) is new work (Trigger); a further event of a pod already seen provisionable, such as
// kube-scheduler updating its Unschedulable condition after another attempt, is a Recheck.
// A pod seen bound, finished or deleted is forgotten.
func (p *Provisioner) reconcilePod(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	pod := &corev1.Pod{}
	if err := p.kube.Get(ctx, req.NamespacedName, pod); err != nil {
		if client.IgnoreNotFound(err) == nil {
			p.forgetPending(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !IsProvisionable(pod) {
		p.forgetPending(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	p.pendingMu.Lock()
	uid, known := p.pendingSeen[req.NamespacedName]
	seen := known && uid == pod.UID
	p.pendingSeen[req.NamespacedName] = pod.UID
	p.pendingMu.Unlock()
	if seen {
		p.batcher.Recheck()
	} else {
		p.Trigger()
	}
	return reconcile.Result{}, nil
}

func (p *Provisioner) forgetPending(key types.NamespacedName) {
	p.pendingMu.Lock()
	defer p.pendingMu.Unlock()
	delete(p.pendingSeen, key)
}

// Start runs batches until ctx ends. A batch that fails (API or cloud errors) is retried with
// exponential backoff (1 s doubling to 1 min), measured on the injected clock.
func (p *Provisioner) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("provisioner")
	ctx = log.IntoContext(ctx, logger)
	backoff := p.backoff
	for p.batcher.Wait(ctx) {
		res, err := p.Provision(ctx)
		if err != nil {
			delay := backoff.Step()
			logger.Error(err, "provisioning batch failed, retrying", "after", delay.String())
			p.triggerAfter(ctx, delay)
			continue
		}
		backoff = p.backoff
		if res.Pending > 0 {
			metrics.SolverDuration.Observe(res.SolveDuration.Seconds())
			metrics.DecisionDuration.Observe(res.DecisionDuration.Seconds())
		}
		// Pods planned onto existing or in-flight capacity get no further event when that
		// capacity turns out to be taken (an in-flight claim whose Node had registered before
		// its launch was recorded, after a restart): a later batch re-plans those still pending.
		if res.Held > 0 || res.OnExisting > 0 {
			p.triggerAfter(ctx, HeldRetry)
		}
	}
	return nil
}

// triggerAfter starts a batch after delay (on the injected clock) unless ctx ends first.
func (p *Provisioner) triggerAfter(ctx context.Context, delay time.Duration) {
	timer := p.clk.NewTimer(delay)
	go func() {
		defer timer.Stop()
		select {
		case <-timer.C():
			p.Trigger()
		case <-ctx.Done():
		}
	}()
}

// IsProvisionable reports whether the pod is one the allocator acts on: not bound, not
// terminating, not finished, not owned by a DaemonSet, and marked by kube-scheduler with
// PodScheduled=False reason Unschedulable.
func IsProvisionable(pod *corev1.Pod) bool {
	if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil ||
		pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	for _, o := range pod.OwnerReferences {
		if o.Kind == "DaemonSet" && o.Controller != nil && *o.Controller {
			return false
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable
		}
	}
	return false
}

// Launch is one node launched in a batch.
type Launch struct {
	Claim string // the NodeClaim's name
	Node  *cloudprovider.Node
	Pods  []*corev1.Pod
}

// BatchResult summarises one Provision call.
type BatchResult struct {
	Pending       int // provisionable pods seen
	OnExisting    int // pods counted on existing or in-flight nodes
	Launched      []Launch
	Unschedulable []scheduling.PodError
	SolveDuration time.Duration // on the injected clock
	// DecisionDuration runs from the batch closing (Provision called) to the last launch call
	// (CloudProvider.Create, after its NodeClaim was created) returning, on the injected clock;
	// recording the launches on their claims comes after. Without launches, to the batch's end.
	DecisionDuration time.Duration
	// Held counts pods kept from causing a launch (an outstanding launch or a backoff); while
	// any are, the loop runs another batch after HeldRetry even without pod events.
	Held int
}

// HeldRetry is how soon a batch runs again while pods are held back from launching, so that
// their holds are judged and expire without waiting for a pod event, and after pods were
// planned onto existing or in-flight capacity, so that those kube-scheduler did not bind are
// planned again.
const HeldRetry = 10 * time.Second

// valid reports whether nodes may be launched for prov: a node launched from a spec the kubelet
// or API server refuses (a taint key the CRD cannot check, an object stored before a rule
// existed) would never join. An invalid provisioner is logged with a Warning Event.
func (p *Provisioner) valid(ctx context.Context, prov *v1alpha5.Provisioner) bool {
	errs := prov.Spec.Validate(field.NewPath("spec"))
	if len(errs) == 0 {
		return true
	}
	log.FromContext(ctx).Error(errs.ToAggregate(), "provisioner is invalid, launching no nodes for it", "provisioner", prov.Name)
	if p.recorder != nil {
		p.recorder.Event(prov, corev1.EventTypeWarning, "InvalidProvisioner", errs.ToAggregate().Error())
	}
	return false
}

// Provision runs one batch: lists pending pods, provisioners, nodes, daemonsets and (when a
// pending pod has a PersistentVolumeClaim) claims, volumes, storage classes and CSINodes, solves,
// emits Events on unschedulable pods, launches the new nodes (retrying a claim once with
// refreshed instance types on insufficient capacity) and records them as in flight.
// Errors: listing or GetInstanceTypes failures, and launch failures (joined); pods of failed
// launches get a FailedProvisioning Event and are planned again by the next batch.
func (p *Provisioner) Provision(ctx context.Context) (*BatchResult, error) {
	closed := p.clk.Now()
	logger := log.FromContext(ctx)
	var podList corev1.PodList
	// The pods are only read (solver, snapshot, Events): sharing the cache's objects instead of
	// deep-copying thousands of pods per batch was most of a batch's CPU time.
	if err := p.kube.List(ctx, &podList, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	var pending []*corev1.Pod
	for i := range podList.Items {
		if IsProvisionable(&podList.Items[i]) {
			pending = append(pending, &podList.Items[i])
		}
	}
	res := &BatchResult{Pending: len(pending)}
	if len(pending) == 0 {
		return res, nil
	}
	var provList v1alpha5.ProvisionerList
	if err := p.kube.List(ctx, &provList); err != nil {
		return nil, fmt.Errorf("listing provisioners: %w", err)
	}
	var nodeList corev1.NodeList
	if err := p.kube.List(ctx, &nodeList); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var dsList appsv1.DaemonSetList
	if err := p.kube.List(ctx, &dsList); err != nil {
		return nil, fmt.Errorf("listing daemonsets: %w", err)
	}

	var claimList karpv1.NodeClaimList
	if err := p.kube.List(ctx, &claimList); err != nil {
		return nil, fmt.Errorf("listing node claims: %w", err)
	}
	var nsList corev1.NamespaceList
	if err := p.kube.List(ctx, &nsList); err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	vols, err := p.listVolumes(ctx, pending)
	if err != nil {
		return nil, err
	}

	snap := BuildSnapshot(p.clk.Now(), nodeList.Items, podList.Items, provList.Items, claimList.Items)
	in := scheduling.Input{Pods: pending, Nodes: snap.Nodes, Volumes: vols, Holds: p.holds(ctx, pending, nodeList.Items, snap.Nodes, vols),
		NamespaceLabels: make(map[string]map[string]string, len(nsList.Items))}
	for i := range nsList.Items {
		in.NamespaceLabels[nsList.Items[i].Name] = nsList.Items[i].Labels
	}
	for _, h := range in.Holds {
		if h.NoNewNode {
			res.Held++
		}
	}
	for i := range dsList.Items {
		in.DaemonSets = append(in.DaemonSets, &dsList.Items[i])
	}
	for i := range provList.Items {
		if provList.Items[i].DeletionTimestamp != nil || !p.valid(ctx, &provList.Items[i]) {
			continue
		}
		// v1alpha5 defaults (on-demand, amd64 unless the spec says otherwise) apply in memory.
		prov := provList.Items[i].WithDefaults()
		types, err := p.cp.GetInstanceTypes(ctx, prov)
		if err != nil {
			p.credentialsFailed(&provList.Items[i], pending, err)
			return nil, fmt.Errorf("getting instance types for provisioner %s: %w", prov.Name, err)
		}
		in.Provisioners = append(in.Provisioners, scheduling.ProvisionerInput{Provisioner: prov, InstanceTypes: types, Usage: snap.Usage[prov.Name]})
	}

	start := p.clk.Now()
	plan := p.opts.Solve(in)
	res.SolveDuration = p.clk.Since(start)
	for _, pods := range plan.ExistingNodes {
		res.OnExisting += len(pods)
	}
	res.Unschedulable = plan.Errors
	logger.Info("solved batch", "pendingPods", len(pending), "provisioners", len(in.Provisioners),
		"existingNodes", len(snap.Nodes), "podsOnExistingCapacity", res.OnExisting,
		"newNodes", len(plan.NewNodes), "unschedulablePods", len(plan.Errors), "duration", res.SolveDuration.String())
	p.reportPlan(ctx, plan)

	errs, lastCall := p.launchAll(ctx, plan, res)
	sort.Slice(res.Launched, func(i, j int) bool { return res.Launched[i].Node.ProviderID < res.Launched[j].Node.ProviderID })
	res.DecisionDuration = p.clk.Since(closed)
	if !lastCall.IsZero() {
		res.DecisionDuration = lastCall.Sub(closed)
	}
	if len(plan.NewNodes) > 0 {
		logger.Info("batch decided", "seconds", res.DecisionDuration.Seconds(), "solveSeconds", res.SolveDuration.Seconds(),
			"launched", len(res.Launched), "failedLaunches", len(errs))
	}
	return res, errors.Join(errs...)
}

// launchAll launches the plan's new nodes into res.Launched, records the pods' plans, waits
// until the cache holds the batch's claims (waitForClaims), and returns the launch errors and
// when the last launch call returned (zero without calls). It works in two phases, each
// launchWorkers at a time: every NodeClaim is created first, then each is launched (CreateFleet,
// then its status). The claims' writes and the launched claims' status writes share the
// client's rate limit (--kube-client-qps); interleaved, the status writes of the first nodes
// would hold back the claims, and so the launch calls, of the last ones.
func (p *Provisioner) launchAll(ctx context.Context, plan *scheduling.Result, res *BatchResult) ([]error, time.Time) {
	var mu sync.Mutex
	var errs []error
	var launchedClaims, deletedClaims []string
	var lastCall time.Time
	claims := make([]*karpv1.NodeClaim, len(plan.NewNodes))
	defer func() {
		for _, c := range claims {
			if c != nil {
				p.launching.Remove(c.Name)
			}
		}
	}()
	workqueue.ParallelizeUntil(ctx, launchWorkers, len(plan.NewNodes), func(i int) {
		claim, err := p.createClaim(ctx, plan.NewNodes[i])
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		claims[i] = claim
	})
	workqueue.ParallelizeUntil(ctx, launchWorkers, len(plan.NewNodes), func(i int) {
		if claims[i] == nil {
			return
		}
		node, called, err := p.launch(ctx, claims[i], plan.NewNodes[i])
		mu.Lock()
		defer mu.Unlock()
		if called.After(lastCall) {
			lastCall = called
		}
		if err != nil {
			errs = append(errs, err)
			deletedClaims = append(deletedClaims, claims[i].Name)
			return
		}
		launchedClaims = append(launchedClaims, claims[i].Name)
		res.Launched = append(res.Launched, Launch{Claim: claims[i].Name, Node: node, Pods: plan.NewNodes[i].Pods})
		for _, pod := range plan.NewNodes[i].Pods {
			p.disagreements.Planned(pod, node.Name, true)
		}
	})
	waitForClaims(ctx, p.kube, launchedClaims, deletedClaims)
	return errs, lastCall
}

// reportPlan records the pods planned on existing or in-flight nodes (for the disagreement
// check, with a Nominated Event each when the plan is new: a pod that stays pending while its
// node boots is planned there again by every batch, and repeating the Event would only load
// the API server) and emits a FailedProvisioning Event for every pod the plan could not place.
func (p *Provisioner) reportPlan(ctx context.Context, plan *scheduling.Result) {
	logger := log.FromContext(ctx)
	for node, pods := range plan.ExistingNodes {
		logger.V(1).Info("pods fit existing capacity", "node", node, "pods", podNames(pods))
		for _, pod := range pods {
			if p.disagreements.Planned(pod, node, false) {
				p.recorder.Eventf(pod, corev1.EventTypeNormal, ReasonNominated, "Planned on existing node %s", node)
			}
		}
	}
	for _, e := range plan.Errors {
		logger.Info("pod fits no node", "pod", client.ObjectKeyFromObject(e.Pod).String(), "reason", e.Reason)
		p.recorder.Eventf(e.Pod, corev1.EventTypeWarning, ReasonFailedProvisioning, "Cannot provision a node: %s", e.Reason)
	}
}

// holds turns what kube-scheduler refused into solver holds: for every pending pod that was
// planned on a node which has been Ready for the grace period without kube-scheduler binding
// the pod there (and without kube-scheduler binding any other pending pod for 10 s, or for
// 5 minutes past the grace period: state.Disagreements.Check), it emits a SchedulingDisagreement Event (naming the node and, where the solver
// can tell, the unmet constraint), a log line and a metric; the node is then excluded for that
// pod and the pod causes no launch during its backoff. Returns the holds by "namespace/name".
//
// A pod whose planned node no longer has room for it (snapshot Available, registered or in
// flight) is neither judged nor held: kube-scheduler filled the node with other pods, so the
// pod needs capacity elsewhere and may cause a launch at once. A pod whose planned node a
// sibling of its template took (the snapshot's bound pods) is judged on the node the sibling
// was planned on instead (state.Disagreements.Check).
func (p *Provisioner) holds(ctx context.Context, pending []*corev1.Pod, nodes []corev1.Node, snapshot []scheduling.ExistingNode, vols scheduling.Volumes) map[string]scheduling.Hold {
	room := make(map[string]scheduling.Resources, len(snapshot))
	bound := make(map[string][]*corev1.Pod, len(snapshot))
	for _, n := range snapshot {
		room[n.Name] = scheduling.FromList(n.Available)
		bound[n.Name] = n.Pods
	}
	// A cordoned, deleting or long not Ready node is in the snapshot with no room.
	fits := func(pod *corev1.Pod, node string) bool {
		r, ok := room[node]
		return ok && scheduling.PodRequests(pod).Fits(r)
	}
	for _, d := range p.disagreements.Check(pending, nodes, bound, fits) {
		why := disagreementReason(d.Pod, d.Node, vols)
		log.FromContext(ctx).Info("kube-scheduler did not bind the pod to the node planned for it", "pod", client.ObjectKeyFromObject(d.Pod).String(),
			"node", d.Node.Name, "constraint", why, "disagreements", d.Count, "noNewNodeUntil", d.NoNewNodeUntil)
		p.recorder.Eventf(d.Pod, corev1.EventTypeWarning, ReasonSchedulingDisagreement,
			"kube-scheduler did not bind the pod to node %s, planned for it and Ready: %s; that node no longer counts for the pod and no new node is launched for it before %s",
			d.Node.Name, why, d.NoNewNodeUntil.UTC().Format(time.RFC3339))
		metrics.SchedulingDisagreements.WithLabelValues(d.Node.Labels[v1alpha5.LabelProvisionerName]).Inc()
	}
	alive := map[string]bool{}
	for i := range nodes {
		alive[nodes[i].Name] = nodes[i].DeletionTimestamp == nil
	}
	for _, n := range snapshot {
		if n.InFlight {
			alive[n.Name] = true
		}
	}
	out := map[string]scheduling.Hold{}
	for _, pod := range pending {
		h, held := p.disagreements.Hold(pod, func(node string) bool { return alive[node] })
		if !held {
			continue
		}
		sh := scheduling.Hold{ExcludedNodes: h.Excluded, PlannedNode: h.PlannedNode}
		fitsPlanned := h.PlannedNode != "" && fits(pod, h.PlannedNode)
		switch {
		case h.Outstanding && fitsPlanned:
			sh.NoNewNode = true
			sh.Reason = fmt.Sprintf("node %s was launched for it and kube-scheduler has not judged it yet", h.PlannedNode)
		case !h.NoNewNodeUntil.IsZero():
			sh.NoNewNode = true
			sh.Reason = fmt.Sprintf("kube-scheduler did not bind it to nodes %v planned for it; launch backoff until %s",
				sets.List(h.Excluded), h.NoNewNodeUntil.UTC().Format(time.RFC3339))
		}
		out[client.ObjectKeyFromObject(pod).String()] = sh
	}
	return out
}

// disagreementReason says why kube-scheduler may have refused node for pod, for the
// SchedulingDisagreement Event and log line: the pod's constraint the node's own labels, taints
// or volumes break (scheduling.ExplainNode), else what kube-scheduler last reported for the pod
// (its PodScheduled condition, the message of its FailedScheduling Event without the
// preemption part), e.g. "kube-scheduler reports: 0/5 nodes are available: 2 node(s) didn't
// match pod topology spread constraints, 3 node(s) didn't match Pod's node affinity/selector".
// Such a reason (topology spread, pod affinity, host ports, resources) depends on the other
// pods, so the solver cannot tell it from the node alone; it is not one the solver leaves out.
func disagreementReason(pod *corev1.Pod, node *corev1.Node, vols scheduling.Volumes) string {
	if why := scheduling.ExplainNode(pod, node, vols); why != "" {
		return why
	}
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse || c.Message == "" {
			continue
		}
		msg, _, _ := strings.Cut(c.Message, " preemption:")
		return "kube-scheduler reports: " + strings.TrimSuffix(strings.TrimSpace(msg), ".")
	}
	return "none of the pod's constraints the solver checks against the node alone (labels, taints, volumes) is broken, and kube-scheduler has reported no reason yet"
}

func podNames(pods []*corev1.Pod) string {
	names := make([]string, 0, len(pods))
	for _, p := range pods {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	if len(names) > 10 {
		return strings.Join(names[:10], ",") + fmt.Sprintf(",... (%d pods)", len(names))
	}
	return strings.Join(names, ",")
}

func optionNames(c *scheduling.NodeClaim, n int) string {
	var parts []string
	for i, it := range c.InstanceTypeOptions {
		if i == n {
			parts = append(parts, fmt.Sprintf("... (%d types)", len(c.InstanceTypeOptions)))
			break
		}
		parts = append(parts, fmt.Sprintf("%s $%.4f", it.Name, c.Prices[i]))
	}
	return strings.Join(parts, ", ")
}

// launch creates the NodeClaim of a planned node, then launches its instance (idempotent per
// claim); on insufficient capacity it refreshes the instance types (the cloud provider marks
// failed pools unavailable) and tries once more. The launch is recorded on the claim
// (markLaunched). A failed launch deletes the claim, so the pods are planned again (an
// instance the failed call may still have started has a claim tag without a claim and is
// terminated by garbage collection). Returns the claim (nil when its creation failed) and when
// the last launch call returned (zero without a call).
// createClaim creates the NodeClaim of plan, marked as being launched by this process (the
// caller unmarks it once launch has returned). On error nothing is left marked or created.
func (p *Provisioner) createClaim(ctx context.Context, plan *scheduling.NodeClaim) (*karpv1.NodeClaim, error) {
	claim := newClaim(plan)
	// Marked before it exists: the lifecycle reconciler must not resume a claim being launched.
	p.launching.Add(claim.Name)
	if err := p.kube.Create(ctx, claim); err != nil {
		p.launching.Remove(claim.Name)
		p.launchFailed(ctx, plan, err)
		return nil, fmt.Errorf("creating a node claim for provisioner %s: %w", plan.Provisioner.Name, err)
	}
	return claim, nil
}

// launch launches the instance of claim (created by createClaim for plan) and records it in the
// claim's status; it returns the node, when the last launch call returned, and the error, after
// which the claim has been deleted.
func (p *Provisioner) launch(ctx context.Context, claim *karpv1.NodeClaim, plan *scheduling.NodeClaim) (*cloudprovider.Node, time.Time, error) {
	logger := log.FromContext(ctx).WithValues("provisioner", plan.Provisioner.Name, "nodeClaim", claim.Name)
	var node *cloudprovider.Node
	var err error
	var called time.Time
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			types, terr := p.cp.GetInstanceTypes(ctx, plan.Provisioner)
			if terr != nil {
				err = fmt.Errorf("%w; refreshing instance types: %w", err, terr)
				break
			}
			if !plan.Refresh(types) {
				logger.Info("no instance type option left after insufficient capacity", "pods", podNames(plan.Pods))
				break
			}
		}
		logger.Info("launching node", "attempt", attempt+1, "pods", podNames(plan.Pods), "requests", plan.Requests.String(),
			"requirements", plan.Requirements.String(), "options", optionNames(plan, 5))
		req := nodeRequest(claim, plan.Provisioner, plan.InstanceTypeOptions, false)
		// The claim's instance-type requirement lists its first options; a refreshed plan
		// offers the ones still available among them.
		req.Requirements = append(req.Requirements[:0:0], plan.Requirements.NodeSelectorRequirements()...)
		node, err = p.cp.Create(ctx, req)
		called = p.clk.Now()
		if err == nil || !cloudprovider.IsInsufficientCapacity(err) {
			break
		}
		logger.Info("insufficient capacity, retrying with refreshed instance types", "error", err.Error())
	}
	if err == nil {
		err = markLaunched(ctx, p.kube, claim, node, plan.InstanceTypeOptions)
	}
	if err != nil {
		p.launchFailed(ctx, plan, err)
		if derr := p.kube.Delete(ctx, claim); derr != nil && !apierrors.IsNotFound(derr) {
			err = fmt.Errorf("%w; deleting node claim %s: %w", err, claim.Name, derr)
		}
		return nil, called, fmt.Errorf("launching node claim %s for provisioner %s: %w", claim.Name, plan.Provisioner.Name, err)
	}
	select {
	case p.launched <- event.GenericEvent{Object: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node.Name}}}:
	default: // full: the Node's own events still reach the reconciler
	}
	logger.Info("launched node", "node", node.Name, "providerID", node.ProviderID, "instanceType", node.InstanceType,
		"zone", node.Zone, "capacityType", node.CapacityType, "priceUSDPerHour", node.Price, "pods", len(plan.Pods))
	for _, pod := range plan.Pods {
		p.recorder.Eventf(pod, corev1.EventTypeNormal, ReasonNominated, "Launched node %s (%s, %s, %s, $%.4f/h) for the pod",
			node.Name, node.InstanceType, node.Zone, node.CapacityType, node.Price)
	}
	return node, called, nil
}

// launchFailed logs a failed launch and emits FailedProvisioning on its pods.
func (p *Provisioner) launchFailed(ctx context.Context, plan *scheduling.NodeClaim, err error) {
	log.FromContext(ctx).Error(err, "launch failed", "provisioner", plan.Provisioner.Name, "pods", podNames(plan.Pods))
	if ce, ok := cloudprovider.AsCredentialsError(err); ok {
		p.recorder.Eventf(plan.Provisioner, corev1.EventTypeWarning, ReasonCredentialsUnavailable, "%s", ce.Error())
	} else if na, ok := cloudprovider.AsNotAuthorized(err); ok {
		p.recorder.Eventf(plan.Provisioner, corev1.EventTypeWarning, ReasonNotAuthorized, "%s", na.Error())
	}
	for _, pod := range plan.Pods {
		p.recorder.Eventf(pod, corev1.EventTypeWarning, ReasonFailedProvisioning, "Launching a node failed: %v", err)
	}
}

// credentialsFailed emits, when err (prov's instance types failed) wraps a
// *cloudprovider.CredentialsError, CredentialsUnavailable on prov and FailedProvisioning
// ("Cannot provision a node: could not obtain AWS credentials: ...") on the pending pods, whose
// batch fails with it; other errors are only logged by the batch loop.
func (p *Provisioner) credentialsFailed(prov *v1alpha5.Provisioner, pending []*corev1.Pod, err error) {
	ce, ok := cloudprovider.AsCredentialsError(err)
	if !ok {
		return
	}
	p.recorder.Eventf(prov, corev1.EventTypeWarning, ReasonCredentialsUnavailable, "%s", ce.Error())
	for _, pod := range pending {
		p.recorder.Eventf(pod, corev1.EventTypeWarning, ReasonFailedProvisioning, "Cannot provision a node: %s", ce.Error())
	}
}
