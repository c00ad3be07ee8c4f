// Command demo runs the tutorial's story end to end on a local sandbox and prints a timeline:
// sandbox up, terraform init + apply of examples/quickstart (provider installed offline from
// ./bin), inflate scaled to 5 pods on new spot nodes, nodes removed 30 s after they are empty,
// an empty plan, drift shown after an out-of-band edit, terraform destroy, and a check that
// nothing is left. It exits non-zero on any failure and always stops the sandbox.
//
//	go run ./test/e2e/cmd/demo --bin bin/terraform-provider-karpenter
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nodeform/terraform-provider-karpenter/test/e2e"
)

func main() {
	var cfg e2e.Config
	var bootDelay time.Duration
	flag.StringVar(&cfg.Bin, "bin", "bin/terraform-provider-karpenter", "the built terraform-provider-karpenter binary")
	flag.StringVar(&cfg.SandboxDir, "sandbox-dir", "", "sandbox state directory (default .sandbox/demo)")
	bootDelay = -1 // unset
	flag.Func("boot-delay", "instance boot delay passed to 'sandbox up --boot-delay', e.g. 0 or 10s (unset: the sandbox's default, 3s)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration of at least 0 such as 0, 500ms or 10s, got %q", v)
		}
		bootDelay = d
		return nil
	})
	timelineJSON := flag.String("timeline-json", "", "also write the nodes launched as JSON to this file (for tests)")
	flag.BoolVar(&cfg.KeepWorkdir, "keep-workdir", false, "keep the temporary terraform working directory")
	authMode := flag.String("authentication-mode", "", "the cluster's authentication mode passed to 'sandbox up --authentication-mode': CONFIG_MAP, API_AND_CONFIG_MAP or API (unset: the sandbox's default); the module picks node access (aws-auth or an access entry) and controller identity (IRSA or Pod Identity) from it")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./test/e2e/cmd/demo [flags]   (or: make demo DEMO_FLAGS='[flags]')\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if bootDelay >= 0 {
		cfg.SandboxArgs = append(cfg.SandboxArgs, "--boot-delay", bootDelay.String())
	}
	if *authMode != "" {
		cfg.SandboxArgs = append(cfg.SandboxArgs, "--authentication-mode", *authMode)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	demo, err := e2e.NewDemo(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	runErr := demo.Run(ctx)
	if *timelineJSON != "" {
		if err := demo.Timeline.WriteNodesJSON(*timelineJSON); err != nil {
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
