package provider

import (
	"context"
	"errors"
)

// Serve serves the provider over plugin protocol 6 (registry address
// registry.terraform.io/nodeform/karpenter). STUB: owned by the provider work; replace.
func Serve(ctx context.Context, debug bool) error { return errors.New("not implemented") }
