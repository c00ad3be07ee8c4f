package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/api/resource"

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

// labelKeyValidator refuses label keys in the reserved domains (as the CRD's rule:
// kubernetes.io/, k8s.io/ and karpenter.sh/ prefixes).
type labelKeyValidator struct{}

func (labelKeyValidator) Description(context.Context) string {
	return "label domains kubernetes.io, k8s.io and karpenter.sh are reserved"
}
func (v labelKeyValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (labelKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	k := req.ConfigValue.ValueString()
	for _, d := range v1alpha5.RestrictedLabelDomains {
		if strings.HasPrefix(k, d+"/") {
			resp.Diagnostics.AddAttributeError(req.Path, "Reserved label domain",
				fmt.Sprintf("%s: label %q: label domains kubernetes.io, k8s.io and karpenter.sh are reserved", req.Path, k))
			return
		}
	}
}

var integerPattern = regexp.MustCompile(`^-?[0-9]+$`)

// requirementValidator checks a requirement block as the CRD's rules do: In/NotIn need values,
// Exists/DoesNotExist take none, Gt/Lt take exactly one integer, and
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
		if len(vals.Elements()) != 1 || (!unknown && !integerPattern.MatchString(values[0])) {
			resp.Diagnostics.AddAttributeError(vp, "Invalid values", vp.String()+": operators Gt and Lt need exactly one integer value")
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
