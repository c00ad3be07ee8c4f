// Package image builds the controller's OCI image from the one binary, without a container
// engine: a multi-platform image index (linux/amd64 and linux/arm64) whose images hold the
// binary as their only layer, run as a non-root user. `make image` writes it as an OCI image
// layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md); `make
// image-push IMAGE=<ref>` pushes it to a registry. The sandbox starts controller pods with
// Config's entrypoint and command, so the tests run what the image runs.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nodeform/terraform-provider-karpenter/version"
)

// BinaryPath is where the image holds the binary; the image's entrypoint.
const BinaryPath = "/usr/local/bin/terraform-provider-karpenter"

// UID and GID the image runs as: not root (65532 is the "nonroot" user of distroless images).
const (
	UID = 65532
	GID = 65532
)

// Ports the controller listens on in the image (its defaults): Prometheus metrics, the
// /healthz and /readyz probes, and the Provisioner admission webhook (HTTPS).
const (
	MetricsPort     = 8080
	HealthProbePort = 8081
	WebhookPort     = 8443
)

// Platforms are the platforms the image index holds.
var Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// Config is the image's run configuration: entrypoint BinaryPath, command "controller" (a
// Deployment's args replace it, as Kubernetes replaces an image's CMD with a container's
// args), user UID:GID, the ports, and OCI annotations-style labels with the version.
func Config() v1.Config {
	return v1.Config{
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{"controller"},
		User:       fmt.Sprintf("%d:%d", UID, GID),
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/local/bin"},
		ExposedPorts: map[string]struct{}{
			fmt.Sprintf("%d/tcp", MetricsPort):     {},
			fmt.Sprintf("%d/tcp", HealthProbePort): {},
			fmt.Sprintf("%d/tcp", WebhookPort):     {},
		},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "karpenter-controller",
			"org.opencontainers.image.version":  version.Version,
			"org.opencontainers.image.source":   "https://github.com/nodeform/terraform-provider-karpenter",
			"org.opencontainers.image.licenses": "MPL-2.0",
		},
	}
}

// Argv returns the command line a container of the image runs, following Kubernetes' rules
// (https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/#notes):
// command replaces the image's entrypoint and then its command is not used; args replace the
// image's command.
func Argv(command, args []string) []string {
	return ArgvFor(Config(), command, args)
}

// ArgvFor is Argv for an image whose run configuration is cfg: cfg.Entrypoint then cfg.Cmd,
// command replacing the entrypoint (and dropping cfg.Cmd), args replacing cfg.Cmd. Empty when
// neither command, args, nor cfg give a command.
func ArgvFor(cfg v1.Config, command, args []string) []string {
	entry, rest := cfg.Entrypoint, cfg.Cmd
	if len(command) > 0 {
		entry, rest = command, nil
	}
	if len(args) > 0 {
		rest = args
	}
	return append(append([]string{}, entry...), rest...)
}

// epoch is every timestamp in the image (files and config), so that the same binaries give
// the same image digest.
var epoch = time.Unix(0, 0).UTC()

// Build returns the image for platform p: binary (a linux executable for p) at BinaryPath, the
// run configuration Config, OCI media types. Errors: the layer or config cannot be made.
func Build(binary []byte, p v1.Platform) (v1.Image, error) {
	layerTar, err := rootfs(binary)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: epoch}, CreatedBy: "make image: the terraform-provider-karpenter binary", Comment: "controller binary"}})
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config = Config()
	cf.Created = v1.Time{Time: epoch}
	return mutate.ConfigFile(img, cf)
}

// Index returns the multi-platform image index of the images Build makes from binaries, keyed by
// architecture ("amd64", "arm64"); every platform of Platforms must have one. Errors: a
// missing binary, Build's.
func Index(binaries map[string][]byte) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range Platforms {
		bin, ok := binaries[p.Architecture]
		if !ok {
			return nil, fmt.Errorf("no binary for %s/%s", p.OS, p.Architecture)
		}
		img, err := Build(bin, p)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", p.OS, p.Architecture, err)
		}
		platform := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &platform}})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// rootfs is the layer's tar: the folders of BinaryPath (root-owned, 0755) and the binary
// (root-owned, 0555: the non-root user runs it but cannot change it), at epoch.
func rootfs(binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"usr/", "usr/local/", "usr/local/bin/"}
	sort.Strings(dirs)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: BinaryPath[1:], Mode: 0o555, Size: int64(len(binary)), ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
