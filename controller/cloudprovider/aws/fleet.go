package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

// fleets merges concurrent launches of identical fleet requests into one CreateFleet call, as
// Karpenter's AWS provider batches CreateFleet: a provisioning batch launches its node claims
// concurrently, and claims of equal pods have equal instance type options, requirements and
// labels, so their requests differ only in the target capacity. Merging them is a group
// commit, without any wait: the first request of a kind is sent at once with target capacity
// 1; requests of the same kind that arrive while a call of their kind is in flight queue, and
// the next call launches them all (target capacity n). Every launched instance is handed to
// exactly one request, so each request still returns its own instance or its own error; a
// call that launches fewer instances than requests fails the rest as a single launch would
// (insufficient capacity, or the fleet's errors). Fewer calls keep a burst of launches within
// EC2's request rate limits and its latency low.
type fleets struct {
	mu     sync.Mutex
	groups map[string]*fleetGroup // by fleetKey
}

// fleetGroup is the queue of one kind of request.
type fleetGroup struct {
	running bool // a goroutine is serving the queue
	queue   []*fleetWaiter
}

// fleetWaiter is one request waiting for its instance.
type fleetWaiter struct {
	ctx  context.Context
	in   *ec2.CreateFleetInput
	done chan struct{}
	inst *ec2types.Instance
	err  error
}

// fleetKey identifies requests that may share a call: the request without its target capacity.
// Errors: the request does not marshal (never for SDK inputs).
func fleetKey(in *ec2.CreateFleetInput) (string, error) {
	c := *in
	if c.TargetCapacitySpecification != nil {
		spec := *c.TargetCapacitySpecification
		spec.TotalTargetCapacity = nil
		c.TargetCapacitySpecification = &spec
	}
	b, err := json.Marshal(&c)
	return string(b), err
}

// launch launches one instance of in (its TotalTargetCapacity is set here), sharing a call with
// identical concurrent requests, and returns it described (DescribeInstances). Errors:
// *cloudprovider.InsufficientCapacityError when no pool had capacity for this request, EC2
// errors of the call.
func (c *CloudProvider) launch(ctx context.Context, in *ec2.CreateFleetInput) (*ec2types.Instance, error) {
	key, err := fleetKey(in)
	if err != nil {
		return nil, fmt.Errorf("creating fleet: %w", err)
	}
	w := &fleetWaiter{ctx: ctx, in: in, done: make(chan struct{})}
	f := &c.fleets
	f.mu.Lock()
	if f.groups == nil {
		f.groups = map[string]*fleetGroup{}
	}
	g := f.groups[key]
	if g == nil {
		g = &fleetGroup{}
		f.groups[key] = g
	}
	g.queue = append(g.queue, w)
	serve := !g.running
	g.running = true
	f.mu.Unlock()
	if serve {
		go c.serveFleets(key, g)
	}
	// No early return on ctx: the call may launch an instance for this request, which must
	// not be lost; the call itself ends with its context.
	<-w.done
	return w.inst, w.err
}

// serveFleets sends one CreateFleet call for everything queued in g, then again for what
// queued meanwhile, until the queue is empty. Requests whose context ended while queued are
// failed with its error and launch nothing.
func (c *CloudProvider) serveFleets(key string, g *fleetGroup) {
	f := &c.fleets
	for {
		f.mu.Lock()
		batch := g.queue
		g.queue = nil
		if len(batch) == 0 {
			g.running = false
			delete(f.groups, key)
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		live := batch[:0]
		for _, w := range batch {
			if err := w.ctx.Err(); err != nil {
				w.err = err
				close(w.done)
				continue
			}
			live = append(live, w)
		}
		if len(live) > 0 {
			c.createFleetFor(live)
		}
	}
}

// createFleetFor makes one CreateFleet call with target capacity len(ws) (the first request's
// input and context), describes the instances and hands them out in order; requests left
// without an instance get the call's error.
func (c *CloudProvider) createFleetFor(ws []*fleetWaiter) {
	ctx := ws[0].ctx
	in := *ws[0].in
	spec := *in.TargetCapacitySpecification
	spec.TotalTargetCapacity = awssdk.Int32(int32(len(ws)))
	in.TargetCapacitySpecification = &spec
	insts, err := c.runFleet(ctx, &in, len(ws))
	for i, w := range ws {
		if i < len(insts) {
			w.inst = insts[i]
		} else {
			w.err = err
		}
		close(w.done)
	}
}

// runFleet calls CreateFleet for n instances and returns the launched ones, described, with the
// error for the requests beyond them: the call's error; the pools' insufficient capacity (each
// pool CreateFleet reports as lacking capacity is cached as unavailable) or other fleet errors
// when fewer than n launched. Instances beyond n are terminated.
func (c *CloudProvider) runFleet(ctx context.Context, in *ec2.CreateFleetInput, n int) ([]*ec2types.Instance, error) {
	capacityType := string(in.TargetCapacitySpecification.DefaultTargetCapacityType)
	out, err := c.ec2.CreateFleet(ctx, in)
	if err != nil {
		c.forgetMissingTemplates(err, in.LaunchTemplateConfigs)
		return nil, fmt.Errorf("creating fleet: %w", err)
	}
	logger := log.FromContext(ctx)
	icePools, other := c.fleetErrors(out, in.LaunchTemplateConfigs, capacityType)
	if len(icePools) > 0 {
		logger.Info("pools without capacity marked unavailable", "pools", icePools, "ttl", UnavailableOfferingsTTL.String())
	}
	var ids []string
	for _, inst := range out.Instances {
		ids = append(ids, inst.InstanceIds...)
	}
	if len(ids) > n {
		// More instances than requested would be leaks. Terminate the extras.
		logger.Info("fleet returned extra instances, terminating them", "kept", ids[:n], "extra", ids[n:])
		if _, err := c.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[n:]}); err != nil {
			logger.Error(err, "terminating extra fleet instances", "ids", ids[n:])
		}
		ids = ids[:n]
	}
	var short error
	switch {
	case len(ids) == n:
	case len(other) == 0:
		short = &cloudprovider.InsufficientCapacityError{Pools: icePools}
	default:
		sort.Strings(other)
		short = fmt.Errorf("creating fleet launched %d of %d instances: %s", len(ids), n, strings.Join(other, "; "))
	}
	if len(ids) == 0 {
		return nil, short
	}
	described, err := c.describeInstances(ctx, ids)
	if err != nil {
		// The instances run but cannot be described: they are found by garbage collection
		// (no Node registers for them) and terminated there.
		return nil, err
	}
	return described, short
}

// fleetErrors caches the pools CreateFleet reported without capacity as unavailable and
// returns them (type/zone/capacity type) and the other distinct errors ("code: message");
// launch template errors drop the cached templates so the next launch recreates them.
func (c *CloudProvider) fleetErrors(out *ec2.CreateFleetOutput, configs []ec2types.FleetLaunchTemplateConfigRequest, capacityType string) (icePools, other []string) {
	for _, e := range out.Errors {
		code := awssdk.ToString(e.ErrorCode)
		var it, zone string
		if e.LaunchTemplateAndOverrides != nil && e.LaunchTemplateAndOverrides.Overrides != nil {
			it = string(e.LaunchTemplateAndOverrides.Overrides.InstanceType)
			zone = awssdk.ToString(e.LaunchTemplateAndOverrides.Overrides.AvailabilityZone)
		}
		if insufficientCapacityCodes[code] && it != "" && zone != "" {
			c.ice.MarkUnavailable(it, zone, capacityType)
			if p := poolKey(it, zone, capacityType); !slices.Contains(icePools, p) {
				icePools = append(icePools, p)
			}
			continue
		}
		if strings.HasPrefix(code, "InvalidLaunchTemplate") {
			for _, cfg := range configs {
				c.templates.Forget(awssdk.ToString(cfg.LaunchTemplateSpecification.LaunchTemplateName))
			}
		}
		if msg := fmt.Sprintf("%s: %s", code, awssdk.ToString(e.ErrorMessage)); !slices.Contains(other, msg) {
			other = append(other, msg)
		}
	}
	return icePools, other
}
