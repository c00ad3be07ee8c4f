// Package version holds build facts shared by the provider, the controller and the sandbox.
package version

// Version is the product version; set with -ldflags "-X .../version.Version=v1.2.3".
var Version = "v0.1.0-dev"

// ControllerImageRepository is the repository of the bundled controller image. The provider
// deploys "<ControllerImageRepository>:<Version>" by default; the sandbox runs controller pods with
// that image (or one a loopback registry has) as local processes of this binary
// (`terraform-provider-karpenter controller`), and leaves those with another image in ErrImagePull.
const ControllerImageRepository = "ghcr.io/nodeform/karpenter-controller"

// ControllerImage is the default controller image reference: repository and Version tag.
func ControllerImage() string { return ControllerImageRepository + ":" + Version }
