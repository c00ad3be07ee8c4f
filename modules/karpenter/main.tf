# Everything the Karpenter getting-started guide creates with eksctl, CloudFormation and helm,
# as resources of one provider. Names follow that guide (KarpenterNodeRole-<cluster>, ...).

# The cluster's authentication mode decides the defaults of node_access_method and
# controller_identity: a cluster in API mode ignores aws-auth, so nodes need an access entry,
# and is set up the current way, so the controller uses EKS Pod Identity.
data "karpenter_cluster" "this" {
  name = var.cluster_name
}

locals {
  api_only              = data.karpenter_cluster.this.authentication_mode == "API"
  node_access_method    = coalesce(var.node_access_method, local.api_only ? "access_entry" : "aws_auth")
  controller_identity   = coalesce(var.controller_identity, local.api_only ? "pod_identity" : "irsa")
  node_role_name        = "KarpenterNodeRole-${var.cluster_name}"
  instance_profile_name = "KarpenterNodeInstanceProfile-${var.cluster_name}"
  controller_role_name  = "KarpenterControllerRole-${var.cluster_name}"
  discovery_selector    = { "karpenter.sh/discovery" = var.cluster_name }
}

# karpenter.sh/discovery = <cluster> on every subnet and security group the nodes may use.
resource "karpenter_discovery_tags" "this" {
  cluster_name = var.cluster_name
  resource_ids = toset(concat(var.subnet_ids, var.security_group_ids))
}

# The role the launched instances run as (the four AWS managed EKS node policies by default).
resource "karpenter_node_role" "this" {
  name = local.node_role_name
  tags = var.tags
}

resource "karpenter_instance_profile" "this" {
  name = local.instance_profile_name
  role = karpenter_node_role.this.name
  tags = var.tags
}

# The role the controller's service account assumes through the cluster's OIDC issuer (IRSA)
# or EKS Pod Identity (then with its association), with a least-privilege policy scoped to
# this cluster's tags and the node role.
resource "karpenter_controller_role" "this" {
  name                      = local.controller_role_name
  cluster_name              = var.cluster_name
  identity                  = local.controller_identity
  service_account_namespace = var.namespace
  service_account_name      = "karpenter"
  node_role_arn             = karpenter_node_role.this.arn
  tags                      = var.tags
}

# Lets instances with the node role join the cluster (aws-auth mapRoles, or an access entry).
# node_access_method = "none": the node role's access is managed elsewhere (an existing aws-auth
# entry or access entry, which karpenter_node_access would refuse rather than adopt).
resource "karpenter_node_access" "this" {
  count = local.node_access_method == "none" ? 0 : 1

  role_arn     = karpenter_node_role.this.arn
  method       = local.node_access_method
  cluster_name = local.node_access_method == "access_entry" ? var.cluster_name : null
}

# CRD, namespace, service account, RBAC and the controller Deployment.
resource "karpenter_controller" "this" {
  cluster_name         = var.cluster_name
  namespace            = var.namespace
  service_account_name = "karpenter"
  # With Pod Identity the service account carries no role annotation (IRSA would win).
  controller_role_arn      = local.controller_identity == "irsa" ? karpenter_controller_role.this.arn : null
  default_instance_profile = karpenter_instance_profile.this.name
  image                    = var.image

  replicas                    = var.controller.replicas
  priority_class_name         = var.controller.priority_class_name
  node_selector               = var.controller.node_selector
  image_pull_secrets          = var.controller.image_pull_secrets
  tolerations                 = var.controller.tolerations
  topology_spread_constraints = var.controller.topology_spread_constraints
  affinity                    = var.controller.affinity
  pdb_max_unavailable         = var.controller.pdb_max_unavailable
  env                         = var.controller.env
  settings                    = var.controller.settings

  # Omitted unless given: the provider then requests 1 CPU and 1Gi.
  dynamic "resources" {
    for_each = var.controller_resources == null ? [] : [var.controller_resources]
    content {
      cpu_request    = resources.value.cpu_request
      memory_request = resources.value.memory_request
      cpu_limit      = resources.value.cpu_limit
      memory_limit   = resources.value.memory_limit
    }
  }

  # Nodes must be able to join and the subnets must be discoverable before the controller
  # launches anything; on destroy the controller (and its nodes) go first.
  # The Pod Identity association must exist before the controller's pods start.
  depends_on = [
    karpenter_discovery_tags.this,
    karpenter_node_access.this,
    karpenter_controller_role.this,
  ]
}

resource "karpenter_provisioner" "default" {
  count = var.create_default_provisioner ? 1 : 0

  name                      = "default"
  ttl_seconds_after_empty   = var.default_provisioner.ttl_seconds_after_empty
  ttl_seconds_until_expired = var.default_provisioner.ttl_seconds_until_expired

  requirement {
    key      = "karpenter.sh/capacity-type"
    operator = "In"
    values   = var.default_provisioner.capacity_types
  }

  limits {
    cpu = var.default_provisioner.cpu_limit
  }

  # The Provisioner's spec.provider (the block is named aws: "provider" is a Terraform meta-argument).
  aws {
    subnet_selector         = local.discovery_selector
    security_group_selector = local.discovery_selector
  }

  # The CRD is installed by the controller resource.
  depends_on = [karpenter_controller.this]
}
