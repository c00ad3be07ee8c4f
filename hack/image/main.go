// Command image writes the controller's OCI image index (package image) as an OCI image layout,
// or pushes such a layout to a registry. `make image` and `make image-push` run it:
//
//	go run ./hack/image build -binaries bin/image-build -out bin/image
//	go run ./hack/image push -layout bin/image -ref ghcr.io/you/karpenter-controller:v0.1.0
//
// build reads <binaries>/linux-<arch>/terraform-provider-karpenter for every platform of
// image.Platforms. push uses the credentials of ~/.docker/config.json (as `docker login` or
// `crane auth login` write them) and prints the pushed index's digest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nodeform/terraform-provider-karpenter/image"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: image build -binaries DIR -out DIR | image push -layout DIR -ref REF")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "build":
		fs := flag.NewFlagSet("build", flag.ExitOnError)
		binaries := fs.String("binaries", "bin/image-build", "folder with linux-<arch>/terraform-provider-karpenter")
		out := fs.String("out", "bin/image", "OCI image layout to write (replaced)")
		_ = fs.Parse(os.Args[2:])
		err = build(*binaries, *out)
	case "push":
		fs := flag.NewFlagSet("push", flag.ExitOnError)
		dir := fs.String("layout", "bin/image", "OCI image layout written by build")
		ref := fs.String("ref", "", "image reference to push to, e.g. ghcr.io/you/karpenter-controller:"+version.Version)
		_ = fs.Parse(os.Args[2:])
		err = push(ctx, *dir, *ref)
	default:
		err = fmt.Errorf("unknown subcommand %q: want build or push", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func build(binaries, out string) error {
	bins := map[string][]byte{}
	for _, p := range image.Platforms {
		b, err := os.ReadFile(filepath.Join(binaries, p.OS+"-"+p.Architecture, filepath.Base(image.BinaryPath)))
		if err != nil {
			return err
		}
		bins[p.Architecture] = b
	}
	idx, err := image.Index(bins)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	lp, err := layout.Write(out, empty.Index)
	if err != nil {
		return err
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": version.Version,
	})); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: image index %s (%d platforms), version %s\n", out, digest, len(image.Platforms), version.Version)
	return nil
}

func push(ctx context.Context, dir, ref string) error {
	if ref == "" {
		return errors.New("-ref is required")
	}
	tag, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return fmt.Errorf("%s: %w (run `make image` first)", dir, err)
	}
	outer, err := lp.ImageIndex()
	if err != nil {
		return err
	}
	m, err := outer.IndexManifest()
	if err != nil {
		return err
	}
	if len(m.Manifests) != 1 {
		return fmt.Errorf("%s: want one image index in the layout, found %d entries", dir, len(m.Manifests))
	}
	idx, err := outer.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(tag, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("pushed %s@%s\n", tag.Context(), digest)
	return nil
}
