provider "karpenter" {
  region = "us-east-1"

  kubernetes {
    host                   = data.karpenter_cluster.this.endpoint
    cluster_ca_certificate = base64decode(data.karpenter_cluster.this.certificate_authority_data)
    config_path            = "~/.kube/config"
  }
}
