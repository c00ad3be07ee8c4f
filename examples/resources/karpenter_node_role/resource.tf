resource "karpenter_node_role" "this" {
  name = "KarpenterNodeRole-karpenter-demo"
  tags = { cluster = "karpenter-demo" }
}
