// Package controller lists every controller of the autoscaler in one place (NewControllers);
// the subpackages hold them. The operator package wires them into a controller-runtime manager.
package controller

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/deprovisioning"
	"github.com/nodeform/terraform-provider-karpenter/controller/garbagecollection"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
	"github.com/nodeform/terraform-provider-karpenter/controller/provisioning"
	"github.com/nodeform/terraform-provider-karpenter/controller/termination"
)

// Controller is anything that adds itself (reconcilers, watches, runnables) to a manager.
type Controller interface {
	Register(mgr manager.Manager) error
}

// Options are the settings the controllers share.
type Options struct {
	// BatchIdleDuration and BatchMaxDuration bound a provisioning batch (defaults 1 s, 10 s);
	// BatchMaxDuration is also the deprovisioner's ready grace before the emptiness clock starts.
	BatchIdleDuration time.Duration
	BatchMaxDuration  time.Duration
	// DisagreementGrace: see provisioning.Options (default state.DefaultDisagreementGrace).
	DisagreementGrace time.Duration
	// RegistrationTimeout: see provisioning.Options (default provisioning.DefaultRegistrationTimeout).
	RegistrationTimeout time.Duration
	// NotReadyTimeout: see deprovisioning.Options (0 turns node repair off; the operator's
	// default is deprovisioning.DefaultNotReadyTimeout).
	NotReadyTimeout time.Duration
}

// NewControllers returns every controller of the autoscaler:
//
//	provisioning      pending pods -> solver -> NodeClaim -> CreateFleet (idempotent per claim);
//	                  node registration (claim's labels, taints, owner, finalizer); claim
//	                  lifecycle (resume unlaunched claims, registration timeout)
//	deprovisioning    emptiness TTL, expiration TTL, not Ready past the not-ready timeout
//	                  (node repair) -> delete node
//	termination       deleted node -> cordon, evict, terminate instance, remove finalizer
//	garbagecollection instances without claims, claims without instances, nodes without instances
func NewControllers(kube client.Client, cloud cloudprovider.CloudProvider, clk clock.Clock, recorder record.EventRecorder, opts Options) []Controller {
	if opts.BatchMaxDuration <= 0 {
		opts.BatchMaxDuration = 10 * time.Second
	}
	prov := provisioning.NewProvisioner(kube, cloud, clk, recorder, provisioning.Options{
		BatchIdleDuration: opts.BatchIdleDuration, BatchMaxDuration: opts.BatchMaxDuration, DisagreementGrace: opts.DisagreementGrace,
		RegistrationTimeout: opts.RegistrationTimeout})
	return []Controller{
		prov,
		deprovisioning.NewController(kube, clk, recorder, deprovisioning.Options{ReadyGrace: opts.BatchMaxDuration, NominatedUntil: prov.NominatedUntil,
			NotReadyTimeout: opts.NotReadyTimeout}),
		termination.NewController(kube, cloud, clk, recorder),
		garbagecollection.NewCollector(kube, cloud, clk),
	}
}

// Register indexes pods by node on mgr's cache and registers every controller with mgr.
// Errors: index or registration errors.
func Register(ctx context.Context, mgr manager.Manager, controllers []Controller) error {
	if err := nodepods.Register(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	for _, c := range controllers {
		if err := c.Register(mgr); err != nil {
			return fmt.Errorf("registering %T: %w", c, err)
		}
	}
	return nil
}
