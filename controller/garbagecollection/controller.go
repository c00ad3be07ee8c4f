// Package garbagecollection reconciles cloud instances with NodeClaims and Nodes, so that
// nothing leaks after a crash:
//
//	instance without a claim  an instance tagged karpenter.sh/nodeclaim whose NodeClaim does not
//	                          exist GracePeriod after launch is terminated (its claim was
//	                          deleted, or its launch failed after the instance started); an
//	                          instance without that tag (launched before NodeClaims) is
//	                          terminated when no Node has its provider ID LegacyGracePeriod
//	                          after launch
//	claim without an instance a launched NodeClaim whose instance is no longer pending or
//	                          running (terminated out of band, spot interruption) is deleted
//	node without a claim      a Node owned by a NodeClaim that no longer exists is deleted (the
//	                          termination finalizer drains it); a Node labelled
//	                          karpenter.sh/provisioner-name whose instance is gone is deleted
//
// Deleting things because the cloud says an instance is gone needs the cloud provider's Exists
// to confirm each loss, so an empty or mis-filtered List can never delete healthy claims or
// nodes.
package garbagecollection

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
)

// Defaults.
const (
	// DefaultGracePeriod is how long after launch an instance may stay without a NodeClaim,
	// and a NodeClaim or Node without its instance or claim: the claim is created before the
	// instance, so only cache lag separates them.
	DefaultGracePeriod = 30 * time.Second
	// LegacyGracePeriod is how long after launch an instance without a claim tag may stay
	// without a Node.
	LegacyGracePeriod = 2 * time.Minute
	// DefaultInterval is the time between two collections.
	DefaultInterval = 30 * time.Second
)

// Collector is a leader-elected runnable (manager.Runnable) that collects every Interval.
type Collector struct {
	kube        client.Client
	cloud       cloudprovider.CloudProvider
	clk         clock.Clock
	GracePeriod time.Duration
	Interval    time.Duration
}

// NewCollector returns a Collector with DefaultGracePeriod and DefaultInterval.
func NewCollector(kube client.Client, cloud cloudprovider.CloudProvider, clk clock.Clock) *Collector {
	return &Collector{kube: kube, cloud: cloud, clk: clk, GracePeriod: DefaultGracePeriod, Interval: DefaultInterval}
}

// Start collects every Interval until ctx ends; errors are logged, never fatal.
func (g *Collector) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("garbagecollection")
	ctx = log.IntoContext(ctx, logger)
	for {
		if err := g.Collect(ctx); err != nil {
			logger.Error(err, "garbage collection failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-g.clk.After(g.Interval):
		}
	}
}

// NeedLeaderElection makes the collector run on the leader only.
func (g *Collector) NeedLeaderElection() bool { return true }

// Collect runs one pass and returns the provider IDs of the instances it terminated. Errors:
// listing instances or nodes, and the first terminate/delete error (the pass continues).
func (g *Collector) Collect(ctx context.Context) error {
	_, err := g.collect(ctx)
	return err
}

func (g *Collector) collect(ctx context.Context) ([]string, error) {
	instances, err := g.cloud.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	nodes := &corev1.NodeList{}
	if err := g.kube.List(ctx, nodes); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	claims := &karpv1.NodeClaimList{}
	if err := g.kube.List(ctx, claims); err != nil {
		return nil, fmt.Errorf("listing node claims: %w", err)
	}
	p := &pass{Collector: g, now: g.clk.Now(), live: map[string]bool{}, claims: map[string]*karpv1.NodeClaim{}, nodes: map[string]*corev1.Node{}}
	for i := range nodes.Items {
		if id := nodes.Items[i].Spec.ProviderID; id != "" {
			p.nodes[id] = &nodes.Items[i]
		}
	}
	for i := range claims.Items {
		p.claims[claims.Items[i].Name] = &claims.Items[i]
	}
	for _, inst := range instances {
		p.live[inst.ProviderID] = true
	}
	terminated := p.instances(ctx, instances)
	p.lostClaims(ctx, claims.Items)
	p.nodesWithout(ctx, nodes.Items)
	return terminated, p.firstErr
}

// pass is one collection's view of the world.
type pass struct {
	*Collector
	now      time.Time
	live     map[string]bool              // provider IDs of pending/running instances
	claims   map[string]*karpv1.NodeClaim // by name
	nodes    map[string]*corev1.Node      // by provider ID
	firstErr error
}

func (p *pass) fail(err error) {
	if p.firstErr == nil {
		p.firstErr = err
	}
}

// instances terminates instances without a claim (or, untagged, without a Node) past their
// grace; it returns their provider IDs.
func (p *pass) instances(ctx context.Context, instances []*cloudprovider.Node) []string {
	logger := log.FromContext(ctx)
	var terminated []string
	for _, inst := range instances {
		age := p.now.Sub(inst.LaunchTime)
		reason := ""
		switch {
		case inst.ClaimName != "":
			if _, ok := p.claims[inst.ClaimName]; ok || age < p.GracePeriod {
				continue
			}
			reason = "terminated instance without a node claim"
		default:
			if _, ok := p.nodes[inst.ProviderID]; ok || age < LegacyGracePeriod {
				continue
			}
			reason = "terminated instance without a node claim tag or a node"
		}
		if err := p.cloud.Delete(ctx, inst.ProviderID); err != nil {
			logger.Error(err, "terminating leaked instance", "providerID", inst.ProviderID)
			p.fail(err)
			continue
		}
		terminated = append(terminated, inst.ProviderID)
		metrics.InstancesGarbageCollected.Inc()
		logger.Info(reason, "providerID", inst.ProviderID, "nodeClaim", inst.ClaimName, "instanceType", inst.InstanceType,
			"launchTime", inst.LaunchTime.UTC().Format(time.RFC3339), "gracePeriod", p.GracePeriod.String())
	}
	return terminated
}

// gone reports whether the cloud confirms (Exists) the instance of providerID is gone (false on
// error).
func (p *pass) gone(ctx context.Context, providerID string) bool {
	if p.live[providerID] {
		return false
	}
	exists, err := p.cloud.Exists(ctx, providerID)
	if err != nil {
		log.FromContext(ctx).Error(err, "checking an instance", "providerID", providerID)
		return false
	}
	return !exists
}

// lostClaims deletes launched claims whose instance is gone.
func (p *pass) lostClaims(ctx context.Context, claims []karpv1.NodeClaim) {
	for i := range claims {
		c := &claims[i]
		if c.Status.ProviderID == "" || c.DeletionTimestamp != nil || p.now.Sub(c.CreationTimestamp.Time) < p.GracePeriod ||
			!p.gone(ctx, c.Status.ProviderID) {
			continue
		}
		if err := p.kube.Delete(ctx, c); err != nil && !apierrors.IsNotFound(err) {
			log.FromContext(ctx).Error(err, "deleting node claim whose instance is gone", "nodeClaim", c.Name)
			p.fail(err)
			continue
		}
		log.FromContext(ctx).Info("deleted node claim whose instance is gone", "nodeClaim", c.Name, "providerID", c.Status.ProviderID)
	}
}

// nodesWithout deletes Nodes owned by a claim that no longer exists, and launched Nodes whose
// instance is gone.
func (p *pass) nodesWithout(ctx context.Context, nodes []corev1.Node) {
	logger := log.FromContext(ctx)
	for i := range nodes {
		node := &nodes[i]
		if node.DeletionTimestamp != nil || p.now.Sub(node.CreationTimestamp.Time) < p.GracePeriod {
			continue
		}
		reason := ""
		for _, o := range node.OwnerReferences {
			if o.Kind == "NodeClaim" && o.APIVersion == karpv1.SchemeGroupVersion.String() {
				if c, ok := p.claims[o.Name]; !ok || c.UID != o.UID {
					reason = "deleted node whose node claim is gone"
				}
			}
		}
		if reason == "" && node.Labels[v1alpha5.LabelProvisionerName] != "" && node.Spec.ProviderID != "" && p.gone(ctx, node.Spec.ProviderID) {
			reason = "deleted node whose instance is gone"
		}
		if reason == "" {
			continue
		}
		if err := p.kube.Delete(ctx, node); err != nil && !apierrors.IsNotFound(err) {
			logger.Error(err, "deleting node", "node", node.Name, "reason", reason)
			p.fail(err)
			continue
		}
		logger.Info(reason, "node", node.Name, "providerID", node.Spec.ProviderID)
	}
}

// Register adds the collector to mgr as a leader-elected runnable.
func (g *Collector) Register(mgr manager.Manager) error {
	if err := mgr.Add(g); err != nil {
		return fmt.Errorf("adding garbage collector: %w", err)
	}
	return nil
}
