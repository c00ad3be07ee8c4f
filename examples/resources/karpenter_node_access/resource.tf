resource "karpenter_node_access" "this" {
  role_arn = karpenter_node_role.this.arn
}
