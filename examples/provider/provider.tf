# AWS: region and credentials from the standard chain unless set here. Kubernetes: the
# kubeconfig unless the kubernetes block says otherwise.
provider "karpenter" {
  region = "us-east-1"

  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "karpenter-demo"
  }
}

# Against the local sandbox: `eval "$(terraform-provider-karpenter sandbox env)"` sets
# KUBECONFIG, AWS_REGION and AWS_ENDPOINT_URL_*; an empty provider block then uses them.
# Endpoints can also be given explicitly:
#
# provider "karpenter" {
#   endpoints {
#     ec2 = "http://127.0.0.1:4566"
#     iam = "http://127.0.0.1:4566"
#     sts = "http://127.0.0.1:4566"
#     eks = "http://127.0.0.1:4566"
#     ssm = "http://127.0.0.1:4566"
#   }
# }
