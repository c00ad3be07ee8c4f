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
  }

  depends_on = [karpenter_controller.this]
}
