resource "karpenter_controller_role" "this" {
  name          = "KarpenterControllerRole-karpenter-demo"
  cluster_name  = "karpenter-demo"
  node_role_arn = karpenter_node_role.this.arn
}

# EKS Pod Identity instead of IRSA: trust on pods.eks.amazonaws.com and the association for
# karpenter/karpenter (leave karpenter_controller's controller_role_arn unset)
resource "karpenter_controller_role" "pod_identity" {
  name          = "KarpenterControllerRole-karpenter-demo"
  cluster_name  = "karpenter-demo"
  node_role_arn = karpenter_node_role.this.arn
  identity      = "pod_identity"
}
