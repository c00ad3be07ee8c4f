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
	"io"
	"os"
	"strings"

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
		printError(os.Stderr, err)
		var unplaced *simulate.UnschedulableError
		if errors.As(err, &unplaced) {
			os.Exit(unplaced.ExitCode())
		}
		os.Exit(1)
	}
}

// printError prints err to w after "error: ", each error it joins (errors.Join, as simulate
// joins the errors of its input, one a line) on a line of its own with the prefix. Any other
// error of several lines (a log tail, a list of problems) has its first line prefixed only.
func printError(w io.Writer, err error) {
	for _, e := range joined(err) {
		fmt.Fprintln(w, "error:", e)
	}
}

// joined returns the errors err joins with errors.Join, recursively, or err alone. An error
// with Unwrap() []error whose text is not its errors' texts a line each (fmt.Errorf with
// several %w) is one error.
func joined(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	errs := j.Unwrap()
	texts := make([]string, len(errs))
	for i, e := range errs {
		texts[i] = e.Error()
	}
	if len(errs) == 0 || strings.Join(texts, "\n") != err.Error() {
		return []error{err}
	}
	var out []error
	for _, e := range errs {
		out = append(out, joined(e)...)
	}
	return out
}
