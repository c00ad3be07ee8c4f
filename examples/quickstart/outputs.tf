output "cluster_endpoint" {
  description = "API server endpoint of the cluster."
  value       = data.karpenter_cluster.this.endpoint
}

output "node_role_arn" {
  description = "ARN of the IAM role launched nodes run as."
  value       = module.karpenter.node_role_arn
}

output "instance_profile_name" {
  description = "Instance profile given to launched nodes."
  value       = module.karpenter.instance_profile_name
}

output "controller_role_arn" {
  description = "ARN of the IAM role the controller assumes."
  value       = module.karpenter.controller_role_arn
}

output "namespace" {
  description = "Namespace the controller runs in."
  value       = module.karpenter.namespace
}
