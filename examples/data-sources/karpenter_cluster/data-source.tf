data "karpenter_cluster" "this" {
  name = "karpenter-demo"
}
