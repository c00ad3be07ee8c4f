resource "karpenter_instance_profile" "this" {
  name = "KarpenterNodeInstanceProfile-karpenter-demo"
  role = karpenter_node_role.this.name
}
