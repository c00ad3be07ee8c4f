package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/spf13/cobra"
)

// DefaultRegistryPort is the port `sandbox registry` listens on by default.
const DefaultRegistryPort = 5555

// registryCommand returns `sandbox registry`: an in-memory OCI registry on 127.0.0.1, in the
// foreground, for `make image-push IMAGE=127.0.0.1:<port>/...` (the sandbox pulls controller
// images from loopback registries only).
func registryCommand() *cobra.Command {
	var port int
	var verbose bool
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Serve an in-memory OCI registry on 127.0.0.1 in the foreground (for make image-push; images are lost when it stops)",
		Long: "Serve an OCI distribution registry (go-containerregistry's pkg/registry) on 127.0.0.1:<port>, in\n" +
			"the foreground until Ctrl-C. It keeps images in memory: they are lost when it stops. Push the\n" +
			"controller image to it and point the controller at it; the sandbox pulls it like a container\n" +
			"runtime and runs its entrypoint:\n" +
			"  terraform-provider-karpenter sandbox registry &\n" +
			"  make image-push IMAGE=127.0.0.1:5555/karpenter-controller:dev\n" +
			"  # image = \"127.0.0.1:5555/karpenter-controller:dev\" in karpenter_controller",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if port < 0 || port > 65535 {
				return fmt.Errorf("--port %d: want 0 to 65535", port)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serveRegistry(ctx, cmd.OutOrStdout(), port, verbose)
		},
	}
	cmd.Flags().IntVar(&port, "port", DefaultRegistryPort, "port on 127.0.0.1 (0: any free port)")
	cmd.Flags().BoolVar(&verbose, "verbose", false, "log every request")
	return cmd
}

// serveRegistry serves an in-memory registry on 127.0.0.1:port until ctx ends, writing its
// address to out. Errors: the port cannot be listened on (with a hint when it is in use).
func serveRegistry(ctx context.Context, out io.Writer, port int, verbose bool) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%d: %w (another registry already there? pick one with --port)", port, err)
	}
	logger := log.New(io.Discard, "", 0)
	if verbose {
		logger = log.New(out, "registry: ", log.LstdFlags)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(logger)), ReadHeaderTimeout: 30 * time.Second}
	addr := ln.Addr().String()
	fmt.Fprintf(out, "registry serving on %s (in memory; Ctrl-C stops it)\n  make image-push IMAGE=%s/karpenter-controller:dev\n", addr, addr)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A connection still open after the grace period (a client's keep-alive connection
		// that never became idle, as a loaded machine leaves one) is closed: nothing it could
		// still send is kept, the registry being in memory.
		err = srv.Close()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
