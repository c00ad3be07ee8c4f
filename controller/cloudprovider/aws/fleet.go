package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

// Launches are one CreateFleet call per NodeClaim (type instant, target capacity 1), issued
// concurrently by the provisioner with bounded parallelism. Each call is idempotent per claim:
// its ClientToken derives from the claim's UID and a digest of the request, and the instance
// is tagged karpenter.sh/nodeclaim=<claim name>. A retry of the same request (the SDK's own
// retries, or the provisioner's after a failure between CreateFleet and DescribeInstances)
// returns the instance of the first call (EC2 honours a token for at least 24 hours: "Ensuring
// idempotency", docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html); a launch
// resumed after a restart first looks the claim's instance up by its tag (findClaimInstance),
// so a request whose parameters changed meanwhile (refreshed types or templates) finds the
// instance instead of launching a second one.
//
// Earlier versions merged concurrent identical requests into one call with a larger target
// capacity; a merged call cannot carry one token and one claim tag per instance, so per-claim
// idempotency replaced it.

// maxClientTokenLength is EC2's limit on ClientToken (64 ASCII characters).
const maxClientTokenLength = 64

// clientToken returns the ClientToken of a claim's CreateFleet request: "<uid>-<16 hex digits
// of the SHA-256 of the request without its token>" (53 characters for a UUID). Equal requests
// of one claim get equal tokens; changed parameters (EC2 would refuse a reused token with
// IdempotentParameterMismatch) get a new one. Errors: the request does not marshal (never for
// SDK inputs), an empty uid.
func clientToken(uid string, in *ec2.CreateFleetInput) (string, error) {
	if uid == "" {
		return "", errors.New("creating fleet: the node claim has no UID")
	}
	c := *in
	c.ClientToken = nil
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("creating fleet: %w", err)
	}
	sum := sha256.Sum256(b)
	token := uid + "-" + hex.EncodeToString(sum[:8])
	if len(token) > maxClientTokenLength {
		token = token[len(token)-maxClientTokenLength:]
	}
	return token, nil
}

// launch launches one instance of in for the claim uid (ClientToken set here) and returns it
// described (DescribeInstances). Errors: *cloudprovider.InsufficientCapacityError when no pool
// had capacity, EC2 errors.
func (c *CloudProvider) launch(ctx context.Context, uid string, in *ec2.CreateFleetInput) (*ec2types.Instance, error) {
	token, err := clientToken(uid, in)
	if err != nil {
		return nil, err
	}
	in.ClientToken = awssdk.String(token)
	insts, err := c.runFleet(ctx, in, 1)
	if len(insts) == 0 {
		return nil, err
	}
	return insts[0], nil
}

// findClaimInstance returns the pending or running instance of the cluster tagged
// karpenter.sh/nodeclaim=name, or nil when the claim has no instance at all. Several live ones
// (never launched by this controller) are reported as an error naming them, and so is a claim
// whose only instances are shutting down, stopped or terminated (EC2 keeps terminated
// instances visible for about an hour): the claim was launched and its instance is gone (e.g.
// the Node of a launch that was never recorded was removed), and launching again would give
// one claim a second instance. Errors: EC2 errors.
func (c *CloudProvider) findClaimInstance(ctx context.Context, name string) (*ec2types.Instance, error) {
	out, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("tag:" + v1alpha5.TagCluster), Values: []string{c.opts.ClusterName}},
		{Name: awssdk.String("tag:" + karpv1.TagNodeClaim), Values: []string{name}},
	}})
	if err != nil {
		return nil, fmt.Errorf("looking up the instance of node claim %s: %w", name, err)
	}
	var found []*ec2types.Instance
	var gone []string
	for _, r := range out.Reservations {
		for i := range r.Instances {
			inst := &r.Instances[i]
			if inst.State != nil && (inst.State.Name == ec2types.InstanceStateNamePending || inst.State.Name == ec2types.InstanceStateNameRunning) {
				found = append(found, inst)
				continue
			}
			gone = append(gone, awssdk.ToString(inst.InstanceId))
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0 && len(gone) == 0:
		return nil, nil
	case len(found) == 0:
		return nil, fmt.Errorf("node claim %s was launched and its instances %v are gone: not launching it again", name, gone)
	}
	ids := make([]string, 0, len(found))
	for _, inst := range found {
		ids = append(ids, awssdk.ToString(inst.InstanceId))
	}
	return nil, fmt.Errorf("node claim %s has %d instances %v", name, len(found), ids)
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
