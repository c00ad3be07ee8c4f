// Command terraform-provider-karpenter is one binary with four roles:
//
//	(no subcommand)  the Terraform provider, served over plugin protocol 6
//	controller       the autoscaler, as run by the Deployment the provider creates
//	sandbox          a local AWS emulator + Kubernetes control plane for demos and tests
//	simulate         capacity planning: the node plan and its price for manifests, without a cluster
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	// The controller image has no CA bundle of its own (it holds this binary only): TLS to AWS
	// and to the API server falls back to these Mozilla roots when the system has none.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/nodeform/terraform-provider-karpenter/controller/operator"
	"github.com/nodeform/terraform-provider-karpenter/provider"
	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	"github.com/nodeform/terraform-provider-karpenter/simulate"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

func main() {
	var debug bool
	root := &cobra.Command{
		Use:           "terraform-provider-karpenter",
		Short:         "Terraform provider, controller and sandbox for the karpenter node autoscaler",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			provider.ControllerFlags = operator.SettingFlags // karpenter_controller checks `settings` against them
			return provider.Serve(cmd.Context(), debug)
		},
	}
	root.Flags().BoolVar(&debug, "debug", false, "start the provider in debug mode (for debuggers such as delve)")
	root.AddCommand(operator.NewCommand(), sandbox.NewCommand(), simulate.NewCommand())
	if err := root.Execute(); err != nil {
		var intr *sandbox.Interrupted
		if errors.As(err, &intr) { // already cleaned up: one plain line, and 130 as for Ctrl-C
			fmt.Fprintln(os.Stderr, intr.Message)
			os.Exit(intr.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
