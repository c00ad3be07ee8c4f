package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// quantityValidator accepts Kubernetes resource quantities ("1000", "500m", "1000Gi").
type quantityValidator struct{}

func (quantityValidator) Description(context.Context) string {
	return "must be a Kubernetes quantity such as 1000, 500m or 1000Gi"
}
func (v quantityValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (quantityValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	q, err := resource.ParseQuantity(req.ConfigValue.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid quantity", fmt.Sprintf("%s: %q: %v (e.g. 1000, 500m, 1000Gi)", req.Path, req.ConfigValue.ValueString(), err))
		return
	}
	if q.Sign() < 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid quantity", fmt.Sprintf("%s: %q must not be negative", req.Path, req.ConfigValue.ValueString()))
	}
}

// labelKeyValidator refuses label keys (requirement false) and requirement keys (requirement
// true) that v1alpha5.ValidateLabelKey refuses, as the CRD's rules do: not a qualified name, or
// in a restricted domain (a kubelet would refuse the label and the node never join).
type labelKeyValidator struct{ requirement bool }

func (labelKeyValidator) Description(context.Context) string {
	return "a qualified name outside the restricted domains: in kubernetes.io and k8s.io only labels a kubelet may set, in karpenter.sh only the well-known ones"
}
func (v labelKeyValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v labelKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	k := req.ConfigValue.ValueString()
	if errs := v1alpha5.ValidateLabelKey(k, v.requirement); len(errs) > 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid label key", fmt.Sprintf("%s: %q: %s", req.Path, k, strings.Join(errs, "; ")))
	}
}

// k8sStringValidator accepts the strings check finds nothing wrong with (a Kubernetes
// validation function, as the API server applies it). what names the value in the diagnostic's
// summary ("taint value": "Invalid taint value"); the detail is the attribute path, the value
// and check's reasons. rule describes what is accepted.
type k8sStringValidator struct {
	what, rule string
	check      func(string) []string
}

// labelValueValidator accepts label values (empty, or 1-63 alphanumerics, '-', '_' or '.'), as
// the API server checks a Node's labels and taint values and the CRD's pattern does.
func labelValueValidator(what string) k8sStringValidator {
	return k8sStringValidator{what: what, check: validation.IsValidLabelValue,
		rule: "empty, or 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"}
}

// qualifiedNameValidator accepts Kubernetes qualified names (taint keys, annotation keys,
// resource names), as the API server checks them.
func qualifiedNameValidator(what string) k8sStringValidator {
	return k8sStringValidator{what: what, check: validation.IsQualifiedName,
		rule: "a qualified name, an optional DNS subdomain prefix and '/', then 1-63 alphanumerics, '-', '_' or '.'"}
}

// dnsSubdomainValidator accepts DNS-1123 subdomains (names of Secrets and most other
// Kubernetes objects), as the API server checks them.
func dnsSubdomainValidator(what string) k8sStringValidator {
	return k8sStringValidator{what: what, check: validation.IsDNS1123Subdomain,
		rule: "a DNS subdomain, at most 253 lowercase alphanumerics, '-' or '.', starting and ending alphanumeric"}
}

func (v k8sStringValidator) Description(context.Context) string { return v.what + ": " + v.rule }
func (v k8sStringValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (v k8sStringValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if errs := v.check(req.ConfigValue.ValueString()); len(errs) > 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+v.what, fmt.Sprintf("%s: %q: %s", req.Path, req.ConfigValue.ValueString(), strings.Join(errs, "; ")))
	}
}

// gracePeriodPattern is the CRD's pattern of terminationGracePeriod.
var gracePeriodPattern = regexp.MustCompile(v1alpha5.TerminationGracePeriodPattern)

// gracePeriodValidator accepts what the CRD accepts for terminationGracePeriod: hours, minutes
// and seconds in that order (e.g. 48h, 1h30m; v1alpha5.TerminationGracePeriodPattern), at
// most 876000h.
type gracePeriodValidator struct{}

func (gracePeriodValidator) Description(context.Context) string {
	return "a duration of hours, minutes and seconds such as 48h or 1h30m, at most 876000h"
}
func (v gracePeriodValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (gracePeriodValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	if s == "" || !gracePeriodPattern.MatchString(s) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%s: %q: want hours, minutes and seconds in that order such as 48h, 1h30m or 90s (at most 6, 7 and 9 digits)", req.Path, s))
		return
	}
	d, err := time.ParseDuration(s)
	if err != nil || d > v1alpha5.MaxTerminationGracePeriod {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%s: %q: must be at most 876000h (100 years)", req.Path, s))
	}
}

// requirementValidator checks a requirement block as the CRD's rules do: In/NotIn need values,
// Exists/DoesNotExist take none, Gt/Lt take exactly one 64-bit integer (v1alpha5.ValidGtLtValues), and
// karpenter.sh/capacity-type values are spot or on-demand.
type requirementValidator struct{}

func (requirementValidator) Description(context.Context) string {
	return "In/NotIn need values; Exists/DoesNotExist take none; Gt/Lt take one integer; capacity types are spot or on-demand"
}
func (v requirementValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (requirementValidator) ValidateObject(ctx context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	attrs := req.ConfigValue.Attributes()
	key, _ := attrs["key"].(types.String)
	op, _ := attrs["operator"].(types.String)
	vals, _ := attrs["values"].(types.List)
	if key.IsUnknown() || op.IsUnknown() || vals.IsUnknown() {
		return
	}
	var values []string
	unknown := false
	for _, e := range vals.Elements() {
		s, _ := e.(types.String)
		if s.IsUnknown() {
			unknown = true
			continue
		}
		values = append(values, s.ValueString())
	}
	vp := req.Path.AtName("values")
	switch op.ValueString() {
	case "In", "NotIn":
		if len(vals.Elements()) == 0 {
			resp.Diagnostics.AddAttributeError(vp, "Missing values", vp.String()+": operators In and NotIn need at least one value")
		}
	case "Exists", "DoesNotExist":
		if len(vals.Elements()) > 0 {
			resp.Diagnostics.AddAttributeError(vp, "Unexpected values", vp.String()+": operators Exists and DoesNotExist take no values")
		}
	case "Gt", "Lt":
		if len(vals.Elements()) != 1 || (!unknown && !v1alpha5.ValidGtLtValues(values)) {
			resp.Diagnostics.AddAttributeError(vp, "Invalid values", vp.String()+": "+v1alpha5.GtLtValuesMessage)
		}
	}
	if key.ValueString() == v1alpha5.LabelCapacityType {
		for _, v := range values {
			if v != v1alpha5.CapacityTypeSpot && v != v1alpha5.CapacityTypeOnDemand {
				resp.Diagnostics.AddAttributeError(vp, "Unknown capacity type",
					fmt.Sprintf("%s: %q: karpenter.sh/capacity-type values must be spot or on-demand", vp, v))
			}
		}
	}
}

var _ attr.Value = types.String{}

// provisionerTagKeyValidator refuses the keys of a provisioner's aws tags (and of the
// provider's default_tags, which the controller merges into them) that
// v1alpha5.ValidateTagKey refuses, in the CRD's words: EC2's 1 to 128 characters, the aws:
// prefix, and the keys the controller sets itself or reserves (karpenter.sh/cluster,
// karpenter.sh/managed-by, karpenter.sh/nodeclaim, karpenter.sh/provisioner-name,
// kubernetes.io/cluster/*).
type provisionerTagKeyValidator struct{}

func (provisionerTagKeyValidator) Description(context.Context) string {
	return "1 to 128 characters, not starting with aws:, and not a tag the controller sets (karpenter.sh/cluster, karpenter.sh/managed-by, karpenter.sh/nodeclaim, karpenter.sh/provisioner-name, kubernetes.io/cluster/*)"
}
func (v provisionerTagKeyValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (provisionerTagKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	k := req.ConfigValue.ValueString()
	if errs := v1alpha5.ValidateTagKey(k); len(errs) > 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid tag key", fmt.Sprintf("%s: %q: %s", req.Path, k, strings.Join(errs, "; ")))
	}
}

// clusterDNSValidator accepts what the CRD's isIP() accepts for a kubelet clusterDNS entry
// (v1alpha5.ValidateClusterDNS): an IPv4 or IPv6 address without a zone, not IPv4-mapped.
type clusterDNSValidator struct{}

func (clusterDNSValidator) Description(context.Context) string {
	return "an IPv4 or IPv6 address"
}
func (v clusterDNSValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (clusterDNSValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if e := v1alpha5.ValidateClusterDNS(req.ConfigValue.ValueString()); e != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid IP address", fmt.Sprintf("%s: %q: %s", req.Path, req.ConfigValue.ValueString(), e))
	}
}
