package provider

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
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
