package provider

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// IAM naming rules (source: IAM API reference, CreateRole / CreateInstanceProfile parameters).
const (
	iamNamePattern   = `^[\w+=,.@-]{1,64}$`
	iamPathPattern   = `^(/|/[\x21-\x7E]*/)$`
	policyARNPattern = `^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/.+$`
	roleARNPattern   = `^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$`
)

func iamNameAttribute(desc string) schema.StringAttribute {
	return schema.StringAttribute{Required: true, MarkdownDescription: desc + " Changing it replaces the resource.",
		Validators:    []validator.String{stringvalidator.RegexMatches(mustRegexp(iamNamePattern), "must be 1-64 characters of letters, digits and +=,.@_-")},
		PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}}
}

func iamPathAttribute() schema.StringAttribute {
	return schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("/"),
		MarkdownDescription: "IAM path, `/` or `/segment/.../`. Default `/`. Changing it replaces the resource.",
		Validators:          []validator.String{stringvalidator.RegexMatches(mustRegexp(iamPathPattern), "must be / or begin and end with /")},
		PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()}}
}

func tagsAttribute() schema.MapAttribute {
	return schema.MapAttribute{Optional: true, ElementType: types.StringType,
		MarkdownDescription: "Tags (key: value; at most 50, keys 1-128 and values 0-256 characters).",
		Validators: []validator.Map{mapvalidator.SizeAtMost(50),
			mapvalidator.KeysAre(stringvalidator.LengthBetween(1, 128)),
			mapvalidator.ValueStringsAre(stringvalidator.LengthAtMost(256))}}
}

// iamTags converts a map to IAM tags sorted by key.
func iamTags(m map[string]string) []iamtypes.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]iamtypes.Tag, 0, len(m))
	for _, k := range keys {
		tags = append(tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return tags
}

// tagMap converts IAM tags to a map.
func tagMap(tags []iamtypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// tagDiff returns the tags to set (new or changed) and the keys to remove.
func tagDiff(had, want map[string]string) (set map[string]string, remove []string) {
	set = map[string]string{}
	for k, v := range want {
		if old, ok := had[k]; !ok || old != v {
			set[k] = v
		}
	}
	for k := range had {
		if _, ok := want[k]; !ok {
			remove = append(remove, k)
		}
	}
	sort.Strings(remove)
	return set, remove
}

// updateRoleTags moves the role's tags from had to want (TagRole / UntagRole).
func updateRoleTags(ctx context.Context, c *iam.Client, role string, had, want map[string]string) error {
	set, remove := tagDiff(had, want)
	if len(remove) > 0 {
		if _, err := c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(role), TagKeys: remove}); err != nil {
			return err
		}
	}
	if len(set) > 0 {
		if _, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(role), Tags: iamTags(set)}); err != nil {
			return err
		}
	}
	return nil
}

// Default timeouts of the AWS resources (karpenter_node_role, karpenter_instance_profile,
// karpenter_discovery_tags): long enough for IAM propagation retries (propagationTimeout).
const defaultAWSTimeout = 5 * time.Minute

// opContext returns ctx bounded by the resource's `timeouts` value for op ("create",
// "update" or "delete"; default defaultAWSTimeout). A malformed duration is a diagnostic.
func opContext(ctx context.Context, t timeouts.Value, op string, diags *diag.Diagnostics) (context.Context, context.CancelFunc) {
	var d time.Duration
	var ds diag.Diagnostics
	switch op {
	case "create":
		d, ds = t.Create(ctx, defaultAWSTimeout)
	case "update":
		d, ds = t.Update(ctx, defaultAWSTimeout)
	default:
		d, ds = t.Delete(ctx, defaultAWSTimeout)
	}
	diags.Append(ds...)
	return context.WithTimeout(ctx, d)
}

// propagationTimeout bounds the retries of one call that waits for IAM to propagate a new
// entity (as the Terraform AWS provider's PropagationTimeout, 2 minutes).
const propagationTimeout = 2 * time.Minute

// propagationCodes are the errors AWS returns while a new IAM entity is not yet visible to
// the call that uses it: NoSuchEntity (a new role added to a profile or given a policy),
// MalformedPolicyDocument (a trust policy naming a new principal) and InvalidParameterValue
// (EC2 with a new instance profile). Source: IAM User Guide, troubleshooting "changes that I
// make are not always immediately visible".
var propagationCodes = map[string]bool{"NoSuchEntity": true, "MalformedPolicyDocument": true, "InvalidParameterValue": true}

// retryPropagation calls f until it returns nil or an error that is not a propagation error,
// for at most propagationTimeout and never past ctx's deadline (the resource's create
// timeout), waiting 1 s, 2 s, 4 s ... up to 10 s between attempts. It returns f's last error.
func retryPropagation(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, propagationTimeout)
	defer cancel()
	wait := time.Second
	for {
		err := f(ctx)
		if err == nil || !propagationCodes[awsErrorCode(err)] {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (still failing after retrying while IAM propagates)", err)
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Second)
	}
}
