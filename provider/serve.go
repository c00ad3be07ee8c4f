package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/nodeform/terraform-provider-karpenter/version"
)

// Address is the provider's registry address (source "nodeform/karpenter").
const Address = "registry.terraform.io/nodeform/karpenter"

// Serve serves the provider over plugin protocol 6 until Terraform stops it. debug starts it in
// debug mode (prints TF_REATTACH_PROVIDERS for debuggers such as delve). It returns the error of
// providerserver.Serve.
func Serve(ctx context.Context, debug bool) error {
	return providerserver.Serve(ctx, New(version.Version), providerserver.ServeOpts{
		Address:         Address,
		Debug:           debug,
		ProtocolVersion: 6,
	})
}
