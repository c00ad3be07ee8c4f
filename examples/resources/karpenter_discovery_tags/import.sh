# <cluster_name>:<subnet or security group id>,... (only the named resources are managed)
terraform import karpenter_discovery_tags.this karpenter-demo:subnet-0a1b2c3d4e5f60001,sg-0a1b2c3d4e5f60001
