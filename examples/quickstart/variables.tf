variable "cluster_name" {
  description = "Name of the EKS cluster (set TF_VAR_cluster_name, e.g. from the sandbox's CLUSTER_NAME)."
  type        = string
  default     = "karpenter-demo"
}

variable "region" {
  description = "AWS region; null uses AWS_REGION / AWS_DEFAULT_REGION / the shared config."
  type        = string
  default     = null
}

variable "capacity_types" {
  description = "Capacity types the default Provisioner may launch (\"spot\", \"on-demand\"). The tutorial uses spot only."
  type        = list(string)
  default     = ["spot"]
}

variable "cpu_limit" {
  description = "Total CPU (cores, a Kubernetes quantity) the default Provisioner may launch. The tutorial uses 1000."
  type        = string
  default     = "1000"
}
