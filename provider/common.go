package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"time"

	"github.com/aws/smithy-go"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

// clientsFrom converts the ProviderData of a Configure request; nil data (validation before
// the provider is configured) yields nil without error.
func clientsFrom(data any, diags *diag.Diagnostics) *clients {
	if data == nil {
		return nil
	}
	c, ok := data.(*clients)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *clients, got %T", data))
		return nil
	}
	return c
}

// awsErrorCode is the AWS error code of err (e.g. "NoSuchEntity"), or "".
func awsErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// isIAMNotFound reports whether err is IAM's NoSuchEntity.
func isIAMNotFound(err error) bool { return awsErrorCode(err) == "NoSuchEntity" }

// stringMap converts a Terraform map of strings to Go; null and unknown give nil.
func stringMap(ctx context.Context, m types.Map, diags *diag.Diagnostics) map[string]string {
	if m.IsNull() || m.IsUnknown() {
		return nil
	}
	out := map[string]string{}
	diags.Append(m.ElementsAs(ctx, &out, false)...)
	return out
}

// stringList converts a Terraform list or set of strings to Go; null and unknown give nil.
func stringList(ctx context.Context, v interface {
	IsNull() bool
	IsUnknown() bool
	ElementsAs(context.Context, any, bool) diag.Diagnostics
}, diags *diag.Diagnostics) []string {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	var out []string
	diags.Append(v.ElementsAs(ctx, &out, false)...)
	return out
}

// mapValue converts a Go map to a Terraform map of strings. An empty map becomes null when
// nullIfEmpty (so that an omitted optional attribute does not drift to {}).
func mapValue(m map[string]string, nullIfEmpty bool) types.Map {
	if len(m) == 0 && nullIfEmpty {
		return types.MapNull(types.StringType)
	}
	elems := make(map[string]attr.Value, len(m))
	for k, v := range m {
		elems[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, elems)
}

// tagsValue converts live tags to a Terraform map, keeping the configured distinction between
// an empty map and no map: with no live tags it is {} when prior (the state before the
// refresh) is a known non-null map, and null otherwise (omitted, or on import).
func tagsValue(live map[string]string, prior types.Map) types.Map {
	return mapValue(live, len(live) == 0 && (prior.IsNull() || prior.IsUnknown()))
}

// setValue converts Go strings to a Terraform set of strings (never null).
func setValue(s []string) types.Set {
	elems := make([]attr.Value, 0, len(s))
	for _, v := range s {
		elems = append(elems, types.StringValue(v))
	}
	return types.SetValueMust(types.StringType, elems)
}

// listValue converts Go strings to a Terraform list of strings (never null).
func listValue(s []string) types.List {
	elems := make([]attr.Value, 0, len(s))
	for _, v := range s {
		elems = append(elems, types.StringValue(v))
	}
	return types.ListValueMust(types.StringType, elems)
}

// optString is a null string for "" and the value otherwise.
func optString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

var _ basetypes.StringValuable = types.String{}

// mustRegexp compiles one of this package's constant patterns.
func mustRegexp(pattern string) *regexp.Regexp { return regexp.MustCompile(pattern) }

// withTimeout bounds ctx by the timeouts block's value for one operation (get is e.g.
// m.Timeouts.Create), def when the block does not set it. ok is false when the block's value
// is invalid (diags then say why).
func withTimeout(ctx context.Context, get func(context.Context, time.Duration) (time.Duration, diag.Diagnostics), def time.Duration,
	diags *diag.Diagnostics) (context.Context, context.CancelFunc, bool) {
	d, dd := get(ctx, def)
	diags.Append(dd...)
	if dd.HasError() {
		return ctx, func() {}, false
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, true
}

// withDefaultTags returns the provider's default_tags overlaid with tags (a resource's own tag
// wins over a default of the same key).
func (c *clients) withDefaultTags(tags map[string]string) map[string]string {
	if len(c.defaultTags) == 0 {
		return tags
	}
	out := maps.Clone(c.defaultTags)
	maps.Copy(out, tags)
	return out
}

// withoutDefaultTags returns live without the tags that come from default_tags (same key and
// value) unless configured (a resource's tags in state) names the key too, so that default
// tags never show as a difference in a resource's `tags`.
func (c *clients) withoutDefaultTags(live, configured map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range live {
		if d, ok := c.defaultTags[k]; ok && d == v {
			if _, own := configured[k]; !own {
				continue
			}
		}
		out[k] = v
	}
	return out
}
