package operator

import "github.com/spf13/cobra"

// NewCommand returns the `controller` subcommand. STUB: owned by the controller work; replace.
func NewCommand() *cobra.Command {
	return &cobra.Command{Use: "controller", Short: "run the autoscaler controller"}
}
