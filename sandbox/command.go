// Package sandbox starts a local AWS emulator and Kubernetes control plane (`sandbox up|down|env`).
package sandbox

import "github.com/spf13/cobra"

// NewCommand returns the `sandbox` subcommand. STUB: owned by the sandbox work; replace.
func NewCommand() *cobra.Command {
	return &cobra.Command{Use: "sandbox", Short: "local AWS + Kubernetes sandbox"}
}
