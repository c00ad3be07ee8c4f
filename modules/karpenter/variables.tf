variable "cluster_name" {
  description = "Name of the EKS cluster the autoscaler manages. Used as the value of the karpenter.sh/discovery tag, in IAM role names and as the controller's CLUSTER_NAME."
  type        = string

  validation {
    # EKS cluster names: 1-100 characters, start with a letter or digit, then letters, digits, '-' and '_'.
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must be 1-100 characters: a letter or digit followed by letters, digits, '-' or '_' (the EKS cluster name rules)."
  }
}

variable "subnet_ids" {
  description = "IDs of the subnets (subnet-...) to tag karpenter.sh/discovery = cluster_name. The Provisioner's subnet selector discovers subnets by that tag, so nodes may launch into these and into any other subnet that already carries the same tag (tagged by someone else: the module neither adopts nor untags it)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one subnet."
  }
  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "subnet_ids: every element must be a subnet ID of the form subnet-<hex>."
  }
}

variable "security_group_ids" {
  description = "IDs of the security groups (sg-...) to tag karpenter.sh/discovery = cluster_name, usually the cluster security group. Launched nodes get every security group the Provisioner's selector discovers by that tag: these and any other already carrying it."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) > 0
    error_message = "security_group_ids must name at least one security group."
  }
  validation {
    condition     = alltrue([for id in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "security_group_ids: every element must be a security group ID of the form sg-<hex>."
  }
}

variable "namespace" {
  description = "Kubernetes namespace the controller runs in (and of its service account): created if absent (and then removed on destroy), adopted and left untouched if it exists."
  type        = string
  default     = "karpenter"

  validation {
    # A namespace name is an RFC 1123 DNS label.
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be an RFC 1123 label: at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit."
  }
}

variable "image" {
  description = "Controller container image. null (the default) deploys the image bundled with this provider version (ghcr.io/nodeform/karpenter-controller:<provider version>)."
  type        = string
  default     = null

  validation {
    condition     = var.image == null || length(trimspace(coalesce(var.image, " "))) > 0
    error_message = "image must be null (the bundled image) or a non-empty image reference."
  }
}

variable "controller_resources" {
  description = "Resource requests and limits of the controller container: cpu_request and cpu_limit (Kubernetes quantities, cores), memory_request and memory_limit (Kubernetes quantities, bytes). null (the default) omits the provider's resources block; an omitted field takes the provider's default (\"1\" CPU and \"1Gi\" memory requested, \"1Gi\" memory limit, no CPU limit)."
  type = object({
    cpu_request    = optional(string)
    memory_request = optional(string)
    cpu_limit      = optional(string)
    memory_limit   = optional(string)
  })
  default = null

  validation {
    condition     = try(var.controller_resources.cpu_request, null) == null || can(regex("^[0-9]+(\\.[0-9]+)?m?$", var.controller_resources.cpu_request))
    error_message = "controller_resources.cpu_request must be a CPU quantity such as \"1\", \"0.5\" or \"500m\"."
  }
  validation {
    condition     = try(var.controller_resources.memory_request, null) == null || can(regex("^[0-9]+(\\.[0-9]+)?(k|M|G|T|Ki|Mi|Gi|Ti)?$", var.controller_resources.memory_request))
    error_message = "controller_resources.memory_request must be a memory quantity such as \"1Gi\" or \"512Mi\"."
  }
}

variable "controller" {
  description = "Install options of the controller Deployment, as the Karpenter Helm chart's values; each field left null takes the karpenter_controller default: replicas (2), priority_class_name (\"system-cluster-critical\"), node_selector, image_pull_secrets (Secret names in the namespace, for a private registry), tolerations (CriticalAddonsOnly), topology_spread_constraints (zones, max skew 1), affinity (JSON; not on launched nodes, one replica per node), pdb_max_unavailable (1), env (extra variables) and settings (controller flags by name)."
  type = object({
    replicas            = optional(number)
    priority_class_name = optional(string)
    node_selector       = optional(map(string))
    image_pull_secrets  = optional(list(string))
    tolerations = optional(list(object({
      key                = optional(string)
      operator           = optional(string)
      value              = optional(string)
      effect             = optional(string)
      toleration_seconds = optional(number)
    })))
    topology_spread_constraints = optional(list(object({
      max_skew           = number
      topology_key       = string
      when_unsatisfiable = optional(string)
    })))
    affinity            = optional(string)
    pdb_max_unavailable = optional(number)
    env                 = optional(map(string))
    settings            = optional(map(string))
  })
  default  = {}
  nullable = false
}

variable "tags" {
  description = "Tags added to the IAM roles and the instance profile this module creates; passed as given (null: no tags attribute, {}: an empty map)."
  type        = map(string)
  default     = null
}

variable "create_default_provisioner" {
  description = "Whether to create the Provisioner named \"default\" from default_provisioner."
  type        = bool
  default     = true
}

variable "default_provisioner" {
  description = <<-EOT
    Settings of the default Provisioner:
    capacity_types: allowed values of karpenter.sh/capacity-type ("spot", "on-demand");
    cpu_limit: total CPU (Kubernetes quantity, e.g. "1000" cores) the provisioner may launch;
    ttl_seconds_after_empty: seconds an empty node lives before it is removed (null: never);
    ttl_seconds_until_expired: seconds after which a node is replaced (null: never).
  EOT
  type = object({
    capacity_types            = optional(list(string), ["spot", "on-demand"])
    cpu_limit                 = optional(string, "1000")
    ttl_seconds_after_empty   = optional(number, 30)
    ttl_seconds_until_expired = optional(number)
  })
  default = {}

  validation {
    condition = (
      length(var.default_provisioner.capacity_types) > 0 &&
      alltrue([for c in var.default_provisioner.capacity_types : contains(["spot", "on-demand"], c)])
    )
    error_message = "default_provisioner.capacity_types must be a non-empty list of \"spot\" and/or \"on-demand\"."
  }
  validation {
    # Kubernetes quantity: a decimal number with an optional suffix (m, k, M, G, Ki, Mi, Gi, ...).
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$", var.default_provisioner.cpu_limit))
    error_message = "default_provisioner.cpu_limit must be a Kubernetes quantity such as \"1000\" or \"500m\"."
  }
  validation {
    condition = (
      var.default_provisioner.ttl_seconds_after_empty == null ||
      try(var.default_provisioner.ttl_seconds_after_empty >= 0 && floor(var.default_provisioner.ttl_seconds_after_empty) == var.default_provisioner.ttl_seconds_after_empty, false)
    )
    error_message = "default_provisioner.ttl_seconds_after_empty must be null or a whole number of seconds >= 0."
  }
  validation {
    condition = (
      var.default_provisioner.ttl_seconds_until_expired == null ||
      try(var.default_provisioner.ttl_seconds_until_expired >= 0 && floor(var.default_provisioner.ttl_seconds_until_expired) == var.default_provisioner.ttl_seconds_until_expired, false)
    )
    error_message = "default_provisioner.ttl_seconds_until_expired must be null or a whole number of seconds >= 0."
  }
}

variable "node_access_method" {
  description = "How launched nodes join the cluster: \"aws_auth\" (an entry in kube-system/aws-auth), \"access_entry\" (an EKS access entry of type EC2_LINUX) or \"none\" (the module manages no node access: the node role already has an aws-auth entry or access entry made elsewhere, which is left as it is). null (the default) picks from the cluster's authentication mode: access_entry for API (which ignores aws-auth), aws_auth for CONFIG_MAP and API_AND_CONFIG_MAP."
  type        = string
  default     = null

  validation {
    condition     = var.node_access_method == null || contains(["aws_auth", "access_entry", "none"], coalesce(var.node_access_method, "aws_auth"))
    error_message = "node_access_method must be null, \"aws_auth\", \"access_entry\" or \"none\"."
  }
}

variable "controller_identity" {
  description = "How the controller's pods get their IAM role: \"irsa\" (IAM roles for service accounts, via the cluster's OIDC provider) or \"pod_identity\" (EKS Pod Identity; the EKS Pod Identity Agent add-on must run on the cluster). null (the default) picks from the cluster's authentication mode: pod_identity for API, irsa otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.controller_identity == null || contains(["irsa", "pod_identity"], coalesce(var.controller_identity, "irsa"))
    error_message = "controller_identity must be null, \"irsa\" or \"pod_identity\"."
  }
}
