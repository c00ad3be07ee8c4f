// Command demo runs the tutorial's story end to end on a local sandbox and prints a timeline:
// sandbox up, terraform init + apply of examples/quickstart (provider installed offline from
// ./bin), inflate scaled to 5 pods on new spot nodes, nodes removed 30 s after they are empty,
// an empty plan, drift shown after an out-of-band edit, terraform destroy, and a check that
// nothing is left. It exits non-zero on any failure (2 for bad flags, checked before anything
// starts) and always stops the sandbox; on Ctrl-C it says it was interrupted and exits 130.
//
//	go run ./test/e2e/cmd/demo --bin bin/terraform-provider-karpenter
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/test/e2e"
)

// options are the demo's flags.
type options struct {
	cfg          e2e.Config
	timelineJSON string
}

// parseFlags parses args (without the program name) into options. Every flag's value is
// checked here, before anything is started: a bad --authentication-mode or --boot-delay is an
// error naming the flag and the values allowed. Errors, already printed to output (with the
// usage for a bad flag): flag.ErrHelp for -h, a flag's, or unexpected arguments.
func parseFlags(args []string, output io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&o.cfg.Bin, "bin", "bin/terraform-provider-karpenter", "the built terraform-provider-karpenter binary")
	fs.StringVar(&o.cfg.SandboxDir, "sandbox-dir", "", "sandbox state directory (default .sandbox/demo)")
	fs.Func("boot-delay", "instance boot delay passed to 'sandbox up --boot-delay', e.g. 0 or 10s (unset: the sandbox's default, 3s)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration of at least 0 such as 0, 500ms or 10s, got %q", v)
		}
		o.cfg.SandboxArgs = append(o.cfg.SandboxArgs, "--boot-delay", d.String())
		return nil
	})
	fs.StringVar(&o.timelineJSON, "timeline-json", "", "also write the nodes launched as JSON to this file (for tests)")
	fs.BoolVar(&o.cfg.KeepWorkdir, "keep-workdir", false, "keep the temporary terraform working directory")
	fs.Func("authentication-mode", "the cluster's authentication mode passed to 'sandbox up --authentication-mode': CONFIG_MAP, API_AND_CONFIG_MAP or API (unset: the sandbox's default); the module picks node access (aws-auth or an access entry) and controller identity (IRSA or Pod Identity) from it", func(v string) error {
		if err := aws.CheckAuthMode(v); err != nil {
			return err
		}
		o.cfg.SandboxArgs = append(o.cfg.SandboxArgs, "--authentication-mode", v)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./test/e2e/cmd/demo [flags]   (or: make demo DEMO_FLAGS='[flags]')\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments %q", fs.Args())
		fmt.Fprintln(output, "demo:", err)
		return o, err
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2) // parseFlags printed it
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	demo, err := e2e.NewDemo(o.cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	runErr := demo.Run(ctx)
	if o.timelineJSON != "" {
		if err := demo.Timeline.WriteNodesJSON(o.timelineJSON); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(1)
		}
	}
	if runErr != nil && ctx.Err() != nil {
		// Interrupted (Ctrl-C or SIGTERM): the sandbox was stopped; not a failure of the demo.
		fmt.Fprintln(os.Stderr, "\ndemo interrupted; the sandbox and the working copy were removed")
		os.Exit(130)
	}
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "\ndemo FAILED:", runErr)
		os.Exit(1)
	}
	fmt.Println("\ndemo OK")
}
