output "node_role_arn" {
  description = "ARN of the IAM role launched nodes run as."
  value       = karpenter_node_role.this.arn
}

output "node_role_name" {
  description = "Name of the IAM role launched nodes run as."
  value       = karpenter_node_role.this.name
}

output "instance_profile_name" {
  description = "Name of the instance profile given to launched nodes (the controller's default_instance_profile)."
  value       = karpenter_instance_profile.this.name
}

output "controller_role_arn" {
  description = "ARN of the IAM role the controller's service account assumes."
  value       = karpenter_controller_role.this.arn
}

output "namespace" {
  description = "Kubernetes namespace the controller runs in."
  value       = karpenter_controller.this.namespace
}

output "default_provisioner_name" {
  description = "Name of the default Provisioner, or null when create_default_provisioner is false."
  value       = var.create_default_provisioner ? karpenter_provisioner.default[0].name : null
}

output "node_access_method" {
  description = "How launched nodes join the cluster: aws_auth, access_entry or none (node_access_method, or picked from the cluster's authentication mode)."
  value       = local.node_access_method
}

output "controller_identity" {
  description = "How the controller gets its IAM role: irsa or pod_identity (controller_identity, or picked from the cluster's authentication mode)."
  value       = local.controller_identity
}
