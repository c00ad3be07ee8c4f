resource "karpenter_controller_role" "this" {
  name          = "KarpenterControllerRole-karpenter-demo"
  cluster_name  = "karpenter-demo"
  node_role_arn = karpenter_node_role.this.arn
}
