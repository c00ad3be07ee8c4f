terraform import karpenter_node_access.this arn:aws:iam::111122223333:role/KarpenterNodeRole-karpenter-demo
