// Package crds embeds the generated CustomResourceDefinitions (controller-gen output).
package crds

import _ "embed"

// Provisioner is the karpenter.sh_provisioners CRD manifest (YAML).
//
//go:embed karpenter.sh_provisioners.yaml
var Provisioner []byte

// NodeClaim is the karpenter.sh_nodeclaims CRD manifest (YAML).
//
//go:embed karpenter.sh_nodeclaims.yaml
var NodeClaim []byte

// All returns every CRD manifest of the controller, in installation order (Provisioner,
// NodeClaim).
func All() [][]byte { return [][]byte{Provisioner, NodeClaim} }
