resource "karpenter_discovery_tags" "this" {
  cluster_name = data.karpenter_cluster.this.id
  resource_ids = concat(data.karpenter_cluster.this.subnet_ids, [data.karpenter_cluster.this.cluster_security_group_id])
}
