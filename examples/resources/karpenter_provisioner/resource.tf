resource "karpenter_provisioner" "default" {
  name                    = "default"
  ttl_seconds_after_empty = 30

  # Drain may take at most 48 hours; then pods still on the node (a PodDisruptionBudget that
  # never allows eviction, karpenter.sh/do-not-evict) are deleted and the instance goes.
  termination_grace_period = "48h"

  requirement {
    key      = "karpenter.sh/capacity-type"
    operator = "In"
    values   = ["spot"]
  }

  limits {
    cpu = "1000"
  }

  # Inline AWS settings (the Provisioner's spec.provider).
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "karpenter-demo" }
    security_group_selector = { "karpenter.sh/discovery" = "karpenter-demo" }
    # Without a Name tag, instances are named "karpenter.sh/provisioner-name/default"; a Name
    # here wins over that default and over one in the provider's default_tags.
    tags = { Name = "karpenter-default", team = "platform" }
  }

  depends_on = [karpenter_controller.this]
}

# Bottlerocket nodes with a larger data volume, IMDSv2 with one hop, detailed monitoring and
# extra Bottlerocket settings merged under the controller's (cluster, labels, taints, kubelet).
resource "karpenter_provisioner" "bottlerocket" {
  name = "bottlerocket"

  kubelet_configuration {
    max_pods = 110
  }

  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "karpenter-demo" }
    security_group_selector = { "karpenter.sh/discovery" = "karpenter-demo" }
    ami_family              = "Bottlerocket"
    detailed_monitoring     = true

    block_device_mappings {
      device_name = "/dev/xvda" # the OS volume
      ebs {
        volume_size = "4Gi"
        volume_type = "gp3"
        encrypted   = true
      }
    }
    block_device_mappings {
      device_name = "/dev/xvdb" # the data volume: the nodes' ephemeral-storage
      ebs {
        volume_size = "100Gi"
        volume_type = "gp3"
        iops        = 4000
        throughput  = 250
        encrypted   = true
      }
    }

    metadata_options {
      http_tokens                 = "required"
      http_put_response_hop_limit = 1
    }

    user_data = <<-TOML
      [settings.host-containers.admin]
      enabled = true
    TOML
  }

  depends_on = [karpenter_controller.this]
}
