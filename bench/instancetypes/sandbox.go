// Package instancetypes loads the sandbox catalogue as the controller sees it, for the
// benchmarks (package bench) and the scale report's lower bound. It is apart from package bench
// because it links the AWS cloud provider, whose metrics (karpenter_nodes_created_total, ...)
// share names with Karpenter's: bench/karpenter, which links Karpenter, reads the catalogue as
// JSON written by cmd/instancetypes instead.
package instancetypes

import (
	"context"
	"io"

	"github.com/nodeform/terraform-provider-karpenter/bench"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/simulate"
)

// Sandbox returns the sandbox catalogue (sandbox/aws/catalog: every type in the zones it is
// offered in, spot and on-demand) exactly as the controller sees it, through simulate's sandbox
// catalogue: the sandbox's AWS emulator on 127.0.0.1 (no other address is touched) and the real
// cloud provider (controller/cloudprovider/aws, through the real aws-sdk-go-v2 EC2 client) asked
// for the instance types of bench.Provisioner(). So capacities, kube-reserved and eviction
// overhead, ENI pod limits, labels, offerings and prices (on-demand from the shipped price table,
// spot from the emulator's DescribeSpotPriceHistory) are the production conversion's.
// Errors: the emulator failing to listen, or an AWS call failing.
func Sandbox(ctx context.Context) ([]*cloudprovider.InstanceType, error) {
	cat, err := simulate.OpenCatalog(ctx, simulate.CatalogSandbox, io.Discard)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cat.Close() }()
	return cat.InstanceTypes(ctx, bench.Provisioner())
}
