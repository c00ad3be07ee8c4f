# aws-auth (clusters in authentication mode CONFIG_MAP or API_AND_CONFIG_MAP)
resource "karpenter_node_access" "this" {
  role_arn = karpenter_node_role.this.arn
}

# an EKS access entry of type EC2_LINUX (clusters in authentication mode API or API_AND_CONFIG_MAP)
resource "karpenter_node_access" "entry" {
  role_arn     = karpenter_node_role.this.arn
  method       = "access_entry"
  cluster_name = "karpenter-demo"
}
