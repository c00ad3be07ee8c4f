resource "karpenter_controller" "this" {
  cluster_name             = "karpenter-demo"
  controller_role_arn      = karpenter_controller_role.this.arn
  default_instance_profile = karpenter_instance_profile.this.name

  resources {
    cpu_request    = "1"
    memory_request = "1Gi"
  }

  timeouts {
    create = "10m"
    delete = "15m"
  }

  depends_on = [karpenter_node_access.this]
}
