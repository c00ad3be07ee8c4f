// Package crds embeds the generated CustomResourceDefinitions (controller-gen output).
package crds

import _ "embed"

// Provisioner is the karpenter.sh_provisioners CRD manifest (YAML).
//
//go:embed karpenter.sh_provisioners.yaml
var Provisioner []byte
