# an aws-auth entry: by role ARN
terraform import karpenter_node_access.this arn:aws:iam::111122223333:role/KarpenterNodeRole-karpenter-demo
# an access entry: by <cluster_name>:<role ARN>
terraform import karpenter_node_access.entry karpenter-demo:arn:aws:iam::111122223333:role/KarpenterNodeRole-karpenter-demo
