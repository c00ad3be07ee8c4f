package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// DefaultLaunchTemplateGCGrace is the default of Options.LaunchTemplateGCGrace: twice the
// launch template cache lifetime, so a template a replica still holds in its cache is never
// collected under it.
const DefaultLaunchTemplateGCGrace = 2 * LaunchTemplateCacheTTL

// launchTemplateLaunchedFrom is the tag EC2 puts on an instance launched from a launch
// template (source: EC2 User Guide, "Launch an instance from a launch template": instances
// are tagged aws:ec2launchtemplate:id and aws:ec2launchtemplate:version).
const launchTemplateLaunchedFrom = "aws:ec2launchtemplate:id"

// gcGrace returns Options.LaunchTemplateGCGrace or its default.
func (c *CloudProvider) gcGrace() time.Duration {
	if c.opts.LaunchTemplateGCGrace > 0 {
		return c.opts.LaunchTemplateGCGrace
	}
	return DefaultLaunchTemplateGCGrace
}

// CollectLaunchTemplates deletes the launch templates this controller created that nothing
// references any more (CollectLaunchTemplatesOnce), at once and then every half grace period
// (at least 5 s, at most 5 minutes), until ctx ends; errors are logged. It always returns nil.
// The operator runs it on the leader only.
func (c *CloudProvider) CollectLaunchTemplates(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("launchtemplate-gc")
	every := min(max(c.gcGrace()/2, 5*time.Second), 5*time.Minute)
	for {
		deleted, err := c.CollectLaunchTemplatesOnce(ctx)
		if err != nil && ctx.Err() == nil {
			logger.Error(err, "collecting unused launch templates failed; retrying", "after", every.String())
		}
		for _, name := range deleted {
			logger.Info("deleted unused launch template", "launchTemplate", name)
		}
		timer := c.clk.NewTimer(every)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C():
		}
	}
}

// CollectLaunchTemplatesOnce deletes every launch template that the controller created for
// this cluster (named LaunchTemplateNamePrefix..., tagged karpenter.sh/cluster=<cluster> and
// karpenter.sh/managed-by=karpenter; a template missing any of the three is never touched)
// and that is no longer referenced: created at least the grace period ago, not used by this
// process's launches within it, and not the template of any pending or running instance of
// the cluster (tag aws:ec2launchtemplate:id). A template that is gone already is not an error.
// It returns the names deleted. Errors: listing templates or instances, and the first failed
// deletion (the others are still tried).
func (c *CloudProvider) CollectLaunchTemplatesOnce(ctx context.Context) ([]string, error) {
	defer observe("CollectLaunchTemplates", time.Now())
	grace := c.gcGrace()
	inUse, err := c.launchTemplatesInUse(ctx)
	if err != nil {
		return nil, err
	}
	var candidates []ec2types.LaunchTemplate
	pager := ec2.NewDescribeLaunchTemplatesPaginator(c.ec2, &ec2.DescribeLaunchTemplatesInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("tag:" + v1alpha5.TagCluster), Values: []string{c.opts.ClusterName}},
		{Name: awssdk.String("tag:" + v1alpha5.TagManagedBy), Values: []string{"karpenter"}},
	}})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing launch templates of cluster %s: %w", c.opts.ClusterName, err)
		}
		candidates = append(candidates, page.LaunchTemplates...)
	}
	now := c.clk.Now()
	var deleted []string
	var firstErr error
	for _, lt := range candidates {
		name, id := awssdk.ToString(lt.LaunchTemplateName), awssdk.ToString(lt.LaunchTemplateId)
		if !strings.HasPrefix(name, LaunchTemplateNamePrefix) || !ownedBy(lt.Tags, c.opts.ClusterName) || inUse[id] {
			continue
		}
		if lt.CreateTime == nil || now.Sub(*lt.CreateTime) < grace || c.templates.usedWithin(name, grace) {
			continue
		}
		_, err := c.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId})
		if err != nil && !templateGone(err) {
			if firstErr == nil {
				firstErr = fmt.Errorf("deleting launch template %s (%s): %w", name, id, err)
			}
			continue
		}
		c.templates.Forget(name)
		deleted = append(deleted, name)
	}
	return deleted, firstErr
}

// templateGone reports whether a DeleteLaunchTemplate error says the template does not exist.
func templateGone(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (strings.HasPrefix(ae.ErrorCode(), "InvalidLaunchTemplateId.") || strings.HasPrefix(ae.ErrorCode(), "InvalidLaunchTemplateName."))
}

// ownedBy reports whether the tags say the controller of cluster created the resource (the
// API's tag filters are checked again here: a template must never be deleted on a filter the
// API ignored).
func ownedBy(tags []ec2types.Tag, cluster string) bool {
	var clusterOK, managedOK bool
	for _, t := range tags {
		switch awssdk.ToString(t.Key) {
		case v1alpha5.TagCluster:
			clusterOK = awssdk.ToString(t.Value) == cluster
		case v1alpha5.TagManagedBy:
			managedOK = awssdk.ToString(t.Value) == "karpenter"
		}
	}
	return clusterOK && managedOK
}

// launchTemplatesInUse returns the launch template IDs of the cluster's pending and running
// instances.
func (c *CloudProvider) launchTemplatesInUse(ctx context.Context) (map[string]bool, error) {
	inUse := map[string]bool{}
	pager := ec2.NewDescribeInstancesPaginator(c.ec2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("tag:" + v1alpha5.TagCluster), Values: []string{c.opts.ClusterName}},
		{Name: awssdk.String("instance-state-name"), Values: []string{"pending", "running"}},
	}})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing instances of cluster %s: %w", c.opts.ClusterName, err)
		}
		for _, r := range page.Reservations {
			for _, inst := range r.Instances {
				for _, t := range inst.Tags {
					if awssdk.ToString(t.Key) == launchTemplateLaunchedFrom {
						inUse[awssdk.ToString(t.Value)] = true
					}
				}
			}
		}
	}
	return inUse, nil
}

// usedWithin reports whether this process ensured template name within d.
func (l *launchTemplates) usedWithin(name string, d time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.used[name]
	return ok && l.clk.Since(at) < d
}
