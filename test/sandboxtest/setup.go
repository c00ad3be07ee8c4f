package sandboxtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/node"
)

// What terraform would set up before the controller runs, done by hand for tests that drive
// the controller without terraform.

// InstallCRDs creates the controller's CRDs (Provisioner, NodeClaim; those missing) with kube
// and waits up to 30s for each to be established; it fails t otherwise.
func InstallCRDs(t testing.TB, ctx context.Context, kube client.Client) {
	t.Helper()
	for _, manifest := range crds.All() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(manifest, crd); err != nil {
			t.Fatal(err)
		}
		if err := kube.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		last := ""
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			got := &apiextensionsv1.CustomResourceDefinition{}
			if err := kube.Get(ctx, client.ObjectKey{Name: crd.Name}, got); err != nil {
				last = err.Error()
				return false, nil
			}
			for _, c := range got.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			last = "not established"
			return false, nil
		})
		if err != nil {
			t.Fatalf("%s CRD established: %v (last: %s)", crd.Name, err, last)
		}
	}
}

// TagDiscoveryResources tags the sandbox's seed subnets and cluster security group with the
// discovery tag, as terraform's karpenter_discovery_tags would.
func TagDiscoveryResources(t testing.TB, ctx context.Context, sb *sandbox.Sandbox) {
	t.Helper()
	resources := []string{sandboxaws.SeedClusterSecurityGroupID}
	for _, s := range sandboxaws.SeedSubnets {
		resources = append(resources, s.ID)
	}
	if _, err := ec2.NewFromConfig(sb.AWSConfig()).CreateTags(ctx, &ec2.CreateTagsInput{Resources: resources, Tags: []ec2types.Tag{
		{Key: awssdk.String(v1alpha5.DiscoveryTagKey), Value: awssdk.String(sb.ClusterName)}}}); err != nil {
		t.Fatal(err)
	}
}

// CreateNodeInstanceProfile creates a node role named name (trusting the EC2 service principal
// of the sandbox's partition: sandbox.NodeTrustPolicy) and an instance profile of the same name
// holding it, and maps the role in aws-auth, as karpenter_node_role, karpenter_instance_profile
// and karpenter_node_access would. Tests sharing a sandbox use different names. It returns the profile's name and the role's ARN.
func CreateNodeInstanceProfile(t testing.TB, ctx context.Context, sb *sandbox.Sandbox, name string) (string, string) {
	t.Helper()
	iamc := iam.NewFromConfig(sb.AWSConfig())
	trust := sandbox.NodeTrustPolicy(sb.Region)
	role, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: &trust})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: &name}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: &name, RoleName: &name}); err != nil {
		t.Fatal(err)
	}
	admin, err := kubernetes.NewForConfig(sb.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := node.MapRole(ctx, admin, awssdk.ToString(role.Role.Arn)); err != nil {
		t.Fatal(fmt.Errorf("map node role %s in aws-auth: %w", name, err))
	}
	return name, awssdk.ToString(role.Role.Arn)
}
