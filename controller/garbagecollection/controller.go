// Package garbagecollection reconciles cloud instances with Nodes, so that nothing leaks after
// a crash: an instance the controller launched (CloudProvider.List) with no Node of its
// provider ID after GracePeriod since launch is terminated; a Node labelled
// karpenter.sh/provisioner-name whose instance is no longer pending/running (terminated out of
// band, spot interruption) is deleted after the same grace period, so termination removes it;
// that second half needs a cloud provider implementing InstanceChecker to confirm each loss.
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

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
)

// InstanceChecker is implemented by cloud providers that can confirm one instance is gone
// (aws.CloudProvider). Nodes are only deleted for a missing instance when the cloud provider
// implements it, so an empty or mis-filtered List can never delete healthy nodes.
type InstanceChecker interface {
	Exists(ctx context.Context, providerID string) (bool, error)
}

// Defaults.
const (
	// DefaultGracePeriod is how long after launch an instance may stay without a Node.
	DefaultGracePeriod = 2 * time.Minute
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
	logger := log.FromContext(ctx)
	now := g.clk.Now()
	byProviderID := map[string]*corev1.Node{}
	for i := range nodes.Items {
		if id := nodes.Items[i].Spec.ProviderID; id != "" {
			byProviderID[id] = &nodes.Items[i]
		}
	}
	var firstErr error
	var terminated []string
	live := map[string]bool{}
	for _, inst := range instances {
		live[inst.ProviderID] = true
		if _, ok := byProviderID[inst.ProviderID]; ok {
			continue
		}
		if age := now.Sub(inst.LaunchTime); age < g.GracePeriod {
			continue
		}
		if err := g.cloud.Delete(ctx, inst.ProviderID); err != nil {
			logger.Error(err, "terminating leaked instance", "providerID", inst.ProviderID)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		terminated = append(terminated, inst.ProviderID)
		metrics.InstancesGarbageCollected.Inc()
		logger.Info("terminated instance without a node", "providerID", inst.ProviderID, "instanceType", inst.InstanceType,
			"launchTime", inst.LaunchTime.UTC().Format(time.RFC3339), "gracePeriod", g.GracePeriod.String())
	}
	for i := range nodes.Items {
		node := &nodes.Items[i]
		if node.Labels[v1alpha5.LabelProvisionerName] == "" || node.Spec.ProviderID == "" || node.DeletionTimestamp != nil ||
			live[node.Spec.ProviderID] || now.Sub(node.CreationTimestamp.Time) < g.GracePeriod {
			continue
		}
		checker, ok := g.cloud.(InstanceChecker)
		if !ok {
			continue
		}
		if exists, err := checker.Exists(ctx, node.Spec.ProviderID); err != nil || exists {
			if err != nil {
				logger.Error(err, "checking the instance of node", "node", node.Name)
			}
			continue
		}
		if err := g.kube.Delete(ctx, node); err != nil && !apierrors.IsNotFound(err) {
			logger.Error(err, "deleting node without an instance", "node", node.Name)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		logger.Info("deleted node whose instance is gone", "node", node.Name, "providerID", node.Spec.ProviderID)
	}
	return terminated, firstErr
}

// Register adds the collector to mgr as a leader-elected runnable.
func (g *Collector) Register(mgr manager.Manager) error {
	if err := mgr.Add(g); err != nil {
		return fmt.Errorf("adding garbage collector: %w", err)
	}
	return nil
}
