# The Karpenter getting-started story with one `terraform apply` instead of eksctl,
# CloudFormation, helm and kubectl: look the cluster up by name, tag its subnets and security
# group for discovery, create the IAM roles, map the node role, deploy the controller and a
# spot-only Provisioner that removes empty nodes after 30 seconds.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    karpenter = {
      source = "nodeform/karpenter"
    }
  }
}

# Region, credentials and endpoints come from the environment (AWS_REGION, the standard AWS
# credential chain, AWS_ENDPOINT_URL_<SERVICE>); the cluster from KUBECONFIG.
provider "karpenter" {
  region = var.region
}

data "karpenter_cluster" "this" {
  name = var.cluster_name
}

module "karpenter" {
  source = "../../modules/karpenter"

  cluster_name       = data.karpenter_cluster.this.name
  subnet_ids         = data.karpenter_cluster.this.subnet_ids
  security_group_ids = [data.karpenter_cluster.this.cluster_security_group_id]

  # The tutorial's Provisioner: spot only, at most 1000 CPUs, empty nodes removed after 30 s.
  default_provisioner = {
    capacity_types          = var.capacity_types
    cpu_limit               = var.cpu_limit
    ttl_seconds_after_empty = 30
  }
}
